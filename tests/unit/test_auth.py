"""Authentication helpers: the bearer API token and session tokens exchanged from credentials."""

from __future__ import annotations

import base64
import threading
import time
from types import SimpleNamespace

import pytest
import requests
from unit_http import URL, root

from hatcher.api import BroodBearerTokenAuth, BroodClient, BroodClientAuth
from hatcher.core import auth as auth_module
from hatcher.errors import BroodHTTPError

TOKEN_URL = URL + "/api/v1/json/auth/tokens/auth"
PLATFORMS_V1 = root(1) + "/metadata/platforms"
BASIC = "Basic " + base64.b64encode(b"jane:s3cret").decode()


@pytest.fixture
def clock(monkeypatch):
    """A controllable monotonic clock seen by hatcher.core.auth only."""
    now = [1000.0]
    monkeypatch.setattr(auth_module, "time", SimpleNamespace(monotonic=lambda: now[0]))
    return now


def make_client(credentials=("jane", "s3cret"), url=URL, api_version=1) -> BroodClient:
    return BroodClient.from_url(url, auth=BroodClientAuth(url, credentials), api_version=api_version)


def add_tokens(mocked, *tokens, url=TOKEN_URL):
    for token in tokens:
        mocked.post(url, json={"token": token})


def add_platforms(mocked, status=200, url=PLATFORMS_V1):
    body = {"platforms": ["rh7-x86_64"]} if status < 400 else {"error": "token expired"}
    mocked.get(url, json=body, status=status)


def calls_to(mocked, url):
    return [call.request for call in mocked.calls if call.request.url.startswith(url)]


def test_bearer_token_auth_sets_the_header_and_hides_the_token(mocked):
    # Given
    auth = BroodBearerTokenAuth("api-token-123")
    add_platforms(mocked)
    # When
    BroodClient.from_url(URL, auth=auth, api_version=1).list_platforms()
    # Then
    assert mocked.calls[0].request.headers["Authorization"] == "Bearer api-token-123"
    assert auth.token == "api-token-123"
    assert "api-token-123" not in repr(auth)
    assert auth == BroodBearerTokenAuth("api-token-123")
    assert auth != BroodBearerTokenAuth("other")


def test_client_auth_constructor_makes_no_request(mocked):
    auth = BroodClientAuth(URL + "/", ("jane", "s3cret"))
    make_client()
    assert len(mocked.calls) == 0
    assert auth.session_token is None
    assert auth.verify_ssl is True
    assert auth.brood_url == URL
    assert auth.credentials == ("jane", "s3cret")


@pytest.mark.parametrize(("credentials", "authorization"), [
    (("jane", "s3cret"), BASIC),
    ("api-token-123", "Bearer api-token-123"),
])
def test_first_request_exchanges_credentials_for_a_session_token(mocked, clock, credentials, authorization):
    # Given
    add_tokens(mocked, "sess-1")
    add_platforms(mocked)
    # When
    platforms = make_client(credentials).list_platforms()
    # Then
    assert platforms == ["rh7-x86_64"]
    token_request, data_request = (call.request for call in mocked.calls)
    assert token_request.method == "POST"
    assert token_request.url == TOKEN_URL
    assert token_request.headers["Authorization"] == authorization
    assert token_request.body is None
    assert "Content-Type" not in token_request.headers
    assert data_request.headers["Authorization"] == "Bearer sess-1"


def test_session_token_is_reused_then_refreshed_after_240_seconds(mocked, clock):
    # Given
    add_tokens(mocked, "sess-1", "sess-2")
    add_platforms(mocked)
    client = make_client()
    # When: three requests, at t, t + 240 s and t + 241 s
    client.list_platforms()
    clock[0] += 240
    client.list_platforms()
    clock[0] += 1
    client.list_platforms()
    # Then
    assert len(calls_to(mocked, TOKEN_URL)) == 2
    assert [r.headers["Authorization"] for r in calls_to(mocked, PLATFORMS_V1)] == [
        "Bearer sess-1", "Bearer sess-1", "Bearer sess-2"]


def test_token_is_refreshed_when_the_clock_goes_backwards(mocked, clock):
    add_tokens(mocked, "sess-1", "sess-2")
    add_platforms(mocked)
    client = make_client()
    client.list_platforms()
    clock[0] -= 1
    client.list_platforms()
    assert calls_to(mocked, PLATFORMS_V1)[-1].headers["Authorization"] == "Bearer sess-2"


def test_refused_credentials_raise_an_http_error_with_the_server_text(mocked):
    # Given
    mocked.post(TOKEN_URL, json={"error": "Invalid username or password"}, status=401)
    # When / Then: the data request is never sent
    with pytest.raises(requests.HTTPError) as info:
        make_client().list_platforms()
    assert isinstance(info.value, BroodHTTPError)
    assert info.value.status_code == 401
    assert "Invalid username or password" in str(info.value)
    assert len(mocked.calls) == 1


def test_a_401_refreshes_the_token_and_resends_once(mocked, clock):
    # Given: the server expired the first session token early
    add_tokens(mocked, "sess-1", "sess-2")
    add_platforms(mocked, status=401)
    add_platforms(mocked)
    # When
    platforms = make_client().list_platforms()
    # Then
    assert platforms == ["rh7-x86_64"]
    sent = calls_to(mocked, PLATFORMS_V1)
    assert [r.headers["Authorization"] for r in sent] == ["Bearer sess-1", "Bearer sess-2"]
    assert len(calls_to(mocked, TOKEN_URL)) == 2


def test_a_second_401_is_not_retried_again(mocked, clock):
    add_tokens(mocked, "sess-1", "sess-2")
    add_platforms(mocked, status=401)
    with pytest.raises(BroodHTTPError) as info:
        make_client().list_platforms()
    assert info.value.status_code == 401
    assert len(calls_to(mocked, PLATFORMS_V1)) == 2


def test_concurrent_threads_share_one_token_exchange(mocked):
    # Given: a slow token endpoint and eight threads starting together
    def slow_token(request):
        time.sleep(0.05)
        return 200, {}, '{"token": "sess-1"}'

    mocked.add_callback("POST", TOKEN_URL, callback=slow_token)
    add_platforms(mocked)
    client = make_client()
    barrier = threading.Barrier(8)
    results, errors = [], []

    def work():
        barrier.wait()
        try:
            results.append(client.list_platforms())
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    # When
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    # Then
    assert errors == []
    assert results == [["rh7-x86_64"]] * 8
    assert len(calls_to(mocked, TOKEN_URL)) == 1
    assert {r.headers["Authorization"] for r in calls_to(mocked, PLATFORMS_V1)} == {"Bearer sess-1"}


@pytest.mark.parametrize("credentials", [("jane", "s3cret"), "api-token-123"])
def test_reprs_never_show_secrets(mocked, credentials):
    # Given: a client that has fetched a session token
    add_tokens(mocked, "sess-secret")
    add_platforms(mocked)
    client = make_client(credentials)
    client.list_platforms()
    auth = client._url_handler.session.auth
    # When
    shown = repr(auth) + str(auth) + repr(client) + repr(client._url_handler)
    # Then
    for secret in ("s3cret", "api-token-123", "sess-secret"):
        assert secret not in shown
    assert URL in repr(auth)


def test_client_repr_hides_userinfo_of_the_url():
    client = BroodClient.from_url("http://jane:s3cret@brood.test", auth=("jane", "s3cret"))
    assert repr(client) == "<BroodClient url='http://brood.test' api_version=0>"


@pytest.mark.parametrize("url", ["brood.test", "brood.test/prefix/"])
def test_scheme_less_url_sends_the_token_request_like_data_requests(mocked, url):
    # Given: no scheme (documented fix of quirk Q3: one scheme and host for every request)
    add_tokens(mocked, "sess-1")
    add_platforms(mocked)
    # When
    make_client(url=url).list_platforms()
    # Then
    assert [call.request.url for call in mocked.calls] == [TOKEN_URL, PLATFORMS_V1]
    assert BroodClientAuth(url, "t").token_url == TOKEN_URL


def test_token_request_uses_the_v1_root_in_v0_mode(mocked):
    add_tokens(mocked, "sess-1")
    add_platforms(mocked, url=root(0) + "/metadata/platforms")
    make_client(api_version=0).list_platforms()
    assert [call.request.url for call in mocked.calls] == [TOKEN_URL, root(0) + "/metadata/platforms"]


def test_verify_ssl_is_passed_to_the_token_request(mocked):
    # Given
    auth = BroodClientAuth("https://brood.test", "t", verify_ssl=False)
    mocked.post("https://brood.test/api/v1/json/auth/tokens/auth", json={"token": "sess-1"})
    # When
    assert auth.refresh() == "sess-1"
    # Then
    assert mocked.calls[0].request.req_kwargs["verify"] is False
    assert auth.session_token == "sess-1"


def test_credentials_read_as_bytes_are_decoded():
    # Given a token and a password read from files in binary mode (with a trailing newline)
    from hatcher.api import BroodBearerTokenAuth, BroodClientAuth

    # Then the auth objects hold text, as every header needs
    assert BroodBearerTokenAuth(b"f00ba4\n").token == "f00ba4"
    assert BroodClientAuth("http://brood.test", b"f00ba4\n").credentials == "f00ba4"
    assert BroodClientAuth("http://brood.test", (b"jane", b"s3cret")).credentials == ("jane", "s3cret")
