"""Coordination through PostgreSQL: cache invalidation by NOTIFY, advisory locks, a database that goes away."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from typing import Any

import psycopg
import pytest
import requests
from sqlalchemy import func, select

from hatcher.core.url_templates import TOKENS_AUTH_PATH
from hatcher.server.coordination import EVERYTHING, Coordinator, invalidation_message, libpq_url, lock_key
from hatcher.server.db import make_engine, make_sessionmaker
from hatcher.server.runner import EmbeddedBrood


def _wait(condition: Any, timeout: float) -> float:
    """Seconds until ``condition()`` holds; fails after ``timeout``."""
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < timeout, "timed out"
        time.sleep(0.01)
    return time.monotonic() - started


@pytest.fixture
def database(postgres: Any, request: pytest.FixtureRequest) -> str:
    """A fresh database of the session's cluster."""
    return postgres.create_database(f"coordination_{request.node.name[:30].lower()}_{time.monotonic_ns()}")


def test_a_notification_reaches_every_listener_and_a_lost_connection_drops_everything(database: str) -> None:
    # Given two coordinators (two replicas) listening on one database
    engine = make_engine(database)
    received: list[list[str]] = [[], []]
    coordinators = [Coordinator(engine), Coordinator(engine)]
    for coordinator, inbox in zip(coordinators, received):
        coordinator.on_invalidate(inbox.append)
        coordinator.start()
    try:
        _wait(lambda: all(c.listening for c in coordinators), 10)
        for inbox in received:
            inbox.clear()  # the EVERYTHING of connecting
        # When one of them invalidates a session token in a transaction that commits
        message = invalidation_message(["ab" * 32])
        with make_sessionmaker(engine)() as db:
            coordinators[0].invalidate(db, message)
            db.commit()
        # Then both hear of it within a second
        assert _wait(lambda: all(message in inbox for inbox in received), 1.0) < 1.0
        # When a listener's connection is cut / Then it drops everything, and listens again
        with psycopg.connect(libpq_url(engine), autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'LISTEN%'")
        _wait(lambda: received[1].count(EVERYTHING) >= 2, 10)
        _wait(lambda: coordinators[1].listening, 10)
        with make_sessionmaker(engine)() as db:
            coordinators[0].invalidate(db, "again")
            db.commit()
        _wait(lambda: "again" in received[1], 2)
    finally:
        for coordinator in coordinators:
            coordinator.stop()
        engine.dispose()


def test_a_password_changed_by_the_command_line_ends_the_session_on_every_replica(database: str, tmp_path: Any) -> None:
    # Given two servers on one database, and a session token that the second one has cached
    with EmbeddedBrood(str(tmp_path / "a"), database_url=database) as first, \
            EmbeddedBrood(str(tmp_path / "b"), database_url=database) as second:
        _wait(lambda: second.app.state.services.coordinator.listening, 10)
        token = requests.post(first.url + TOKENS_AUTH_PATH, auth=first.admin_auth, timeout=10).json()["token"]
        bearer = {"Authorization": f"Bearer {token}"}
        organizations = "/api/v1/json/admin/organizations"
        assert requests.get(second.url + organizations, headers=bearer, timeout=10).status_code == 200
        # When the admin's password is changed by `hatcher server set-password` (another process)
        changed = subprocess.run([sys.executable, "-m", "hatcher", "server", "set-password", "--database-url",
                                  database, first.admin_auth[0]], input="new-password\n", capture_output=True,
                                 text=True, timeout=60)
        assert changed.returncode == 0, changed.stderr
        started = time.monotonic()
        # Then within a second the session is refused by both servers, and the new password works
        waited = _wait(lambda: requests.get(second.url + organizations, headers=bearer, timeout=10).status_code == 401,
                       1.0)
        assert waited < 1.0 and time.monotonic() - started < 1.0
        assert requests.get(first.url + organizations, headers=bearer, timeout=10).status_code == 401
        assert requests.get(second.url + organizations, auth=(first.admin_auth[0], "new-password"),
                            timeout=10).status_code == 200


def test_a_blob_commit_waits_for_the_lock_on_its_digest(database: str) -> None:
    # Given one transaction holding the commit lock of a digest
    engine = make_engine(database)
    coordinator = Coordinator(engine)
    make_session = make_sessionmaker(engine)
    digest = "cd" * 32
    taken = threading.Event()
    released_at: list[float] = []
    acquired_at: list[float] = []

    def second() -> None:
        taken.wait(10)
        with make_session() as db, coordinator.committing(db, digest):
            acquired_at.append(time.monotonic())
            db.commit()

    thread = threading.Thread(target=second)
    thread.start()
    try:
        with make_session() as db, coordinator.committing(db, digest):
            taken.set()
            time.sleep(0.5)
            db.execute(select(1))
            released_at.append(time.monotonic())
            db.commit()  # the transaction-level lock goes with the commit
        thread.join(10)
        # Then the other waited until the commit
        assert acquired_at and acquired_at[0] >= released_at[0]
        # And a removal (session-level lock) excludes a commit too
        with engine.connect() as connection, coordinator.removing(connection, digest):
            with make_session() as db:
                assert db.scalar(select(func.pg_try_advisory_xact_lock(lock_key(digest)))) is False
    finally:
        engine.dispose()


def test_a_database_that_goes_away_is_a_503_and_service_comes_back_by_itself(postgres: Any, tmp_path: Any,
                                                                             caplog: Any) -> None:
    # Given a server on PostgreSQL, in use
    database = postgres.create_database(f"outage_{time.monotonic_ns()}")
    with EmbeddedBrood(str(tmp_path / "data"), database_url=database) as brood:
        organizations = brood.url + "/api/v1/json/admin/organizations"
        assert requests.get(organizations, auth=brood.admin_auth, timeout=10).status_code == 200
        # When PostgreSQL stops
        postgres.stop()
        try:
            # Then requests get a JSON 503 within 15 s, never a 500
            started = time.monotonic()
            answer = requests.get(organizations, auth=brood.admin_auth, timeout=30)
            assert time.monotonic() - started < 15
            assert answer.status_code == 503, answer.text
            assert "database is unavailable" in answer.json()["error"]
            # And the server logs one warning line for it, not a traceback
            assert not [record for record in caplog.records if record.exc_info], [
                record.getMessage() for record in caplog.records if record.exc_info]
        finally:
            postgres.start()
        # And within 10 s of PostgreSQL's return the service is back, by itself
        back = _wait(lambda: requests.get(organizations, auth=brood.admin_auth, timeout=10).status_code == 200, 10)
        assert back < 10
