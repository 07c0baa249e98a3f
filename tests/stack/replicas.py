"""Several hatcher servers (``python -m hatcher.server run``) sharing one database and one blob store.

A :class:`Replica` is one server process on ``127.0.0.1:<free port>``, logging to a file, ready
when ``GET /health`` answers 200. A :class:`ReplicaSet` starts N of them with the same
``--database-url`` and ``--blob-store s3://BUCKET/PREFIX`` (the S3 server given by the ``AWS_*``
variables of their environment): the first one alone, since it creates the database schema,
then the others together.
"""

from __future__ import annotations

import http.client
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator, Mapping, Optional, Sequence, Union

from .processes import (
    HOST,
    PathLike,
    PortTaken,
    StartError,
    child_env,
    free_port,
    kill_group,
    read_from,
    spawn,
    stop_process,
    tail,
    wait_until,
)

if TYPE_CHECKING:
    from .seaweed import SeaweedS3

ADMIN_EMAIL = "admin@example.com"
#: The superuser of the replicas: the same as the conformance suite's (tests/conformance/harness.py), which
#: runs against them in ``tox -e scale``.
ADMIN_PASSWORD = "password"

#: Extra server arguments: the same for every replica, or made per replica from its index and directory.
ExtraArgs = Union[Sequence[str], Callable[[int, Path], Sequence[str]]]


def health(url: str, timeout: float = 2.0) -> Optional[int]:
    """The status of ``GET {url}/health`` (``None`` when there is no answer); never through a proxy."""
    host, port = url.rsplit("/", 1)[-1].rsplit(":", 1)
    connection = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        connection.request("GET", "/health")
        return connection.getresponse().status
    except (OSError, http.client.HTTPException):
        return None
    finally:
        connection.close()


class Replica:
    """One ``python -m hatcher.server run --host 127.0.0.1 --port PORT ARGUMENTS...`` process.

    Parameters
    ----------
    arguments
        The server's arguments after ``--port``.
    log_path
        Where its stdout and stderr go (appended to across restarts); its directory is the
        server's working directory.
    env
        Its whole environment (default: this process's).
    """

    def __init__(self, arguments: Sequence[str], log_path: PathLike, env: Optional[Mapping[str, str]] = None) -> None:
        self.arguments = list(arguments)
        self.log_path = Path(log_path)
        self.env = None if env is None else dict(env)
        self.port = free_port()
        self.process: Optional[subprocess.Popen] = None
        self._log_offset = 0

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` (the same across :meth:`restart`)."""
        return f"http://{HOST}:{self.port}"

    @property
    def running(self) -> bool:
        """Whether the server process is alive."""
        return self.process is not None and self.process.poll() is None

    def command(self) -> list[str]:
        """The server's command line."""
        return [sys.executable, "-m", "hatcher.server", "run", "--host", HOST, "--port", str(self.port),
                *self.arguments]

    def spawn(self) -> None:
        """Start the process without waiting (see :meth:`wait_ready`)."""
        if self.running:
            raise RuntimeError(f"the replica on port {self.port} is already running")
        self._log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        self.process = spawn(self.command(), self.log_path, env=self.env, cwd=self.log_path.parent,
                             death_signal="TERM")

    def wait_ready(self, timeout: float = 60.0) -> float:
        """Wait until ``GET /health`` answers 200; seconds taken.

        Raises :class:`PortTaken` when the server exited because its port was taken, or
        :class:`StartError` with the end of its log; the process is stopped in both cases.
        """
        try:
            return wait_until(lambda: health(self.url) == 200, self.process, timeout, f"the server on {self.url}",
                              interval=0.1)
        except StartError as error:
            self.stop()
            log = read_from(self.log_path, self._log_offset)
            if "address already in use" in log.lower():
                raise PortTaken(f"port {self.port} was taken") from error
            raise StartError(f"{error}; the end of {self.log_path}:\n{log[-3000:]}") from error

    def start(self, timeout: float = 60.0, attempts: int = 3) -> float:
        """Start and wait until ready, on another free port if this one was taken; seconds taken."""
        for attempt in range(attempts):
            self.spawn()
            try:
                return self.wait_ready(timeout)
            except PortTaken:
                if attempt == attempts - 1:
                    raise
                self.port = free_port()
        raise AssertionError("unreachable")

    def stop(self, timeout: float = 20.0, signalled: bool = False) -> float:
        """SIGTERM (unless ``signalled`` already), then SIGKILL after ``timeout`` s; seconds taken.

        Nothing happens if it is not running.
        """
        if self.process is None:
            return 0.0
        took = stop_process(self.process, None if signalled else signal.SIGTERM, timeout)
        self.process = None
        return took

    def kill9(self) -> None:
        """SIGKILL the server, as a crash would (its port is kept for :meth:`restart`)."""
        if self.process is not None:
            kill_group(self.process)
            self.process = None

    def restart(self, timeout: float = 60.0) -> float:
        """Stop (if running) and start again on the same port; seconds until ready."""
        self.stop()
        self.spawn()
        return self.wait_ready(timeout)

    def log(self, limit: int = 5000) -> str:
        """The end of its log."""
        return tail(self.log_path, limit)


class ReplicaSet:
    """``count`` hatcher servers on one database and one blob store.

    Parameters
    ----------
    count
        How many servers.
    directory
        Each server gets ``replica-<index>/`` there, with its log ``server.log``.
    database_url
        ``--database-url`` of every server (a PostgreSQL URL: see ``PostgresCluster.create_database``).
    blob_store
        ``--blob-store`` of every server, ``s3://BUCKET/PREFIX``; default with ``s3``: its bucket and ``prefix``.
    s3
        The S3 server: its ``AWS_*`` variables go into the servers' environment.
    prefix
        The key prefix of the default ``blob_store``.
    env
        More environment variables of the servers (the ``AWS_*`` ones of this process are left out).
    admin
        ``--admin EMAIL:PASSWORD`` of every server.
    extra_args
        More server arguments (``--gc-grace``, ``--upgrade-db``...): a list, or a function of the
        replica's index and directory (``lambda index, here: ["--data-dir", str(here / "data")]``).
    """

    def __init__(self, count: int, directory: PathLike, *, database_url: Optional[str] = None,
                 blob_store: Optional[str] = None, s3: Optional[SeaweedS3] = None, prefix: str = "blobs",
                 env: Optional[Mapping[str, str]] = None, admin: tuple[str, str] = (ADMIN_EMAIL, ADMIN_PASSWORD),
                 extra_args: ExtraArgs = ()) -> None:
        if count < 1:
            raise ValueError("a replica set needs at least one replica")
        self.directory = Path(directory).resolve()
        self.admin = admin
        if blob_store is None and s3 is not None:
            blob_store = f"s3://{s3.bucket}/{prefix}"
        self.database_url, self.blob_store = database_url, blob_store
        environment = child_env({**(s3.env() if s3 is not None else {}), **(env or {})}, drop_prefixes=("AWS_",))
        self.replicas = []
        for index in range(count):
            here = self.directory / f"replica-{index}"
            here.mkdir(parents=True, exist_ok=True)
            arguments = ["--admin", f"{admin[0]}:{admin[1]}"]
            if database_url is not None:
                arguments += ["--database-url", database_url]
            if blob_store is not None:
                arguments += ["--blob-store", blob_store]
            arguments += list(extra_args(index, here) if callable(extra_args) else extra_args)
            self.replicas.append(Replica(arguments, here / "server.log", environment))

    @property
    def urls(self) -> list[str]:
        """``http://127.0.0.1:PORT`` of each server."""
        return [replica.url for replica in self.replicas]

    @property
    def upstreams(self) -> list[str]:
        """``127.0.0.1:PORT`` of each server, for :class:`~stack.nginx.Nginx`."""
        return [f"{HOST}:{replica.port}" for replica in self.replicas]

    def start(self, timeout: float = 60.0) -> float:
        """Start the first server and wait until ready (it creates the schema), then the others together.

        Returns the seconds taken; on a failure every server started is stopped again.
        """
        started = time.monotonic()
        try:
            self.replicas[0].start(timeout)
            for replica in self.replicas[1:]:
                replica.spawn()
            for replica in self.replicas[1:]:
                try:
                    replica.wait_ready(timeout)
                except PortTaken:
                    replica.port = free_port()
                    replica.start(timeout)
        except BaseException:
            self.stop()
            raise
        return time.monotonic() - started

    def stop(self, timeout: float = 20.0) -> float:
        """Stop every server: SIGTERM to all at once, then wait (SIGKILL after ``timeout`` s); seconds taken."""
        started = time.monotonic()
        for replica in self.replicas:
            if replica.running:
                replica.process.send_signal(signal.SIGTERM)
        for replica in self.replicas:
            replica.stop(timeout, signalled=True)
        return time.monotonic() - started

    def kill9(self, index: int) -> None:
        """SIGKILL server ``index``."""
        self.replicas[index].kill9()

    def restart(self, index: int, timeout: float = 60.0) -> float:
        """Restart server ``index`` on its port; seconds until it is ready again."""
        return self.replicas[index].restart(timeout)

    def __getitem__(self, index: int) -> Replica:
        return self.replicas[index]

    def __len__(self) -> int:
        return len(self.replicas)

    def __iter__(self) -> Iterator[Replica]:
        return iter(self.replicas)

    def __enter__(self) -> ReplicaSet:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
