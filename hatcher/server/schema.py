"""The database schema's version: create a new database, refuse an old one, upgrade it with Alembic.

A database made by a release before migrations existed has the tables of revision
``0001`` and no ``alembic_version`` table; it is read as that revision. An empty database
is created at the newest revision directly (``create_all``, then stamped), which the tests
check gives the same schema as running every migration.
"""

from __future__ import annotations

import contextlib
from typing import Iterator, Optional

from sqlalchemy import inspect
from sqlalchemy.engine import Connection, Engine

from hatcher.server.coordination import SCHEMA_LOCK, advisory_lock

#: The revision of a database made before migrations existed (hatcher 0.17 servers).
BASELINE = "0001"
#: What to run to bring a database up to date (named in every "out of date" message).
UPGRADE_COMMAND = "hatcher server db upgrade"


class SchemaError(Exception):
    """The database cannot be used as it is; the message is one line naming what to do."""


def _config(connection: Optional[Connection] = None):  # noqa: ANN202 - alembic is imported lazily
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", "hatcher.server:migrations")
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The newest revision this release knows."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None
    return head


def known_revisions() -> set[str]:
    """Every revision this release knows."""
    from alembic.script import ScriptDirectory

    return {script.revision for script in ScriptDirectory.from_config(_config()).walk_revisions()}


def current_revision(connection: Connection) -> Optional[str]:
    """The database's revision: None when it is empty, :data:`BASELINE` when it predates migrations."""
    from alembic.migration import MigrationContext

    tables = set(inspect(connection).get_table_names())
    if "alembic_version" in tables:
        return MigrationContext.configure(connection).get_current_revision()
    return BASELINE if "artefacts" in tables else None


@contextlib.contextmanager
def _schema_connection(engine: Engine) -> Iterator[Connection]:
    """A connection in a transaction, holding the schema lock on PostgreSQL (replicas start together)."""
    with engine.connect() as connection, advisory_lock(connection, SCHEMA_LOCK):
        with connection.begin():
            yield connection


def _create(connection: Connection) -> None:
    from alembic import command

    from hatcher.server.db import Base

    Base.metadata.create_all(connection)
    command.stamp(_config(connection), "head")


def prepare_schema(engine: Engine, upgrade: bool = False) -> None:
    """Make sure the database has the current schema before a server (or a command) uses it.

    An empty database is created; an up-to-date one is left alone; an older one is
    upgraded when ``upgrade`` is true.

    Raises
    ------
    SchemaError
        The database is out of date (and ``upgrade`` is false), or newer than this release.
    """
    with _schema_connection(engine) as connection:
        revision = current_revision(connection)
        head = head_revision()
        if revision is None:
            _create(connection)
        elif revision == head:
            return
        elif revision not in known_revisions():
            raise SchemaError(f"The database schema is at revision {revision}, which this hatcher does not know "
                              f"(it was upgraded by a newer release); use that release")
        elif upgrade:
            _upgrade(connection)
        else:
            raise SchemaError(f"The database schema is out of date (revision {revision}, this release needs "
                              f"{head}): run `{UPGRADE_COMMAND}`, or start the server with --upgrade-db")


def _upgrade(connection: Connection) -> None:
    from alembic import command

    if current_revision(connection) == BASELINE and "alembic_version" not in inspect(connection).get_table_names():
        command.stamp(_config(connection), BASELINE)
    command.upgrade(_config(connection), "head")


def upgrade_schema(engine: Engine) -> tuple[Optional[str], str]:
    """Bring the database to the newest revision (creating it when empty); ``(revision before, after)``.

    Raises
    ------
    SchemaError
        The database was made by a newer release.
    """
    with _schema_connection(engine) as connection:
        before = current_revision(connection)
        head = head_revision()
        if before is None:
            _create(connection)
        elif before not in known_revisions():
            raise SchemaError(f"The database schema is at revision {before}, which this hatcher does not know "
                              f"(it was upgraded by a newer release)")
        elif before != head:
            _upgrade(connection)
        return before, head
