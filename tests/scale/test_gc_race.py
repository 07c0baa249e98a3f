"""Garbage collection racing an upload: a repository deleted on one replica while its egg is uploaded elsewhere.

The two servers remove a blob as soon as nothing refers to it (``--gc-grace 0``): deleting the
only repository that holds an egg removes the egg's blob row and object at once, on the server
that deleted it. An upload of the same content to another repository, on the other server, at
the same moment, must end with an intact egg: it either reuses the blob before the removal
looks (and the removal then keeps it), or comes after the removal and stores its own bytes.
"""

from __future__ import annotations

import random
import time
from pathlib import Path
from typing import Iterator

import pytest
from scale_kit import (
    V1,
    Egg,
    at_once,
    blob_keys,
    call,
    create_repository,
    dedicated_replicas,
    prefix_of,
    run_gc,
    stored_objects,
)
from stack import PostgresCluster, ReplicaSet, SeaweedS3

ROUNDS = 50


@pytest.fixture(scope="module")
def gc_set(postgres: PostgresCluster, seaweed: SeaweedS3,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[ReplicaSet]:
    """Two servers of this module's own that remove unreferenced blobs at once; no background collection.

    (A background pass with no grace period would also sweep the object of an upload that is not
    committed yet: the grace period must exceed the longest upload, see ``hatcher.server.gc``.)
    """
    with dedicated_replicas(postgres, seaweed, tmp_path_factory.mktemp("gc-race"), "gc_race", 2,
                            ["--gc-grace", "0", "--gc-interval", "0"]) as replicas:
        yield replicas


def test_an_egg_uploaded_while_another_repository_holding_it_is_deleted_stays_intact(
        gc_set: ReplicaSet, seaweed: SeaweedS3, tmp_path: Path) -> None:
    """50 rounds of: egg X in r1 (via A); delete r1 on A and upload X to r2 on B at once; X in r2 is intact.

    Each round has an egg of its own (every other one large enough to be streamed to S3 as it
    arrives), and one side of the race is held back by a random 0-30 ms. After the rounds, a
    ``hatcher server gc --grace 0`` pass keeps every egg of r2, and leaves exactly the objects of
    the blob rows under the prefix.
    """
    a, b = gc_set.urls
    rng = random.Random(20240611)
    survivors: list[tuple[str, Egg]] = []
    outcomes = {True: 0, False: 0}  # the blob was kept (reused by the upload) / removed, then stored again
    started = time.monotonic()
    for round_number in range(ROUNDS):
        # Given an egg in repository r1 of an organization that also has an empty r2
        organization, _ = create_repository(a, repository="r1")
        create_repository(b, organization, "r2")
        egg = Egg(tmp_path / str(round_number), f"raced{round_number}",
                  payload_size=300_000 if round_number % 2 else 2_000)
        uploaded = egg.upload(a, organization, "r1")
        assert uploaded.status_code == 201, f"round {round_number}: upload to r1: {uploaded.text}"
        key_before = _key_of(gc_set, egg.sha256)
        delay = rng.uniform(0, 0.03)
        delete_first = bool(round_number % 4 < 2)

        def delete_r1(delay: float = delay if not delete_first else 0.0,
                      organization: str = organization) -> int:
            time.sleep(delay)
            return call(a, "DELETE", f"{V1}/admin/repositories/{organization}/r1?force=true").status_code

        def upload_r2(delay: float = delay if delete_first else 0.0, organization: str = organization,
                      egg: Egg = egg) -> int:
            time.sleep(delay)
            return egg.upload(b, organization, "r2").status_code

        # When r1 is deleted on A while the same egg is uploaded to r2 on B
        deleted, uploaded_again = at_once(delete_r1, upload_r2)
        assert (deleted, uploaded_again) == (204, 201), \
            f"round {round_number}: delete of r1 answered {deleted}, upload to r2 answered {uploaded_again}"
        # Then the egg of r2 downloads intact from either server
        for url in (a, b):
            served = egg.download(url, organization, "r2")
            assert served.status_code == 200 and served.content == egg.data, \
                f"round {round_number}: r2's egg from {url}: {served.status_code}, {served.text[:200]!r}"
        survivors.append((organization, egg))
        outcomes[_key_of(gc_set, egg.sha256) == key_before] += 1
    rounds_took = time.monotonic() - started
    assert outcomes[True] and outcomes[False], f"the race always went one way: {outcomes} (reused/removed first)"
    # When a garbage-collection pass runs with no grace period
    collected = run_gc(gc_set, grace=0)
    assert collected.returncode == 0, f"hatcher server gc failed: {collected.stdout}{collected.stderr}"
    # Then every egg of r2 still downloads intact, from either server
    for organization, egg in survivors:
        for url in (a, b):
            served = egg.download(url, organization, "r2")
            assert served.status_code == 200 and served.content == egg.data, \
                f"{egg.filename} of {organization}/r2 from {url} after gc: {served.status_code} {served.text[:200]!r}"
    # And the bucket holds exactly the objects of the blob rows, one per egg
    rows = blob_keys(gc_set.database_url)
    assert sorted(rows.values()) == sorted(egg.sha256 for _, egg in survivors), \
        f"blob rows after gc: {len(rows)} for {len(survivors)} eggs"
    objects = stored_objects(seaweed, prefix_of(gc_set))
    assert objects == set(rows), f"objects without a row: {sorted(objects - set(rows))}; " \
        f"rows without an object: {sorted(set(rows) - objects)}"
    print(f"{ROUNDS} rounds in {rounds_took:.1f} s: the upload reused the blob {outcomes[True]} times, stored it "
          f"again after its removal {outcomes[False]} times; gc: {collected.stdout.strip().splitlines()[-1]}")


def _key_of(replicas: ReplicaSet, sha256: str) -> str:
    """The object key of the blob row of ``sha256``."""
    return next(key for key, digest in blob_keys(replicas.database_url).items() if digest == sha256)
