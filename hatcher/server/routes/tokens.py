"""Routes: API tokens (create, list, delete) and the session-token exchange."""

from __future__ import annotations

import datetime
from typing import Any, Optional

from fastapi import APIRouter, Depends, Request
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from hatcher.core.url_templates import TOKENS_AUTH_PATH
from hatcher.server.coordination import invalidation_message
from hatcher.server.db import ApiToken, SessionToken, utcnow
from hatcher.server.deps import (
    add_routes,
    body_bytes,
    check_fields,
    check_name,
    commit_unique,
    get_db,
    get_principal,
    get_settings,
    parse_json,
)
from hatcher.server.errors import ApiError
from hatcher.server.security import (
    Principal,
    issue_session_token,
    new_secret,
    token_hash,
)
from hatcher.server.settings import ServerSettings

router = APIRouter()

#: Longest API token name (the ``brood-json-schemas`` limit).
MAX_TOKEN_NAME_LENGTH = 64


def _iso(moment: Optional[datetime.datetime]) -> Optional[str]:
    return None if moment is None else moment.isoformat()


def create_api_token(db: Session = Depends(get_db), principal: Principal = Depends(get_principal),
                     raw: bytes = Depends(body_bytes)) -> Any:
    """Create an API token for the caller from ``{"name"}``.

    The name is at most 64 characters and may not contain ``/`` (nor ``..``, ``\\`` or
    control characters); 400 otherwise, 409 when the caller already has a token of that name.

    Returns
    -------
    dict
        201 ``{"name", "token"}``: the only time the secret is shown (only its sha256 is kept).
    """
    body = check_fields(parse_json(raw), {"name": str})
    name = check_name(body["name"], "token name", MAX_TOKEN_NAME_LENGTH)
    exists = db.scalar(select(ApiToken.id).where(ApiToken.user_id == principal.user_id, ApiToken.name == name))
    if exists is not None:
        raise ApiError(409, f"You already have an API token named '{name}'")
    secret = new_secret()
    db.add(ApiToken(user_id=principal.user_id, name=name, token_hash=token_hash(secret)))
    commit_unique(db, f"You already have an API token named '{name}'")
    return {"name": name, "token": secret}


def list_api_tokens(db: Session = Depends(get_db), principal: Principal = Depends(get_principal)) -> Any:
    """List the caller's API tokens, oldest first, never with their secrets.

    Returns
    -------
    dict
        ``{"tokens": [{"name", "created", "last_used"}, ...]}``; times are ISO 8601 UTC
        without a zone, ``last_used`` is null for a token never used.
    """
    tokens = db.scalars(select(ApiToken).where(ApiToken.user_id == principal.user_id).order_by(ApiToken.id))
    return {"tokens": [{"name": token.name, "created": _iso(token.created), "last_used": _iso(token.last_used)}
                       for token in tokens]}


def delete_api_token(name: str, db: Session = Depends(get_db), principal: Principal = Depends(get_principal)) -> None:
    """Delete the caller's API token ``name``; 204, or 404 when there is none (``force`` is ignored)."""
    token = db.scalar(select(ApiToken).where(ApiToken.user_id == principal.user_id, ApiToken.name == name))
    if token is None:
        raise ApiError(404, f"No such API token: '{name}'")
    db.delete(token)
    db.commit()


add_routes(router, lambda urls: urls.tokens.api, create_api_token, ["POST"], 201)
add_routes(router, lambda urls: urls.tokens.api, list_api_tokens, ["GET"])
add_routes(router, lambda urls: urls.tokens.api.delete, delete_api_token, ["DELETE"], 204)


def exchange_session_token(request: Request, db: Session = Depends(get_db),
                           principal: Principal = Depends(get_principal),
                           settings: ServerSettings = Depends(get_settings)) -> Any:
    """Exchange Basic credentials, an API token or a session token for a new session token.

    Expired session tokens of every user are purged on the way.

    Returns
    -------
    dict
        ``{"token", "expires"}``; ``expires`` is ISO 8601 UTC without a zone, after
        ``settings.session_token_lifetime`` seconds.
    """
    now = utcnow()
    expired = list(db.scalars(select(SessionToken.token_hash).where(SessionToken.expires <= now)))
    if expired:
        db.execute(delete(SessionToken).where(SessionToken.expires <= now))
        request.app.state.services.coordinator.invalidate(db, invalidation_message(expired))
    secret, expires = issue_session_token(db, principal, settings.session_token_lifetime)
    return {"token": secret, "expires": _iso(expires)}


router.add_api_route(TOKENS_AUTH_PATH, exchange_session_token, methods=["POST"], response_model=None,
                     include_in_schema=False)
