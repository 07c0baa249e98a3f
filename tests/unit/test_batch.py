"""``hatcher.batch.batch_upload_eggs``: parallel uploads, failures per file, verification rounds, indexing."""

from __future__ import annotations

import threading

import pytest
import requests

from hatcher.artefacts.builders import build_egg
from hatcher.batch import BatchResult, batch_upload_eggs
from hatcher.errors import BroodHTTPError, ChecksumMismatchError, InvalidEgg

pytest.importorskip("fastapi")

from hatcher.server.runner import EmbeddedBrood  # noqa: E402

PLATFORM = "rh7-x86_64"


@pytest.fixture(scope="module")
def brood():
    with EmbeddedBrood() as server:
        yield server


@pytest.fixture
def platform(brood, request):
    org = f"batch-{abs(hash(request.node.nodeid)):x}"
    client = brood.client(api_version=1)
    client.create_organization(org, "batch tests").create_repository("dev", "Development")
    return client.organization(org).repository("dev").platform(PLATFORM)


@pytest.fixture
def sleeps(monkeypatch):
    """The verification rounds' sleeps, recorded instead of slept."""
    recorded: list[float] = []
    monkeypatch.setattr("hatcher.batch.sleep", recorded.append)
    return recorded


def eggs(directory, count: int, **kwargs) -> list[str]:
    directory.mkdir(parents=True, exist_ok=True)
    return [build_egg(str(directory), name=f"pkg{index:03d}", version="1.0", platform=PLATFORM,
                      python_tag="cp38", **kwargs) for index in range(count)]


def test_every_egg_arrives_and_is_indexed_once(platform, tmp_path, sleeps):
    paths = eggs(tmp_path, 24)
    done: list[int] = []
    lock = threading.Lock()

    def progress(amount: int) -> None:
        with lock:
            done.append(amount)

    result = batch_upload_eggs(platform, paths, jobs=6, progress=progress)
    assert isinstance(result, BatchResult) and result.ok
    assert sorted(result.uploaded) == sorted(paths) and result.skipped == [] and result.failures == {}
    assert (result.verified_after, result.indexed, result.timed_out) == (1, True, False)
    assert sleeps == [1.0]
    assert sum(done) == 24
    assert sorted(entry["name"] for entry in platform.list_eggs("cp38")) == [f"pkg{i:03d}-1.0-1.egg" for i in range(24)]


def test_one_bad_file_is_reported_the_others_arrive_and_nothing_is_indexed(platform, tmp_path, sleeps):
    good = eggs(tmp_path, 5)
    bad = tmp_path / "broken-1.0-1.egg"
    bad.write_bytes(b"not a zip")
    paths = good[:2] + [str(bad)] + good[2:]
    reindexed = []
    original = type(platform).reindex
    platform_reindex = lambda self, eggs: reindexed.append(eggs) or original(self, eggs)  # noqa: E731
    try:
        type(platform).reindex = platform_reindex
        result = batch_upload_eggs(platform, paths, jobs=3)
    finally:
        type(platform).reindex = original
    assert not result.ok
    assert list(result.failures) == [str(bad)]
    assert isinstance(result.failures[str(bad)], InvalidEgg)
    assert sorted(result.uploaded) == sorted(good)
    assert (result.indexed, result.verified_after) == (False, None)
    assert reindexed == [] and sleeps == []
    assert platform.list_eggs("cp38") == []
    for index in range(5):
        assert platform.egg_metadata("cp38", f"pkg{index:03d}", "1.0-1")["enabled"] is False


def test_identical_eggs_are_skipped_and_different_content_fails(platform, tmp_path, sleeps):
    first = eggs(tmp_path / "a", 2)
    platform.upload_egg(first[0])
    changed = eggs(tmp_path / "b", 2, summary="Changed")[1]
    platform.upload_egg(first[1])
    result = batch_upload_eggs(platform, [first[0], changed])
    assert result.skipped == [first[0]] and result.uploaded == []
    assert isinstance(result.failures[changed], ChecksumMismatchError)
    forced = batch_upload_eggs(platform, [changed], overwrite=True)
    assert forced.ok and forced.uploaded == [changed] and forced.indexed


def test_no_index_and_timeouts(platform, tmp_path, sleeps):
    paths = eggs(tmp_path, 2)
    result = batch_upload_eggs(platform, paths + [paths[0]], index=False)
    assert result.paths == paths  # duplicates removed
    assert (result.ok, result.indexed, result.verified_after) == (True, False, None)
    assert platform.list_eggs("cp38") == []
    timed_out = batch_upload_eggs(platform, paths, index_timeout=0)
    assert (timed_out.ok, timed_out.timed_out, timed_out.indexed) == (False, True, False)
    assert platform.list_eggs("cp38") == []
    empty = batch_upload_eggs(platform, [])
    assert (empty.ok, empty.verified_after, empty.indexed) == (True, 0, False)


def test_errors_of_the_whole_batch_raise(brood, platform, tmp_path, sleeps):
    paths = eggs(tmp_path, 3)
    missing = brood.client(api_version=1).organization(platform.organization_name).repository("nope")
    with pytest.raises(BroodHTTPError) as info:
        batch_upload_eggs(missing.platform(PLATFORM), paths)
    assert info.value.status_code == 404
    down = type(brood.client())  # BroodClient
    unreachable = down.from_url("http://127.0.0.1:1", api_version=1).organization("o").repository("r")
    with pytest.raises(requests.ConnectionError):
        batch_upload_eggs(unreachable.platform(PLATFORM), paths, jobs=2)
    with pytest.raises(ValueError):
        batch_upload_eggs(platform, paths, jobs=0)


class SlowServer:
    """A stand-in platform whose eggs become visible only after ``delay`` lookups each."""

    def __init__(self, delay: int) -> None:
        self.delay = delay
        self.lookups: dict[str, int] = {}
        self.uploaded: set[str] = set()
        self.reindexed: list[list[str]] = []
        self.lock = threading.Lock()

    def egg_metadata(self, python_tag: str, name: str, version: str) -> dict[str, str]:
        with self.lock:
            if name not in self.uploaded:
                raise BroodHTTPError("404", error_message="Not Found", response=_response(404))
            self.lookups[name] = self.lookups.get(name, 0) + 1
            if self.lookups[name] <= self.delay:
                raise BroodHTTPError("404", error_message="Not Found", response=_response(404))
            return {"sha256": "whatever"}

    def upload_egg(self, path: str, overwrite: bool, enabled: bool, verify: bool) -> None:
        assert (enabled, verify) == (False, False)
        with self.lock:
            self.uploaded.add(path.rsplit("/", 1)[-1].split("-")[0])

    def reindex(self, paths: list[str]) -> None:
        self.reindexed.append(paths)


def _response(status: int) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    return response


def test_verification_rounds_wait_until_every_egg_is_visible(tmp_path, sleeps):
    paths = eggs(tmp_path, 3)
    server = SlowServer(delay=2)
    result = batch_upload_eggs(server, paths, index_timeout=10)
    assert (result.verified_after, result.indexed) == (3, True)
    assert sleeps == [1.0, 1.0, 1.0]
    assert server.reindexed == [paths]
    late = SlowServer(delay=5)
    result = batch_upload_eggs(late, paths, index_timeout=4)
    assert (result.timed_out, result.indexed, late.reindexed) == (True, False, [])
    assert sleeps[3:] == [1.0, 1.0, 1.0]  # between the four rounds, not after the last
