"""Downloads resume with HTTP Range from the partial file, and the whole file is still verified."""

from __future__ import annotations

import hashlib
import http.client
from pathlib import Path

import pytest
import requests

from hatcher.artefacts.builders import build_egg
from hatcher.core import brood_url_handler, download
from hatcher.core.download import PARTIAL_SUFFIX
from hatcher.errors import ChecksumMismatchError

PAYLOAD = 3 * 1024 * 1024 + 123  # a few chunks of 1 MiB, not a multiple of it


@pytest.fixture(scope="module")
def stored(brood, tmp_path_factory):
    """A platform holding one egg with a ~3 MiB payload, and the egg's bytes."""
    work = tmp_path_factory.mktemp("resume")
    egg = Path(build_egg(str(work), name="big", version="1.0", build=1, platform="rh7-x86_64",
                         python_tag="cp38", payload_size=PAYLOAD))
    client = brood.client(api_version=1)
    org = f"resume-{hashlib.sha256(str(work).encode()).hexdigest()[:8]}"
    platform = client.create_organization(org, "Resume").create_repository("dev", "Dev").platform("rh7-x86_64")
    platform.upload_egg(str(egg))
    return platform, egg.read_bytes()


@pytest.fixture(autouse=True, params=["streamed", "buffer-ring"])
def receiver(request, monkeypatch):
    """Every test runs with both ways of receiving a body: through requests, and the buffer ring (1 MiB buffers)."""
    rings: list[object] = []
    original = download.BufferRing
    monkeypatch.setattr(download, "BufferRing", lambda *args, **kwargs: rings.append(1) or original(*args, **kwargs))
    if request.param == "buffer-ring":
        monkeypatch.setattr(download, "BUFFER_RING_MIN_SIZE", 0)
        monkeypatch.setattr(download, "BUFFER_SIZE", 1024 * 1024)
    else:
        monkeypatch.setattr(download, "BUFFER_RING_MIN_SIZE", 1 << 62)
    yield request.param
    assert bool(rings) == (request.param == "buffer-ring")


@pytest.fixture
def ranges(monkeypatch):
    """The ``Range`` header of every download request (None when absent)."""
    seen: list[str | None] = []
    original = brood_url_handler.BroodURLHandler._stream

    def record(self, path, headers=None):
        seen.append((headers or {}).get("Range"))
        return original(self, path, headers)

    monkeypatch.setattr(brood_url_handler.BroodURLHandler, "_stream", record)
    return seen


def interrupt_after(platform, destination: Path, at: int) -> None:
    """Start the download and interrupt it (Ctrl-C in a socket read) once ``at`` bytes of the body were read.

    An interrupted transfer keeps its partial file; an abandoned one (closed by its
    caller) would remove it (``test_lazy_downloads.py``).
    """
    original_read, original_readinto = http.client.HTTPResponse.read, http.client.HTTPResponse.readinto
    received = [0]
    armed = [False]

    def interrupt_when_due():
        if armed[0] and received[0] >= at:
            raise KeyboardInterrupt

    def read_then_interrupt(self, amt=None):  # the streamed path (urllib3)
        interrupt_when_due()
        data = original_read(self, amt)
        received[0] += len(data) if armed[0] else 0
        return data

    def readinto_then_interrupt(self, buffer):  # the buffer ring
        interrupt_when_due()
        count = original_readinto(self, buffer)
        received[0] += count if armed[0] else 0
        return count

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(http.client.HTTPResponse, "read", read_then_interrupt)
        patch.setattr(http.client.HTTPResponse, "readinto", readinto_then_interrupt)
        _, chunks = platform.iter_download_egg("cp38", "big", "1.0-1", str(destination))
        armed[0] = True
        with pytest.raises(KeyboardInterrupt):
            for _ in chunks:
                pass


@pytest.mark.parametrize("at", [1, 1024 * 1024, PAYLOAD // 2, 3 * 1024 * 1024 - 1])
def test_an_interrupted_download_resumes_with_range_from_the_partial_file(stored, ranges, tmp_path, at):
    platform, content = stored
    # Given a download abandoned after ``at`` bytes
    interrupt_after(platform, tmp_path, at)
    partial = tmp_path / ("big-1.0-1.egg" + PARTIAL_SUFFIX)
    kept = partial.stat().st_size
    assert 0 < kept < len(content)
    assert not (tmp_path / "big-1.0-1.egg").exists()
    # When it is started again
    platform.download_egg("cp38", "big", "1.0-1", str(tmp_path))
    # Then it asked only for the missing bytes, and the verified whole file is in place
    assert ranges[-1] == f"bytes={kept}-"
    assert (tmp_path / "big-1.0-1.egg").read_bytes() == content
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big-1.0-1.egg"]


def test_a_complete_but_unrenamed_partial_file_is_fetched_again(stored, ranges, tmp_path):
    platform, content = stored
    # Given a partial file holding the whole content (the rename never happened)
    (tmp_path / ("big-1.0-1.egg" + PARTIAL_SUFFIX)).write_bytes(content)
    # When downloading: the server answers 416 to the range, so it starts over
    platform.download_egg("cp38", "big", "1.0-1", str(tmp_path))
    assert ranges[-2:] == [f"bytes={len(content)}-", None]
    assert (tmp_path / "big-1.0-1.egg").read_bytes() == content


def test_a_corrupt_partial_file_fails_verification_and_is_discarded(stored, tmp_path):
    platform, content = stored
    # Given a partial file whose bytes are not the egg's
    (tmp_path / ("big-1.0-1.egg" + PARTIAL_SUFFIX)).write_bytes(b"x" * 1000)
    # When resuming, Then the whole file fails its sha256 and nothing is kept
    with pytest.raises(ChecksumMismatchError):
        platform.download_egg("cp38", "big", "1.0-1", str(tmp_path))
    assert list(tmp_path.iterdir()) == []
    # And the next attempt starts over and succeeds
    platform.download_egg("cp38", "big", "1.0-1", str(tmp_path))
    assert (tmp_path / "big-1.0-1.egg").read_bytes() == content


def test_a_connection_that_breaks_mid_body_is_resumed_within_the_same_call(stored, ranges, tmp_path,
                                                                            monkeypatch, receiver):
    platform, content = stored
    # Given a body that breaks once, after the first MiB (and a bit, for the buffer ring)
    broken: list[int] = []
    if receiver == "streamed":
        original = requests.Response.iter_content

        def break_once(self, chunk_size=1, decode_unicode=False):
            sent = 0
            for chunk in original(self, chunk_size, decode_unicode):
                yield chunk
                sent += len(chunk)
                if not broken and sent >= 1024 * 1024:
                    broken.append(sent)
                    raise requests.exceptions.ChunkedEncodingError("connection broken")

        monkeypatch.setattr(requests.Response, "iter_content", break_once)
    else:
        original_readinto = http.client.HTTPResponse.readinto
        received = [0]

        def readinto_then_break(self, buffer):
            if not broken and received[0] >= 1024 * 1024 + 4567:
                broken.append(received[0])
                raise ConnectionResetError("connection reset by peer")
            with memoryview(buffer) as view, view[:4567] as piece:  # small reads: the break falls mid-buffer
                count = original_readinto(self, piece)
            received[0] += count
            return count

        monkeypatch.setattr(http.client.HTTPResponse, "readinto", readinto_then_break)
    # When downloading once, Then it resumed with a Range request and the file is whole
    platform.download_egg("cp38", "big", "1.0-1", str(tmp_path))
    assert ranges[-1] == f"bytes={broken[0]}-"
    assert (tmp_path / "big-1.0-1.egg").read_bytes() == content


def test_two_concurrent_downloads_of_one_target_are_refused(stored, tmp_path):
    platform, _ = stored
    # Given a download in progress
    _, first = platform.iter_download_egg("cp38", "big", "1.0-1", str(tmp_path))
    next(first)
    # When a second one of the same file starts, Then it is refused, not interleaved
    with pytest.raises(Exception, match="in progress"):
        platform.iter_download_egg("cp38", "big", "1.0-1", str(tmp_path))
    list(first)


def test_a_complete_download_hands_its_connection_back_to_the_pool(stored, tmp_path, monkeypatch):
    import urllib3.util.connection

    platform, content = stored
    for name in ("first", "second", "third"):
        (tmp_path / name).mkdir()
    platform.download_egg("cp38", "big", "1.0-1", str(tmp_path / "first"))  # a kept-alive connection is pooled
    opened: list[object] = []
    original = urllib3.util.connection.create_connection
    monkeypatch.setattr(urllib3.util.connection, "create_connection",
                        lambda *args, **kwargs: opened.append(args) or original(*args, **kwargs))
    # When downloading twice more (metadata, then the body, each time)
    for name in ("second", "third"):
        platform.download_egg("cp38", "big", "1.0-1", str(tmp_path / name))
        assert (tmp_path / name / "big-1.0-1.egg").read_bytes() == content
    # Then every request went over the connection the first download left in the pool
    assert opened == []
