"""``verify_ssl`` of a client's session wins over ``REQUESTS_CA_BUNDLE`` (requests lets the variable win)."""

from __future__ import annotations

from typing import Any

import pytest

from hatcher.core.brood_url_handler import BroodURLHandler

URL = "https://brood.example.com"


@pytest.fixture(autouse=True)
def ca_bundle_variable(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/environment-ca.pem")
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    return "/etc/environment-ca.pem"


def _verify(verify_ssl: Any, per_request: Any = None) -> Any:
    session = BroodURLHandler.from_auth(URL, verify_ssl=verify_ssl).session
    return session.merge_environment_settings(URL + "/health", {}, None, per_request, None)["verify"]


@pytest.mark.parametrize("verify_ssl", [False, "/srv/private-ca.pem"], ids=["insecure", "bundle"])
def test_a_session_verify_wins_over_the_environment(verify_ssl: Any) -> None:
    assert _verify(verify_ssl) == verify_ssl


def test_a_verifying_session_takes_the_environment_bundle(ca_bundle_variable: str) -> None:
    assert _verify(True) == ca_bundle_variable


def test_a_request_verify_wins_over_the_session() -> None:
    assert _verify("/srv/private-ca.pem", per_request=False) is False
