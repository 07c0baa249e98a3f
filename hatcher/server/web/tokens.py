"""Pages: the user's API tokens (list, create, revoke), with the API's validation and audit.

A new token's secret is shown once, in the answer to the creating POST (only its sha256
is kept); revoking goes through a confirmation page naming the token.
"""

from __future__ import annotations

from typing import Any, Optional

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from hatcher.server.audit import record_by
from hatcher.server.db import ApiToken
from hatcher.server.deps import check_name, get_db
from hatcher.server.errors import ApiError
from hatcher.server.routes.tokens import MAX_TOKEN_NAME_LENGTH, issue_api_token, parse_expires, parse_scopes
from hatcher.server.security import Principal
from hatcher.server.web import urls
from hatcher.server.web.render import SECURITY_HEADERS, render
from hatcher.server.web.session import form_user, page_user

router = APIRouter(include_in_schema=False)


def see_other(location: str) -> RedirectResponse:
    """The 303 answer of a form POST (POST → redirect → GET)."""
    return RedirectResponse(location, status_code=303, headers=SECURITY_HEADERS)


def _tokens(db: Session, principal: Principal) -> list[ApiToken]:
    return list(db.scalars(select(ApiToken).where(ApiToken.user_id == principal.user_id).order_by(ApiToken.id)))


def _page(request: Request, db: Session, principal: Principal, status_code: int = 200,
          errors: Optional[dict[str, str]] = None, values: Optional[dict[str, str]] = None) -> Response:
    return render(request, "tokens.html", status_code, title="API tokens", crumbs=[("Home", urls.HOME),
                  ("API tokens", None)], tokens=_tokens(db, principal), errors=errors or {},
                  values=values or {"name": "", "scopes": "", "expires": ""})


def tokens_page(request: Request, principal: Principal = Depends(page_user),
                db: Session = Depends(get_db)) -> Response:
    """The user's API tokens (name, created, last used, scopes, expiry) and the form creating one."""
    return _page(request, db, principal)


def _expiry(text: str) -> Any:
    """A form's ``expires`` (``YYYY-MM-DD`` or ``YYYY-MM-DDTHH:MM``, UTC) as the API's ``_expires`` takes it."""
    if not text:
        return None
    return parse_expires(text + ("T23:59:59" if len(text) == 10 else ""))


async def create_token(request: Request, principal: Principal = Depends(form_user),
                       db: Session = Depends(get_db)) -> Response:
    """Create an API token from the form; the answer shows its secret, once."""
    form = await request.form()
    values = {key: str(form.get(key, "")).strip() for key in ("name", "scopes", "expires")}
    errors: dict[str, str] = {}
    name = scopes = expires = None
    try:
        name = check_name(values["name"], "token name", MAX_TOKEN_NAME_LENGTH)
        if db.scalar(select(ApiToken.id).where(ApiToken.user_id == principal.user_id,
                                               ApiToken.name == name)) is not None:
            errors["name"] = f"You already have an API token named '{name}'."
    except ApiError as error:
        errors["name"] = error.message
    try:
        lines = [line.strip() for line in values["scopes"].replace(",", "\n").splitlines() if line.strip()]
        scopes = parse_scopes(lines) if lines else None
    except ApiError as error:
        errors["scopes"] = error.message
    try:
        expires = _expiry(values["expires"])
    except ApiError as error:
        errors["expires"] = error.message
    if errors:
        return _page(request, db, principal, 400, errors, values)
    assert name is not None
    secret = issue_api_token(db, principal, name, scopes, expires)
    response = render(request, "token_created.html", title=f"API token {name} created",
                      crumbs=[("Home", urls.HOME), ("API tokens", urls.TOKENS), (f"New token {name}", None)],
                      name=name, secret=secret, scopes=scopes, expires=expires)
    response.headers["Cache-Control"] = "no-store"
    return response


def _token(db: Session, principal: Principal, name: str) -> ApiToken:
    token = db.scalar(select(ApiToken).where(ApiToken.user_id == principal.user_id, ApiToken.name == name))
    if token is None:
        raise ApiError(404, f"No such API token: '{name}'")
    return token


def confirm_revoke(request: Request, name: str, principal: Principal = Depends(page_user),
                   db: Session = Depends(get_db)) -> Response:
    """The confirmation page of revoking the token ``name``."""
    token = _token(db, principal, name)
    return render(request, "confirm.html", title=f"Revoke API token {token.name}",
                  crumbs=[("Home", urls.HOME), ("API tokens", urls.TOKENS), (f"Revoke {token.name}", None)],
                  heading=f"Revoke the API token “{token.name}”?",
                  explanation="Programs using this token will no longer be able to reach the server. "
                              "This cannot be undone.",
                  items=[f"API token {token.name}"], items_label="This token will be revoked",
                  action=urls.path(urls.TOKEN_DELETE, name=token.name), hidden=[],
                  button="Revoke token", cancel=urls.TOKENS)


def revoke_token(name: str, principal: Principal = Depends(form_user), db: Session = Depends(get_db)) -> Response:
    """Revoke (delete) the token ``name``, then back to the list."""
    token = _token(db, principal, name)
    db.delete(token)
    record_by(db, principal, "token.revoke", f"token:{principal.email}/{name}")
    db.commit()
    return see_other(urls.TOKENS)


router.add_api_route(urls.TOKENS, tokens_page, methods=["GET"])
router.add_api_route(urls.TOKENS, create_token, methods=["POST"])
router.add_api_route(urls.TOKEN_DELETE, confirm_revoke, methods=["GET"])
router.add_api_route(urls.TOKEN_DELETE, revoke_token, methods=["POST"])
