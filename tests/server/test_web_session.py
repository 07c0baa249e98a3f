"""The web interface's login, session cookie, CSRF tokens, logout and security headers, over loopback HTTP."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Callable

import pytest
import requests
from server_world import World, build_world
from tls_certs import make_certificates

from hatcher.core.url_templates import URLS_V1
from hatcher.server.runner import EmbeddedBrood
from hatcher.server.web import urls


@pytest.fixture
def world(brood: EmbeddedBrood, unique: Callable[[str], str]) -> World:
    return build_world(brood, unique)


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]*)"', html)
    assert match is not None, html
    return match.group(1)


def login(brood: EmbeddedBrood, email: str, password: str, next_path: str = "/") -> tuple[requests.Session,
                                                                                           requests.Response]:
    """A browser-like session that logged in through the form; the session and the POST's answer."""
    session = requests.Session()
    form = session.get(brood.url + urls.LOGIN, timeout=30)
    answer = session.post(brood.url + urls.LOGIN, timeout=30, allow_redirects=False,
                          data={"email": email, "password": password, "csrf": _csrf(form.text), "next": next_path})
    return session, answer


def test_a_login_sets_a_safe_session_cookie_and_goes_on(world: World) -> None:
    brood = world.brood
    # A page needs a session: the browser is sent to the login form, which then sends it back
    first = requests.get(brood.url + "/", allow_redirects=False, timeout=30)
    assert first.status_code == 303 and first.headers["Location"] == "/login?next=%2F"
    session, answer = login(brood, *world.auth(world.reader_email), next_path="/")
    assert answer.status_code == 303 and answer.headers["Location"] == "/"
    cookie = next(c for c in session.cookies if c.name == "hatcher_session")
    header = answer.headers["Set-Cookie"]
    assert "HttpOnly" in header and "SameSite=lax" in header and "Path=/" in header
    assert "Secure" not in header  # plain HTTP here; under TLS the cookie is Secure
    assert not cookie.secure
    home = session.get(brood.url + "/", timeout=30)
    assert home.status_code == 200 and world.org in home.text and world.reader_email in home.text
    # Only a path of this site is followed after login
    _, elsewhere = login(brood, *world.auth(world.reader_email), next_path="//evil.example/")
    assert elsewhere.headers["Location"] == "/"


def test_the_rest_api_does_not_take_the_cookie(world: World) -> None:
    session, _ = login(world.brood, *world.auth(world.admin_email))
    api = session.get(world.brood.url + URLS_V1.admin.organizations.format(), timeout=30)
    assert api.status_code == 401 and api.headers["Content-Type"] == "application/json"


def test_a_wrong_password_is_shown_next_to_the_field_and_throttled_like_the_api(world: World) -> None:
    brood = world.brood
    session, answer = login(brood, world.plain_email, "wrong")
    assert answer.status_code == 401
    assert 'aria-describedby="login-error"' in answer.text and "Wrong e-mail or password." in answer.text
    assert "hatcher_session" not in session.cookies
    events = requests.get(brood.url + URLS_V1.admin.audit.format(), auth=brood.admin_auth, timeout=30,
                          params={"action": "login.failed", "limit": 50}).json()["events"]
    assert any(event["target"] == f"user:{world.plain_email}" for event in events)


def test_forms_without_the_csrf_token_are_refused(world: World) -> None:
    brood = world.brood
    # The login form: its token must match the cookie it came with
    stranger = requests.post(brood.url + urls.LOGIN, data={"email": world.plain_email, "password": "x",
                                                           "csrf": "forged"}, timeout=30, allow_redirects=False)
    assert stranger.status_code == 403 and stranger.headers["Content-Type"].startswith("text/html")
    # A logged-in form: the token is tied to the session
    session, _ = login(brood, *world.auth(world.plain_email))
    for data in ({}, {"csrf": "0" * 64}):
        refused = session.post(brood.url + urls.LOGOUT, data=data, allow_redirects=False, timeout=30)
        assert refused.status_code == 403
    assert session.get(brood.url + "/", allow_redirects=False, timeout=30).status_code == 200


def test_logout_ends_the_session_on_the_server(world: World) -> None:
    brood = world.brood
    session, _ = login(brood, *world.auth(world.plain_email))
    secret = session.cookies["hatcher_session"]
    home = session.get(brood.url + "/", timeout=30)
    answer = session.post(brood.url + urls.LOGOUT, data={"csrf": _csrf(home.text)}, allow_redirects=False,
                          timeout=30)
    assert answer.status_code == 303 and answer.headers["Location"] == urls.LOGIN
    # The old cookie, sent again by someone who kept it, no longer works
    replay = requests.get(brood.url + "/", cookies={"hatcher_session": secret}, allow_redirects=False, timeout=30)
    assert replay.status_code == 303


def test_pages_carry_the_security_headers(world: World) -> None:
    brood = world.brood
    session, _ = login(brood, *world.auth(world.plain_email))
    for path in ("/", urls.LOGIN, urls.STATIC + "/hatcher.css", "/ui/no-such-org/no-such-repo"):
        answer = session.get(brood.url + path, timeout=30)
        csp = answer.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
        assert answer.headers["Referrer-Policy"] == "same-origin"
    missing = session.get(brood.url + "/ui/no-such-org/no-such-repo", timeout=30)
    assert missing.status_code == 404 and missing.headers["Content-Type"].startswith("text/html")
    # The API's answers are unchanged: JSON, without the page headers
    api = requests.get(brood.url + "/api/v1/json/metadata/platforms", timeout=30)
    assert api.headers["Content-Type"] == "application/json" and "Content-Security-Policy" not in api.headers


@pytest.mark.embedded
def test_under_tls_the_cookies_are_secure(tmp_path: Path) -> None:
    certificates = make_certificates(tmp_path)
    with EmbeddedBrood(certfile=certificates.cert, keyfile=certificates.key) as brood:
        session = requests.Session()  # verify= on each request: REQUESTS_CA_BUNDLE would win over session.verify
        form = session.get(brood.url + urls.LOGIN, timeout=30, verify=certificates.ca)
        assert "Secure" in form.headers["Set-Cookie"]  # the login form's CSRF cookie
        answer = session.post(brood.url + urls.LOGIN, allow_redirects=False, timeout=30, verify=certificates.ca, data={
            "email": brood.admin_auth[0], "password": brood.admin_auth[1], "csrf": _csrf(form.text), "next": "/"})
        assert answer.status_code == 303
        assert "hatcher_session=" in answer.headers["Set-Cookie"] and "Secure" in answer.headers["Set-Cookie"]
