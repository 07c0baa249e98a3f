"""Who may commit or collect a blob, and telling every replica to drop its caches.

On PostgreSQL the coordination between server replicas lives in the database:

* a blob commit takes a transaction-level advisory lock on its digest
  (``pg_advisory_xact_lock``), released by the commit;
* a blob removal holds a session-level advisory lock on the digest from the reference
  check until the object is deleted, so no upload can reuse the blob in between;
* garbage collection runs on one replica at a time (``pg_try_advisory_lock`` on a key of
  its own);
* a change that must reach every replica's caches (a revoked token, a new password)
  sends ``NOTIFY`` in its own transaction; each replica ``LISTEN``\\ s on a connection of
  its own and drops what it names, and drops everything when that connection is lost.

On SQLite (one process) the same calls take a lock in the process, as before replicas
existed, and the caches are told directly after the commit.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import threading
from typing import Any, Callable, Iterator, Optional

from sqlalchemy import event, func, select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

logger = logging.getLogger("hatcher.server")

#: The channel of cache invalidations.
CHANNEL = "hatcher_invalidate"
#: An invalidation that drops every cached entry.
EVERYTHING = "all"
_SESSION_PREFIX = "session-tokens:"
#: PostgreSQL's limit on a NOTIFY payload is 8000 bytes: larger messages become :data:`EVERYTHING`.
_MAX_PAYLOAD = 7900


def lock_key(name: str) -> int:
    """A signed 64-bit advisory-lock key for ``name`` (a digest, or a fixed purpose)."""
    return int.from_bytes(hashlib.sha256(f"hatcher:{name}".encode()).digest()[:8], "big", signed=True)


#: Held while the schema is created or upgraded (replicas may start together).
SCHEMA_LOCK = lock_key("schema")
#: Held by the replica running garbage collection.
GC_LOCK = lock_key("gc")


def is_postgresql(bind: Engine | Connection) -> bool:
    """Whether ``bind`` talks to PostgreSQL."""
    return bind.dialect.name == "postgresql"


@contextlib.contextmanager
def advisory_lock(connection: Connection, key: int) -> Iterator[None]:
    """Hold the session-level advisory lock ``key`` on ``connection`` (PostgreSQL; nothing elsewhere)."""
    if not is_postgresql(connection):
        yield
        return
    connection.execute(select(func.pg_advisory_lock(key)))
    connection.commit()
    try:
        yield
    finally:
        if not connection.invalidated:
            connection.rollback()
            connection.execute(select(func.pg_advisory_unlock(key)))
            connection.commit()


_PROCESS_LOCKS: dict[str, threading.Lock] = {}
_PROCESS_LOCKS_GUARD = threading.Lock()


def _process_lock(name: str) -> threading.Lock:
    with _PROCESS_LOCKS_GUARD:
        return _PROCESS_LOCKS.setdefault(name, threading.Lock())


def invalidation_message(session_digests: Optional[Any] = None) -> str:
    """The message that drops these session-token digests from the caches (every entry when None)."""
    if session_digests is None:
        return EVERYTHING
    message = _SESSION_PREFIX + ",".join(sorted(set(session_digests)))
    return message if len(message) <= _MAX_PAYLOAD else EVERYTHING


def parse_invalidation(message: str) -> Optional[set[str]]:
    """The session-token digests an invalidation names; None means every entry."""
    if message.startswith(_SESSION_PREFIX):
        return {digest for digest in message[len(_SESSION_PREFIX):].split(",") if digest}
    return None


def notify_replicas(db: Session, message: str) -> None:
    """Send ``message`` to every replica's caches when ``db`` commits (PostgreSQL; nothing on SQLite).

    For code that changes caches outside a running server (the command line): a server's
    own code calls :meth:`Coordinator.invalidate`, which also tells its own process.
    """
    if is_postgresql(db.get_bind()):
        db.execute(select(func.pg_notify(CHANNEL, message)))


class Coordinator:
    """The locks and cache invalidations of one server process on one database (see the module)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.postgresql = is_postgresql(engine)
        #: The one lock of this database in this process (SQLite): blob commits and removals.
        self.lock = _process_lock(str(engine.url))
        self._gc_lock = _process_lock(f"gc:{engine.url}")
        self._handlers: list[Callable[[str], None]] = []
        self._listener: Optional[_Listener] = None

    # -- blobs --------------------------------------------------------------------------------

    def busy(self) -> bool:
        """Whether taking a blob lock now may wait (SQLite: another thread of this process holds it)."""
        return not self.postgresql and self.lock.locked()

    @contextlib.contextmanager
    def committing(self, db: Session, sha256: str) -> Iterator[None]:
        """Guard the commit of a blob and its references: held until ``db`` commits (PostgreSQL)."""
        if self.postgresql:
            db.execute(select(func.pg_advisory_xact_lock(lock_key(sha256))))
            yield
            return
        with self.lock:
            yield

    @contextlib.contextmanager
    def removing(self, connection: Connection, sha256: str) -> Iterator[None]:
        """Guard the removal of a blob: from the reference check until its object is deleted."""
        if self.postgresql:
            with advisory_lock(connection, lock_key(sha256)):
                yield
            return
        with self.lock:
            yield

    @contextlib.contextmanager
    def collecting(self) -> Iterator[bool]:
        """Try to become the one collector of garbage; yields whether this process is."""
        if self.postgresql:
            with self.engine.connect() as connection:
                acquired = bool(connection.scalar(select(func.pg_try_advisory_lock(GC_LOCK))))
                connection.commit()
                try:
                    yield acquired
                finally:
                    if acquired and not connection.invalidated:
                        connection.execute(select(func.pg_advisory_unlock(GC_LOCK)))
                        connection.commit()
            return
        acquired = self._gc_lock.acquire(blocking=False)
        try:
            yield acquired
        finally:
            if acquired:
                self._gc_lock.release()

    # -- caches -------------------------------------------------------------------------------

    def on_invalidate(self, handler: Callable[[str], None]) -> None:
        """Call ``handler(message)`` for every invalidation (see :func:`parse_invalidation`)."""
        self._handlers.append(handler)

    def _deliver(self, message: str) -> None:
        for handler in self._handlers:
            handler(message)

    def invalidate(self, db: Session, message: str) -> None:
        """Invalidate caches when ``db`` commits: here at once, elsewhere through ``NOTIFY`` (PostgreSQL)."""
        notify_replicas(db, message)
        event.listen(db, "after_commit", lambda _session: self._deliver(message), once=True)

    def start(self) -> None:
        """Start listening for other replicas' invalidations (PostgreSQL; nothing to do on SQLite)."""
        if self.postgresql and self._listener is None:
            self._listener = _Listener(self.engine, self._deliver)
            self._listener.start()

    def stop(self) -> None:
        """Stop listening."""
        if self._listener is not None:
            self._listener.stop()
            self._listener = None

    @property
    def listening(self) -> bool:
        """Whether the ``LISTEN`` connection is up (always True on SQLite)."""
        return not self.postgresql or (self._listener is not None and self._listener.connected.is_set())


def libpq_url(engine: Engine) -> str:
    """A libpq connection URL for the engine's database (for connections outside SQLAlchemy)."""
    return engine.url.set(drivername="postgresql").render_as_string(hide_password=False)


class _Listener:
    """A thread that ``LISTEN``\\ s on its own connection and hands each notification to ``deliver``.

    Whenever the connection is (re)established every cache is dropped, since notifications
    sent while it was down are lost; it reconnects every :attr:`RETRY` seconds.
    """

    RETRY = 0.5
    POLL = 0.5

    def __init__(self, engine: Engine, deliver: Callable[[str], None]) -> None:
        self._url = libpq_url(engine)
        self._deliver = deliver
        self._stopping = threading.Event()
        self.connected = threading.Event()
        self._thread = threading.Thread(target=self._run, name="hatcher-listen", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        import psycopg

        while not self._stopping.is_set():
            try:
                with psycopg.connect(self._url, autocommit=True, connect_timeout=5) as connection:
                    connection.execute(f"LISTEN {CHANNEL}")
                    self.connected.set()
                    self._deliver(EVERYTHING)  # whatever was sent while nobody listened
                    while not self._stopping.is_set():
                        for notice in connection.notifies(timeout=self.POLL):
                            self._deliver(notice.payload)
            except Exception as exc:  # noqa: BLE001 - any failure: forget everything, reconnect
                if self.connected.is_set():
                    logger.warning("Lost the database connection for cache invalidations: %s", exc)
                self.connected.clear()
                self._deliver(EVERYTHING)
                self._stopping.wait(self.RETRY)
            finally:
                self.connected.clear()
