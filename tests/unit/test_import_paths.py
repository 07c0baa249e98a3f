"""Scripts written for the reference hatcher import from these paths; each must keep working."""

from __future__ import annotations

import importlib

import pytest

from hatcher.core import bundle, repository

IMPORT_PATHS = [
    ("hatcher", "__version__"),
    ("hatcher.api", "BroodClient"), ("hatcher.api", "BroodBearerTokenAuth"),
    ("hatcher.api", "BroodClientAuth"), ("hatcher.api", "MAX_API_VERSION"),
    ("hatcher.errors", "HatcherException"), ("hatcher.testing", "make_testing_egg"),
    ("hatcher.core.brood_client", "BroodClient"), ("hatcher.core.organization", "Organization"),
    ("hatcher.core.repository", "Repository"), ("hatcher.core.repository", "SinglePlatformRepository"),
    ("hatcher.core.user", "User"), ("hatcher.core.team", "Team"),
    ("hatcher.core.auth", "BroodBearerTokenAuth"), ("hatcher.core.auth", "BroodClientAuth"),
    ("hatcher.core.url_templates", "URLS_V0"), ("hatcher.core.url_templates", "URLS_V1"),
    ("hatcher.core.url_templates", "URLS"), ("hatcher.core.url_templates", "UrlBuilder"),
    ("hatcher.core.brood_url_handler", "BroodURLHandler"),
    ("hatcher.core.model_registry", "ModelRegistry"), ("hatcher.core.model_registry", "versioned_model"),
    ("hatcher.core.utils", "EggMetadata"), ("hatcher.core.utils", "compute_sha256"),
    ("hatcher.core.v0.organization", "Organization"), ("hatcher.core.v0.user", "User"),
    ("hatcher.core.v0.team", "Team"), ("hatcher.core.v0.repository", "SinglePlatformRepository"),
    ("hatcher.core.v1.organization", "Organization"), ("hatcher.core.v1.user", "User"),
    ("hatcher.core.v1.repository", "SinglePlatformRepository"),
    ("hatcher.core.v1.bundle", "BundleCollectionController"),
]


@pytest.mark.parametrize(("module", "name"), IMPORT_PATHS, ids=[".".join(p) for p in IMPORT_PATHS])
def test_the_reference_import_path_still_works(module, name):
    assert hasattr(importlib.import_module(module), name)


def test_versioned_modules_hold_the_classes_of_their_api_version():
    v0 = importlib.import_module("hatcher.core.v0.repository")
    v1 = importlib.import_module("hatcher.core.v1.repository")
    assert v0.Repository is repository.Repository
    assert v0.SinglePlatformRepository is repository.SinglePlatformRepository
    assert v1.Repository is repository.RepositoryV1
    assert v1.SinglePlatformRepository is repository.SinglePlatformRepositoryV1
    assert importlib.import_module("hatcher.core.v1.bundle").BundleResourceController is bundle.BundleResourceController
