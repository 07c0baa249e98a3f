"""A full disk: 507 with a JSON error, nothing left behind, uploads refused before their body, no restart needed.

The data directory of a server of its own is a 64 MiB tmpfs mounted for this module
(``mount -t tmpfs -o size=64m``), so the disk really fills: no mock. The server runs in a
subprocess, so that its file descriptors can be counted and its log read. Mounting needs
root, as CI runs: elsewhere the tests are skipped, and in CI they fail instead
(``tests/service_guard.py``). The tmpfs is unmounted at the end, after the server stopped.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
from typing import Any, Callable, Iterator, Optional

import attr
import pytest
import requests
from click.testing import CliRunner
from service_guard import require_service
from stack.processes import StartError, free_port, stop_process, tail, wait_until
from stack.replicas import health

from hatcher.api import BroodClient
from hatcher.artefacts.builders import build_egg
from hatcher.cli.main import hatcher
from hatcher.core.multipart import MultipartUpload
from hatcher.errors import BroodHTTPError
from hatcher.server.runner import EmbeddedBrood
from hatcher.server.space import Reserve, parse_reserve

pytestmark = pytest.mark.embedded

MIB = 1 << 20
DISK_SIZE = 64 * MIB
#: The default reserve on this disk: 5 % of 64 MiB (less than 256 MiB).
RESERVE = DISK_SIZE * 5 // 100
ADMIN = ("admin@example.com", "full-disk")
ORGANIZATION, REPOSITORY, PLATFORM, TAG = "acme", "main", "rh7-x86_64", "cp38"
UPLOAD_PATH = f"/api/v1/json/data/{ORGANIZATION}/{REPOSITORY}/{PLATFORM}/eggs/upload"
INDEX_PATH = f"/api/v1/json/indices/{ORGANIZATION}/{REPOSITORY}/{PLATFORM}/{TAG}/eggs"
NO_ROOM = {"error": "Not enough space on the server for this upload"}
#: Bytes the database may take or give back on its own (a checkpoint of its write-ahead log).
SQLITE_SLACK = 256 * 1024
_CSRF = re.compile(r'name="csrf" value="([^"]*)"')


@attr.s
class Server:
    """The server on the tmpfs: its URL, process, data directory and log."""

    url: str = attr.ib()
    port: int = attr.ib()
    process: subprocess.Popen = attr.ib()
    data: str = attr.ib()
    log: str = attr.ib()
    eggs: str = attr.ib()
    built: dict[str, str] = attr.ib(factory=dict)

    @property
    def tmp(self) -> str:
        return os.path.join(self.data, "tmp")

    def free(self) -> int:
        return shutil.disk_usage(self.data).free

    def partial_files(self) -> list[str]:
        return os.listdir(self.tmp)

    def descriptors(self) -> list[str]:
        """What the server's descriptors point at, but sockets and the database's files: connections
        (the clients', and the pool's to SQLite, which grows with concurrent requests) come and go.
        A partial file's descriptor left open shows as ``DATA/tmp/upload-....partial (deleted)``."""
        targets = []
        fd_dir = f"/proc/{self.process.pid}/fd"
        database = os.path.join(self.data, "brood.sqlite3")
        for fd in os.listdir(fd_dir):
            try:
                target = os.readlink(os.path.join(fd_dir, fd))
            except OSError:
                continue  # closed meanwhile
            if not target.startswith(("socket:", database)):
                targets.append(target)
        return sorted(targets)

    def bytes_read(self) -> int:
        """Bytes the server process has read so far, sockets included (``rchar`` of /proc/PID/io)."""
        with open(f"/proc/{self.process.pid}/io", encoding="ascii") as stream:
            return int(dict(line.split(": ") for line in stream.read().splitlines())["rchar"])

    def log_text(self) -> str:
        with open(self.log, encoding="utf-8", errors="replace") as stream:
            return stream.read()

    def index(self) -> Any:
        return requests.get(self.url + INDEX_PATH, auth=ADMIN, timeout=30).json()

    def egg(self, name: str, size: int) -> str:
        """An egg ``name`` with ``size`` bytes of incompressible payload (built once, outside the tmpfs)."""
        if name not in self.built:
            self.built[name] = build_egg(self.eggs, name=name, version="1.0.0", build=1, platform=PLATFORM,
                                         python_tag=TAG, payload_size=size)
        return self.built[name]

    def fill(self, leave: int = 0, name: str = "filler") -> None:
        """Write a file that leaves ``leave`` bytes free (0: until the disk refuses)."""
        with open(os.path.join(self.data, name), "ab", buffering=0) as stream:
            zeros = b"\0" * MIB
            try:
                while self.free() > leave:
                    stream.write(zeros[:min(MIB, self.free() - leave)])
            except OSError:
                pass  # full

    def post(self, egg: str, chunked: bool = False, data: Optional[dict[str, Any]] = None) -> requests.Response:
        """Upload ``egg`` with Content-Length, or chunked (no length announced: nothing can be checked first)."""
        body = MultipartUpload(egg, data or {})
        payload: Any = body if not chunked else (bytes(chunk) for chunk in body)
        return requests.post(self.url + UPLOAD_PATH, data=payload, auth=ADMIN, timeout=60,
                             headers={"Content-Type": body.content_type})


def _wait_for(condition: Callable[[], bool], timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


@pytest.fixture(scope="module")
def mounted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A 64 MiB tmpfs (1024 inodes), unmounted at the end."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        require_service("mounting a tmpfs needs root and mount(8)")
    data = tmp_path_factory.mktemp("disk-full") / "data"
    data.mkdir()
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m,nr_inodes=1024,mode=0755", "tmpfs", str(data)],
                            capture_output=True, text=True)
    if result.returncode != 0:
        require_service(f"cannot mount a tmpfs: {result.stderr.strip()}")
    try:
        yield str(data)
    finally:
        for _ in range(50):
            if subprocess.run(["umount", str(data)], capture_output=True).returncode == 0:
                break
            time.sleep(0.1)
        else:
            subprocess.run(["umount", "-l", str(data)], check=True)


@pytest.fixture(scope="module")
def server(mounted: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The server (default reserve), with the organization and repository the uploads go to."""
    work = tmp_path_factory.mktemp("disk-full-work")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = dict(os.environ, HATCHER_SERVER_RUN_ADMIN=":".join(ADMIN), NO_PROXY="127.0.0.1", no_proxy="127.0.0.1")
    log = str(work / "server.log")
    with open(log, "wb") as output:
        process = subprocess.Popen([sys.executable, "-m", "hatcher.server", "run", "--data-dir", mounted, "--port",
                                    str(port), "--log-level", "warning", "--gc-interval", "0"],
                                   env=env, stdin=subprocess.DEVNULL, stdout=output, stderr=output)
    try:
        try:
            wait_until(lambda: health(url) == 200, process, 60, "the server")
        except StartError as error:
            pytest.fail(f"{error}: {tail(log)}")
        eggs = work / "eggs"
        eggs.mkdir()
        BroodClient.from_url(url, auth=ADMIN, api_version=1).create_organization(
            ORGANIZATION, "full disk").create_repository(REPOSITORY, "full disk")
        yield Server(url, port, process, mounted, log, str(eggs))
    finally:
        stop_process(process, timeout=30)


@pytest.fixture(autouse=True)
def clean(request: pytest.FixtureRequest) -> Iterator[None]:
    """Each test of the server starts and ends with no filler file and nothing in tmp/ (checked)."""
    if "server" not in request.fixturenames:
        yield
        return
    server = request.getfixturevalue("server")
    yield
    for name in os.listdir(server.data):
        if name.startswith("filler"):
            path = os.path.join(server.data, name)
            shutil.rmtree(path) if os.path.isdir(path) else os.unlink(path)
    assert _wait_for(lambda: not server.partial_files()), server.partial_files()


@attr.s
class Baseline:
    """What must be the same after a failure: free space, partial files, the server's descriptors, the index."""

    free: int = attr.ib()
    descriptors: list[str] = attr.ib()
    index: Any = attr.ib()

    @classmethod
    def of(cls, server: Server) -> Baseline:
        return cls(server.free(), server.descriptors(), server.index())

    def check(self, server: Server) -> None:
        assert server.partial_files() == []
        # Exactly, but for what SQLite may move between its write-ahead log and its file meanwhile
        assert abs(server.free() - self.free) <= SQLITE_SLACK, (server.free(), self.free)
        assert _wait_for(lambda: server.descriptors() == self.descriptors, 5), server.descriptors()
        assert server.index() == self.index


def _raw_upload(server: Server, egg: str, length: Optional[int] = None, first: int = 0,
                between: Optional[Callable[[], None]] = None, expect_continue: bool = False,
                close_after_first: bool = False) -> tuple[int, dict[str, str], bytes, int]:
    """POST ``egg`` over a socket: announce ``length`` (default: the body's), send ``first`` bytes, call
    ``between``, send the rest (bytes of zeros past the body when ``length`` is larger), until the
    server stops reading. ``(status, headers, body, bytes sent)``; the status is 0 when nothing came back.
    """
    body = MultipartUpload(egg, {})
    length = len(body) if length is None else length
    auth = base64.b64encode(":".join(ADMIN).encode()).decode()
    head = (f"POST {UPLOAD_PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Basic {auth}\r\n"
            f"Content-Type: {body.content_type}\r\nContent-Length: {length}\r\n"
            f"{'Expect: 100-continue' + chr(13) + chr(10) if expect_continue else ''}\r\n").encode()
    sent = 0
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(head)
        if expect_continue:
            sock.settimeout(5)
        else:
            def pieces() -> Iterator[bytes]:
                yield from (bytes(chunk) for chunk in body)
                padding = b"\0" * MIB
                while True:
                    yield padding
            try:
                for piece in pieces():
                    if between is not None and sent >= first:
                        if close_after_first:
                            sock.close()
                            return 0, {}, b"", sent
                        between()
                        between = None
                    piece = piece[:length - sent]
                    if not piece:
                        break
                    sock.sendall(piece)
                    sent += len(piece)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the server answered and closed: read its answer, as urllib3 does
        answer = b""
        try:
            while True:
                data = sock.recv(65536)
                if not data:
                    break
                answer += data
                if b"\r\n\r\n" in answer:
                    head_bytes, _, rest = answer.partition(b"\r\n\r\n")
                    declared = [int(line.split(b":")[1]) for line in head_bytes.split(b"\r\n")
                                if line.lower().startswith(b"content-length:")]
                    if declared and len(rest) >= declared[0] and not head_bytes.startswith(b"HTTP/1.1 100"):
                        break
        except (ConnectionResetError, socket.timeout):
            pass
    if not answer:
        return 0, {}, b"", sent
    head_bytes, _, content = answer.partition(b"\r\n\r\n")
    lines = head_bytes.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), {k.lower(): v for k, v in headers.items()}, content, sent


# -- the 507, and nothing left behind ---------------------------------------------------------------

def test_a_streamed_upload_larger_than_the_disk_is_507_and_leaves_nothing(server: Server) -> None:
    # Given a 100 MiB egg, sent chunked (no Content-Length: nothing can be refused before the body)
    egg = server.egg("big", 100 * MIB)
    before = Baseline.of(server)

    # When it is uploaded to a disk with 64 MiB
    response = server.post(egg, chunked=True)

    # Then it is a 507 with the JSON error, the partial file went with its descriptor, the space is back
    assert response.status_code == 507, response.text
    assert response.headers["Content-Type"] == "application/json"
    assert response.json() == NO_ROOM
    before.check(server)
    # And a small upload works right after
    assert server.post(server.egg("afterstreamed", 1024)).status_code == 201


@pytest.mark.parametrize("size", [40 * MIB, 20 * MIB, 2 * MIB],
                         ids=["direct-io-md5-thread", "buffered-md5-thread", "buffered-inline-md5"])
def test_an_upload_that_fits_the_announced_length_but_not_the_disk_is_507(server: Server, size: int) -> None:
    # Given an upload whose Content-Length fits above the reserve, so that the server starts receiving it
    egg = server.egg(f"fits{size}", size)
    before = Baseline.of(server)
    assert os.path.getsize(egg) < before.free - RESERVE

    def fill_the_disk() -> None:
        assert _wait_for(lambda: bool(server.partial_files()))  # accepted: being written
        server.fill()

    # When the disk fills while it is sent (after its first 1 MiB)
    status, headers, content, _ = _raw_upload(server, egg, first=MIB, between=fill_the_disk)

    # Then: 507 with the JSON error; the connection is closed when the rest of the body was not read
    # (the 2 MiB one is received whole before it is written)
    assert status == 507, content
    assert json.loads(content) == NO_ROOM
    assert headers.get("connection") == ("close" if size > 4 * MIB else None)
    assert server.partial_files() == []
    # And once the filler is removed, the space is what it was, with nothing stored
    os.unlink(os.path.join(server.data, "filler"))
    before.check(server)
    assert server.post(server.egg(f"afterfits{size}", 1024)).status_code == 201


def test_a_small_upload_on_a_full_disk_is_507(server: Server) -> None:
    # Given a disk without a byte free
    egg = server.egg("small", 100 * 1024)
    before = Baseline.of(server)
    server.fill()

    # When a small upload (received whole, kept in memory) arrives: 507, refused by the reserve
    response = server.post(egg)
    assert response.status_code == 507 and response.json() == NO_ROOM

    # Then nothing is left once the filler goes
    os.unlink(os.path.join(server.data, "filler"))
    before.check(server)


def test_a_small_upload_without_an_inode_left_is_507(server: Server) -> None:
    # Given a disk with bytes free but no inode left: writing the blob's file fails (ENOSPC)
    egg = server.egg("noinode", 100 * 1024)
    before = Baseline.of(server)
    directory = os.path.join(server.data, "filler-inodes")
    os.mkdir(directory)
    count = 0
    with pytest.raises(OSError, match="No space left"):
        while True:
            open(os.path.join(directory, str(count)), "wb").close()
            count += 1
    assert server.free() > before.free - MIB

    # When the small upload arrives: not refused early (the bytes fit), it fails while it is stored
    log_size = len(server.log_text())
    response = server.post(egg)

    # Then 507, one warning line, no traceback, and nothing left
    assert response.status_code == 507 and response.json() == NO_ROOM
    log = server.log_text()[log_size:]
    assert "Out of space: [Errno 28] No space left on device" in log and "Traceback" not in log, log
    shutil.rmtree(directory)
    before.check(server)
    assert server.post(egg).status_code == 201


def test_descriptors_and_space_are_unchanged_after_20_failed_uploads(server: Server) -> None:
    # Given a disk with 1 MiB free, and a 3 MiB egg sent chunked (no early refusal: each fails writing)
    egg = server.egg("twenty", 3 * MIB)
    before = Baseline.of(server)
    server.fill(leave=MIB)
    filled = server.free()

    # When it is uploaded 20 times
    statuses = [server.post(egg, chunked=True).status_code for _ in range(20)]

    # Then 20 times 507; the server holds no descriptor more, no partial file, the space is the same
    assert statuses == [507] * 20
    assert _wait_for(lambda: server.descriptors() == before.descriptors, 5), server.descriptors()
    assert not any(target.startswith(server.tmp) for target in server.descriptors())
    assert server.free() == filled and server.partial_files() == []
    os.unlink(os.path.join(server.data, "filler"))
    before.check(server)


def test_a_bad_digest_leaves_nothing(server: Server) -> None:
    egg = server.egg("baddigest", 20 * MIB)
    before = Baseline.of(server)

    response = server.post(egg, data={"sha256": "0" * 64})

    assert response.status_code == 400 and "Checksum mismatch" in response.json()["error"]
    before.check(server)


def test_a_client_gone_halfway_leaves_nothing(server: Server) -> None:
    egg = server.egg("gone", 40 * MIB)
    before = Baseline.of(server)

    # The client sends 10 MiB of the 40 and closes the connection
    _raw_upload(server, egg, first=10 * MIB, between=lambda: None, close_after_first=True)

    assert _wait_for(lambda: not server.partial_files()), server.partial_files()
    before.check(server)


def test_a_full_sqlite_database_is_507_and_stays_intact(server: Server) -> None:
    # Given the write-ahead log emptied (so that the next write must grow it) and a full disk
    database = os.path.join(server.data, "brood.sqlite3")
    with sqlite3.connect(database) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    connection.close()
    repositories = f"{server.url}/api/v1/json/admin/organizations/{ORGANIZATION}/repositories"
    listed = requests.get(repositories, auth=ADMIN, timeout=30).json()
    server.fill()

    # When a repository is created
    log_size = len(server.log_text())
    response = requests.post(repositories, json={"name": "on-a-full-disk", "description": "x" * 100_000},
                             auth=ADMIN, timeout=30)

    # Then 507 with the JSON error and one warning line
    assert response.status_code == 507, response.text
    assert response.json() == {"error": "Not enough space on the server to store this request"}
    log = server.log_text()[log_size:]
    assert "Out of space: database or disk is full" in log and "Traceback" not in log, log
    # And once the filler is removed, the database is intact and takes writes again, no restart
    os.unlink(os.path.join(server.data, "filler"))
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    connection.close()
    assert requests.get(repositories, auth=ADMIN, timeout=30).json() == listed
    assert requests.post(repositories, json={"name": "on-a-free-disk", "description": "x"}, auth=ADMIN,
                         timeout=30).status_code == 201


# -- refused before the body ------------------------------------------------------------------------

def test_an_upload_announced_larger_than_the_free_space_is_refused_before_its_body(server: Server) -> None:
    # Given a client that announces 1 GiB and sends until the server stops it
    egg = server.egg("announced", 1024)
    before = Baseline.of(server)
    read_before = server.bytes_read()
    started = time.monotonic()

    status, headers, content, sent = _raw_upload(server, egg, length=1 << 30, first=0, between=lambda: None)

    # Then the 507 comes at once and the connection is closed: the server read almost nothing of the
    # body, and the client could send only what the sockets' buffers hold
    assert status == 507 and json.loads(content) == NO_ROOM
    assert headers["connection"] == "close"
    assert time.monotonic() - started < 10
    assert server.bytes_read() - read_before < 2 * MIB
    assert sent < 64 * MIB, sent
    before.check(server)
    assert "Refused an upload of 1073741824 bytes" in server.log_text()


def test_expect_100_continue_gets_the_507_instead_of_100(server: Server) -> None:
    # curl -F sends "Expect: 100-continue" for large files: it sends the body only after a 100
    status, headers, content, sent = _raw_upload(server, server.egg("expect", 1024), length=1 << 30,
                                                 expect_continue=True)
    assert (status, json.loads(content), sent) == (507, NO_ROOM, 0)


def test_hatchers_client_gets_the_507_and_does_not_retry(server: Server) -> None:
    # Given a 100 MiB egg, more than fits above the reserve
    egg = server.egg("big", 100 * MIB)
    before = Baseline.of(server)
    platform = BroodClient.from_url(server.url, auth=ADMIN, api_version=1).organization(
        ORGANIZATION).repository(REPOSITORY).platform(PLATFORM)
    log_size = len(server.log_text())

    with pytest.raises(BroodHTTPError) as raised:
        platform.upload_egg(egg)

    assert raised.value.status_code == 507
    assert raised.value.error_message == NO_ROOM["error"]
    assert server.log_text()[log_size:].count("Refused an upload") == 1  # asked once: 507 is not retried
    before.check(server)


def test_the_command_line_prints_one_line_and_exits_1(server: Server) -> None:
    egg = server.egg("big", 100 * MIB)
    result = CliRunner().invoke(hatcher, ["-u", server.url, "-U", ADMIN[0], "-p", ADMIN[1], "eggs", "upload",
                                          ORGANIZATION, REPOSITORY, PLATFORM, egg], prog_name="hatcher")
    assert result.exit_code == 1, result.output
    assert result.stderr.splitlines() == [NO_ROOM["error"]], result.stderr


def test_health_reports_the_free_space_and_degraded_below_the_reserve(server: Server) -> None:
    health = requests.get(server.url + "/health", timeout=10)
    assert health.status_code == 200
    answer = health.json()
    assert answer["status"] == "ok" and answer["min_free_space"] == RESERVE
    assert abs(answer["free_space"] - server.free()) < MIB

    server.fill(leave=RESERVE // 2)
    degraded = requests.get(server.url + "/health", timeout=10)
    assert degraded.status_code == 200  # still up: downloads are served
    assert degraded.json()["status"] == "degraded"
    assert degraded.json()["free_space"] == server.free()

    os.unlink(os.path.join(server.data, "filler"))
    assert requests.get(server.url + "/health", timeout=10).json()["status"] == "ok"


def test_a_browser_upload_on_a_full_disk_shows_the_507_next_to_the_field(server: Server) -> None:
    # Given a logged-in browser (logging in writes a session), then a full disk
    browser = requests.Session()
    login = browser.get(server.url + "/login", timeout=30).text
    answer = browser.post(server.url + "/login", data={"email": ADMIN[0], "password": ADMIN[1], "next": "/",
                                                       "csrf": _CSRF.search(login).group(1)},
                          allow_redirects=False, timeout=30)
    assert answer.status_code == 303, answer.text
    csrf = _CSRF.search(browser.get(server.url + "/", timeout=30).text).group(1)
    egg = server.egg("browser", 100 * 1024)
    before = Baseline.of(server)
    server.fill()

    # When an egg is uploaded from the upload page
    with open(egg, "rb") as stream:
        page = browser.post(f"{server.url}/ui/{ORGANIZATION}/{REPOSITORY}/{PLATFORM}/upload",
                            data={"kind": "egg", "csrf": csrf}, files={"file": (os.path.basename(egg), stream)},
                            allow_redirects=False, timeout=30)

    # Then the form comes back, 507, with the message next to the file field
    assert page.status_code == 507
    assert re.search(r'id="upload-file-error" class="error">Not enough space on the server for this upload',
                     page.text), page.text
    os.unlink(os.path.join(server.data, "filler"))
    before.check(server)


# -- the reserve (no root needed) -------------------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    ("0", Reserve(size=0)), ("1073741824", Reserve(size=1 << 30)), ("512K", Reserve(size=512 * 1024)),
    ("256M", Reserve(size=256 * MIB)), ("256MiB", Reserve(size=256 * MIB)), ("1.5G", Reserve(size=3 * 512 * MIB)),
    ("2t", Reserve(size=2 << 40)), ("5%", Reserve(percent=5.0)), ("0.5%", Reserve(percent=0.5)),
    (4096, Reserve(size=4096)),
])
def test_min_free_space_values(text: Any, expected: Reserve) -> None:
    assert parse_reserve(text) == expected


@pytest.mark.parametrize("text", ["", "-1", "5X", "101%", "1..5G", "G", -1, True])
def test_min_free_space_refuses_nonsense(text: Any) -> None:
    with pytest.raises(ValueError):
        parse_reserve(text)


def test_the_command_line_refuses_a_bad_min_free_space(tmp_path: Any) -> None:
    result = CliRunner().invoke(hatcher, ["server", "run", "--data-dir", str(tmp_path / "data"),
                                          "--min-free-space", "10 parsecs"], prog_name="hatcher")
    assert result.exit_code == 2 and "Invalid value for '--min-free-space'" in result.stderr, result.output
    assert not (tmp_path / "data").exists()


def test_the_default_reserve_is_256_mib_or_5_percent_whichever_is_smaller(tmp_path: Any) -> None:
    with EmbeddedBrood(str(tmp_path)) as brood:
        health = requests.get(brood.url + "/health", timeout=10).json()
    stat = os.statvfs(tmp_path)
    assert health["min_free_space"] == min(256 * MIB, stat.f_blocks * stat.f_frsize * 5 // 100)
    assert health["status"] == ("ok" if health["free_space"] >= health["min_free_space"] else "degraded")
    with EmbeddedBrood(str(tmp_path), min_free_space="1%") as brood:
        assert requests.get(brood.url + "/health", timeout=10).json()["min_free_space"] == \
            stat.f_blocks * stat.f_frsize // 100
    with EmbeddedBrood(str(tmp_path), min_free_space="100%") as brood:
        assert requests.get(brood.url + "/health", timeout=10).json()["status"] == "degraded"
