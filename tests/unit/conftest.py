"""Shared fixtures of the unit tests: clients of both API versions and a strict HTTP mock."""

from __future__ import annotations

import json
from typing import Any, Iterator

import pytest
import responses

from hatcher.api import BroodClient

#: The server URL every unit test talks to (never contacted: HTTP is mocked).
URL = "http://brood.test"


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


def root(api_version: int) -> str:
    """The absolute URL of an API version's root."""
    return f"{URL}/api/v{api_version}/json"


def json_body(call: Any) -> Any:
    """The decoded JSON body of a recorded call."""
    return json.loads(call.request.body)


def multipart_parts(request: Any) -> list[dict[str, Any]]:
    """Decode a recorded multipart upload into ``[{"headers": {...}, "content": bytes}]`` in wire order.

    The mocked transport never reads the streaming body, so it is read here.
    """
    from requests_toolbelt.multipart.decoder import MultipartDecoder

    body = request.body
    raw = body if isinstance(body, bytes) else body.read()
    decoder = MultipartDecoder(raw, request.headers["Content-Type"])
    return [
        {"headers": {k.decode(): v.decode() for k, v in part.headers.items()}, "content": part.content}
        for part in decoder.parts
    ]
