"""The API version 1 repository classes (import path kept for compatibility)."""

from hatcher.core.repository import RepositoryV1 as Repository
from hatcher.core.repository import SinglePlatformRepositoryV1 as SinglePlatformRepository

__all__ = ["Repository", "SinglePlatformRepository"]
