"""Storing and deleting artefacts: blob and artefact rows committed together, duplicates refused.

Nothing here knows about HTTP requests; the route modules call these functions (in a
worker thread) and turn :class:`~hatcher.server.errors.ApiError` into JSON answers.
"""

from __future__ import annotations

import secrets
import time
from typing import Any, Optional

import attr
from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from hatcher.server import audit
from hatcher.server.blobstore import BlobStore, Digests, Writer
from hatcher.server.db import Artefact, Blob, Repository, utcnow
from hatcher.server.errors import ApiError
from hatcher.server.gc import collect_blob, collect_blobs, mark_unreferenced
from hatcher.server.ingest import APP, BUNDLE, EGG, RUNTIME, RUNTIME_V0, ParsedArtefact
from hatcher.server.services import Services

# -- storing ----------------------------------------------------------------------------

_REPOSITORIES = Repository.__table__
_ARTEFACTS = Artefact.__table__
_BLOBS = Blob.__table__
#: Statements built once (their compiled forms are cached): the hot path of every upload.
_BUMP = (update(_REPOSITORIES)
         .where(_REPOSITORIES.c.id == bindparam("repository"), _REPOSITORIES.c.generation != bindparam("new"))
         .values(generation=bindparam("new")))
_INSERT = insert(_ARTEFACTS)
_UPDATE = update(_ARTEFACTS).where(_ARTEFACTS.c.id == bindparam("row"))


def bump_generation(db: Session, repository_id: int) -> None:
    """Give the repository a new generation (an opaque change stamp, never reused in practice).

    A random value rather than ``+1``: a repository deleted and re-created under the same
    row id starts at 0 again, and an incremented counter would meet its old values in the
    index cache. One ``UPDATE``, no read: it matches no row only when the repository is
    gone (404), or, once in 2**31, when the new value happens to be the current one.
    """
    while True:
        new = secrets.randbelow(2 ** 31 - 2) + 1
        if db.execute(_BUMP, {"repository": repository_id, "new": new}).rowcount:  # type: ignore[attr-defined]
            for repository in db.identity_map.values():  # keep a loaded Repository up to date
                if isinstance(repository, Repository) and repository.id == repository_id:
                    set_committed_value(repository, "generation", new)
            return
        if db.scalar(select(Repository.id).where(Repository.id == repository_id)) is None:
            raise ApiError(404, "The repository was deleted")


def repository_digests(db: Session, repository_id: int) -> set[str]:
    """The sha256 of every artefact of a repository (one query, no ORM objects)."""
    return set(db.scalars(select(Artefact.sha256).where(Artefact.repository_id == repository_id).distinct()))


def _identity(repository_id: int, parsed: ParsedArtefact) -> Any:
    return (Artefact.repository_id == repository_id, Artefact.kind == parsed.kind,
            Artefact.platform == parsed.platform, Artefact.key == parsed.key,
            Artefact.name == parsed.name, Artefact.version == parsed.version)


def _describe(parsed: ParsedArtefact) -> str:
    what = {EGG: "egg", RUNTIME_V0: "runtime", RUNTIME: "runtime", APP: "app", BUNDLE: "bundle"}[parsed.kind]
    label = parsed.filename if parsed.kind in (EGG, RUNTIME, RUNTIME_V0) else f"{parsed.name} {parsed.version}"
    return f"The {what} {label} ({parsed.key}) already exists on {parsed.platform}; use overwrite to replace it"


_BLOB = select(_BLOBS.c.unreferenced_since).where(_BLOBS.c.sha256 == bindparam("sha256"))
_ADD_BLOB = insert(_BLOBS)
_KEEP_BLOB = update(_BLOBS).where(_BLOBS.c.sha256 == bindparam("blob")).values(unreferenced_since=None)


def _attach_blob(db: Session, store: BlobStore, writer: Writer, digests: Digests) -> Optional[str]:
    """Give the upload a blob row: reuse the digest's row, or publish the upload and add one.

    Returns the key published by this call (None when an existing blob was reused: the
    upload's own bytes are then discarded after the commit). Call under the digest's lock.
    """
    sha256, md5, size = digests
    row = db.execute(_BLOB, {"sha256": sha256}).first()
    if row is not None:
        if row.unreferenced_since is not None:
            db.execute(_KEEP_BLOB, {"blob": sha256})
        return None
    key = store.publish(writer, sha256)
    db.execute(_ADD_BLOB, {"sha256": sha256, "key": key, "md5": md5, "size": size, "created": utcnow(),
                           "unreferenced_since": None})
    return key


@attr.s(frozen=True)
class Uploader:
    """Who changes a repository's artefacts, from where, and which repository: for the audit log."""

    actor: str = attr.ib()
    address: Optional[str] = attr.ib()
    organization: str = attr.ib()
    repository: str = attr.ib()  # ``org/repo``

    def record(self, db: Session, kind: str, verb: str, platform: str, filename: str, **detail: Any) -> None:
        """Add the audit event ``KIND.VERB`` on ``org/repo/platform/filename`` to ``db``'s transaction."""
        audit.record(db, f"{audit.KIND_SUBJECTS[kind]}.{verb}", f"{self.repository}/{platform}/{filename}",
                     actor=self.actor, address=self.address, organization=self.organization,
                     detail=detail or None)


def store_artefact(services: Services, repository_id: int, parsed: ParsedArtefact, writer: Writer,
                   digests: Digests, overwrite: bool, enabled: bool, uploader: Optional[Uploader] = None) -> None:
    """Commit the blob row, the artefact row and the repository's new generation in one transaction.

    Under the digest's lock (:meth:`~hatcher.server.coordination.Coordinator.committing`) an
    existing blob of the same content is reused, or the upload is published and becomes
    the blob. The database's unique constraint decides between concurrent uploads of one
    identity: the loser gets 409. After the commit the upload's own bytes are discarded
    when an existing blob was reused, and the blob an overwrite replaced starts its grace
    period (or is removed at once, with no grace period).
    """
    sha256, md5, size = digests
    fields = {"filename": parsed.filename, "sha256": sha256, "md5": md5, "size": size, "enabled": enabled,
              "mtime": time.time(), "document": parsed.document}
    store = services.store
    with services.sessionmaker() as db:
        with services.coordinator.committing(db, sha256):
            published = None
            try:
                existing = db.execute(select(Artefact.id, Artefact.sha256).where(*_identity(repository_id, parsed))
                                      ).first() if overwrite else None
                published = _attach_blob(db, store, writer, digests)
                if existing is not None:
                    db.execute(_UPDATE, {"row": existing.id, **fields})  # SET: the keys of ``fields``
                else:
                    db.execute(_INSERT, {"repository_id": repository_id, "kind": parsed.kind,
                                         "platform": parsed.platform, "key": parsed.key, "name": parsed.name,
                                         "version": parsed.version, **fields})
                replaced = existing.sha256 if existing is not None and existing.sha256 != sha256 else None
                if replaced is not None:
                    mark_unreferenced(db, [replaced])
                bump_generation(db, repository_id)
                if uploader is not None:
                    uploader.record(db, parsed.kind, "overwrite" if existing is not None else "upload",
                                    parsed.platform, parsed.filename, sha256=sha256, size=size, enabled=enabled)
                db.commit()
            except BaseException as exc:
                if published is not None:
                    try:
                        store.delete(published)  # still under the lock: no other upload can have reused it
                    except Exception:  # noqa: BLE001 - an object without a row is swept by garbage collection
                        pass
                db.rollback()
                if isinstance(exc, IntegrityError):
                    raise ApiError(409, _describe(parsed)) from None
                raise
    writer.discard()  # a no-op when the upload became the blob
    if replaced is not None and services.grace == 0:
        collect_blob(services, replaced)


def delete_artefact(services: Services, artefact_id: int, uploader: Optional[Uploader] = None) -> None:
    """Delete one artefact row; its blob starts its grace period if nothing else refers to it."""
    with services.sessionmaker() as db:
        row = db.execute(select(Artefact.sha256, Artefact.repository_id, Artefact.kind, Artefact.platform,
                                Artefact.filename).where(Artefact.id == artefact_id)).first()
        if row is None:
            raise ApiError(404, "Not Found")
        db.execute(delete(Artefact).where(Artefact.id == artefact_id))
        bump_generation(db, row.repository_id)
        mark_unreferenced(db, [row.sha256])
        if uploader is not None:
            uploader.record(db, row.kind, "delete", row.platform, row.filename)
        db.commit()
    if services.grace == 0:
        collect_blob(services, row.sha256)


def delete_repository(services: Services, repository_id: int, force: bool, full_name: str,
                      uploader: Optional[Uploader] = None) -> None:
    """Delete a repository and its artefacts; 409 when it holds artefacts and ``force`` is false.

    The blobs only it referred to start their grace period (or are removed at once, with none).
    """
    with services.sessionmaker() as db:
        digests = repository_digests(db, repository_id)
        if digests and not force:
            raise ApiError(409, f"Repository '{full_name}' is not empty; delete it with force=True")
        db.execute(delete(Repository).where(Repository.id == repository_id))  # artefacts: ON DELETE CASCADE
        mark_unreferenced(db, digests)
        if uploader is not None:
            audit.record(db, "repository.delete", full_name, actor=uploader.actor, address=uploader.address,
                         organization=uploader.organization, detail={"force": force})
        db.commit()
    if services.grace == 0:
        collect_blobs(services, digests)


def find_artefact(db: Session, repository_id: int, kind: str, platform: str, key: str, name: str,
                  version: str) -> Optional[Artefact]:
    """The artefact with this identity, or None."""
    return db.scalar(select(Artefact).where(
        Artefact.repository_id == repository_id, Artefact.kind == kind, Artefact.platform == platform,
        Artefact.key == key, Artefact.name == name, Artefact.version == version))


# -- metadata and index entries ---------------------------------------------------------------
