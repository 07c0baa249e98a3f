"""nginx as a round-robin load balancer in front of several hatcher servers, and its configuration.

:func:`render_config` writes the configuration (the documentation shows it as it is);
:class:`Nginx` runs it on a free loopback port, everything nginx writes (logs, PID file,
temporary files) inside one directory, in the foreground (``daemon off``) as a child process.
"""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path
from typing import Optional, Sequence, Union

from .processes import (
    HOST,
    PathLike,
    PortTaken,
    ServiceUnavailable,
    StartError,
    accepts,
    find_program,
    free_port,
    read_from,
    spawn,
    stop_process,
    wait_until,
)

_TEMP_PATHS = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")

_CONFIG = """\
# nginx in front of several hatcher servers (python -m hatcher.server run) that share
# one database and one blob store: any of them can answer any request.
{main}worker_processes {workers};

events {{
    worker_connections 1024;
}}

http {{
{http}    upstream hatcher {{
        # Round robin, nginx's default: each request goes to the next server.
{servers}        # Idle connections kept open to the servers, per worker process, for less time than the
        # servers keep them (5 s): nginx must never send a request on a connection being closed.
        keepalive 16;
        keepalive_timeout 4s;
    }}

    server {{
        listen {listen};

        # Eggs, runtimes and bundles can be large: no size limit, and request and response
        # bodies are streamed through as they come instead of being buffered by nginx first.
        client_max_body_size 0;
        proxy_request_buffering off;
        proxy_buffering off;

        # Request lines up to 32 KiB (the default is 8 KiB): the servers, not nginx, answer an
        # over-long artefact name, with their JSON error.
        large_client_header_buffers 4 32k;

        # A large upload or download may take long; these limit the time between two reads
        # or writes, not the whole transfer.
        client_body_timeout 300s;
        send_timeout 300s;
        proxy_connect_timeout 10s;
        proxy_send_timeout 300s;
        proxy_read_timeout 300s;

        location / {{
            proxy_pass http://hatcher;
            # HTTP/1.1 without "Connection: close", so that upstream connections are kept alive.
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            # What the client asked for, and from where (the servers' logs show the client's address).
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            # When a server cannot be reached or does not answer, try the next one. nginx
            # does so only for idempotent requests (not POST, PATCH or LOCK), and only if
            # nothing was sent to the client yet and the request body was not sent upstream.
            proxy_next_upstream error timeout;
        }}

        # Errors nginx answers itself are JSON too, as the servers' are: a request it cannot
        # parse, and no server reachable (a 503, which clients retry, rather than a 502).
        error_page 400 /.bad-request;
        error_page 502 504 =503 @unavailable;
        location = /.bad-request {{
            internal;
            default_type application/json;
            return 400 '{{"error": "Bad request: the load balancer could not read it"}}\n';
        }}
        location @unavailable {{
            default_type application/json;
            return 503 '{{"error": "No Brood server is reachable; try again shortly"}}\n';
        }}
    }}
}}
"""


def render_config(upstreams: Sequence[str], listen: str, *, workers: Union[int, str] = "auto",
                  directory: Optional[PathLike] = None, user: Optional[str] = None) -> str:
    """The nginx configuration of a round-robin load balancer for hatcher servers.

    Parameters
    ----------
    upstreams
        The servers, ``HOST:PORT`` each (``127.0.0.1:8001``).
    listen
        Where nginx listens (``127.0.0.1:8080``, ``80``...).
    workers
        ``worker_processes``: each worker balances on its own, so only one worker alternates strictly.
    directory
        When given, every file nginx writes (logs, PID file, temporary files) goes inside it;
        without it, nginx's compiled-in paths are used (the documented configuration).
    user
        The ``user`` directive (the worker processes' user when nginx starts as root).
    """
    main = f"user {user};\n" if user else ""
    http = ""
    if directory is not None:
        here = Path(directory)
        main += f"error_log {here / 'error.log'} info;\npid {here / 'nginx.pid'};\n"
        http = ("    log_format balanced '$remote_addr [$time_local] \"$request\" $status $body_bytes_sent "
                "upstream=$upstream_addr upstream_status=$upstream_status time=$request_time';\n"
                f"    access_log {here / 'access.log'} balanced;\n") + "".join(
            f"    {name}_temp_path {here / 'temp' / name};\n" for name in _TEMP_PATHS) + "\n"
    servers = "".join(f"        server {upstream};\n" for upstream in upstreams)
    return _CONFIG.format(main=main, workers=workers, http=http, servers=servers, listen=listen)


def nginx_binary() -> str:
    """The ``nginx`` program: on ``PATH`` or in ``/usr/sbin``. Raises :class:`ServiceUnavailable` if missing."""
    found = find_program("nginx", ["/usr/sbin", "/usr/local/sbin", "/usr/local/nginx/sbin"])
    if not found:
        raise ServiceUnavailable("nginx is not installed (apt-get install nginx)")
    return found


class Nginx:
    """nginx balancing requests round-robin over ``upstreams``, on ``127.0.0.1:<free port>``.

    Parameters
    ----------
    upstreams
        The backends, ``127.0.0.1:PORT`` each.
    directory
        Its configuration, logs (``error.log``, ``access.log``, ``nginx.out``), PID file and
        temporary files.
    workers
        Worker processes; one by default, so that requests alternate strictly between backends.
    """

    def __init__(self, upstreams: Sequence[str], directory: PathLike, workers: int = 1) -> None:
        self.upstreams = list(upstreams)
        self.directory = Path(directory).resolve()
        self.workers = workers
        self.port = 0
        self.process: Optional[subprocess.Popen] = None
        self.log_path = self.directory / "nginx.out"

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://{HOST}:{self.port}"

    @property
    def config_path(self) -> Path:
        """The configuration file it runs (``nginx.conf`` in the directory)."""
        return self.directory / "nginx.conf"

    @property
    def running(self) -> bool:
        """Whether the master process is alive."""
        return self.process is not None and self.process.poll() is None

    def command(self) -> list[str]:
        """``nginx -p DIR -c nginx.conf -e error.log -g "daemon off; master_process on;"``: in the foreground."""
        return [nginx_binary(), "-p", f"{self.directory}/", "-c", str(self.config_path),
                "-e", str(self.directory / "error.log"), "-g", "daemon off; master_process on;"]

    def start(self, timeout: float = 30.0, attempts: int = 3) -> float:
        """Write the configuration, start nginx and wait until it accepts connections; seconds taken.

        A port taken meanwhile means another port, up to ``attempts`` times. Raises
        :class:`ServiceUnavailable` without nginx, :class:`StartError` when it does not start.
        """
        if self.running:
            raise RuntimeError("nginx is already running")
        nginx_binary()
        for name in _TEMP_PATHS:
            (self.directory / "temp" / name).mkdir(parents=True, exist_ok=True)
        for attempt in range(attempts):
            if attempt or not self.port:  # a start after a stop keeps its port when it can
                self.port = free_port()
            # As root, workers run as root too: pytest's temporary directories are private to root.
            user = "root" if os.geteuid() == 0 else None
            self.config_path.write_text(render_config(self.upstreams, f"{HOST}:{self.port}", workers=self.workers,
                                                      directory=self.directory, user=user))
            try:
                return self._start_once(timeout)
            except PortTaken:
                if attempt == attempts - 1:
                    raise
        raise AssertionError("unreachable")

    def _start_once(self, timeout: float) -> float:
        error_log = self.directory / "error.log"
        offsets = [path.stat().st_size if path.exists() else 0 for path in (self.log_path, error_log)]
        self.process = spawn(self.command(), self.log_path, cwd=self.directory, death_signal="TERM")
        try:
            return wait_until(lambda: accepts(self.port), self.process, timeout, "nginx")
        except StartError as error:
            self.stop()
            log = read_from(self.log_path, offsets[0]) + read_from(error_log, offsets[1])
            if "Address already in use" in log:
                raise PortTaken(log.strip().splitlines()[-1]) from error
            raise StartError(f"{error}:\n{log[-3000:]}") from error

    def stop(self, timeout: float = 10.0) -> float:
        """Graceful stop (SIGQUIT), then fast (SIGTERM), then SIGKILL to all its processes; seconds taken."""
        if self.process is None:
            return 0.0
        took = stop_process(self.process, signal.SIGQUIT, timeout, then=[signal.SIGTERM])
        self.process = None
        return took

    def served_by(self) -> dict[str, int]:
        """How many requests each server answered so far (``HOST:PORT`` -> count), from the access log."""
        counts: dict[str, int] = {}
        try:
            lines = (self.directory / "access.log").read_text(errors="replace").splitlines()
        except FileNotFoundError:
            return counts
        for line in lines:
            for field in line.split():
                if field.startswith("upstream=") and field != "upstream=-":
                    # "a, b" when a retry went to a second server: counted for the first one tried
                    server = field[len("upstream="):].rstrip(",")
                    counts[server] = counts.get(server, 0) + 1
        return counts

    def __enter__(self) -> Nginx:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

