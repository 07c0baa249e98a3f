"""The public entry point: ``from hatcher.api import BroodClient, BroodClientAuth``."""

from hatcher.core.auth import BroodBearerTokenAuth, BroodClientAuth
from hatcher.core.brood_client import BroodClient
from hatcher.core.model_registry import MAX_API_VERSION

__all__ = ["BroodBearerTokenAuth", "BroodClient", "BroodClientAuth", "MAX_API_VERSION"]
