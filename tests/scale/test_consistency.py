"""Three replicas on one database and one bucket behave as one server: what one does, the others see at once.

Every request goes to one replica's own URL (never through nginx), so each check names the
replica that answered. The replicas are the session's ``replica_set`` (``A``, ``B``, ``C`` below).
"""

from __future__ import annotations

import functools
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from scale_kit import (
    V1,
    Egg,
    at_once,
    bearer,
    blob_keys,
    call,
    create_repository,
    egg_index_pairs,
    is_json_error,
    prefix_of,
    query,
    session_token,
    stored_objects,
    unique,
    wait_for,
)
from stack import ReplicaSet, SeaweedS3

#: An endpoint every signed-in user may call, answered from the database: the caller's repositories.
WHO_AM_I = f"{V1}/metadata/user/repositories"
#: How soon a revocation must reach every replica, and how long we watch before giving up.
DEADLINE = 1.0
WATCH = 5.0


def refused_within(url: str, watch: float = WATCH, **request: Any) -> float:
    """Seconds until ``GET WHO_AM_I`` on ``url`` with these credentials answers 401 (inf if not within ``watch``)."""
    waited = wait_for(lambda: call(url, "GET", WHO_AM_I, **request).status_code == 401, watch, interval=0.01)
    return float("inf") if waited is None else waited


def set_password(database_url: str, email: str, password: str) -> None:
    """``hatcher server set-password`` on the replicas' database (the server has no HTTP call for it)."""
    done = subprocess.run([sys.executable, "-m", "hatcher", "server", "set-password", "--database-url", database_url,
                           email], input=f"{password}\n", capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"hatcher server set-password failed: {done.stdout}{done.stderr}"


def test_an_upload_on_one_replica_is_indexed_by_another_at_once_and_a_delete_on_one_is_a_404_on_a_third(
        replica_set: ReplicaSet, tmp_path: Path) -> None:
    """An egg uploaded on A is in B's index on the very next request; deleted on B, C answers 404 at once.

    No replica keeps an index or an artefact lookup that another replica's write leaves stale.
    """
    a, b, c = replica_set.urls
    # Given a repository made on C, and an egg
    organization, repository = create_repository(c)
    egg = Egg(tmp_path, unique("consistent").replace("-", "_"))
    assert egg_index_pairs(b, organization, repository) == [], "a new repository has an empty index"
    # When the egg is uploaded to A
    uploaded = egg.upload(a, organization, repository)
    assert uploaded.status_code == 201, f"upload to A: {uploaded.status_code} {uploaded.text}"
    # Then B's index lists it on the next request (no sleep), with its sha256
    index = dict(egg_index_pairs(b, organization, repository))
    assert list(index) == [egg.filename], f"B's index right after the upload to A: {sorted(index)}"
    assert index[egg.filename]["sha256"] == egg.sha256, "B's index entry has the wrong sha256"
    # And C serves its bytes
    served = egg.download(c, organization, repository)
    assert served.status_code == 200 and served.content == egg.data, \
        f"download from C after the upload to A: {served.status_code}, {len(served.content)} bytes"
    # When B deletes it
    deleted = call(b, "DELETE", egg.download_path(organization, repository))
    assert deleted.status_code == 204, f"delete on B: {deleted.status_code} {deleted.text}"
    # Then C answers 404 (a JSON error) for its download on the next request, and A's index is empty
    gone = egg.download(c, organization, repository)
    assert gone.status_code == 404 and is_json_error(gone), \
        f"download from C right after the delete on B: {gone.status_code} {gone.text[:300]}"
    assert egg_index_pairs(a, organization, repository) == [], "A's index still lists the egg deleted on B"


def test_an_api_token_deleted_on_one_replica_is_refused_by_the_others_within_a_second(
        replica_set: ReplicaSet) -> None:
    """An API token deleted on A gets 401 from B and C within a second (measured from the 204 of the delete)."""
    a, b, c = replica_set.urls
    # Given an API token made on A, and B and C accepting it (each has seen it once)
    name = unique("revoked")
    made = call(a, "POST", f"{V1}/auth/tokens/api", json={"name": name})
    assert made.status_code == 201, f"creating an API token on A: {made.status_code} {made.text}"
    token = made.json()["token"]
    for url in (b, c):
        answer = call(url, "GET", WHO_AM_I, auth=None, headers=bearer(token))
        assert answer.status_code == 200, f"{url} refuses a fresh API token: {answer.status_code} {answer.text}"
    # When A deletes it
    deleted = call(a, "DELETE", f"{V1}/auth/tokens/api/{name}")
    assert deleted.status_code == 204, f"deleting the API token on A: {deleted.status_code} {deleted.text}"
    revoked_at = time.monotonic()
    # Then B and C refuse it with 401 within a second
    waits = {url: refused_within(url, auth=None, headers=bearer(token)) for url in (b, c)}
    since_delete = time.monotonic() - revoked_at
    assert all(waited < DEADLINE for waited in waits.values()) and since_delete < DEADLINE + 0.5, \
        f"seconds until B and C refused the deleted API token: {waits} (deadline {DEADLINE} s)"
    assert call(a, "GET", WHO_AM_I, auth=None, headers=bearer(token)).status_code == 401, "A accepts it still"


def test_a_new_password_ends_the_old_password_and_the_session_tokens_on_every_replica_within_a_second(
        replica_set: ReplicaSet) -> None:
    """After a password change, the old password and the user's session tokens get 401 from B and C within 1 s.

    B and C have both credentials in their caches when the password changes (a session token is
    cached up to 30 s, a checked password up to 60 s): only the invalidation that the change sends
    through PostgreSQL (NOTIFY) can make them refuse it that soon. The server has no HTTP call
    that sets a password: it is set with ``hatcher server set-password`` on the shared database,
    as an operator would on A's machine.
    """
    a, b, c = replica_set.urls
    # Given a user with a password, and a session token that user got from A
    organization, _ = create_repository(a)
    email = f"{unique('user')}@example.org"
    added = call(a, "POST", f"{V1}/admin/organizations/{organization}/users", json={"email": email})
    assert added.status_code == 201, f"adding a user on A: {added.status_code} {added.text}"
    old, new = unique("old-password"), unique("new-password")
    set_password(replica_set.database_url, email, old)
    session = session_token(a, (email, old))
    # And B and C accepting both (so that both sit in their caches)
    for url in (b, c):
        for credentials in ({"auth": (email, old)}, {"auth": None, "headers": bearer(session)}):
            answer = call(url, "GET", WHO_AM_I, **credentials)
            assert answer.status_code == 200, f"{url} refuses {credentials}: {answer.status_code} {answer.text}"
    # When the password is changed
    set_password(replica_set.database_url, email, new)
    changed_at = time.monotonic()
    # Then B and C refuse the session token and the old password within a second
    waits = {}
    for url in (b, c):
        waits[f"{url} session token"] = refused_within(url, auth=None, headers=bearer(session))
        waits[f"{url} old password"] = refused_within(url, auth=(email, old))
    since_change = time.monotonic() - changed_at
    assert all(waited < DEADLINE for waited in waits.values()) and since_change < DEADLINE + 0.5, \
        f"seconds until the replicas refused the revoked credentials: {waits} (deadline {DEADLINE} s)"
    # And the new password works on every replica
    for url in (a, b, c):
        answer = call(url, "GET", WHO_AM_I, auth=(email, new))
        assert answer.status_code == 200, f"{url} refuses the new password: {answer.status_code} {answer.text}"


@pytest.mark.parametrize("payload_size", [0, 600_000], ids=["received-whole", "streamed-to-s3"])
def test_concurrent_identical_uploads_to_two_replicas_store_the_egg_once(
        replica_set: ReplicaSet, seaweed: SeaweedS3, tmp_path: Path, payload_size: int) -> None:
    """The same egg sent to A and B at the same moment: one 201, one 409, and one artefact and one blob.

    Ten rounds, each on a fresh repository, the two uploads released together by a barrier. A
    small egg is received whole before it is stored; a larger one (over 256 KiB) is streamed to an
    S3 object of its own as it arrives, and the losing upload's object must be deleted.
    """
    a, b, c = replica_set.urls
    database_url, prefix = replica_set.database_url, prefix_of(replica_set)
    # Given an egg whose content the server has never seen
    egg = Egg(tmp_path, unique("twin").replace("-", "_"), payload_size=payload_size)
    bodies = [egg.upload_body(), egg.upload_body()]
    objects_before = stored_objects(seaweed, prefix)
    for round_number in range(10):
        organization, repository = create_repository(c)
        # When it is uploaded to A and B at once
        answers = dict(zip((a, b), at_once(
            *(functools.partial(egg.upload, url, organization, repository, body=body)
              for url, body in zip((a, b), bodies)))))
        # Then one gets 201 and the other a JSON 409
        statuses = sorted(answer.status_code for answer in answers.values())
        assert statuses == [201, 409], f"round {round_number}: statuses {statuses}: " + \
            "; ".join(f"{url}: {answer.text[:200]}" for url, answer in answers.items())
        loser = next(answer for answer in answers.values() if answer.status_code == 409)
        assert is_json_error(loser) and "already exists" in loser.json()["error"], \
            f"round {round_number}: the 409 is not the duplicate error: {loser.text}"
        # And C lists the egg once (in the JSON text itself), and the database holds one artefact row
        pairs = egg_index_pairs(c, organization, repository)
        assert [name for name, _ in pairs] == [egg.filename], f"round {round_number}: C's index lists {pairs}"
        rows = query(database_url, "SELECT count(*) FROM artefacts a JOIN repositories r ON r.id = a.repository_id "
                                   "JOIN organizations o ON o.id = r.organization_id WHERE o.name = %s", organization)
        assert rows == [(1,)], f"round {round_number}: {rows[0][0]} artefact rows for one egg"
        served = egg.download(c, organization, repository)
        assert served.status_code == 200 and served.content == egg.data, \
            f"round {round_number}: download from C: {served.status_code}, {len(served.content)} bytes"
    # And the content is stored once: one blob row, and no object of a losing upload left behind
    keys = [key for key, sha256 in blob_keys(database_url).items() if sha256 == egg.sha256]
    assert len(keys) == 1, f"blob rows of the egg's digest: {keys}"
    new_objects = stored_objects(seaweed, prefix) - objects_before
    assert new_objects == set(keys), f"objects added under {prefix}: {sorted(new_objects)}; the blob's key: {keys}"
