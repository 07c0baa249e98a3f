"""Which model class serves which API version."""

from __future__ import annotations

import functools
import numbers
import re
from typing import Any, Callable

from hatcher.core.organization import Organization
from hatcher.core.repository import (
    Repository,
    RepositoryV1,
    SinglePlatformRepository,
    SinglePlatformRepositoryV1,
)
from hatcher.core.team import Team
from hatcher.core.user import User
from hatcher.errors import HatcherException

#: The highest API version any model class is registered for.
MAX_API_VERSION = 1

_VERSION_KEY = re.compile(r"v(\d+)")


class InvalidApiVersion(HatcherException, ValueError):
    """The API version is above :data:`MAX_API_VERSION` (also a ``ValueError``).

    As in the reference, ``args`` is ``(api_version,)``; the message names the
    supported range.

    Attributes
    ----------
    api_version : object
        The version that was asked for.
    """

    def __init__(self, api_version: Any) -> None:
        super().__init__(api_version)
        self.api_version = api_version

    def __str__(self) -> str:
        return f"Unsupported API version: {self.api_version!r} (supported: 0 to {MAX_API_VERSION})"


class InvalidApiVersionDefinition(HatcherException):
    """A :func:`versioned_model` declaration is malformed."""


def versioned_model(**versions: type) -> Callable[[Callable[..., Any]], property]:
    """Declare which class serves each API version (keys ``v0``, ``v1``, ...).

    The decorated function becomes a property of :class:`ModelRegistry` returning the
    class registered for the registry's version, or for the nearest lower version.
    """
    if not versions:
        raise RuntimeError("versioned_model needs at least one version")
    registered: dict[int, type] = {}
    for key, cls in versions.items():
        match = _VERSION_KEY.fullmatch(key)
        if match is None or not isinstance(cls, type):
            raise InvalidApiVersionDefinition(f"Invalid model declaration {key}={cls!r}")
        registered[int(match.group(1))] = cls

    def decorator(func: Callable[..., Any]) -> property:
        @functools.wraps(func)
        def factory(self: ModelRegistry) -> type:
            usable = [version for version in registered if version <= self.api_version]
            if not usable:
                raise InvalidApiVersion(self.api_version)
            return registered[max(usable)]

        factory._hatcher_model_factory = True  # type: ignore[attr-defined]
        return property(factory)

    return decorator


def is_model_factory(func: Any) -> bool:
    """True for a :func:`versioned_model` property (or its getter)."""
    getter = func.fget if isinstance(func, property) else func
    return getattr(getter, "_hatcher_model_factory", False)


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def check_api_version(api_version: Any) -> int:
    """Return ``api_version`` if it is supported, else raise.

    Raises
    ------
    InvalidApiVersion
        A number above :data:`MAX_API_VERSION` (``2``, ``1.5``).
    ValueError
        Any other value that is not 0 or 1.
    """
    if not _is_number(api_version):
        raise ValueError(f"unsupported api_version: {api_version!r}")
    if api_version > MAX_API_VERSION:
        raise InvalidApiVersion(api_version)
    if not isinstance(api_version, int) or api_version < 0:
        raise ValueError(f"unsupported api_version: {api_version!r}")
    return api_version


class ModelRegistry:
    """The model classes of one API version.

    Parameters
    ----------
    api_version : int, optional
        ``None`` means :data:`MAX_API_VERSION`.
    """

    def __init__(self, api_version: int | None = None) -> None:
        if api_version is None:
            api_version = MAX_API_VERSION
        if _is_number(api_version) and api_version > MAX_API_VERSION:
            raise InvalidApiVersion(api_version)
        self.api_version = api_version

    def __repr__(self) -> str:
        return f"<ModelRegistry api_version={self.api_version}>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ModelRegistry) and other.api_version == self.api_version

    def __hash__(self) -> int:
        return hash(self.api_version)

    @versioned_model(v0=Organization)
    def Organization(self) -> type:  # noqa: N802 - public name of the reference
        """The ``Organization`` class of this version."""

    @versioned_model(v0=Repository, v1=RepositoryV1)
    def Repository(self) -> type:  # noqa: N802
        """The ``Repository`` class of this version."""

    @versioned_model(v0=SinglePlatformRepository, v1=SinglePlatformRepositoryV1)
    def SinglePlatformRepository(self) -> type:  # noqa: N802
        """The ``SinglePlatformRepository`` class of this version."""

    @versioned_model(v0=User)
    def User(self) -> type:  # noqa: N802
        """The ``User`` class of this version."""

    @versioned_model(v0=Team)
    def Team(self) -> type:  # noqa: N802
        """The ``Team`` class of this version."""
