"""``iter_download_egg`` / ``iter_download_runtime`` create no file before the transfer starts.

The request is sent at the call (the length is known), but the directory stays exactly as it
was until the caller iterates; a caller that abandons the iterator (``close()`` or dropping
it), before or after the first chunk, leaves the directory as it was and no connection open.
"""

from __future__ import annotations

import collections.abc
import gc
import hashlib
import os
from pathlib import Path

import pytest
from leak_check import socket_inodes

from hatcher.artefacts.builders import build_egg, build_runtime_v1
from hatcher.core.download import CHUNK_SIZE, PARTIAL_SUFFIX

PAYLOAD = 3 * 1024 * 1024 + 123  # a few chunks of 1 MiB, not a multiple of it
EGG = "big-1.0-1.egg"
RUNTIME = "cpython-3.8.8+1-rh7_x86_64-gnu.runtime"


@pytest.fixture(scope="module")
def stored(brood, tmp_path_factory):
    """An organization holding a ~3 MiB egg and a ~3 MiB runtime; their bytes by file name."""
    work = tmp_path_factory.mktemp("lazy")
    egg = Path(build_egg(str(work), name="big", version="1.0", build=1, platform="rh7-x86_64",
                         python_tag="cp38", payload_size=PAYLOAD))
    runtime = Path(build_runtime_v1(str(work), extra_members=[("payload.bin", os.urandom(PAYLOAD))]))
    assert runtime.name == RUNTIME
    client = brood.client(api_version=1)
    org = f"lazy-{hashlib.sha256(str(work).encode()).hexdigest()[:8]}"
    repository = client.create_organization(org, "Lazy").create_repository("dev", "Dev")
    repository.platform("rh7-x86_64").upload_egg(str(egg))
    repository.upload_runtime(str(runtime))
    return org, {EGG: egg.read_bytes(), RUNTIME: runtime.read_bytes()}


@pytest.fixture
def platform(brood, stored):
    """The platform of ``stored`` through a client of its own (a session with no pooled connection)."""
    org, _ = stored
    return brood.client(api_version=1).organization(org).repository("dev").platform("rh7-x86_64")


def start(platform, name: str, destination: Path):
    """``iter_download_egg`` or ``iter_download_runtime`` of the file ``name``."""
    if name == EGG:
        return platform.iter_download_egg("cp38", "big", "1.0-1", str(destination))
    return platform.iter_download_runtime("cpython", "3.8.8+1", str(destination))


def listing(directory: Path) -> list[tuple[str, int]]:
    return sorted((entry.name, entry.stat().st_size) for entry in directory.iterdir())


def connections_to(url: str) -> int:
    """How many established TCP connections this process holds to the server at ``url``."""
    host, port = url.rsplit("//", 1)[1].rsplit(":", 1)
    remote = f"{''.join(reversed([f'{int(part):02X}' for part in host.split('.')]))}:{int(port):04X}"
    mine = socket_inodes()
    with open("/proc/self/net/tcp", encoding="ascii") as stream:
        rows = [row.split() for row in stream.read().splitlines()[1:]]
    return sum(1 for row in rows if row[2] == remote and row[3] == "01" and row[9] in mine)


needs_proc = pytest.mark.skipif(not os.path.exists("/proc/self/net/tcp"), reason="reads /proc (Linux)")


@needs_proc
@pytest.mark.parametrize("name", [EGG, RUNTIME])
@pytest.mark.parametrize("how", ["close", "drop"])
def test_a_download_never_iterated_creates_nothing_and_releases_its_connection(brood, stored, platform,
                                                                               tmp_path, name, how):
    # Given a directory with a file of its own
    (tmp_path / "other.txt").write_text("mine")
    before, open_before = listing(tmp_path), connections_to(brood.url)
    # When the pair is taken
    length, chunks = start(platform, name, tmp_path)
    # Then the length is known, the request is open, and no file was created
    assert length == len(stored[1][name])
    assert connections_to(brood.url) == open_before + 1
    assert listing(tmp_path) == before
    # And when the caller decides not to download
    if how == "close":
        chunks.close()
        assert list(chunks) == []
    else:
        del chunks
    # Then the directory is exactly as it was, and the connection is closed
    assert listing(tmp_path) == before
    assert connections_to(brood.url) == open_before


@needs_proc
@pytest.mark.parametrize("name", [EGG, RUNTIME])
@pytest.mark.parametrize("how", ["close", "drop"])
def test_a_download_abandoned_halfway_leaves_the_directory_as_it_was(brood, stored, platform, tmp_path,
                                                                     receiver, name, how):
    (tmp_path / "other.txt").write_text("mine")
    before, open_before = listing(tmp_path), connections_to(brood.url)
    length, chunks = start(platform, name, tmp_path)
    # Given a transfer that started: the partial file exists
    received = next(chunks) + next(chunks)
    assert 0 < received < length
    assert (tmp_path / (name + PARTIAL_SUFFIX)).exists()
    # When the caller abandons it
    if how == "close":
        chunks.close()
    else:
        del chunks
        gc.collect()
    # Then the partial file is gone, nothing else appeared, and the connection is closed
    assert listing(tmp_path) == before
    assert connections_to(brood.url) == open_before


def test_an_abandoned_resume_keeps_the_partial_file_it_did_not_create(stored, platform, tmp_path, receiver):
    _, content = stored
    # Given a partial file left by an earlier, failed download
    partial = tmp_path / (EGG + PARTIAL_SUFFIX)
    partial.write_bytes(content[EGG][:1000])
    # When a new download starts, then is abandoned
    length, chunks = start(platform, EGG, tmp_path)
    assert length == len(content[EGG])
    assert listing(tmp_path) == [(partial.name, 1000)]
    next(chunks)
    chunks.close()
    # Then the partial file is still there (with what it had, at least), for a later resume
    assert [entry.name for entry in tmp_path.iterdir()] == [partial.name]
    assert content[EGG].startswith(partial.read_bytes())
    # And the next download completes it
    platform.download_egg("cp38", "big", "1.0-1", str(tmp_path))
    assert listing(tmp_path) == [(EGG, len(content[EGG]))]


@pytest.mark.parametrize("name", [EGG, RUNTIME])
def test_chunks_are_at_most_one_mebibyte(stored, platform, tmp_path, receiver, name):
    _, content = stored
    # When downloading in full
    length, chunks = start(platform, name, tmp_path)
    sizes = list(chunks)
    # Then no chunk is over 1 MiB (the buffer ring's buffers are 4 MiB), and they add up
    assert max(sizes) <= CHUNK_SIZE == 1024 * 1024
    assert sum(sizes) == length == len(content[name])
    assert (tmp_path / name).read_bytes() == content[name]
    assert listing(tmp_path) == [(name, length)]


def test_the_iterator_is_a_generator_whose_send_and_throw_work(stored, platform, tmp_path):
    # The reference returns a generator: ``send`` steps it, ``throw`` raises inside it
    _, content = stored
    _, chunks = start(platform, EGG, tmp_path)
    assert isinstance(chunks, collections.abc.Generator)
    assert chunks.send(None) > 0
    with pytest.raises(KeyboardInterrupt):
        chunks.throw(KeyboardInterrupt)
    # An exception raised inside the transfer is a failure, not an abandonment: the partial file stays
    assert [entry.name for entry in tmp_path.iterdir()] == [EGG + PARTIAL_SUFFIX]
    assert list(chunks) == []
    # And one thrown into a download never started leaves nothing
    (tmp_path / (EGG + PARTIAL_SUFFIX)).unlink()
    _, chunks = start(platform, EGG, tmp_path)
    with pytest.raises(ValueError):
        chunks.throw(ValueError("no"))
    assert list(tmp_path.iterdir()) == []
