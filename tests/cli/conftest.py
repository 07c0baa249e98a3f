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
                                  prog_name="hatcher", auto_envvar_prefix="HATCHER")


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


def assert_one_line_failure(result: Result, message: str | None = None, exit_code: int = 1) -> None:
    """Assert an expected failure: the exit status, one line on stderr (``message`` if given), no traceback."""
    assert result.exit_code == exit_code, (result.exit_code, result.stdout, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    if message is not None:
        assert lines[0] == message


@pytest.fixture
def failed() -> Callable[..., None]:
    """``failed(result, message=None, exit_code=1)``: see :func:`assert_one_line_failure`."""
    return assert_one_line_failure


@pytest.fixture
def cli_env(brood: EmbeddedBrood) -> Callable[..., Result]:
    """Run ``hatcher`` like the console script (``HATCHER_*`` environment variables honoured).

    ``cli_env(*args, env={...}, input=None)``; the admin's credentials and the URL come from
    ``HATCHER_USERNAME``/``HATCHER_PASSWORD``/``HATCHER_URL`` unless ``env`` overrides them.
    """
    def run(*args: str, env: dict[str, str] | None = None, input: str | None = None) -> Result:
        email, password = brood.admin_auth
        base = {"HATCHER_URL": brood.url, "HATCHER_USERNAME": email, "HATCHER_PASSWORD": password}
        return CliRunner().invoke(hatcher, list(args), input=input, env={**base, **(env or {})},
                                  catch_exceptions=False, prog_name="hatcher", auto_envvar_prefix="HATCHER")

    return run
