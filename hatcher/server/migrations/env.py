"""Alembic environment of the Brood database: runs on the connection :mod:`hatcher.server.schema` passes in."""

from alembic import context

from hatcher.server.db import Base

connection = context.config.attributes["connection"]
# Batch mode: SQLite alters a table by copying it; other databases get plain ALTER statements.
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True,
                  compare_type=True)
with context.begin_transaction():
    context.run_migrations()
