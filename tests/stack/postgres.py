"""A throwaway PostgreSQL cluster for tests: initdb in a temporary directory, served on a free loopback port.

PostgreSQL refuses to run as root, so as root every ``initdb``/``pg_ctl`` goes through
``runuser -u postgres --`` (the cluster directory is then world-accessible). The server is
stopped with ``pg_ctl stop -m fast``, or by the postmaster's PID when that fails.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from glob import glob
from pathlib import Path
from typing import Optional

from .processes import HOST, PathLike, ServiceUnavailable, StartError, accepts, find_program, free_port, read_from

#: The superuser of the cluster (trust authentication on 127.0.0.1: no password).
USER = "hatcher"


def _binary(name: str) -> Optional[str]:
    """``initdb``/``pg_ctl``: on ``PATH``, else in Debian's ``/usr/lib/postgresql/<version>/bin``, newest first."""
    debian = sorted(glob("/usr/lib/postgresql/*/bin"), key=lambda path: int(path.split("/")[-2]), reverse=True)
    return find_program(name, debian)


def _as_postgres(argv: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: run through ``runuser -u postgres`` then."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *argv]
    return argv


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as stream:
            return stream.read()
    except OSError:
        return b""


class PostgresCluster:
    """A PostgreSQL cluster of its own, in a fresh temporary directory, on ``127.0.0.1:<free port>``.

    Parameters
    ----------
    parent
        Where its directory is made (default: the system temp directory); as root, the ``postgres``
        user must be able to reach it (pytest's own temporary directories are private to root).
    """

    def __init__(self, parent: Optional[PathLike] = None) -> None:
        self.initdb, self.pg_ctl = _binary("initdb"), _binary("pg_ctl")
        if not self.initdb or not self.pg_ctl:
            raise ServiceUnavailable("PostgreSQL is not installed: no initdb/pg_ctl (apt-get install postgresql)")
        if os.geteuid() == 0 and not shutil.which("runuser"):
            raise ServiceUnavailable("running as root, and runuser (to run PostgreSQL as postgres) is missing")
        self.parent = None if parent is None else os.fspath(parent)
        self.base: Optional[str] = None
        self.port = free_port()
        self._started_once = False

    @property
    def data(self) -> str:
        """The data directory (``PGDATA``)."""
        return os.path.join(self._base(), "data")

    @property
    def log_path(self) -> str:
        """The server's log file."""
        return os.path.join(self._base(), "log")

    @property
    def url(self) -> str:
        """SQLAlchemy URL of the ``postgres`` database: ``postgresql+psycopg://hatcher@127.0.0.1:PORT/postgres``."""
        return self.database_url("postgres")

    def database_url(self, name: str) -> str:
        """SQLAlchemy URL of the database ``name`` of this cluster."""
        return f"postgresql+psycopg://{USER}@{HOST}:{self.port}/{name}"

    @property
    def running(self) -> bool:
        """Whether the postmaster is up (its PID file is there and it accepts connections)."""
        return self.base is not None and os.path.exists(os.path.join(self.data, "postmaster.pid")) \
            and accepts(self.port)

    def _base(self) -> str:
        if self.base is None:
            raise RuntimeError("the cluster was not created yet: call start()")
        return self.base

    def _pg_ctl(self, *arguments: str, timeout: float = 90) -> None:
        subprocess.run(_as_postgres([self.pg_ctl, "-D", self.data, *arguments]), check=True,
                       capture_output=True, timeout=timeout)

    def _options(self) -> str:
        return (f"-p {self.port} -k {self.base} -c listen_addresses={HOST} -c fsync=off "
                "-c full_page_writes=off -c synchronous_commit=off -c max_connections=200")

    def start(self, timeout: float = 60.0, attempts: int = 3) -> float:
        """Create the cluster (the first time) and start its server; seconds taken.

        When the port was taken meanwhile, the first start tries again on another one, up to
        ``attempts`` times. Raises :class:`StartError` (with the end of the server log) when the
        server does not start; a server started half-way is stopped.
        """
        started = time.monotonic()
        for attempt in range(attempts):
            offset = os.path.getsize(self.log_path) if self.base and os.path.exists(self.log_path) else 0
            try:
                self._start_once(timeout)
                return time.monotonic() - started
            except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError, StartError) as error:
                self.stop()
                log = read_from(self.log_path, offset) if self.base else ""
                if "Address already in use" in log and attempt < attempts - 1 and not self._started_once:
                    self.port = free_port()
                    continue
                output = (getattr(error, "stderr", b"") or b"").decode(errors="replace")
                raise StartError(f"could not start PostgreSQL: {error} {output}\n{log[-3000:]}") from error
        raise AssertionError("unreachable")

    def _start_once(self, timeout: float) -> None:
        if self.base is None:
            self.base = tempfile.mkdtemp(prefix="hatcher-pg-", dir=self.parent)
            os.chmod(self.base, 0o777)
            subprocess.run(_as_postgres([self.initdb, "-D", self.data, "-U", USER, "--auth=trust", "-E", "UTF8",
                                         "--no-sync"]), check=True, capture_output=True, timeout=120)
        self._pg_ctl("-o", self._options(), "-l", self.log_path, "-w", "-t", str(int(timeout)), "start",
                     timeout=timeout + 30)
        self._wait_accepting(timeout)
        self._started_once = True

    def _wait_accepting(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not accepts(self.port):
            if time.monotonic() > deadline:
                raise StartError(f"PostgreSQL does not accept connections on port {self.port}")
            time.sleep(0.05)

    def restart(self, timeout: float = 60.0) -> float:
        """``pg_ctl restart -m fast`` on the same port (sessions are cut); seconds until it accepts again."""
        started = time.monotonic()
        self._pg_ctl("-o", self._options(), "-l", self.log_path, "-m", "fast", "-w", "-t", str(int(timeout)),
                     "restart", timeout=timeout + 30)
        self._wait_accepting(timeout)
        return time.monotonic() - started

    def _postmaster_pid(self) -> Optional[int]:
        try:
            with open(os.path.join(self.data, "postmaster.pid"), encoding="ascii") as stream:
                return int(stream.readline())
        except (OSError, ValueError):
            return None

    def stop(self, timeout: float = 60.0) -> float:
        """Stop the server (``pg_ctl stop -m fast``; SIGKILL to the postmaster if that fails); seconds taken.

        The data stay: :meth:`start` serves them again. Stopping a stopped cluster does nothing.
        """
        started = time.monotonic()
        if self.base is None or self._postmaster_pid() is None:
            return 0.0
        try:
            self._pg_ctl("-m", "fast", "-w", "-t", str(int(timeout)), "stop", timeout=timeout + 30)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
            pid = self._postmaster_pid()
            if pid is not None and b"postgres" in _read(f"/proc/{pid}/cmdline"):  # not a stale, reused PID
                try:
                    os.kill(pid, signal.SIGKILL)  # its backends exit when they see the postmaster gone
                except ProcessLookupError:
                    pass
            Path(self.data, "postmaster.pid").unlink(missing_ok=True)
        return time.monotonic() - started

    def close(self) -> None:
        """Stop the server and remove the cluster's directory."""
        self.stop()
        if self.base is not None:
            shutil.rmtree(self.base, ignore_errors=True)
            self.base = None

    def create_database(self, name: str) -> str:
        """Create the (empty) database ``name``, owned by the superuser; its SQLAlchemy URL."""
        import psycopg
        from psycopg import sql

        with psycopg.connect(host=HOST, port=self.port, user=USER, dbname="postgres", autocommit=True) as connection:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.database_url(name)

    def __enter__(self) -> PostgresCluster:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
