"""Which errors mean "no room" (507), with the errors the drivers really raise."""

from __future__ import annotations

import errno
import sqlite3

import pytest
import sqlalchemy
from sqlalchemy import exc as sa_exc

from hatcher.server.errors import INSUFFICIENT_STORAGE, as_api_error, is_out_of_space


@pytest.mark.parametrize("number", [errno.ENOSPC, errno.EDQUOT])
def test_a_full_disk_or_quota_is_a_507(number: int) -> None:
    mapped = as_api_error(OSError(number, "no room"))
    assert mapped is not None and mapped.status == INSUFFICIENT_STORAGE


def test_other_os_errors_are_not_out_of_space() -> None:
    assert not is_out_of_space(OSError(errno.EIO, "input/output error"))
    assert as_api_error(OSError(errno.EIO, "input/output error")) is None


def test_sqlite_full_through_sqlalchemy_is_a_507_not_a_503(tmp_path) -> None:
    # Given a real SQLite database that may not grow past a few pages (SQLITE_FULL, as on a full disk)
    engine = sqlalchemy.create_engine(f"sqlite:///{tmp_path / 'small.sqlite'}")
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql("CREATE TABLE t (x BLOB)")
        with pytest.raises(sa_exc.OperationalError) as caught, engine.begin() as connection:
            connection.exec_driver_sql("PRAGMA max_page_count = 3")
            for _ in range(100):
                connection.exec_driver_sql("INSERT INTO t VALUES (zeroblob(4096))")
    finally:
        engine.dispose()
    # Then the error SQLAlchemy raises is "out of space", answered 507
    assert isinstance(caught.value.orig, sqlite3.OperationalError)
    assert "full" in str(caught.value.orig)
    mapped = as_api_error(caught.value)
    assert mapped is not None and mapped.status == INSUFFICIENT_STORAGE


def test_other_database_errors_stay_503() -> None:
    error = sa_exc.OperationalError("SELECT 1", {}, sqlite3.OperationalError("database is locked"))
    mapped = as_api_error(error)
    assert mapped is not None and mapped.status == 503


def test_postgresql_disk_full_is_a_507() -> None:
    from psycopg import errors as psycopg_errors  # a test requirement (setup.py)

    wrapped = sa_exc.OperationalError("INSERT ...", {}, psycopg_errors.DiskFull("could not extend file"))
    mapped = as_api_error(wrapped)
    assert mapped is not None and mapped.status == INSUFFICIENT_STORAGE
    other = sa_exc.OperationalError("INSERT ...", {}, psycopg_errors.AdminShutdown("terminating connection"))
    assert as_api_error(other).status == 503
