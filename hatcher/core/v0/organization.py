"""The API version 0 `Organization` (import path kept for compatibility)."""

from hatcher.core.organization import Organization

__all__ = ["Organization"]
