"""The public entry point: ``from hatcher.api import BroodClient, BroodClientAuth``.

The names are resolved lazily (PEP 562): ``import hatcher.api`` does not import ``requests`` or
the client modules; the first access to one of the names below imports its module and caches the
real object in this module's namespace, so ``from hatcher.api import BroodClient`` returns the
class itself.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__all__ = ["BroodBearerTokenAuth", "BroodClient", "BroodClientAuth", "MAX_API_VERSION"]

#: public name -> the module that defines it
_LAZY = {
    "BroodBearerTokenAuth": "hatcher.core.auth",
    "BroodClientAuth": "hatcher.core.auth",
    "BroodClient": "hatcher.core.brood_client",
    "MAX_API_VERSION": "hatcher.core.model_registry",
}

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from hatcher.core.auth import BroodBearerTokenAuth, BroodClientAuth
    from hatcher.core.brood_client import BroodClient
    from hatcher.core.model_registry import MAX_API_VERSION


def __getattr__(name: str) -> Any:
    try:
        module_name = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
