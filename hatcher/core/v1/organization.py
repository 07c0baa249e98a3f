"""The API version 1 `Organization` (the same class as version 0; import path kept)."""

from hatcher.core.organization import Organization

__all__ = ["Organization"]
