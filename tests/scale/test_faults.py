"""Faults of a replica set: a server killed in the middle of an upload, PostgreSQL and S3 going away and coming back.

The servers here are two replicas of this module's own (own database, own bucket prefix, no
background garbage collection), so that killing them or filling their store leaves the
session's ``replica_set`` alone. PostgreSQL and SeaweedFS are the session's: the outage tests
stop and start them again (on the same ports), and every server of the session must cope.
"""

from __future__ import annotations

import base64
import http.client
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Callable, Iterator

import attr
import pytest
import requests
from scale_kit import (
    ADMIN,
    Egg,
    blob_keys,
    call,
    create_repository,
    dedicated_replicas,
    egg_index_pairs,
    index_path,
    is_json_error,
    prefix_of,
    query,
    run_gc,
    stored_objects,
    wait_for,
)
from stack import PostgresCluster, ReplicaSet, SeaweedS3
from stack.processes import accepts

#: How long a request may take during an outage (a 503, never a hang), and how soon service must be back.
OUTAGE_ANSWER = 15.0
BACK_WITHIN = 10.0


@pytest.fixture(scope="module")
def fault_set(postgres: PostgresCluster, seaweed: SeaweedS3,
              tmp_path_factory: pytest.TempPathFactory) -> Iterator[ReplicaSet]:
    """Two servers of this module's own; blobs go at once (``--gc-grace 0``), no background collection."""
    with dedicated_replicas(postgres, seaweed, tmp_path_factory.mktemp("faults"), "faults", 2,
                            ["--gc-grace", "0", "--gc-interval", "0"]) as replicas:
        yield replicas


@attr.s(auto_attribs=True)
class Seeded:
    """A repository of ``fault_set`` holding one egg, uploaded before any fault."""

    organization: str
    repository: str
    egg: Egg


@pytest.fixture(scope="module")
def seeded(fault_set: ReplicaSet, tmp_path_factory: pytest.TempPathFactory) -> Seeded:
    organization, repository = create_repository(fault_set.urls[0])
    egg = Egg(tmp_path_factory.mktemp("seeded"), "seeded", payload_size=50_000)
    answer = egg.upload(fault_set.urls[0], organization, repository)
    assert answer.status_code == 201, f"seeding {organization}/{repository}: {answer.status_code} {answer.text}"
    return Seeded(organization, repository, egg)


def timed(request: Callable[[], requests.Response]) -> tuple[requests.Response, float]:
    """The answer of ``request()`` and the seconds it took."""
    started = time.monotonic()
    answer = request()
    return answer, time.monotonic() - started


def assert_503_in_time(what: str, request: Callable[[], requests.Response]) -> None:
    """``request()`` is answered with a JSON 503 within :data:`OUTAGE_ANSWER` seconds."""
    answer, took = timed(request)
    assert answer.status_code == 503 and is_json_error(answer), \
        f"{what}: {answer.status_code} {answer.text[:300]!r} (expected a JSON 503)"
    assert took < OUTAGE_ANSWER, f"{what}: answered after {took:.1f} s (at most {OUTAGE_ANSWER} s)"


# -- a replica killed in the middle of an upload ----------------------------------------------------------


class SlowUpload(threading.Thread):
    """Streams an egg upload to one server over a raw connection: the first ``fast_bytes`` at once, the rest slowly.

    ``in_flight`` is set once the fast part is sent; ``outcome`` is the HTTP status, or the
    exception that ended the upload (the server going away).
    """

    def __init__(self, port: int, egg: Egg, organization: str, repository: str, fast_bytes: int) -> None:
        super().__init__(name="slow-upload", daemon=True)
        self.port, self.egg, self.path = port, egg, egg.upload_path(organization, repository)
        self.fast_bytes = fast_bytes
        self.in_flight = threading.Event()
        self.outcome: Any = None

    def run(self) -> None:
        head, tail, content_type = self.egg.multipart_frame()
        data = self.egg.data
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            connection.putrequest("POST", self.path)
            connection.putheader("Content-Type", content_type)
            connection.putheader("Content-Length", str(len(head) + len(data) + len(tail)))
            connection.putheader("Authorization", "Basic " + base64.b64encode(":".join(ADMIN).encode()).decode())
            connection.endheaders()
            connection.send(head)
            sent = 0
            while sent < self.fast_bytes:
                connection.send(data[sent:sent + 1024 * 1024])
                sent += 1024 * 1024
            self.in_flight.set()
            deadline = time.monotonic() + 60
            while sent < len(data) and time.monotonic() < deadline:
                connection.send(data[sent:sent + 16 * 1024])  # 16 KiB every 50 ms: the body takes minutes
                sent += 16 * 1024
                time.sleep(0.05)
            connection.send(data[sent:] + tail)
            self.outcome = connection.getresponse().status
        except (OSError, http.client.HTTPException) as error:
            self.outcome = error
        finally:
            self.in_flight.set()
            connection.close()


def test_a_replica_killed_mid_upload_leaves_no_artefact_and_gc_leaves_only_referenced_blobs(
        fault_set: ReplicaSet, seeded: Seeded, seaweed: SeaweedS3, tmp_path: Path) -> None:
    """kill -9 of a server while an upload's body is in flight: no replica lists the egg, and gc cleans up.

    The egg is 16 MiB: the server has handed 5 MiB parts of it to an S3 multipart upload when
    it dies. ``hatcher server gc --grace 0`` then leaves exactly the objects the blob rows name
    (the seeded egg's), and removes an object without a row, as a server that died after
    completing an upload's object but before committing its row would have left.
    """
    survivor, victim = fault_set.urls
    prefix = prefix_of(fault_set)
    organization, repository = seeded.organization, seeded.repository
    big = Egg(tmp_path, "big", payload_size=16 * 1024 * 1024)
    upload = SlowUpload(fault_set[1].port, big, organization, repository, fast_bytes=12 * 1024 * 1024)
    try:
        # Given a large upload to the second server, 12 MiB of it sent, the rest trickling
        upload.start()
        assert upload.in_flight.wait(60), "the upload did not get going"
        time.sleep(1.5)  # the server parses, hashes and writes what it received
        assert upload.is_alive(), f"the upload ended before the kill: {upload.outcome!r}"
        # When that server is killed with SIGKILL
        fault_set.kill9(1)
        upload.join(30)
        assert not upload.is_alive(), "the upload still runs after its server died"
        # Then the client got no answer, and no replica lists the egg
        assert isinstance(upload.outcome, BaseException), f"the killed server answered {upload.outcome!r}"
        assert [name for name, _ in egg_index_pairs(survivor, organization, repository)] == \
            [seeded.egg.filename], "the surviving server's index after the kill"
        assert query(fault_set.database_url, "SELECT count(*) FROM artefacts WHERE filename = %s", big.filename) == \
            [(0,)], "an artefact row of the interrupted upload"
        # When an object without a row is there too (a server killed between an upload's object and its row)
        import obstore

        orphan = f"blobs/{uuid.uuid4().hex}"
        obstore.put(seaweed.store(prefix), orphan, b"an upload's object whose row was never committed")
        # And a garbage-collection pass runs with no grace period
        collected = run_gc(fault_set, grace=0)
        assert collected.returncode == 0, f"hatcher server gc failed: {collected.stdout}{collected.stderr}"
        assert f"removed object without a blob: {orphan}" in collected.stdout, collected.stdout
        # Then the objects under the prefix are exactly those of the blob rows: the seeded egg's
        rows = blob_keys(fault_set.database_url)
        assert set(rows.values()) == {seeded.egg.sha256}, f"blob rows after gc: {rows}"
        objects = stored_objects(seaweed, prefix)
        assert objects == set(rows), f"objects under {prefix} after gc: {sorted(objects)}; blob keys: {sorted(rows)}"
        served = seeded.egg.download(survivor, organization, repository)
        assert served.status_code == 200 and served.content == seeded.egg.data, "the seeded egg after gc"
    finally:
        upload.join(60)
        if not fault_set[1].running:
            fault_set.restart(1)
    # And the restarted server does not list the egg either
    assert [name for name, _ in egg_index_pairs(victim, organization, repository)] == [seeded.egg.filename], \
        "the restarted server's index"


# -- PostgreSQL goes away ----------------------------------------------------------------------------------


def test_a_postgresql_outage_is_a_503_on_every_replica_and_service_comes_back_without_restarting_them(
        fault_set: ReplicaSet, seeded: Seeded, postgres: PostgresCluster, tmp_path: Path) -> None:
    """With PostgreSQL stopped, every server answers a JSON 503 within 15 s (never a 500, never a hang).

    Once it is back, every server answers again within 10 s, by itself: the same processes.
    """
    organization, repository, egg = seeded.organization, seeded.repository, seeded.egg
    fresh = Egg(tmp_path, "during_db_outage")
    pids = [replica.process.pid for replica in fault_set]
    # When PostgreSQL stops
    postgres.stop()
    try:
        # Then an index, a download and an upload get a JSON 503 within 15 s from every server
        for url in fault_set.urls:
            assert_503_in_time(f"egg index on {url}",
                               lambda url=url: call(url, "GET", index_path(organization, repository), timeout=60))
            assert_503_in_time(f"download on {url}", lambda url=url: egg.download(url, organization, repository))
            assert_503_in_time(f"upload on {url}", lambda url=url: fresh.upload(url, organization, repository))
    finally:
        postgres.start()
    back_at = time.monotonic()
    # And once it is back, every server answers again within 10 s
    for url in fault_set.urls:
        waited = wait_for(lambda url=url: egg.download(url, organization, repository).status_code == 200,
                          BACK_WITHIN - (time.monotonic() - back_at), interval=0.1)
        assert waited is not None, f"{url} did not serve within {BACK_WITHIN} s of PostgreSQL's return"
    assert time.monotonic() - back_at < BACK_WITHIN, "service took too long to come back"
    served = egg.download(fault_set.urls[1], organization, repository)
    assert served.content == egg.data, "the seeded egg after the outage"
    assert fresh.upload(fault_set.urls[1], organization, repository).status_code == 201, "an upload after the outage"
    # Without a restart of any server
    assert [replica.process.pid if replica.running else None for replica in fault_set] == pids, \
        "a server was restarted or died"


# -- S3 goes away ------------------------------------------------------------------------------------------


def test_an_s3_outage_is_a_503_for_uploads_and_downloads_and_they_work_again_soon_after_s3_is_back(
        fault_set: ReplicaSet, seeded: Seeded, seaweed: SeaweedS3, tmp_path: Path) -> None:
    """With SeaweedFS stopped, downloads and uploads get a JSON 503 within 15 s; once it is back, they work.

    "Back" is the moment SeaweedFS's S3 port accepts connections again, before it is fully ready:
    a store may answer 500s for a moment then (weed 4.48's ``mini`` opens its S3 port last, so
    here it works at once), which the servers' S3 retries and the clients' next attempts must
    cover. Every server, with its pooled connections to the old process gone, serves a download
    and takes an upload within 10 s of it, answering 503 (never 500) meanwhile; none is restarted.
    """
    organization, repository, egg = seeded.organization, seeded.repository, seeded.egg
    small = Egg(tmp_path / "small", "during_s3_outage")
    streamed = Egg(tmp_path / "streamed", "streamed_during_s3_outage", payload_size=600_000)
    pids = [replica.process.pid for replica in fault_set]
    # When SeaweedFS stops
    seaweed.stop()
    try:
        # Then downloads and uploads (received whole or streamed) get a JSON 503 within 15 s from every server
        for url in fault_set.urls:
            assert_503_in_time(f"download on {url}", lambda url=url: egg.download(url, organization, repository))
            assert_503_in_time(f"upload on {url}", lambda url=url: small.upload(url, organization, repository))
            assert_503_in_time(f"streamed upload on {url}",
                               lambda url=url: streamed.upload(url, organization, repository))
        # And the index, which needs the database only, is served
        assert egg.filename in dict(egg_index_pairs(fault_set.urls[0], organization, repository)), \
            "the index during the S3 outage"
    except BaseException:
        seaweed.start()
        raise
    # When it starts again
    statuses: dict[str, list[tuple[str, int]]] = {}

    def service_returns() -> float:
        """Seconds from S3's port accepting connections to every server having worked (the checks below)."""
        assert wait_for(lambda: accepts(seaweed.port), 120, interval=0.02) is not None, "S3 did not come back"
        back_at = time.monotonic()
        # Then within 10 s every server serves the download and takes an upload, answering 503 at worst meanwhile
        for index, url in enumerate(fault_set.urls):
            fresh = Egg(tmp_path / f"after-{index}", f"after_s3_outage_{index}", payload_size=300_000)
            seen = statuses.setdefault(url, [])
            steps: list[tuple[str, Callable[[], requests.Response], int, bytes]] = [
                ("download", lambda url=url: egg.download(url, organization, repository), 200, egg.data),
                ("upload", lambda url=url, fresh=fresh: fresh.upload(url, organization, repository), 201, b""),
                ("download of the upload", lambda url=url, fresh=fresh: fresh.download(url, organization, repository),
                 200, fresh.data)]

            def works(url: str = url, steps: list = steps, seen: list = seen) -> bool:
                """Each step in turn, until one gets a 503; a step that succeeded is not repeated."""
                while steps:
                    name, step, expected, content = steps[0]
                    answer = step()
                    seen.append((name, answer.status_code))
                    assert answer.status_code in (expected, 503), \
                        f"{url}: {name} answered {answer.status_code} {answer.text[:300]!r} while S3 came back"
                    if answer.status_code == 503:
                        return False
                    assert not content or answer.content == content, f"{url}: {name} sent other bytes"
                    steps.pop(0)
                return True

            waited = wait_for(works, BACK_WITHIN - (time.monotonic() - back_at), interval=0.2)
            assert waited is not None, f"{url} did not work within {BACK_WITHIN} s of S3's return: {seen}"
        return time.monotonic() - back_at

    # (The clock starts when S3's port accepts connections, before weed is fully ready: the checks run in a
    # thread while this one starts weed, which must be this thread's child: weed stops when its parent
    # thread ends, see stack.processes.spawn.)
    outcome: list[Any] = []
    checks = threading.Thread(target=lambda: outcome.append(_outcome(service_returns)), name="s3-returns")
    checks.start()
    try:
        seaweed.start()
    finally:
        checks.join(120)
    assert outcome, "the checks after S3's return did not end"
    took = outcome[0]
    if isinstance(took, BaseException):
        raise took
    assert took < BACK_WITHIN, f"service took {took:.1f} s to come back: {statuses}"
    assert [replica.process.pid if replica.running else None for replica in fault_set] == pids, \
        "a server was restarted or died"
    print(f"S3 back: what each server answered after S3's port opened: {statuses}; all working after {took:.1f} s")


def _outcome(function: Callable[[], Any]) -> Any:
    """``function()``, or the exception it raised."""
    try:
        return function()
    except BaseException as error:  # handed to the test's thread
        return error
