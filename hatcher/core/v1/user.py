"""The API version 1 `User` (the same class as version 0; import path kept)."""

from hatcher.core.user import User

__all__ = ["User"]
