"""A new server on the same data directory sees everything the previous one stored."""

from __future__ import annotations

from typing import Any

from artefact_kit import sha256_of

from hatcher.artefacts import builders
from hatcher.core.auth import BroodBearerTokenAuth
from hatcher.server.runner import EmbeddedBrood


def test_restart_keeps_everything(tmp_path: Any) -> None:
    data_dir = str(tmp_path / "data")
    egg = builders.build_egg(str(tmp_path), name="persist")
    runtime = builders.build_runtime_v1(str(tmp_path))
    with EmbeddedBrood(data_dir) as brood:
        client = brood.client(1)
        repo = client.create_organization("acme", "Acme").create_repository("dev", "Development")
        repo.platform("rh5-x86_64").upload_egg(egg)
        repo.upload_runtime(runtime)
        token = client.create_api_token("ci")["token"]
    with EmbeddedBrood(data_dir) as brood:
        client = brood.client(1)
        assert "acme" in client.list_organizations()
        assert "dev" in client.organization("acme").list_repositories()
        platform = client.organization("acme").repository("dev").platform("rh5-x86_64")
        assert list(platform.egg_index("cp27")) == ["persist-1.0.1-1.egg"]
        out = tmp_path / "out"
        out.mkdir()
        platform.download_egg("cp27", "persist", "1.0.1-1", str(out))
        assert sha256_of(str(out / "persist-1.0.1-1.egg")) == sha256_of(egg)
        runtimes = client.organization("acme").repository("dev").platform("rh7-x86_64")
        assert runtimes.list_runtimes() == [("cpython", "3.8.8+1")]
        by_token = brood.client(1, auth=BroodBearerTokenAuth(token))
        assert list(by_token.organization("acme").repository("dev").platform("rh5-x86_64").egg_index("cp27"))
