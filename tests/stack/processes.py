"""Process plumbing shared by the stack helpers: free ports, child processes, readiness waits."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Mapping, Optional, Sequence, Union

#: Loopback only: every service of the stack listens there and nowhere else.
HOST = "127.0.0.1"

PathLike = Union[str, "os.PathLike[str]"]


class ServiceUnavailable(RuntimeError):
    """A service of the stack cannot run here: its program, or a Python package it needs, is not installed."""


class StartError(RuntimeError):
    """A service was started but did not become ready (it exited, or did not answer in time)."""


class PortTaken(StartError):
    """A child exited at once because the port it was given was taken meanwhile (the free-port race)."""


def free_ports(count: int, highest: int = 65535) -> list[int]:
    """``count`` distinct TCP ports free on the loopback now, each at most ``highest``.

    The sockets are held open together so the ports differ; another program may still take one
    before our child binds it, so callers retry on :class:`PortTaken`.
    """
    held: list[socket.socket] = []
    ports: list[int] = []
    try:
        while len(ports) < count:
            sock = socket.socket()
            held.append(sock)
            sock.bind((HOST, 0))
            port = sock.getsockname()[1]
            if port <= highest and port not in ports:
                ports.append(port)
            if len(held) > 50 * count:
                raise RuntimeError(f"no {count} free ports at most {highest}")
    finally:
        for sock in held:
            sock.close()
    return ports


def free_port() -> int:
    """One TCP port free on the loopback now."""
    return free_ports(1)[0]


def port_is_free(port: int) -> bool:
    """Whether ``port`` can be bound on every interface (the strictest check: weed binds ``:port``)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as servers do: TIME_WAIT is no obstacle
        try:
            sock.bind(("", port))
        except OSError:
            return False
    return True


def accepts(port: int, host: str = HOST, timeout: float = 0.5) -> bool:
    """Whether a TCP connection to ``host:port`` succeeds now."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def find_program(name: str, extra_dirs: Sequence[PathLike] = ()) -> Optional[str]:
    """The path of the executable ``name``: on ``PATH``, else in one of ``extra_dirs``; ``None`` if missing."""
    found = shutil.which(name)
    if found:
        return found
    for directory in extra_dirs:
        candidate = Path(directory) / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return None


def child_env(extra: Optional[Mapping[str, str]] = None, drop_prefixes: Sequence[str] = ()) -> dict[str, str]:
    """This process's environment without the variables starting with ``drop_prefixes``, plus ``extra``."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(tuple(drop_prefixes))}
    env.update(extra or {})
    return env


def spawn(argv: Sequence[str], log_path: PathLike, *, env: Optional[Mapping[str, str]] = None,
          cwd: Optional[PathLike] = None, death_signal: Optional[str] = "TERM") -> subprocess.Popen:
    """Start ``argv`` in its own session, stdout and stderr appended to ``log_path``.

    With ``death_signal`` (a signal name) and ``setpriv`` installed (util-linux), the child gets that
    signal when the thread that started it dies, so a test process killed with SIGKILL leaves no
    server behind (``setpriv`` execs the program: the pid is the server's own).
    """
    command = list(argv)
    setpriv = shutil.which("setpriv") if death_signal else None
    if setpriv:
        command = [setpriv, "--pdeathsig", death_signal, "--", *command]
    with open(log_path, "ab") as log:
        return subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                env=None if env is None else dict(env), cwd=cwd, start_new_session=True)


def stop_process(process: subprocess.Popen, first: Optional[int] = signal.SIGTERM, timeout: float = 20.0,
                 then: Sequence[int] = ()) -> float:
    """Stop ``process``: ``first`` (``None``: it was already sent), then each of ``then``, then SIGKILL.

    Each signal gets ``timeout`` s. The last resort, SIGKILL, goes to the whole process group, so
    the workers of a killed master do not survive it. Returns the seconds it took; a process that
    already exited is only reaped.
    """
    started = time.monotonic()
    for number in (first, *then):
        if process.poll() is not None:
            break
        try:
            if number is not None:
                process.send_signal(number)
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            continue
    if process.poll() is None:
        kill_group(process)
    return time.monotonic() - started


def kill_group(process: subprocess.Popen) -> None:
    """SIGKILL ``process`` and the rest of its process group (it leads one: see :func:`spawn`); reap it."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        if process.poll() is None:
            process.kill()
    process.wait(30)


def wait_until(ready: Callable[[], bool], process: Optional[subprocess.Popen], timeout: float,
               what: str, interval: float = 0.05) -> float:
    """Poll ``ready()`` until true; seconds taken. Raises ``StartError`` on timeout or if ``process`` exits."""
    started = time.monotonic()
    deadline = started + timeout
    while True:
        if process is not None and process.poll() is not None:
            raise StartError(f"{what} exited with status {process.returncode} before it was ready")
        if ready():
            return time.monotonic() - started
        if time.monotonic() > deadline:
            raise StartError(f"{what} was not ready within {timeout:g} s")
        time.sleep(interval)


def tail(path: PathLike, limit: int = 3000) -> str:
    """The last ``limit`` characters of a log file ('' if it cannot be read)."""
    try:
        with open(path, "rb") as stream:
            stream.seek(0, os.SEEK_END)
            stream.seek(max(0, stream.tell() - limit))
            return stream.read().decode("utf-8", "replace")
    except OSError:
        return ""


def read_from(path: PathLike, offset: int) -> str:
    """What was appended to a log file after ``offset`` ('' if it cannot be read)."""
    try:
        with open(path, "rb") as stream:
            stream.seek(offset)
            return stream.read().decode("utf-8", "replace")
    except OSError:
        return ""


def _socket_inodes(pid: int) -> set[str]:
    inodes = set()
    fd_dir = f"/proc/{pid}/fd"
    try:
        names = os.listdir(fd_dir)
    except OSError:
        return inodes
    for name in names:
        try:
            target = os.readlink(os.path.join(fd_dir, name))
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:["):-1])
    return inodes


def unix_socket_paths(pid: int) -> set[str]:
    """The filesystem paths of the Unix sockets process ``pid`` holds (Linux ``/proc``; empty elsewhere)."""
    inodes = _socket_inodes(pid)
    paths = set()
    try:
        with open("/proc/net/unix", encoding="utf-8", errors="replace") as stream:
            rows = stream.read().splitlines()[1:]
    except OSError:
        return paths
    for row in rows:
        fields = row.split(maxsplit=7)
        if len(fields) == 8 and fields[6] in inodes and fields[7].startswith("/"):
            paths.add(fields[7])
    return paths


def tcp_endpoints(pid: int) -> list[tuple[str, str]]:
    """``(local, remote)`` IP addresses of the TCP sockets process ``pid`` holds (Linux ``/proc``)."""
    inodes = _socket_inodes(pid)
    found = []
    for table in ("tcp", "tcp6"):
        try:
            with open(f"/proc/{pid}/net/{table}", encoding="ascii") as stream:
                rows = stream.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if len(fields) > 9 and fields[9] in inodes:
                found.append((_ip(fields[1]), _ip(fields[2])))
    return found


def _ip(hex_address: str) -> str:
    """``0100007F:1F90`` (``/proc/net/tcp``) -> ``127.0.0.1``; the same for IPv6."""
    raw = bytes.fromhex(hex_address.split(":")[0])
    if sys.byteorder == "little":  # the kernel prints the address as 32-bit words in host order
        raw = b"".join(raw[index:index + 4][::-1] for index in range(0, len(raw), 4))
    return socket.inet_ntop(socket.AF_INET if len(raw) == 4 else socket.AF_INET6, raw)
