"""Garbage collection of blobs on the file store: grace period, reuse, orphans, one collector, the command."""

from __future__ import annotations

import datetime
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable

import pytest
from artefact_kit import make_repo, sha256_of
from sqlalchemy import update

from hatcher.artefacts import builders
from hatcher.server.db import Blob
from hatcher.server.gc import collect_garbage
from hatcher.server.runner import EmbeddedBrood


@pytest.fixture
def graceful(tmp_path: Path):
    """A server whose blobs stay an hour after their last artefact went, and that never collects by itself."""
    with EmbeddedBrood(str(tmp_path / "data"), gc_grace=3600, gc_interval=0) as brood:
        yield brood


def _blob(brood: EmbeddedBrood, sha256: str) -> Any:
    with brood.app.state.sessionmaker() as db:
        return db.get(Blob, sha256)


def _age(brood: EmbeddedBrood, sha256: str, seconds: int) -> None:
    """Make the blob look unreferenced for ``seconds`` already."""
    with brood.app.state.sessionmaker() as db:
        db.execute(update(Blob).where(Blob.sha256 == sha256).values(
            unreferenced_since=datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
            - datetime.timedelta(seconds=seconds)))
        db.commit()


def _uploaded_and_deleted(brood: EmbeddedBrood, unique: Callable[[str], str], tmp_path: Path) -> tuple[Any, str, str]:
    """Upload an egg to a new repository, then delete it; ``(its platform, the egg's path, its sha256)``."""
    platform = make_repo(brood, unique, 1).platform()
    egg = builders.build_egg(str(tmp_path))
    platform.upload_egg(egg)
    platform.delete_egg("cp27", "dummy", "1.0.1-1")
    return platform, egg, sha256_of(egg)


def test_a_deleted_artefacts_blob_stays_for_the_grace_period(graceful: EmbeddedBrood, unique: Callable[[str], str],
                                                             tmp_path: Path) -> None:
    # Given an egg uploaded, then deleted
    _, _, digest = _uploaded_and_deleted(graceful, unique, tmp_path)
    # Then its blob is kept, marked unreferenced, and a pass within the grace period keeps it
    assert _blob(graceful, digest).unreferenced_since is not None
    assert collect_garbage(graceful.app.state.services).blobs == ()
    assert graceful.app.state.store.exists(digest)
    # When the grace period is over / Then a pass removes the row and the file
    _age(graceful, digest, 3601)
    assert collect_garbage(graceful.app.state.services).blobs == (digest,)
    assert _blob(graceful, digest) is None and not graceful.app.state.store.exists(digest)


def test_an_upload_within_the_grace_period_reuses_the_blob(graceful: EmbeddedBrood, unique: Callable[[str], str],
                                                           tmp_path: Path) -> None:
    # Given an egg deleted long ago (its grace period over, but not collected yet)
    platform, egg, digest = _uploaded_and_deleted(graceful, unique, tmp_path)
    _age(graceful, digest, 7200)
    # When the same content is uploaded again
    platform.upload_egg(egg)
    # Then the blob is referenced again, and a pass keeps it
    assert _blob(graceful, digest).unreferenced_since is None
    assert collect_garbage(graceful.app.state.services).blobs == ()
    out = tmp_path / "out"
    out.mkdir()
    platform.download_egg("cp27", "dummy", "1.0.1-1", str(out))
    assert sha256_of(str(out / "dummy-1.0.1-1.egg")) == digest


def test_objects_and_temporary_files_without_a_row_are_swept_once_older_than_the_grace_period(
        graceful: EmbeddedBrood) -> None:
    # Given blob files no row names, and a received file an interrupted upload left, old and new
    store = graceful.app.state.store
    old, new = "ab" + "0" * 62, "ab" + "1" * 62
    for sha256 in (old, new):
        os.makedirs(os.path.dirname(store.path(sha256)), exist_ok=True)
        Path(store.path(sha256)).write_bytes(b"orphan")
    partial = Path(store.tmp_dir) / "upload-left.partial"
    partial.write_bytes(b"partial")
    two_hours_ago = time.time() - 7200
    os.utime(store.path(old), (two_hours_ago, two_hours_ago))
    os.utime(partial, (two_hours_ago, two_hours_ago))
    # When a pass runs / Then the old ones are gone, the new one (maybe an upload being committed) stays
    report = collect_garbage(graceful.app.state.services)
    assert report.orphans == (f"ab/{old}",) and report.temporary == 1
    assert not os.path.exists(store.path(old)) and os.path.exists(store.path(new)) and not partial.exists()


def test_one_collector_at_a_time(graceful: EmbeddedBrood) -> None:
    # Given a collector already running
    services = graceful.app.state.services
    with services.coordinator.collecting() as first:
        assert first
        # When another pass starts / Then it does nothing and says so
        assert collect_garbage(services).skipped
    assert not collect_garbage(services).skipped


def test_the_gc_command_prints_what_it_removed(tmp_path: Path, unique: Callable[[str], str]) -> None:
    # Given a stopped server's data directory with a blob unreferenced for a while
    data = tmp_path / "data"
    with EmbeddedBrood(str(data), gc_grace=3600, gc_interval=0) as brood:
        _, egg, digest = _uploaded_and_deleted(brood, unique, tmp_path)
        _age(brood, digest, 100)
    # When `hatcher server gc` runs with a shorter grace period
    result = subprocess.run([sys.executable, "-m", "hatcher", "server", "gc", "--data-dir", str(data), "--grace", "60"],
                            capture_output=True, text=True, timeout=120)
    # Then it removed the blob, and says so
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        f"removed blob {sha256_of(egg)}",
        "Removed 1 blob(s), 0 object(s) without a blob and 0 temporary file(s) (grace period: 60 s)."]


def _upload_into(repo: Any, egg: str, errors: list[BaseException]) -> None:
    try:
        repo.platform().upload_egg(egg)
    except BaseException as exc:  # noqa: BLE001 - reported by the test
        errors.append(exc)


def test_deleting_a_repository_while_its_content_is_uploaded_elsewhere_keeps_the_blob(
        brood: EmbeddedBrood, unique: Callable[[str], str], tmp_path: Path) -> None:
    # Given the same egg in a repository about to be deleted, and a second repository (grace 0: removed at once)
    egg = builders.build_egg(str(tmp_path))
    digest = sha256_of(egg)
    for attempt in range(20):
        doomed, kept = make_repo(brood, unique, 1), make_repo(brood, unique, 1)
        doomed.platform().upload_egg(egg)
        # When the first is deleted while the egg is uploaded to the second
        errors: list[BaseException] = []
        uploader = threading.Thread(target=_upload_into, args=(kept, egg, errors))
        uploader.start()
        doomed.handle.delete(force=True)
        uploader.join(60)
        # Then the upload succeeded and its blob is there, whole
        assert not errors, errors
        out = tmp_path / f"out-{attempt}"
        out.mkdir()
        kept.platform().download_egg("cp27", "dummy", "1.0.1-1", str(out))
        assert sha256_of(str(out / "dummy-1.0.1-1.egg")) == digest
        kept.platform().delete_egg("cp27", "dummy", "1.0.1-1")


def test_with_no_grace_a_periodic_pass_still_leaves_what_an_upload_in_flight_may_have(
        graceful: EmbeddedBrood) -> None:
    # Given an object no row names, 30 minutes old (an upload may be about to commit it), and a received file
    store = graceful.app.state.store
    orphan = "cd" + "2" * 62
    os.makedirs(os.path.dirname(store.path(orphan)), exist_ok=True)
    Path(store.path(orphan)).write_bytes(b"orphan")
    partial = Path(store.tmp_dir) / "upload-in-flight.partial"
    partial.write_bytes(b"partial")
    half_an_hour_ago = time.time() - 1800
    os.utime(store.path(orphan), (half_an_hour_ago, half_an_hour_ago))
    os.utime(partial, (half_an_hour_ago, half_an_hour_ago))
    # When a pass runs with a grace period of 0 / Then both stay: leftovers go after an hour at the least
    report = collect_garbage(graceful.app.state.services, grace=0)
    assert f"cd/{orphan}" not in report.orphans and os.path.exists(store.path(orphan)) and partial.exists()
    # When the admin asks for leftovers of any age (hatcher server gc --grace 0) / Then they go
    report = collect_garbage(graceful.app.state.services, grace=0, leftover_age=0)
    assert f"cd/{orphan}" in report.orphans and not os.path.exists(store.path(orphan)) and not partial.exists()
