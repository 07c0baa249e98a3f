"""Garbage collection of blobs: mark, collect after a grace period, sweep objects nothing refers to.

One pass (:func:`collect_garbage`, ``hatcher server gc``; a server also runs it every
``gc_interval`` seconds) runs on one replica at a time and

1. marks the blobs no artefact refers to (``unreferenced_since``), in case a change did not;
2. removes each blob unreferenced for longer than the grace period: under the digest's lock
   it checks again that nothing refers to it, deletes the row, commits, then deletes the object;
3. sweeps the objects that have no row, and the temporary files of interrupted uploads, older
   than the grace period and than :data:`LEFTOVER_MIN_AGE` (what an upload left when its process
   died, or a row's deletion whose object deletion failed). An upload in flight has such an
   object or file too, so a periodic pass never removes one younger than an hour, even with a
   grace period of 0; ``hatcher server gc --grace N`` uses N for them as well.

The grace period must exceed the lifetime of signed download URLs (a client may still be
fetching an object whose artefact was just deleted) and the longest upload (an upload's
object exists a moment before its row is committed).
"""

from __future__ import annotations

import time
from typing import Iterable, Optional

import attr
from sqlalchemy import bindparam, delete, exists, select, update
from sqlalchemy.orm import Session

from hatcher.server.db import Artefact, Blob, utcnow
from hatcher.server.services import Services

#: The least age (seconds) of an object without a row, or of a temporary file, that a periodic pass removes.
LEFTOVER_MIN_AGE = 3600

#: Digests or keys per query (well under every database's limit on bound parameters).
BATCH = 500

_REFERENCED = exists().where(Artefact.sha256 == Blob.sha256)


@attr.s(frozen=True)
class GcReport:
    """What one pass removed: blobs (digests), objects without a row (keys), temporary files."""

    blobs: tuple[str, ...] = attr.ib(default=())
    orphans: tuple[str, ...] = attr.ib(default=())
    temporary: int = attr.ib(default=0)
    #: Another replica was collecting: this pass did nothing.
    skipped: bool = attr.ib(default=False)


def _batches(values: list[str]) -> Iterable[list[str]]:
    for start in range(0, len(values), BATCH):
        yield values[start:start + BATCH]


def mark_unreferenced(db: Session, digests: Iterable[str]) -> None:
    """Start the grace period of those of these blobs no artefact refers to (in the caller's transaction)."""
    for batch in _batches(sorted(set(digests))):
        db.execute(update(Blob).where(Blob.sha256.in_(batch), Blob.unreferenced_since.is_(None), ~_REFERENCED)
                   .values(unreferenced_since=utcnow()).execution_options(synchronize_session=False))


def collect_blob(services: Services, sha256: str, grace: Optional[int] = None) -> bool:
    """Remove the blob ``sha256`` if nothing refers to it and its grace period is over; whether it was removed."""
    grace = services.grace if grace is None else grace
    with services.engine.connect() as connection, services.coordinator.removing(connection, sha256):
        with Session(bind=connection) as db:
            row = db.execute(select(Blob.key, Blob.unreferenced_since).where(Blob.sha256 == sha256)).first()
            if row is None:
                return False
            if db.scalar(select(exists().where(Artefact.sha256 == sha256))):
                if row.unreferenced_since is not None:  # referred to again: the grace period is void
                    db.execute(update(Blob).where(Blob.sha256 == sha256).values(unreferenced_since=None))
                    db.commit()
                return False
            now = utcnow()
            if grace > 0 and (row.unreferenced_since is None or (now - row.unreferenced_since).total_seconds() < grace):
                if row.unreferenced_since is None:
                    db.execute(update(Blob).where(Blob.sha256 == sha256).values(unreferenced_since=now))
                    db.commit()
                return False
            db.execute(delete(Blob).where(Blob.sha256 == sha256))
            db.commit()
        services.store.delete(row.key)  # after the commit; an object left by a failure here is swept later
    return True


def collect_blobs(services: Services, digests: Iterable[str], grace: Optional[int] = None) -> list[str]:
    """Collect each of these blobs (see :func:`collect_blob`); the digests removed."""
    return [sha256 for sha256 in sorted(set(digests)) if collect_blob(services, sha256, grace)]


def _sweep(services: Services, older_than: float) -> list[str]:
    """Delete the objects older than ``older_than`` that no blob row names."""
    removed: list[str] = []
    keys = list(services.store.objects(older_than))
    for batch in _batches(keys):
        with services.sessionmaker() as db:
            known = set(db.scalars(select(Blob.key).where(Blob.key.in_(batch))))
        for key in batch:
            if key in known:
                continue
            # File keys are content addresses: the digest's lock keeps out an upload publishing it now.
            with services.engine.connect() as connection, \
                    services.coordinator.removing(connection, key.rsplit("/", 1)[-1]):
                found = connection.scalar(select(Blob.sha256).where(Blob.key == bindparam("key")), {"key": key})
                connection.rollback()
                if found is None:
                    services.store.delete(key)
                    removed.append(key)
    return removed


def collect_garbage(services: Services, grace: Optional[int] = None, leftover_age: Optional[int] = None) -> GcReport:
    """One pass of garbage collection (see the module), unless another replica is running one.

    ``grace``: for unreferenced blobs (default: the server's); ``leftover_age``: for objects
    without a row and temporary files (default: the larger of ``grace`` and :data:`LEFTOVER_MIN_AGE`).
    """
    grace = services.grace if grace is None else grace
    leftover_age = max(grace, LEFTOVER_MIN_AGE) if leftover_age is None else leftover_age
    with services.coordinator.collecting() as acquired:
        if not acquired:
            return GcReport(skipped=True)
        with services.sessionmaker() as db:
            db.execute(update(Blob).where(Blob.unreferenced_since.is_(None), ~_REFERENCED)
                       .values(unreferenced_since=utcnow()).execution_options(synchronize_session=False))
            db.commit()
            candidates = list(db.scalars(select(Blob.sha256).where(Blob.unreferenced_since.is_not(None))))
        blobs = collect_blobs(services, candidates, grace)
        older_than = time.time() - leftover_age
        orphans = _sweep(services, older_than)
        temporary = services.store.sweep_temporary(older_than)
    return GcReport(tuple(blobs), tuple(orphans), temporary)
