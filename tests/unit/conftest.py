"""Shared fixtures of the unit tests: clients of both API versions and a strict HTTP mock."""

from __future__ import annotations

from typing import Iterator

import pytest
import responses
from unit_http import URL

from hatcher.api import BroodClient


@pytest.fixture
def mocked() -> Iterator[responses.RequestsMock]:
    """HTTP mock that fails the test on any unexpected request, or any expected one not sent."""
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        yield rsps


@pytest.fixture
def client_v0() -> BroodClient:
    """A client for API version 0 with Basic credentials."""
    return BroodClient.from_url(URL, auth=("jane", "s3cret"), api_version=0)


@pytest.fixture
def client_v1() -> BroodClient:
    """A client for API version 1 with Basic credentials."""
    return BroodClient.from_url(URL, auth=("jane", "s3cret"), api_version=1)


@pytest.fixture(params=[0, 1], ids=["v0", "v1"])
def client(request: pytest.FixtureRequest) -> BroodClient:
    """A client of each API version in turn."""
    return BroodClient.from_url(URL, auth=("jane", "s3cret"), api_version=request.param)
