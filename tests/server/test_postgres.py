"""The embedded Brood works unchanged on PostgreSQL (``--database-url``), across a restart."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from hatcher.artefacts.builders import build_egg
from hatcher.server.runner import EmbeddedBrood


@pytest.fixture(scope="module")
def database_url(postgres):
    """A fresh database of the session's PostgreSQL cluster (skipped without PostgreSQL, failed in CI)."""
    return postgres.create_database("server_on_postgresql")


def test_a_server_on_postgresql_stores_serves_and_survives_a_restart(database_url, tmp_path: Path):
    # Given a server whose database is PostgreSQL
    egg = build_egg(str(tmp_path), name="zlib", version="1.2.13", build=1, platform="rh7-x86_64",
                    python_tag=None)
    data_dir = tmp_path / "data"
    with EmbeddedBrood(str(data_dir), database_url=database_url) as brood:
        client = brood.client(api_version=1)
        # When an organization, a repository and an egg are created
        platform = client.create_organization("pg", "On PostgreSQL").create_repository(
            "dev", "Dev").platform("rh7-x86_64")
        platform.upload_egg(egg)
        token = client.create_api_token("pg-token")["token"]
    # Then, after a restart on the same database, everything is still there
    with EmbeddedBrood(str(data_dir), database_url=database_url) as brood:
        client = brood.client(api_version=1)
        assert client.list_organizations() == ["pg"]
        assert client.organization("pg").list_repositories() == ["dev"]
        platform = client.organization("pg").repository("dev").platform("rh7-x86_64")
        assert list(platform.egg_index("cp38")) == ["zlib-1.2.13-1.egg"]
        out = tmp_path / "out"
        out.mkdir()
        platform.download_egg("cp38", "zlib", "1.2.13-1", str(out))
        assert hashlib.sha256((out / "zlib-1.2.13-1.egg").read_bytes()).hexdigest() == \
            hashlib.sha256(Path(egg).read_bytes()).hexdigest()
        from hatcher.api import BroodBearerTokenAuth

        assert brood.client(api_version=1, auth=BroodBearerTokenAuth(token)).list_platforms()
