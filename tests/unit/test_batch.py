"""``hatcher.batch.batch_upload_eggs``: parallel uploads, failures per file, verification rounds, indexing."""

from __future__ import annotations

import threading
from typing import Any

import pytest
import requests

from hatcher.artefacts.builders import build_egg
from hatcher.batch import BatchResult, _connection_pool, batch_upload_eggs
from hatcher.core.brood_url_handler import UploadReceipt
from hatcher.core.utils import EggMetadata, compute_sha256
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


def test_every_egg_arrives_and_is_indexed_once(platform, tmp_path, sleeps, monkeypatch):
    paths = eggs(tmp_path, 24)
    lookups: list[str] = []
    original_lookup = type(platform).egg_metadata
    monkeypatch.setattr(type(platform), "egg_metadata",
                        lambda self, *args: lookups.append(args[1]) or original_lookup(self, *args))
    done: list[int] = []
    lock = threading.Lock()

    def progress(amount: int) -> None:
        with lock:
            done.append(amount)

    result = batch_upload_eggs(platform, paths, jobs=6, progress=progress)
    assert isinstance(result, BatchResult) and result.ok
    assert sorted(result.uploaded) == sorted(paths) and result.skipped == [] and result.failures == {}
    assert (result.verified_after, result.indexed, result.timed_out) == (1, True, False)
    assert sleeps == []  # round 0 saw every egg: round 1 has nothing left to look up, no need to wait for it
    assert sum(done) == 24
    assert lookups == []  # every upload was confirmed by the server's 201 answer: nothing to poll
    assert sorted(entry["name"] for entry in platform.list_eggs("cp38")) == [f"pkg{i:03d}-1.0-1.egg" for i in range(24)]


def test_one_bad_file_is_reported_the_others_arrive_and_nothing_is_indexed(platform, tmp_path, sleeps, monkeypatch):
    good = eggs(tmp_path, 5)
    bad = tmp_path / "broken-1.0-1.egg"
    bad.write_bytes(b"not a zip")
    paths = good[:2] + [str(bad)] + good[2:]
    reindexed = []
    original = type(platform)._reindex_eggs
    monkeypatch.setattr(type(platform), "_reindex_eggs",
                        lambda self, eggs: reindexed.append(eggs) or original(self, eggs))
    result = batch_upload_eggs(platform, paths, jobs=3)
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

    def _send_egg(self, metadata: EggMetadata, overwrite: bool, enabled: bool) -> UploadReceipt:
        assert enabled is False
        with self.lock:
            self.uploaded.add(metadata.path.rsplit("/", 1)[-1].split("-")[0])
        return UploadReceipt(202, metadata.sha256)  # accepted, processed later

    def _reindex_eggs(self, eggs: list[EggMetadata]) -> None:
        self.reindexed.append([egg.path for egg in eggs])


def _response(status: int) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    return response


def test_verification_rounds_wait_until_every_egg_is_visible(tmp_path, sleeps):
    paths = eggs(tmp_path, 3)
    server = SlowServer(delay=2)
    result = batch_upload_eggs(server, paths, index_timeout=10)
    assert (result.verified_after, result.indexed) == (3, True)
    assert sleeps == [1.0, 1.0]  # before rounds 1 and 2; round 3 (nothing left) is not waited for
    assert server.reindexed == [paths]
    late = SlowServer(delay=5)
    result = batch_upload_eggs(late, paths, index_timeout=4)
    assert (result.timed_out, result.indexed, late.reindexed) == (True, False, [])
    assert sleeps[2:] == [1.0, 1.0, 1.0]  # between the four rounds, not after the last


# -- optimistic uploads of small eggs -------------------------------------------------------------------


class RecordingServer:
    """A stand-in platform that records its requests: ``("POST", name)``, ``("GET", name)``.

    It refuses (``refusal``, 409 by default) the upload of an egg it already holds, as Brood
    does without ``overwrite``; ``held`` maps egg names to the sha256 already on the server.
    """

    def __init__(self, held: dict[str, str] | None = None, refusal: int = 409, refuse_all: bool = False,
                 answer: Any = None) -> None:
        self.answer = answer
        self.held = dict(held or {})
        self.refusal = refusal
        self.refuse_all = refuse_all
        self.requests: list[tuple[str, str]] = []
        self.reindexed: list[list[str]] = []
        self.lock = threading.Lock()

    @staticmethod
    def _name(path: str) -> str:
        return path.rsplit("/", 1)[-1].split("-")[0]

    def egg_metadata(self, python_tag: str, name: str, version: str) -> dict[str, str]:
        with self.lock:
            self.requests.append(("GET", name))
            if name not in self.held:
                raise BroodHTTPError("404", error_message="Not Found", response=_response(404))
            return {"sha256": self.held[name]}

    def _send_egg(self, metadata: EggMetadata, overwrite: bool, enabled: bool) -> UploadReceipt:
        """Answers 200 without a body (an old Brood) unless ``answer`` makes it 201 with that body."""
        assert enabled is False
        name = self._name(metadata.path)
        with self.lock:
            self.requests.append(("POST", name))
            if name in self.held and not overwrite or self.refuse_all:
                raise BroodHTTPError(str(self.refusal), error_message="refused",
                                     response=_response(self.refusal))
            self.held[name] = sha256 = compute_sha256(metadata.path)
        if self.answer is None:
            return UploadReceipt(200, sha256)
        return UploadReceipt(201, sha256, self.answer(sha256))

    def _reindex_eggs(self, eggs: list[EggMetadata]) -> None:
        self.reindexed.append([egg.path for egg in eggs])


def test_a_new_small_egg_is_sent_without_a_lookup_first(tmp_path, sleeps):
    paths = eggs(tmp_path, 3)
    server = RecordingServer()
    result = batch_upload_eggs(server, paths, jobs=2)
    assert result.ok and result.uploaded == paths and result.verified_after == 1
    for name in ("pkg000", "pkg001", "pkg002"):  # one upload, then one visibility lookup, nothing else
        assert [method for method, egg in server.requests if egg == name] == ["POST", "GET"]
    assert server.requests.index(("GET", "pkg000")) > max(server.requests.index(("POST", n))
                                                          for n in ("pkg000", "pkg001", "pkg002"))
    assert server.reindexed == [paths] and sleeps == []


def test_an_upload_confirmed_by_the_server_s_answer_is_not_looked_up(tmp_path, sleeps):
    paths = eggs(tmp_path, 3)
    server = RecordingServer(answer=lambda sha256: {"sha256": sha256, "enabled": False})
    result = batch_upload_eggs(server, paths, jobs=2)
    assert result.ok and result.uploaded == paths and result.verified_after == 1
    assert sorted(server.requests) == [("POST", "pkg000"), ("POST", "pkg001"), ("POST", "pkg002")]
    assert server.reindexed == [paths] and sleeps == []


@pytest.mark.parametrize("answer", [lambda sha256: {"sha256": "0" * 64}, lambda sha256: ["not", "an", "object"],
                                    lambda sha256: {"status": "queued"}])
def test_an_answer_that_does_not_name_the_sha256_sent_leaves_the_egg_to_be_looked_up(tmp_path, sleeps, answer):
    paths = eggs(tmp_path, 1)
    server = RecordingServer(answer=answer)
    result = batch_upload_eggs(server, paths)
    assert result.ok and server.requests == [("POST", "pkg000"), ("GET", "pkg000")]


@pytest.mark.parametrize("refusal", [409, 400, 422])
def test_an_identical_small_egg_refused_as_a_duplicate_is_skipped(tmp_path, sleeps, refusal):
    paths = eggs(tmp_path, 2)
    server = RecordingServer(held={"pkg000": compute_sha256(paths[0])}, refusal=refusal)
    result = batch_upload_eggs(server, paths)
    assert result.ok and result.skipped == [paths[0]] and result.uploaded == [paths[1]]
    # refused, looked up (same sha256): skipped, and already seen on the server (no visibility lookup)
    assert [method for method, egg in server.requests if egg == "pkg000"] == ["POST", "GET"]
    assert [method for method, egg in server.requests if egg == "pkg001"] == ["POST", "GET"]
    assert server.reindexed == [paths]


def test_a_different_small_egg_is_a_checksum_mismatch_of_that_file_only(tmp_path, sleeps):
    paths = eggs(tmp_path, 3)
    server = RecordingServer(held={"pkg001": "0" * 64})
    result = batch_upload_eggs(server, paths, jobs=1)
    assert list(result.failures) == [paths[1]]
    assert isinstance(result.failures[paths[1]], ChecksumMismatchError)
    assert "different content" in str(result.failures[paths[1]])
    assert result.uploaded == [paths[0], paths[2]] and result.skipped == []
    assert (result.indexed, server.reindexed, server.held["pkg001"]) == (False, [], "0" * 64)


def test_a_refusal_for_another_reason_is_that_file_s_failure(tmp_path, sleeps):
    paths = eggs(tmp_path, 1)
    server = RecordingServer(refusal=400, refuse_all=True)  # refused, yet not on the server: the refusal is the error
    result = batch_upload_eggs(server, paths)
    assert isinstance(result.failures[paths[0]], BroodHTTPError)
    assert result.failures[paths[0]].status_code == 400
    assert server.requests == [("POST", "pkg000"), ("GET", "pkg000")]


def test_big_eggs_and_overwrite_are_verified_first(tmp_path, sleeps, monkeypatch):
    paths = eggs(tmp_path, 2)
    monkeypatch.setattr("hatcher.batch.OPTIMISTIC_MAX_SIZE", 1)  # every egg is "big"
    server = RecordingServer(held={"pkg001": compute_sha256(paths[1])})
    result = batch_upload_eggs(server, paths, jobs=1)
    assert result.ok and result.uploaded == [paths[0]] and result.skipped == [paths[1]]
    assert server.requests == [("GET", "pkg000"), ("POST", "pkg000"), ("GET", "pkg001"), ("GET", "pkg000")]
    monkeypatch.undo()
    forced = RecordingServer(held={"pkg000": "0" * 64})
    result = batch_upload_eggs(forced, paths[:1], overwrite=True)
    assert result.ok and result.uploaded == paths[:1]
    assert forced.requests == [("POST", "pkg000"), ("GET", "pkg000")]


def test_more_jobs_than_the_session_pools_get_a_bigger_pool_for_the_batch(brood, platform, tmp_path, sleeps,
                                                                          caplog):
    session = platform._url_handler.session
    prefix = platform._url_handler.base_url + "/"
    before = session.get_adapter(prefix)
    assert before._pool_maxsize == 16
    with _connection_pool(platform, 8):
        assert session.get_adapter(prefix) is before
    with _connection_pool(platform, 40):
        bigger = session.get_adapter(prefix)
        assert bigger is not before and bigger._pool_maxsize == 40 and bigger.max_retries is before.max_retries
    assert session.get_adapter(prefix) is before and prefix not in session.adapters
    caplog.set_level("WARNING", logger="urllib3")
    result = batch_upload_eggs(platform, eggs(tmp_path, 60), jobs=24)
    assert result.ok and len(result.uploaded) == 60
    assert "Connection pool is full" not in caplog.text


def test_the_command_line_default_of_jobs_is_the_api_s():
    from hatcher.batch import DEFAULT_JOBS
    from hatcher.cli.eggs import batch_upload

    assert next(p.default for p in batch_upload.params if p.name == "jobs") == DEFAULT_JOBS
