"""What a server process works with: settings, database, blob store and coordinator, opened together.

The application, ``hatcher server gc`` and the test stacks open them the same way, with
:func:`open_services`, so that a command sees exactly what a running server would.
"""

from __future__ import annotations

from typing import Optional

import attr
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from hatcher.server.blobstore import BlobStore, open_blob_store
from hatcher.server.coordination import Coordinator
from hatcher.server.db import make_engine, make_sessionmaker
from hatcher.server.schema import prepare_schema
from hatcher.server.settings import ServerSettings


@attr.s(eq=False)
class Services:
    """A server's database engine and sessions, blob store and coordinator."""

    settings: ServerSettings = attr.ib()
    engine: Engine = attr.ib()
    sessionmaker: sessionmaker[Session] = attr.ib()
    store: BlobStore = attr.ib()
    coordinator: Coordinator = attr.ib()

    @property
    def grace(self) -> int:
        """Seconds a blob stays after its last artefact went (0: removed at once)."""
        return self.settings.effective_gc_grace

    def close(self) -> None:
        """Stop listening, release the store and the database connections."""
        self.coordinator.stop()
        self.store.close()
        self.engine.dispose()


def open_services(settings: ServerSettings, upgrade_db: Optional[bool] = None, check_store: bool = True,
                  prepare: bool = True) -> Services:
    """Open the database (checking its schema) and the blob store of ``settings``.

    Parameters
    ----------
    settings : ServerSettings
        What to open.
    upgrade_db : bool, optional
        Upgrade an out-of-date schema (default: ``settings.upgrade_db``).
    check_store : bool
        Write, read and delete a probe object first (S3).
    prepare : bool
        Check (and create, or upgrade) the schema.

    Raises
    ------
    hatcher.server.schema.SchemaError
        The schema is out of date, or newer than this release.
    hatcher.server.blobstore.BlobStoreError
        The blob store cannot be used.
    sqlalchemy.exc.SQLAlchemyError
        The database cannot be opened.
    """
    settings.ensure_directories()
    engine = make_engine(settings.sqlalchemy_url)
    try:
        if prepare:
            prepare_schema(engine, upgrade=settings.upgrade_db if upgrade_db is None else upgrade_db)
        store = open_blob_store(settings.blob_store_url, tmp_dir=settings.tmp_dir,
                                fsync_min_size=settings.fsync_min_size, endpoint_url=settings.s3_endpoint_url,
                                presigned_downloads=settings.s3_presigned_downloads)
        if check_store:
            store.check()
    except BaseException:
        engine.dispose()
        raise
    return Services(settings, engine, make_sessionmaker(engine), store, Coordinator(engine))
