"""The ``brood_server`` pytest fixtures, registered through the ``pytest11`` entry point.

Loading this plugin imports nothing from hatcher or the server: FastAPI, uvicorn and
SQLAlchemy are imported only when a test uses a fixture, so the plugin costs nothing and
works without the ``server`` extra. The fixtures are also importable from
:mod:`hatcher.testing`.
"""

from __future__ import annotations

import os
from typing import Any

#: The superuser of the servers the fixtures start: ``brood_server.admin_auth``.
BROOD_SERVER_ADMIN = ("admin@example.com", "admin-password")


def start_brood_server(data_dir: str | os.PathLike[str] | None = None, **kwargs: Any) -> Any:
    """Start an :class:`~hatcher.server.runner.EmbeddedBrood` on a free loopback port and return it.

    ``kwargs`` go to ``EmbeddedBrood`` (``database_url``, ``admin``, ...). Call ``stop()``
    when done, or use the ``brood_server`` fixture, which does.

    Raises
    ------
    RuntimeError
        When the ``server`` extra (``pip install 'hatcher[server]'``) is not installed.
    """
    try:
        from hatcher.server.runner import EmbeddedBrood
    except ModuleNotFoundError as exc:
        raise RuntimeError(f"The Brood server needs its extra dependencies ({exc.name} is missing): "
                           "pip install 'hatcher[server]'") from exc
    kwargs.setdefault("admin", BROOD_SERVER_ADMIN)
    return EmbeddedBrood(None if data_dir is None else os.fspath(data_dir), **kwargs).start()


def set_user_password(brood: Any, email: str, password: str) -> None:
    """Give the user ``email`` of a running embedded server (``brood_server``) a password.

    Users created through the API (``create_user``) have none; this is what
    ``hatcher server set-password`` does, without a subprocess.

    Raises
    ------
    LookupError
        There is no user ``email`` on the server.
    """
    from hatcher.server.accounts import set_password

    with brood.app.state.sessionmaker() as db:
        if not set_password(db, email, password):
            raise LookupError(f"No user {email!r} on this server")


try:
    import pytest as _pytest
except ImportError:  # pragma: no cover - pytest is optional for users of hatcher.testing
    _pytest = None

if _pytest is not None:

    def _serve(tmp_path_factory: Any) -> Any:
        try:
            brood = start_brood_server(tmp_path_factory.mktemp("brood"))
        except RuntimeError as exc:
            _pytest.fail(str(exc), pytrace=False)
        try:
            yield brood
        finally:
            brood.stop()

    @_pytest.fixture
    def brood_server(tmp_path_factory: Any) -> Any:
        """A fresh Brood server for one test, on a free loopback port with its own data directory.

        It yields an :class:`~hatcher.server.runner.EmbeddedBrood`: ``.url``, ``.admin_auth``
        (a superuser's e-mail and password) and ``.client(api_version=1)`` (a
        :class:`~hatcher.api.BroodClient` logged in as that superuser). The server is stopped
        after the test.
        """
        yield from _serve(tmp_path_factory)

    @_pytest.fixture(scope="session")
    def brood_server_session(tmp_path_factory: Any) -> Any:
        """Like ``brood_server``, but one server shared by every test of the session (faster; state persists)."""
        yield from _serve(tmp_path_factory)

