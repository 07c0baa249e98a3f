"""``iter_download``: no file before the first ``next()``; an abandoned iterator leaves the directory as it was.

A real loopback HTTP server (no mock) serves one file, with ``Range`` support. The end-to-end
version against the embedded Brood server is ``tests/server/test_lazy_downloads.py``.
"""

from __future__ import annotations

import collections.abc
import hashlib
import http.server
import os
import threading
from pathlib import Path

import pytest

from hatcher.core.brood_url_handler import BroodURLHandler
from hatcher.core.download import CHUNK_SIZE, PARTIAL_SUFFIX
from hatcher.errors import HatcherException

CONTENT = os.urandom(3 * 1024 * 1024 + 777)
DIGEST = hashlib.sha256(CONTENT).hexdigest()
NAME = "file.egg"


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        ranged = self.headers.get("Range")
        self.server.ranges.append(ranged)  # type: ignore[attr-defined]
        start = int(ranged.split("=")[1].rstrip("-")) if ranged else 0
        self.send_response(206 if ranged else 200)
        if ranged:
            self.send_header("Content-Range", f"bytes {start}-{len(CONTENT) - 1}/{len(CONTENT)}")
        self.send_header("Content-Length", str(len(CONTENT) - start))
        self.send_header("Content-Disposition", f'attachment; filename="{NAME}"')
        self.end_headers()
        try:
            self.wfile.write(CONTENT[start:])
        except (BrokenPipeError, ConnectionResetError):  # the client abandoned the body
            pass

    def log_message(self, *args: object) -> None:
        pass


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = False  # server_close() waits for every connection's thread

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client that abandons a body resets its connection: expected here


@pytest.fixture(scope="module")
def server():
    httpd = _Server(("127.0.0.1", 0), _Handler)
    httpd.ranges = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=10)


@pytest.fixture
def handler(server):
    transport = BroodURLHandler.from_auth(f"http://127.0.0.1:{server.server_address[1]}")
    yield transport
    transport.session.close()


def listing(directory: Path) -> list[tuple[str, int]]:
    return sorted((entry.name, entry.stat().st_size) for entry in directory.iterdir())


def start(handler, directory: Path, filename: str | None = None):
    return handler.iter_download("/file", directory, DIGEST, filename)


@pytest.mark.parametrize("filename", [None, NAME])
def test_the_call_creates_no_file_and_close_leaves_the_directory_as_it_was(handler, tmp_path, filename):
    (tmp_path / "other").write_bytes(b"x")
    before = listing(tmp_path)
    length, chunks = start(handler, tmp_path, filename)
    assert length == len(CONTENT)
    assert listing(tmp_path) == before
    chunks.close()
    chunks.close()  # twice is harmless
    assert list(chunks) == []
    assert listing(tmp_path) == before


def test_a_dropped_iterator_never_started_leaves_nothing(handler, tmp_path):
    _, chunks = start(handler, tmp_path)
    del chunks
    assert listing(tmp_path) == []


@pytest.mark.parametrize("how", ["close", "drop"])
def test_an_iterator_abandoned_halfway_removes_its_partial_file(handler, tmp_path, receiver, how):
    length, chunks = start(handler, tmp_path)
    sizes = [next(chunks), next(chunks)]
    assert all(0 < size <= CHUNK_SIZE for size in sizes) and sum(sizes) < length
    assert [entry.name for entry in tmp_path.iterdir()] == [NAME + PARTIAL_SUFFIX]
    if how == "close":
        chunks.close()
    else:
        del chunks
    assert listing(tmp_path) == []


def test_a_whole_transfer_yields_at_most_one_mebibyte_at_a_time(handler, tmp_path, receiver):
    length, chunks = start(handler, tmp_path)
    sizes = list(chunks)
    assert max(sizes) <= CHUNK_SIZE and sum(sizes) == length == len(CONTENT)
    assert (tmp_path / NAME).read_bytes() == CONTENT


def test_a_resumed_download_abandoned_keeps_the_partial_file_it_found(server, handler, tmp_path, receiver):
    # Given a partial file of 2.5 MiB left by an earlier, failed download
    kept = 2 * CHUNK_SIZE + CHUNK_SIZE // 2
    partial = tmp_path / (NAME + PARTIAL_SUFFIX)
    partial.write_bytes(CONTENT[:kept])
    # When a download starts: it asks for the rest only, and reports the bytes on disk first (<= 1 MiB at a time)
    length, chunks = start(handler, tmp_path, NAME)
    assert server.ranges[-1] == f"bytes={kept}-" and length == len(CONTENT)
    assert [next(chunks) for _ in range(3)] == [CHUNK_SIZE, CHUNK_SIZE, CHUNK_SIZE // 2]
    # And is abandoned
    chunks.close()
    # Then the partial file it did not create is still there
    assert [entry.name for entry in tmp_path.iterdir()] == [partial.name]
    assert CONTENT.startswith(partial.read_bytes())


def test_a_partial_file_written_between_the_call_and_the_first_next_is_continued(server, handler, tmp_path):
    _, chunks = start(handler, tmp_path, NAME)
    assert server.ranges[-1] is None
    (tmp_path / (NAME + PARTIAL_SUFFIX)).write_bytes(CONTENT[:1000])
    sizes = list(chunks)
    assert server.ranges[-1] == "bytes=1000-"
    assert sum(sizes) == len(CONTENT) and (tmp_path / NAME).read_bytes() == CONTENT


def test_a_second_download_of_a_target_being_written_is_refused_at_the_call(handler, tmp_path):
    _, first = start(handler, tmp_path)
    next(first)
    with pytest.raises(HatcherException, match="in progress"):
        start(handler, tmp_path)
    assert sum(first) > 0
    assert listing(tmp_path) == [(NAME, len(CONTENT))]


def test_the_iterator_is_a_generator(handler, tmp_path):
    _, chunks = start(handler, tmp_path)
    assert isinstance(chunks, collections.abc.Generator)
    assert chunks.send(None) > 0
    # An exception thrown in is a failure, not an abandonment: the partial file stays for a resume
    with pytest.raises(KeyboardInterrupt):
        chunks.throw(KeyboardInterrupt)
    assert [entry.name for entry in tmp_path.iterdir()] == [NAME + PARTIAL_SUFFIX]
    # One thrown into a download never started raises, and leaves nothing new
    (tmp_path / (NAME + PARTIAL_SUFFIX)).unlink()
    _, chunks = start(handler, tmp_path)
    with pytest.raises(ValueError, match="no"):
        chunks.throw(ValueError("no"))
    assert listing(tmp_path) == []
