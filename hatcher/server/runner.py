"""Run the embedded Brood: in a background thread (tests, demos) or in the foreground (the CLI)."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import tempfile
import threading
import time
from typing import Any, Iterator, Optional

import uvicorn

from hatcher.server.accounts import ensure_superuser
from hatcher.server.app import create_app
from hatcher.server.settings import ServerSettings
from hatcher.server.transport import check_tls, uvicorn_options

logger = logging.getLogger("hatcher.server")

#: The superuser an :class:`EmbeddedBrood` creates unless told otherwise.
DEFAULT_ADMIN = ("admin@example.com", "admin-password")


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted connections inherit it: without it, Nagle's algorithm holds back small
    # responses on keep-alive connections for ~40 ms each.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def fast_protocols() -> dict[str, str]:
    """uvicorn options for httptools' parser and uvloop's event loop when importable; h11/asyncio otherwise."""
    options = {"http": "h11", "loop": "asyncio"}
    try:
        import httptools  # noqa: F401

        options["http"] = "httptools"
    except ImportError:
        pass
    try:
        import uvloop  # noqa: F401

        options["loop"] = "uvloop"
    except ImportError:
        pass
    return options


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def _prepare(settings: ServerSettings, admin: Optional[tuple[str, str]]) -> Any:
    app = create_app(settings)
    if admin is not None:
        with app.state.sessionmaker() as db:
            ensure_superuser(db, *admin)
    return app


class _Server(uvicorn.Server):
    """uvicorn's server, but a SIGINT or SIGTERM ends in a clean return, not a re-raised signal."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def _config(app: Any, settings: ServerSettings, certfile: Optional[str], keyfile: Optional[str],
            protocol: Optional[str] = None, **options: Any) -> uvicorn.Config:
    """uvicorn's configuration: the fastest protocols, bounded (see :mod:`hatcher.server.transport`), and TLS."""
    fast = fast_protocols()
    transport = uvicorn_options(settings, protocol or fast["http"], certfile, keyfile)
    # proxy_headers=False: uvicorn would otherwise take the client address from X-Forwarded-For of
    # any loopback peer; the server decides whom to believe (``--trusted-proxy``, hatcher.server.deps).
    return uvicorn.Config(app, loop=fast["loop"], proxy_headers=False, **transport, **options)


def run_server(settings: ServerSettings, host: str = "127.0.0.1", port: int = 8000,
               admin: Optional[tuple[str, str]] = None, log_level: str = "info",
               certfile: Optional[str] = None, keyfile: Optional[str] = None) -> None:
    """Serve in the foreground until SIGINT or SIGTERM, then return; one access-log line per request.

    With ``certfile`` and ``keyfile`` (PEM; both or neither) it serves HTTPS. These are checked,
    then the port is bound, before anything is written: a bad certificate fails with
    :class:`~hatcher.server.transport.TLSConfigError`, a port in use with ``OSError``.
    """
    check_tls(certfile, keyfile)
    sock = _bind(host, port)
    try:
        app = _prepare(settings, admin)
        config = _config(app, settings, certfile, keyfile, log_level=log_level, access_log=True,
                         timeout_graceful_shutdown=5)
        where = settings.data_dir or f"{_safe_url(settings.sqlalchemy_url)} and {settings.blob_store_url}"
        scheme = "https" if certfile else "http"
        logger.info("Brood serving %s on %s://%s:%d", where, scheme, host, sock.getsockname()[1])
        try:
            _Server(config).run(sockets=[sock])
        finally:
            app.state.services.close()
    finally:
        sock.close()


class EmbeddedBrood:
    """A Brood server running in a background thread of this process, on a free loopback port.

    Use it as a context manager::

        with EmbeddedBrood(data_dir) as brood:
            client = BroodClient.from_url(brood.url, auth=brood.admin_auth, api_version=1)

    Parameters
    ----------
    data_dir : str, optional
        The data directory (a temporary one, removed on stop, when omitted).
    host, port : str, int
        Where to listen; port 0 picks a free port.
    database_url : str, optional
        A SQLAlchemy URL instead of the SQLite file in ``data_dir``.
    admin : tuple of (str, str), optional
        The superuser's e-mail and password.
    certfile, keyfile : str, optional
        PEM files of a certificate and its private key: serve HTTPS (then :attr:`url` is
        ``https://...``).
    protocol : str, optional
        uvicorn's HTTP protocol, ``"httptools"`` or ``"h11"`` (default: httptools when importable).
    **settings
        Other :class:`~hatcher.server.settings.ServerSettings` (``blob_store``, ``gc_grace``,
        ``request_timeout``...).
    """

    def __init__(self, data_dir: Optional[str] = None, host: str = "127.0.0.1", port: int = 0,
                 database_url: Optional[str] = None, admin: tuple[str, str] = DEFAULT_ADMIN,
                 access_log: bool = False, certfile: Optional[str] = None, keyfile: Optional[str] = None,
                 protocol: Optional[str] = None, **settings: Any) -> None:
        self._tmp: Optional[tempfile.TemporaryDirectory[str]] = None
        if data_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="brood-")
            data_dir = self._tmp.name
        self.settings = ServerSettings(data_dir, database_url=database_url, **settings)
        self.host = host
        self.port = port
        self.admin_auth = admin
        self._access_log = access_log
        self.certfile = None if certfile is None else os.fspath(certfile)
        self.keyfile = None if keyfile is None else os.fspath(keyfile)
        self._protocol = protocol
        self._server: Optional[uvicorn.Server] = None
        self._thread: Optional[threading.Thread] = None
        self._sock: Optional[socket.socket] = None
        self.app: Any = None

    @property
    def url(self) -> str:
        """The server's base URL, e.g. ``http://127.0.0.1:43211`` (``https://`` with a certificate)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'https' if self.certfile else 'http'}://{host}:{self.port}"

    def start(self, timeout: float = 30.0) -> EmbeddedBrood:
        """Start serving and wait until the server accepts requests.

        When it cannot start, what it had started is stopped (as by :meth:`stop`) before the error.
        """
        try:
            check_tls(self.certfile, self.keyfile)
            self.app = _prepare(self.settings, self.admin_auth)
            self._sock = _bind(self.host, self.port)
            self.port = self._sock.getsockname()[1]
            config = _config(self.app, self.settings, self.certfile, self.keyfile, self._protocol,
                             log_level="warning", access_log=self._access_log, timeout_graceful_shutdown=2)
            self._server = uvicorn.Server(config)
            self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._sock]},
                                            name=f"brood-{self.port}", daemon=True)
            self._thread.start()
            deadline = time.monotonic() + timeout
            while not self._server.started:
                if not self._thread.is_alive() or time.monotonic() > deadline:
                    raise RuntimeError("The embedded Brood server did not start")
                time.sleep(0.01)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop serving, close the listening socket, release the database and remove a temporary data directory."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._sock is not None:
            self._sock.close()
        if self.app is not None:
            self.app.state.services.close()
        self._server = self._thread = self._sock = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def client(self, api_version: int = 1, auth: Any = None, verify_ssl: Any = True) -> Any:
        """A :class:`~hatcher.api.BroodClient` for this server (the superuser's by default).

        ``verify_ssl`` is passed on: over HTTPS, False or the path of the CA bundle that
        signed the certificate, unless a trusted authority did.
        """
        from hatcher.api import BroodClient

        return BroodClient.from_url(self.url, auth=auth or self.admin_auth, api_version=api_version,
                                    verify_ssl=verify_ssl)

    def __enter__(self) -> EmbeddedBrood:
        return self.start()

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<EmbeddedBrood url={self.url!r} data_dir={self.settings.data_dir!r}>"
