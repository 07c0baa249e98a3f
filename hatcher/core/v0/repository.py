"""The API version 0 repository classes (import path kept for compatibility)."""

from hatcher.core.repository import Repository, SinglePlatformRepository

__all__ = ["Repository", "SinglePlatformRepository"]
