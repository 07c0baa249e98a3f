"""Login, logout, the session cookie and CSRF tokens of the web interface.

A login checks the password exactly as the API's Basic authentication does (the same
throttle and audit log, :func:`hatcher.server.security.password_login`) and creates a
session token, whose secret goes into an HttpOnly, SameSite=Lax cookie (Secure under TLS);
the database keeps only its sha256, as for every token. Logging out deletes it.

Every form that changes something carries a CSRF token: the HMAC of the session's secret,
which a page of another site cannot know. The login form, before there is a session,
uses a double-submitted random value (a cookie and a hidden field that must match).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any, Optional
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import delete
from sqlalchemy.orm import Session

from hatcher.server.coordination import invalidation_message
from hatcher.server.db import SessionToken
from hatcher.server.deps import client_address, get_db, login_limits
from hatcher.server.errors import ApiError
from hatcher.server.security import Principal, authenticate, issue_session_token, password_login, token_hash
from hatcher.server.web import urls
from hatcher.server.web.render import SECURITY_HEADERS, render

router = APIRouter(include_in_schema=False)

COOKIE = "hatcher_session"
LOGIN_COOKIE = "hatcher_login"
#: Seconds a web session lasts.
LIFETIME = 8 * 3600


class LoginRequired(Exception):
    """Raised by :func:`page_user` without a session: answered with a redirect to the login page."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


def csrf_token(secret: str) -> str:
    """The CSRF token of the session whose secret is ``secret``."""
    return hmac.new(secret.encode(), b"hatcher-web-csrf", hashlib.sha256).hexdigest()


def session_principal(request: Request, db: Session) -> Optional[Principal]:
    """The principal of the request's session cookie, or None (remembered on ``request.state``)."""
    if "principal" in request.state._state:
        return request.state.principal
    principal = None
    secret = request.cookies.get(COOKIE)
    if secret:
        try:
            found = authenticate(db, f"Bearer {secret}", client_address(request))
        except ApiError:
            found = None
        principal = found if found is not None and found.method == "session" else None
    request.state.principal = principal
    return principal


def page_context(request: Request) -> dict[str, Any]:
    """What every template may use: the user (or None) and the form's CSRF token."""
    principal = request.state._state.get("principal")
    secret = request.cookies.get(COOKIE)
    csrf = csrf_token(secret) if principal is not None and secret else request.state._state.get("login_csrf", "")
    return {"user": principal, "csrf": csrf}


def page_user(request: Request, db: Session = Depends(get_db)) -> Principal:
    """The logged-in user of a page; without one, a redirect to the login page (then back)."""
    principal = session_principal(request, db)
    if principal is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequired(target)
    return principal


async def form_user(request: Request, db: Session = Depends(get_db)) -> Principal:
    """The logged-in user of a form POST whose CSRF token is right; 403 otherwise."""
    principal = session_principal(request, db)
    form = await request.form()
    secret = request.cookies.get(COOKIE)
    if principal is None or not secret:
        raise ApiError(403, "You are not logged in (or your session ended): log in and send the form again")
    if not hmac.compare_digest(str(form.get("csrf", "")), csrf_token(secret)):
        raise ApiError(403, "The form did not come from this site, or your session changed: reload the page "
                            "and send it again")
    return principal


def _safe_next(value: Optional[str]) -> str:
    """Only a path of this site (never ``//host`` or a URL) is followed after login."""
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return urls.HOME


def _secure(request: Request) -> bool:
    forwarded = request.headers.get("x-forwarded-proto", "")
    trusted = client_address(request) != (request.client.host if request.client else None)
    return request.url.scheme == "https" or (trusted and forwarded == "https")


def login_page(request: Request, next: Optional[str] = None, db: Session = Depends(get_db)) -> Response:
    """The login form (a user already logged in goes on to ``next``)."""
    if session_principal(request, db) is not None:
        return RedirectResponse(_safe_next(next), status_code=303, headers=SECURITY_HEADERS)
    return _login_form(request, next)


def _login_form(request: Request, next: Optional[str], status_code: int = 200, error: Optional[str] = None,
                email: str = "") -> Response:
    token = secrets.token_hex(16)
    request.state.login_csrf = token
    response = render(request, "login.html", status_code, title="Log in", next=_safe_next(next), error=error,
                      email=email)
    response.set_cookie(LOGIN_COOKIE, token, httponly=True, samesite="lax", secure=_secure(request),
                        max_age=3600, path=urls.LOGIN)
    return response


async def login(request: Request, db: Session = Depends(get_db)) -> Response:
    """Check the form's e-mail and password; on success set the session cookie and go on to ``next``."""
    form = await request.form()
    email, password = str(form.get("email", "")), str(form.get("password", ""))
    next_path = str(form.get("next", "")) or None
    expected = request.cookies.get(LOGIN_COOKIE, "")
    if not expected or not hmac.compare_digest(str(form.get("csrf", "")), expected):
        raise ApiError(403, "The login form did not come from this site, or it expired: reload it and try again")
    if not email or not password:
        return _login_form(request, next_path, 400, "Give your e-mail and your password.", email)
    try:
        principal = password_login(db, email, password, client_address(request), login_limits(request))
    except ApiError as error:
        if error.status not in (401, 429):
            raise
        message = "Wrong e-mail or password." if error.status == 401 else error.message
        response = _login_form(request, next_path, error.status, message, email)
        if error.headers:
            response.headers.update(error.headers)
        return response
    secret, _ = issue_session_token(db, principal, LIFETIME)
    response = RedirectResponse(_safe_next(next_path), status_code=303, headers=SECURITY_HEADERS)
    response.set_cookie(COOKIE, secret, httponly=True, samesite="lax", secure=_secure(request), max_age=LIFETIME,
                        path="/")
    response.delete_cookie(LOGIN_COOKIE, path=urls.LOGIN)
    return response


def logout(request: Request, principal: Principal = Depends(form_user), db: Session = Depends(get_db)) -> Response:
    """End the session on the server (the token is deleted, on every replica) and forget the cookie."""
    digest = token_hash(request.cookies[COOKIE])
    db.execute(delete(SessionToken).where(SessionToken.token_hash == digest))
    request.app.state.services.coordinator.invalidate(db, invalidation_message([digest]))
    db.commit()
    response = RedirectResponse(urls.LOGIN, status_code=303, headers=SECURITY_HEADERS)
    response.delete_cookie(COOKIE, path="/")
    return response


def login_redirect(next_path: str) -> Response:
    """Where :class:`LoginRequired` sends the browser."""
    return RedirectResponse(f"{urls.LOGIN}?next={quote(next_path, safe='')}", status_code=303,
                            headers=SECURITY_HEADERS)


router.add_api_route(urls.LOGIN, login_page, methods=["GET"])
router.add_api_route(urls.LOGIN, login, methods=["POST"])
router.add_api_route(urls.LOGOUT, logout, methods=["POST"])
