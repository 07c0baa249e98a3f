"""The bundle controllers (import path of the reference hatcher)."""

from hatcher.core.bundle import (
    BundleCollectionController,
    BundleControllerFactory,
    BundleResourceController,
    BundleResourceFileController,
)

__all__ = [
    "BundleCollectionController",
    "BundleControllerFactory",
    "BundleResourceController",
    "BundleResourceFileController",
]
