"""What a test session leaves behind: listening sockets, child processes, threads, entries of the temp directory.

:class:`LeakCheck` takes a snapshot when the session starts and lists, when it ends, what the
session created and did not release; ``tests/conftest.py`` fails the session on any of it. Sockets
and processes are read from ``/proc`` (Linux); elsewhere those two checks are left out.
"""

from __future__ import annotations

import os
import shutil
import socket
import sys
import tempfile
import threading
import time
import uuid
from typing import Any

#: The environment variable that marks the processes this session started, and what they start.
MARKER = "LEAK_CHECK_SESSION"

_PROC = "/proc"
_TCP_LISTEN = "0A"


def _decode_address(hex_address: str) -> str:
    """``0100007F:1F90`` (``/proc/net/tcp``) -> ``127.0.0.1:8080``; the same for IPv6."""
    host, port = hex_address.split(":")
    raw = bytes.fromhex(host)
    # /proc/net/tcp{,6} prints the address as 32-bit words in host order.
    raw = b"".join(raw[index:index + 4][::-1] for index in range(0, len(raw), 4)) \
        if sys.byteorder == "little" else raw
    family = socket.AF_INET if len(raw) == 4 else socket.AF_INET6
    return f"{socket.inet_ntop(family, raw)}:{int(port, 16)}"


def listening_sockets() -> dict[str, tuple[str, int]]:
    """The listening TCP sockets (IPv4, IPv6) of the network namespace: ``{inode: ("address:port", uid)}``."""
    listening: dict[str, tuple[str, int]] = {}
    for table in ("tcp", "tcp6"):
        try:
            with open(os.path.join(_PROC, "self", "net", table), encoding="ascii") as stream:
                rows = stream.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if len(fields) > 9 and fields[3] == _TCP_LISTEN:
                listening[fields[9]] = (_decode_address(fields[1]), int(fields[7]))
    return listening


def socket_inodes(pid: str = "self") -> set[str]:
    """The inodes of the sockets a process holds file descriptors of (``/proc/PID/fd`` -> ``socket:[inode]``)."""
    owned = set()
    fd_dir = os.path.join(_PROC, pid, "fd")
    try:
        fds = os.listdir(fd_dir)
    except OSError:  # gone, or not ours to read
        return owned
    for fd in fds:
        try:
            target = os.readlink(os.path.join(fd_dir, fd))
        except OSError:  # closed in the meantime
            continue
        if target.startswith("socket:["):
            owned.add(target[len("socket:["):-1])
    return owned


def leaked_listening_sockets(before: set[str]) -> list[str]:
    """The listening sockets that were not in ``before`` and that this process holds, described.

    Also those of this user that no process holds a descriptor of: a socket closed while a thread is
    blocked in ``accept()`` on it keeps listening, held by that system call alone.
    """
    new = {inode: entry for inode, entry in listening_sockets().items() if inode not in before}
    if not new:
        return []
    mine = socket_inodes()
    found = [f"a listening socket of this process on {address} (inode {inode})"
             for inode, (address, _) in sorted(new.items()) if inode in mine]
    unheld = {inode: address for inode, (address, uid) in new.items() if inode not in mine and uid == os.getuid()}
    if unheld:
        for entry in os.listdir(_PROC):
            if entry.isdigit() and entry != str(os.getpid()):
                for inode in socket_inodes(entry) & set(unheld):
                    del unheld[inode]
        found += [f"a listening socket on {address} (inode {inode}) that no descriptor holds: "
                  "a thread blocked in accept() on a closed socket?" for inode, address in sorted(unheld.items())]
    return found


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as stream:
            return stream.read()
    except OSError:  # gone, or not ours to read
        return b""


def _process_table() -> dict[int, tuple[int, str]]:
    """``{pid: (ppid, state)}`` of every process in ``/proc``."""
    table = {}
    for entry in os.listdir(_PROC):
        if entry.isdigit():
            stat = _read(os.path.join(_PROC, entry, "stat")).decode("ascii", "replace")
            after_name = stat.rpartition(")")[2].split()  # the name in parentheses may hold anything
            if len(after_name) >= 2:
                table[int(entry)] = (int(after_name[1]), after_name[0])
    return table


def live_processes_of_this_session(token: str) -> dict[int, str]:
    """Live (not zombie) processes this process started: ``{pid: command line}``.

    They are this process's descendants, plus the processes whose environment holds
    ``MARKER=token``: a daemon that detached from us (``pg_ctl start`` does that) still has it.
    """
    if not os.path.isdir(_PROC):
        return {}
    table = _process_table()
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    found, pending = set(), [os.getpid()]
    while pending:
        for child in children.get(pending.pop(), []):
            if child not in found:
                found.add(child)
                pending.append(child)
    needle = f"{MARKER}={token}".encode()
    for pid in table:
        if pid != os.getpid() and needle in _read(os.path.join(_PROC, str(pid), "environ")).split(b"\0"):
            found.add(pid)
    return {pid: _command_line(pid) for pid in found if pid in table and table[pid][1] != "Z"}


def _command_line(pid: int) -> str:
    """The command line of a process, on one line."""
    arguments = _read(os.path.join(_PROC, str(pid), "cmdline")).replace(b"\0", b" ")
    return " ".join(arguments.decode(errors="replace").split())


def live_threads() -> dict[int, str]:
    """The live threads of this process: ``{ident: name}``."""
    return {thread.ident: thread.name for thread in threading.enumerate() if thread.ident is not None}


class TempDirWatch:
    """The entries this session creates directly in the system temp directory, and whether they remain.

    * This process: an audit hook (:func:`sys.addaudithook`) records every top-level entry of the
      temp directory that this process creates (``open`` with ``O_CREAT``, ``os.mkdir``, renames,
      links, Unix sockets, SQLite files) -- ``tempfile``'s functions all go through those.
    * Child processes: they get ``TMPDIR`` pointing at a private directory inside the temp directory
      (this process keeps the real one, cached by :func:`tempfile.gettempdir` first), so whatever a
      child leaves there is this session's own; the private directory itself is removed at the end.

    Both attribute entries exactly, so the entries that other programs create in the temp directory
    at the same time (another tox env, the developer) are never reported. Not seen: files that a
    child process writes into the temp directory without going through ``TMPDIR``.
    """

    _current: TempDirWatch | None = None
    _hook_installed = False

    def __init__(self) -> None:
        self.root = tempfile.gettempdir()  # also caches it for this process before TMPDIR changes
        self._roots = tuple(sorted({os.path.abspath(self.root), os.path.realpath(self.root)}))
        self.before = set(os.listdir(self.root))
        self.created: set[str] = set()
        self._lock = threading.Lock()
        self._tmpdir = os.environ.get("TMPDIR")
        self.children_dir = tempfile.mkdtemp(prefix=f"hatcher-tests-children-{os.getpid()}-")
        os.chmod(self.children_dir, 0o1777)  # like /tmp: children running as another user can use it
        os.environ["TMPDIR"] = self.children_dir
        TempDirWatch._current = self
        if not TempDirWatch._hook_installed:
            sys.addaudithook(_audit)
            TempDirWatch._hook_installed = True

    def record(self, path: Any) -> None:
        """Note ``path`` if it is inside the temp directory (its top-level entry there)."""
        try:
            path = os.path.abspath(os.fsdecode(path))
        except (TypeError, ValueError):
            return
        for root in self._roots:
            if path.startswith(root + os.sep):
                name = path[len(root) + 1:].split(os.sep, 1)[0]
                if name not in self.before:
                    with self._lock:
                        self.created.add(name)
                return

    def left_by_children(self) -> list[str]:
        """What the child processes left in their ``TMPDIR``."""
        try:
            return sorted(os.listdir(self.children_dir))
        except OSError:
            return []

    def left_by_this_process(self) -> list[str]:
        """The entries this process created in the temp directory that are still there."""
        with self._lock:
            created = set(self.created)
        mine = os.path.basename(self.children_dir)
        return sorted(name for name in created
                      if name != mine and not name.startswith("pytest-of-")
                      and os.path.lexists(os.path.join(self.root, name)))

    def close(self) -> None:
        """Stop watching, remove the children's private directory and restore ``TMPDIR``."""
        TempDirWatch._current = None
        shutil.rmtree(self.children_dir, ignore_errors=True)
        _restore("TMPDIR", self._tmpdir)


def _restore(name: str, value: str | None) -> None:
    """Give the environment variable ``name`` back its former value (unset it if it had none)."""
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value


def _audit(event: str, args: tuple) -> None:
    """The audit hook: record what may create an entry in the temp directory. Never raises."""
    watch = TempDirWatch._current
    if watch is None:
        return
    try:
        if event == "open":
            path, _, flags = args
            if isinstance(path, (str, bytes, os.PathLike)) and isinstance(flags, int) and flags & os.O_CREAT:
                watch.record(path)
        elif event in ("os.mkdir", "sqlite3.connect"):
            watch.record(args[0])
        elif event in ("os.rename", "os.symlink", "os.link"):  # os.replace raises os.rename
            watch.record(args[1])
        elif event == "socket.bind" and isinstance(args[1], (str, bytes)):
            watch.record(args[1])
    except Exception:  # an audit hook must never break the operation it watches
        pass


class LeakCheck:
    """A snapshot at the start of the session; :meth:`finish` lists what was created and not released."""

    def __init__(self) -> None:
        self.token = uuid.uuid4().hex
        self.sockets = set(listening_sockets()) if os.path.isdir(_PROC) else set()
        self.processes = live_processes_of_this_session(self.token)
        self.threads = live_threads()
        self.temp = TempDirWatch()
        self._marker = os.environ.get(MARKER)
        os.environ[MARKER] = self.token

    def problems(self) -> list[str]:
        """What is there now and was not at the start; empty when nothing leaked."""
        found = []
        if os.path.isdir(_PROC):
            found += leaked_listening_sockets(self.sockets)
        found += [f"a live child process {pid}: {command}"
                  for pid, command in sorted(live_processes_of_this_session(self.token).items())
                  if pid not in self.processes]
        found += [f"a live thread {name!r}" for ident, name in sorted(live_threads().items())
                  if ident not in self.threads]
        found += [f"an entry left in the temp directory: {os.path.join(self.temp.root, name)}"
                  for name in self.temp.left_by_this_process()]
        found += [f"an entry left by a child process in its TMPDIR: {os.path.join(self.temp.children_dir, name)}"
                  for name in self.temp.left_by_children()]
        return found

    def finish(self, grace: float = 5.0) -> list[str]:
        """Stop watching and return the leaks; what is still being released gets ``grace`` seconds."""
        deadline = time.monotonic() + grace
        found = self.problems()
        while found and time.monotonic() < deadline:
            time.sleep(0.1)
            found = self.problems()
        self.temp.close()
        _restore(MARKER, self._marker)
        return found
