"""Fixtures of the CLI tests: one embedded Brood per session, and a runner of ``hatcher`` against it."""

from __future__ import annotations

import uuid
from typing import Any, Callable, Iterator

import attr
import pytest
from click.testing import CliRunner, Result

from hatcher.cli.main import hatcher
from hatcher.server.runner import EmbeddedBrood


@pytest.fixture(scope="session")
def brood() -> Iterator[EmbeddedBrood]:
    """One embedded Brood on a loopback port, shared by the CLI tests (tests use unique names)."""
    with EmbeddedBrood() as server:
        yield server


@attr.s(frozen=True)
class Cli:
    """Runs ``hatcher -u URL -U admin -p password [--api-version N] ARGS`` in-process with CliRunner."""

    brood: EmbeddedBrood = attr.ib()
    api_version: int = attr.ib(default=1)

    def __call__(self, *args: str, auth: tuple[str, ...] | None = None, input: str | None = None,
                 env: dict[str, str] | None = None, url: str | None = None) -> Result:
        """Run one command; ``auth`` replaces the admin's ``-U/-p`` (e.g. ``("-t", token)``)."""
        if auth is None:
            email, password = self.brood.admin_auth
            auth = ("-U", email, "-p", password)
        argv = ["-u", url or self.brood.url, *auth, "--api-version", str(self.api_version), *args]
        return CliRunner().invoke(hatcher, argv, input=input, env=env, catch_exceptions=False,
                                  prog_name="hatcher")


@pytest.fixture(params=[0, 1], ids=["v0", "v1"])
def cli(brood: EmbeddedBrood, request: pytest.FixtureRequest) -> Cli:
    """A runner for each API version in turn."""
    return Cli(brood, request.param)


@pytest.fixture
def cli_v1(brood: EmbeddedBrood) -> Cli:
    """A runner for API version 1."""
    return Cli(brood, 1)


@pytest.fixture
def cli_v0(brood: EmbeddedBrood) -> Cli:
    """A runner for API version 0."""
    return Cli(brood, 0)


@pytest.fixture
def unique() -> Callable[[str], str]:
    """Make names unique across the session: ``unique("org")`` -> ``org-1a2b3c4d``."""
    return lambda prefix: f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def repository(brood: EmbeddedBrood, unique: Callable[[str], str]) -> Any:
    """A fresh organization and repository ``(organization name, repository name)``."""
    client = brood.client(api_version=1)
    org = unique("org")
    client.create_organization(org, "CLI tests").create_repository("dev", "Development")
    return org, "dev"
