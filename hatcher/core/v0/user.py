"""The API version 0 `User` (import path kept for compatibility)."""

from hatcher.core.user import User

__all__ = ["User"]
