"""What every lazy model object shares: its transport, its API version's paths, repr and dir()."""

from __future__ import annotations

from typing import Any, ClassVar

import attr

from hatcher.core.url_templates import UrlBuilder, urls_for


def default_registry(registry: Any) -> Any:
    """Accept the pre-0.9 constructor signatures: no registry means API version 0."""
    if registry is None:
        from hatcher.core.model_registry import ModelRegistry

        return ModelRegistry(api_version=0)
    return registry


def url_handler_field() -> Any:
    """The shared transport: excluded from repr, compared by identity."""
    return attr.ib(repr=False)


def registry_field() -> Any:
    """The model registry: optional, defaulting to API version 0."""
    return attr.ib(default=None, converter=default_registry, repr=False)


class PublicDir:
    """Mixin: ``dir()`` lists only public names, for tab completion."""

    def __dir__(self) -> list[str]:
        return sorted(name for name in super().__dir__() if not name.startswith("_"))


class Model(PublicDir):
    """Mixin of the lazy model classes.

    Subclasses declare ``_repr_name`` and ``_repr_fields`` (pairs of label and attribute
    name); the repr never shows anything else, so no secret can leak through it.
    """

    _repr_name: ClassVar[str] = ""
    _repr_fields: ClassVar[tuple[tuple[str, str], ...]] = ()
    _url_handler: Any
    _model_registry: Any

    @property
    def _api_version_number(self) -> int:
        return self._model_registry.api_version

    @property
    def _urls(self) -> UrlBuilder:
        return urls_for(self._model_registry.api_version)

    def __repr__(self) -> str:
        fields = ", ".join(f"{label}={getattr(self, name)!r}" for label, name in self._repr_fields)
        return f"<{self._repr_name or type(self).__name__} {fields}>"
