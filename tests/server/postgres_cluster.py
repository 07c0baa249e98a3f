"""A throwaway PostgreSQL cluster for tests: initdb in a temporary directory, on a free loopback port."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from typing import Iterator, Optional


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _as_postgres(argv: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: run through ``runuser -u postgres`` then."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *argv]
    return argv


def _binary(name: str) -> Optional[str]:
    found = shutil.which(name)
    if found:
        return found
    for version in ("17", "16", "15", "14", "13"):
        candidate = f"/usr/lib/postgresql/{version}/bin/{name}"
        if os.path.exists(candidate):
            return candidate
    return None


def postgres_cluster() -> Iterator[str]:
    """Yield a SQLAlchemy URL of a fresh database; stop and remove the cluster afterwards.

    Uses ``HATCHER_TEST_DATABASE_URL`` when it is set. Raises ``RuntimeError`` when
    PostgreSQL is not installed or cannot be started (a server started half-way is stopped).
    """
    given = os.environ.get("HATCHER_TEST_DATABASE_URL")
    if given:
        yield given
        return
    initdb, pg_ctl = _binary("initdb"), _binary("pg_ctl")
    if not initdb or not pg_ctl or (os.geteuid() == 0 and not shutil.which("runuser")):
        raise RuntimeError("PostgreSQL (initdb, pg_ctl) is not installed")
    base = tempfile.mkdtemp(prefix="hatcher-pg-")
    os.chmod(base, 0o777)
    data = os.path.join(base, "data")
    port = _free_port()
    def stop_and_remove() -> None:
        if os.path.exists(os.path.join(data, "postmaster.pid")):  # a server was started, perhaps half-way
            subprocess.run(_as_postgres([pg_ctl, "-D", data, "-m", "fast", "-w", "-t", "60", "stop"]),
                           capture_output=True, timeout=90)
        shutil.rmtree(base, ignore_errors=True)

    try:
        subprocess.run(_as_postgres([initdb, "-D", data, "-U", "hatcher", "--auth=trust", "-E", "UTF8"]),
                       check=True, capture_output=True, timeout=120)
        options = f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off"
        subprocess.run(_as_postgres([pg_ctl, "-D", data, "-o", options, "-w", "-t", "60",
                                     "-l", os.path.join(base, "log"), "start"]),
                       check=True, capture_output=True, timeout=120)
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
        stop_and_remove()
        raise RuntimeError(f"Could not start PostgreSQL: {exc}") from exc
    try:
        yield f"postgresql+psycopg://hatcher@127.0.0.1:{port}/postgres"
    finally:
        stop_and_remove()
