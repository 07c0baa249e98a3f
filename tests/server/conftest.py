"""Fixtures of the server tests: one embedded Brood per session, and per-test unique organizations."""

from __future__ import annotations

import itertools
import uuid
from typing import Any, Callable, Iterator

import pytest
from server_world import PASSWORD, World, build_world, give_password  # noqa: F401 - re-exported
from stack.brood import stack_mode
from stack.fixtures import SUITE_LOGIN_FAILURE_LIMIT, postgres, replica_set, seaweed, stack_brood  # noqa: F401

from hatcher.server.runner import EmbeddedBrood

_COUNTER = itertools.count()


@pytest.fixture(scope="session")
def brood(request: pytest.FixtureRequest) -> Iterator[EmbeddedBrood]:
    """One embedded Brood on a loopback port, shared by every server test (tests use unique names).

    With ``HATCHER_TEST_STACK=replicas`` (``tox -e scale``): three replicas on PostgreSQL and S3
    behind nginx, round robin (``stack.brood.StackBrood``).
    """
    if stack_mode():
        yield request.getfixturevalue("stack_brood")
        return
    with EmbeddedBrood(login_failure_limit=SUITE_LOGIN_FAILURE_LIMIT) as server:
        yield server


@pytest.fixture
def unique() -> Callable[[str], str]:
    """Make names unique across the session: ``unique("org")`` -> ``org-1a2b3c4d-7``."""
    token = uuid.uuid4().hex[:8]
    return lambda prefix: f"{prefix}-{token}-{next(_COUNTER)}"


@pytest.fixture(params=[0, 1], ids=["v0", "v1"])
def api_version(request: pytest.FixtureRequest) -> int:
    """Each API version in turn."""
    return request.param


@pytest.fixture
def admin(brood: EmbeddedBrood, api_version: int) -> Any:
    """The superuser's client, for each API version."""
    return brood.client(api_version=api_version)


@pytest.fixture
def world(brood: EmbeddedBrood, unique: Callable[[str], str]) -> World:
    """A fresh :class:`World` for the test."""
    return build_world(brood, unique)
