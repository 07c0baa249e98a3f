"""Storing artefacts: blobs and rows committed together, duplicates refused, unreferenced blobs collected.

Nothing here knows about HTTP requests; the route modules call these functions (in a
worker thread) and turn :class:`~hatcher.server.errors.ApiError` into JSON answers.
"""

from __future__ import annotations

import secrets
import time
from typing import Any, Optional

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.attributes import set_committed_value

from hatcher.server.db import Artefact, Repository
from hatcher.server.errors import ApiError
from hatcher.server.ingest import APP, BUNDLE, EGG, RUNTIME, RUNTIME_V0, ParsedArtefact
from hatcher.server.store import BlobStore, IncomingBlob

# -- storing ----------------------------------------------------------------------------

_REPOSITORIES = Repository.__table__
_ARTEFACTS = Artefact.__table__
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


def collect_blob(db: Session, store: BlobStore, sha256: str) -> None:
    """Remove the blob ``sha256`` unless an artefact still refers to it (call under ``store.lock``)."""
    if not db.scalar(select(func.count()).select_from(Artefact).where(Artefact.sha256 == sha256)):
        store.remove(sha256)


#: Digests looked up per query when collecting many blobs (well under SQLite's 32,766 bound parameters).
_COLLECT_BATCH = 500


def repository_digests(db: Session, repository_id: int) -> set[str]:
    """The sha256 of every artefact of a repository (one query, no ORM objects)."""
    return set(db.scalars(select(Artefact.sha256).where(Artefact.repository_id == repository_id).distinct()))


def collect_blobs(make_session: sessionmaker[Session], store: BlobStore, sha256s: Any) -> None:
    """Remove each of these blobs that no artefact refers to any more (e.g. after deleting a repository).

    One query per :data:`_COLLECT_BATCH` digests finds those still referred to; the blob
    lock is held per batch, so uploads wait for one batch at most, not the whole collection.
    """
    digests = sorted(set(sha256s))
    with make_session() as db:
        for start in range(0, len(digests), _COLLECT_BATCH):
            batch = digests[start:start + _COLLECT_BATCH]
            with store.lock:
                kept = set(db.scalars(select(Artefact.sha256).where(Artefact.sha256.in_(batch)).distinct()))
                db.rollback()  # end the read transaction: the next batch sees uploads committed meanwhile
                for sha256 in batch:
                    if sha256 not in kept:
                        store.remove(sha256)


def _identity(repository_id: int, parsed: ParsedArtefact) -> Any:
    return (Artefact.repository_id == repository_id, Artefact.kind == parsed.kind,
            Artefact.platform == parsed.platform, Artefact.key == parsed.key,
            Artefact.name == parsed.name, Artefact.version == parsed.version)


def _describe(parsed: ParsedArtefact) -> str:
    what = {EGG: "egg", RUNTIME_V0: "runtime", RUNTIME: "runtime", APP: "app", BUNDLE: "bundle"}[parsed.kind]
    label = parsed.filename if parsed.kind in (EGG, RUNTIME, RUNTIME_V0) else f"{parsed.name} {parsed.version}"
    return f"The {what} {label} ({parsed.key}) already exists on {parsed.platform}; use overwrite to replace it"


def store_artefact(make_session: sessionmaker[Session], store: BlobStore, repository_id: int,
                   parsed: ParsedArtefact, incoming: IncomingBlob, digests: tuple[str, str, int],
                   overwrite: bool, enabled: bool) -> None:
    """Commit the blob, then the row (insert, or update with ``overwrite``); 409 for a duplicate.

    The database's unique constraint decides between concurrent uploads of one identity:
    the loser gets 409 and its blob is removed unless something else refers to it.
    """
    sha256, md5, size = digests
    fields = {"filename": parsed.filename, "sha256": sha256, "md5": md5, "size": size, "enabled": enabled,
              "mtime": time.time(), "document": parsed.document}
    with store.lock, make_session() as db:
        existing = db.execute(select(Artefact.id, Artefact.sha256).where(*_identity(repository_id, parsed))
                              ).first() if overwrite else None
        store.commit(incoming, sha256)
        try:
            if existing is not None:
                db.execute(_UPDATE, {"row": existing.id, **fields})  # SET: the keys of ``fields``
            else:
                db.execute(_INSERT, {"repository_id": repository_id, "kind": parsed.kind, "platform": parsed.platform,
                                     "key": parsed.key, "name": parsed.name, "version": parsed.version, **fields})
            bump_generation(db, repository_id)
            db.commit()
        except IntegrityError:
            db.rollback()
            collect_blob(db, store, sha256)
            db.commit()
            raise ApiError(409, _describe(parsed)) from None
        except BaseException:
            db.rollback()
            collect_blob(db, store, sha256)
            db.commit()
            raise
        if existing is not None and existing.sha256 != sha256:
            collect_blob(db, store, existing.sha256)


def delete_artefact(make_session: sessionmaker[Session], store: BlobStore, artefact_id: int) -> None:
    """Delete one artefact row and its blob when nothing else refers to it."""
    with store.lock, make_session() as db:
        artefact = db.get(Artefact, artefact_id)
        if artefact is None:
            raise ApiError(404, "Not Found")
        sha256 = artefact.sha256
        repository_id = artefact.repository_id
        db.delete(artefact)
        bump_generation(db, repository_id)
        db.commit()
        collect_blob(db, store, sha256)


def find_artefact(db: Session, repository_id: int, kind: str, platform: str, key: str, name: str,
                  version: str) -> Optional[Artefact]:
    """The artefact with this identity, or None."""
    return db.scalar(select(Artefact).where(
        Artefact.repository_id == repository_id, Artefact.kind == kind, Artefact.platform == platform,
        Artefact.key == key, Artefact.name == name, Artefact.version == version))


# -- metadata and index entries ---------------------------------------------------------------
