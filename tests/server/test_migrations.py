"""Schema migrations: databases written by the release before migrations existed, on SQLite and PostgreSQL.

The fixtures (``fixtures/*-0001.*``) were written by that release's own code with
``tools/make_migration_fixture.py``: organizations, teams, users with passwords, an API token
and artefacts of every kind, one blob shared by two repositories, one egg disabled.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import pytest
from service_guard import require_service
from sqlalchemy import select, text

from hatcher.api import BroodBearerTokenAuth
from hatcher.server import schema
from hatcher.server.db import Base, Blob, make_engine
from hatcher.server.runner import EmbeddedBrood

FIXTURES = Path(__file__).parent / "fixtures"
MANIFEST = json.loads((FIXTURES / "manifest-0001.json").read_text())


def _extract(archive: str, target: Path) -> Path:
    target.mkdir(parents=True, exist_ok=True)
    with tarfile.open(FIXTURES / archive) as tar:
        tar.extractall(target, filter="data")
    return target


def _hatcher(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hatcher", *args], capture_output=True, text=True, timeout=120)


def _psql() -> str:
    found = shutil.which("psql") or next(iter(sorted(Path("/usr/lib/postgresql").glob("*/bin/psql"), reverse=True)),
                                          None)
    if found is None:
        require_service("psql is not installed")
    return str(found)


def _check_upgraded_server(brood: EmbeddedBrood, token: str, tmp_path: Path) -> None:
    """Everything the older release stored is there and works after the upgrade."""
    client = brood.client(api_version=1, auth=tuple(MANIFEST["admin"]))
    assert client.list_organizations() == MANIFEST["organizations"]
    acme = client.organization("acme")
    assert acme.list_repositories() == MANIFEST["repositories"]
    for repository, eggs in MANIFEST["eggs"].items():
        platform = acme.repository(repository).platform("rh7-x86_64")
        index = platform.egg_index("cp38")
        assert sorted(index) == [egg for egg in eggs if egg not in MANIFEST["disabled"]]
        for name, entry in index.items():
            assert entry["sha256"] == MANIFEST["sha256"][name]
        for name in set(eggs) & set(MANIFEST["disabled"]):
            project, version, build = name[:-len(".egg")].split("-")
            metadata = platform.egg_metadata("cp38", project, f"{version}-{build}")
            assert (metadata["enabled"], metadata["sha256"]) == (False, MANIFEST["sha256"][name])
    out = tmp_path / "out"
    out.mkdir()
    acme.repository("prod").platform("rh7-x86_64").download_egg("cp38", "numpy", "1.8.0-1", str(out))
    assert hashlib.sha256((out / "numpy-1.8.0-1.egg").read_bytes()).hexdigest() == \
        MANIFEST["sha256"]["numpy-1.8.0-1.egg"]
    # The API token and the user's password still work; the user may still upload to dev.
    assert brood.client(api_version=1, auth=BroodBearerTokenAuth(token)).list_organizations() == ["acme"]
    user = brood.client(api_version=1, auth=tuple(MANIFEST["user"])).organization("acme").repository("dev")
    assert sorted(user.platform("rh7-x86_64").egg_index("cp38")) == ["numpy-1.8.0-1.egg"]
    # One blob row per stored file: the egg of dev and prod is one.
    with brood.app.state.sessionmaker() as db:
        assert sorted(db.scalars(select(Blob.sha256))) == sorted(set(MANIFEST["sha256"].values()))
    # Deleting prod's copy keeps dev's; deleting both removes the blob (the file store's grace is 0).
    numpy = MANIFEST["sha256"]["numpy-1.8.0-1.egg"]
    acme.repository("prod").platform("rh7-x86_64").delete_egg("cp38", "numpy", "1.8.0-1")
    assert brood.app.state.store.exists(numpy)
    acme.repository("dev").platform("rh7-x86_64").delete_egg("cp38", "numpy", "1.8.0-1")
    with brood.app.state.sessionmaker() as db:
        assert db.get(Blob, numpy) is None


def test_a_sqlite_data_directory_from_before_migrations_is_refused_then_upgraded(tmp_path: Path) -> None:
    # Given the data directory of a server of the release before migrations
    data = _extract("sqlite-0001.tar.gz", tmp_path / "data")
    # When a server starts on it / Then it refuses, in one line naming the upgrade command
    refused = _hatcher("serve", "--data-dir", str(data), "--port", "0")
    assert refused.returncode == 1, refused.stderr
    assert refused.stderr.strip().splitlines() == [
        "The database schema is out of date (revision 0001, this release needs 0003): run "
        "`hatcher server db upgrade`, or start the server with --upgrade-db"]
    # When the schema is upgraded
    upgraded = _hatcher("server", "db", "upgrade", "--data-dir", str(data))
    assert upgraded.returncode == 0, upgraded.stderr
    assert upgraded.stdout.strip().endswith("from revision 0001 to 0003.")
    # Then a server serves everything that was there, and a second upgrade changes nothing
    with EmbeddedBrood(str(data), admin=tuple(MANIFEST["admin"])) as brood:
        _check_upgraded_server(brood, MANIFEST["api_token"], tmp_path)
    again = _hatcher("server", "db", "upgrade", "--data-dir", str(data))
    assert again.returncode == 0 and "is up to date (revision 0003)" in again.stdout


def test_upgrade_db_at_start(tmp_path: Path) -> None:
    # Given the older data directory / When a server starts with --upgrade-db (EmbeddedBrood: upgrade_db=True)
    data = _extract("sqlite-0001.tar.gz", tmp_path / "data")
    with EmbeddedBrood(str(data), admin=tuple(MANIFEST["admin"]), upgrade_db=True) as brood:
        # Then it upgrades and serves
        _check_upgraded_server(brood, MANIFEST["api_token"], tmp_path)


def test_a_postgresql_database_from_before_migrations_is_upgraded(postgres: Any, tmp_path: Path) -> None:
    # Given a PostgreSQL database (and its blob directory) written by the release before migrations
    fixture = _extract("postgresql-0001.tar.gz", tmp_path / "fixture")
    url = postgres.create_database("before_migrations")
    from sqlalchemy.engine import make_url

    parts = make_url(url)
    subprocess.run([_psql(), "-q", "-v", "ON_ERROR_STOP=1", "-h", parts.host, "-p", str(parts.port), "-U",
                    parts.username, "-d", parts.database, "-f", str(fixture / "dump.sql")],
                   check=True, capture_output=True, timeout=120)
    data = tmp_path / "data"
    data.mkdir()
    shutil.move(str(fixture / "blobs"), str(data / "blobs"))
    # When a server starts on it / Then it refuses; after `db upgrade` everything is served
    refused = _hatcher("serve", "--data-dir", str(data), "--database-url", url, "--port", "0")
    assert refused.returncode == 1 and "hatcher server db upgrade" in refused.stderr, refused.stderr
    upgraded = _hatcher("server", "db", "upgrade", "--database-url", url)
    assert upgraded.returncode == 0 and "from revision 0001 to 0003" in upgraded.stdout, upgraded.stderr
    with EmbeddedBrood(str(data), database_url=url, admin=tuple(MANIFEST["admin"])) as brood:
        _check_upgraded_server(brood, MANIFEST["postgresql_api_token"], tmp_path)


def _schema_differences(url: str) -> list[Any]:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return compare_metadata(MigrationContext.configure(connection, opts={"compare_type": True}),
                                    Base.metadata)
    finally:
        engine.dispose()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_every_migration_gives_the_schema_of_a_new_database(backend: str, postgres: Any, tmp_path: Path) -> None:
    # Given an empty database migrated from nothing, revision by revision
    if backend == "sqlite":
        migrated, created = (f"sqlite:///{tmp_path / name}.sqlite3" for name in ("migrated", "created"))
    else:
        migrated, created = postgres.create_database("migrated"), postgres.create_database("created")
    engine = make_engine(migrated)
    with engine.begin() as connection:
        from alembic import command

        command.upgrade(schema._config(connection), "head")
    engine.dispose()
    # And another created at once (as a new server does)
    engine = make_engine(created)
    schema.prepare_schema(engine)
    engine.dispose()
    # Then both have exactly the schema of the models, at the newest revision
    assert _schema_differences(migrated) == []
    assert _schema_differences(created) == []


def test_a_database_of_a_newer_release_is_refused(tmp_path: Path) -> None:
    # Given a database stamped with a revision this release does not know
    url = f"sqlite:///{tmp_path / 'brood.sqlite3'}"
    engine = make_engine(url)
    schema.prepare_schema(engine)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    # When a server opens it / Then it refuses to, naming the revision
    with pytest.raises(schema.SchemaError, match="revision 9999, which this hatcher does not know"):
        schema.prepare_schema(engine, upgrade=True)
    engine.dispose()
    assert os.path.exists(tmp_path / "brood.sqlite3")
