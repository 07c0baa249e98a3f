"""The API version 0 `Team` (import path kept for compatibility)."""

from hatcher.core.team import Team

__all__ = ["Team"]
