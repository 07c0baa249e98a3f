"""A server that closes the connection before the announced end of a body: the download resumes and verifies.

A real loopback socket server (no mock): the first answer announces the whole file but
sends only part of it before closing; the client must notice (``http.client`` reports a
short body as a plain end of file) and continue with a ``Range`` request.
"""

from __future__ import annotations

import hashlib
import os
import socket
import threading

import pytest

from hatcher.core import download
from hatcher.core.brood_url_handler import BroodURLHandler
from hatcher.errors import ChecksumMismatchError

CONTENT = os.urandom(3 * 1024 * 1024 + 777)


class TruncatingServer:
    """Answers GETs of one file; the first answer stops after ``cut`` bytes and closes the connection."""

    def __init__(self, cut: int) -> None:
        self.cut = cut
        self.ranges: list[str | None] = []
        self.listener = socket.create_server(("127.0.0.1", 0))
        # close() does not wake a thread blocked in accept(): it waits a short while at a time instead.
        self.listener.settimeout(0.05)
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stopping.is_set():
            try:
                connection, _ = self.listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with connection:
                head = b""
                while b"\r\n\r\n" not in head:
                    data = connection.recv(65536)
                    if not data:
                        break
                    head += data
                lines = head.decode("latin-1").split("\r\n")
                ranged = next((line.split(":", 1)[1].strip() for line in lines if line.lower().startswith("range:")),
                              None)
                self.ranges.append(ranged)
                start = int(ranged.split("=")[1].rstrip("-")) if ranged else 0
                status = "206 Partial Content" if ranged else "200 OK"
                extra = f"Content-Range: bytes {start}-{len(CONTENT) - 1}/{len(CONTENT)}\r\n" if ranged else ""
                connection.sendall((f"HTTP/1.1 {status}\r\nContent-Length: {len(CONTENT) - start}\r\n{extra}"
                                    'Content-Disposition: attachment; filename="file.egg"\r\n'
                                    "Connection: close\r\n\r\n").encode())
                end = self.cut if len(self.ranges) == 1 else len(CONTENT)
                connection.sendall(CONTENT[start:end])

    def close(self) -> None:
        """Stop the serving thread, then close the listening socket."""
        self.stopping.set()
        self.thread.join(timeout=10)
        self.listener.close()
        assert not self.thread.is_alive(), "the server thread did not stop"


@pytest.fixture(params=["streamed", "buffer-ring", "ring-then-streamed"])
def receiver(request, monkeypatch):
    if request.param == "buffer-ring":
        monkeypatch.setattr(download, "BUFFER_RING_MIN_SIZE", 0)
        monkeypatch.setattr(download, "BUFFER_SIZE", 1024 * 1024)
    elif request.param == "ring-then-streamed":  # the first answer through the ring, the rest streamed
        monkeypatch.setattr(download, "BUFFER_RING_MIN_SIZE", len(CONTENT) - 1024 * 1024)
        monkeypatch.setattr(download, "BUFFER_SIZE", 1024 * 1024)
    else:
        monkeypatch.setattr(download, "BUFFER_RING_MIN_SIZE", 1 << 62)
    monkeypatch.setattr(download.time, "sleep", lambda seconds: None)
    return request.param


@pytest.mark.parametrize("cut", [1, 1024 * 1024, 1024 * 1024 + 1, 2 * 1024 * 1024 + 5])
@pytest.mark.parametrize("checked", [True, False], ids=["sha256", "no-sha256"])
def test_a_body_cut_short_by_the_server_is_resumed_and_verified(receiver, tmp_path, cut, checked):
    server = TruncatingServer(cut)
    try:
        handler = BroodURLHandler.from_auth(server.url, auth=("jane", "secret"))
        handler.download_file("/file", str(tmp_path), hashlib.sha256(CONTENT).hexdigest() if checked else None)
    finally:
        server.close()
    if receiver != "streamed":  # every byte read is kept: it resumes exactly at the cut
        assert server.ranges == [None, f"bytes={cut}-"]
    else:  # urllib3 drops the bytes of a read that ends in an error: it resumes at or before the cut
        assert server.ranges[0] is None and len(server.ranges) == 2
        resumed_at = int(server.ranges[1].split("=")[1].rstrip("-")) if server.ranges[1] else 0
        assert resumed_at <= cut
    received = (tmp_path / "file.egg").read_bytes()
    # Compared without pytest's diff of two 3 MiB values (quadratic: minutes), naming the first wrong byte.
    if received != CONTENT:
        first_wrong = next((i for i, (a, b) in enumerate(zip(received, CONTENT)) if a != b), None)
        raise AssertionError(
            f"received {len(received)} bytes of {len(CONTENT)}; the first wrong byte is at {first_wrong} "
            f"(cut at {cut}, ranges {server.ranges})")
    assert os.listdir(tmp_path) == ["file.egg"]


class _MisWriting(download.DirectFile):
    """A direct writer that puts one wrong byte on disk once the download resumed (a disk fault)."""

    def write(self, data: memoryview) -> None:
        if self.offset > 0 and len(data):
            data = memoryview(bytes([data[0] ^ 0xFF]) + bytes(data[1:]))
        super().write(data)


def test_a_resumed_download_is_checked_as_written_on_disk(tmp_path, monkeypatch):
    # Given a download through the buffer ring that is cut short, then resumed, and a disk that
    # stores a byte of the resumed part wrongly (the hash stage sees the bytes received)
    monkeypatch.setattr(download, "BUFFER_RING_MIN_SIZE", 0)
    monkeypatch.setattr(download, "BUFFER_SIZE", 1024 * 1024)
    monkeypatch.setattr(download.time, "sleep", lambda seconds: None)
    monkeypatch.setattr(download, "DirectFile", _MisWriting)
    server = TruncatingServer(1024 * 1024 + 1)
    try:
        handler = BroodURLHandler.from_auth(server.url, auth=("jane", "secret"))
        # Then the file is checked as it is on disk: a mismatch, and nothing installed
        with pytest.raises(ChecksumMismatchError):
            handler.download_file("/file", str(tmp_path), hashlib.sha256(CONTENT).hexdigest())
    finally:
        server.close()
    assert server.ranges == [None, f"bytes={1024 * 1024 + 1}-"]
    assert os.listdir(tmp_path) == []
