"""The system keyring behind a tiny interface: the optional ``keyring`` package (``hatcher[keyring]``).

Entries live under the service :data:`SERVICE` with the key ``<profile>@<url>``. No
``keyring`` package, its ``fail`` or ``null`` backend, or a chainer with no backend all
mean "no keyring"; the backend is chosen as ``keyring`` chooses it (``PYTHON_KEYRING_BACKEND``,
``keyringrc.cfg``, or the best installed one), anew on each call.
"""

from __future__ import annotations

from typing import Any, Optional

from hatcher.cli.errors import CommandFailed

#: The keyring service of every hatcher entry.
SERVICE = "hatcher"

_NO_KEYRING = {"keyring.backends.fail", "keyring.backends.null"}


class KeyringFailed(CommandFailed):
    """The keyring refused or failed an operation (exit status 1, one line)."""


def _backend() -> Optional[Any]:
    try:
        import keyring
        import keyring.core
    except ImportError:
        return None
    try:
        keyring.core.init_backend()
        backend = keyring.get_keyring()
    except Exception:
        return None
    if type(backend).__module__ in _NO_KEYRING or getattr(backend, "priority", 1) <= 0:
        return None
    if type(backend).__module__ == "keyring.backends.chainer" and not getattr(backend, "backends", None):
        return None
    return backend


def available() -> bool:
    """Whether a usable system keyring is installed and configured."""
    return _backend() is not None


def describe() -> str:
    """The backend's class, e.g. ``keyring.backends.SecretService.Keyring``, or ``no keyring``."""
    backend = _backend()
    return "no keyring" if backend is None else f"{type(backend).__module__}.{type(backend).__name__}"


def entry_key(profile: str, url: str) -> str:
    """The keyring key of a profile's token: ``<profile>@<url>``."""
    return f"{profile}@{url}"


def _require() -> Any:
    backend = _backend()
    if backend is None:
        raise KeyringFailed("No system keyring is available (install hatcher[keyring], or use --store file)")
    return backend


def get_token(key: str) -> Optional[str]:
    """The secret stored under ``key``, or None when there is none."""
    backend = _require()
    try:
        return backend.get_password(SERVICE, key)
    except Exception as exc:
        raise KeyringFailed(f"The system keyring could not be read: {type(exc).__name__}") from None


def set_token(key: str, secret: str) -> None:
    """Store ``secret`` under ``key``, replacing any earlier one."""
    backend = _require()
    try:
        backend.set_password(SERVICE, key, secret)
    except Exception as exc:
        raise KeyringFailed(f"The system keyring could not store the token: {type(exc).__name__}") from None


def delete_token(key: str) -> bool:
    """Remove the entry ``key``; False when there was none."""
    backend = _require()
    try:
        if backend.get_password(SERVICE, key) is None:
            return False
        backend.delete_password(SERVICE, key)
    except Exception as exc:
        raise KeyringFailed(f"The system keyring could not delete the token: {type(exc).__name__}") from None
    return True
