"""Routes: API tokens (create, list, delete) and the session-token exchange."""

from __future__ import annotations

import datetime
from typing import Any, Optional

from fastapi import APIRouter, Depends, Request
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from hatcher.core.url_templates import TOKENS_AUTH_PATH
from hatcher.server.audit import record_by
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
    Scope,
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


#: Most scopes one token may hold.
MAX_SCOPES = 100


def parse_scopes(value: Any) -> Optional[list[str]]:
    """The ``scopes`` of a token request, checked and without duplicates (None when absent)."""
    if value is None:
        return None
    if not isinstance(value, list) or not value or len(value) > MAX_SCOPES:
        raise ApiError(400, f"Invalid request body: 'scopes' must be a list of 1 to {MAX_SCOPES} "
                            "'ROLE:ORGANIZATION/REPOSITORY' strings")
    return list(dict.fromkeys(str(Scope.parse(text)) for text in value))


def parse_expires(value: Any) -> Optional[datetime.datetime]:
    """The ``expires`` of a token request as naive UTC: an ISO 8601 time in the future."""
    if value is None:
        return None
    try:
        moment = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except (AttributeError, ValueError):
        raise ApiError(400, f"Invalid request body: 'expires' must be an ISO 8601 time, got {str(value)[:64]!r}"
                       ) from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    if moment <= utcnow():
        raise ApiError(400, f"Invalid request body: 'expires' ({moment.isoformat()} UTC) is in the past")
    return moment


def issue_api_token(db: Session, principal: Principal, name: str, scopes: Optional[list[str]],
                    expires: Optional[datetime.datetime]) -> str:
    """Store a new API token of ``principal`` (its digest) and audit it; its secret, to be shown once.

    Raises
    ------
    ApiError
        409 when the principal already has a token of that name.
    """
    secret = new_secret()
    db.add(ApiToken(user_id=principal.user_id, name=name, token_hash=token_hash(secret), scopes=scopes,
                    expires=expires))
    record_by(db, principal, "token.create", f"token:{principal.email}/{name}", scopes=scopes,
              expires=_iso(expires))
    commit_unique(db, f"You already have an API token named '{name}'")
    return secret


def create_api_token(db: Session = Depends(get_db), principal: Principal = Depends(get_principal),
                     raw: bytes = Depends(body_bytes)) -> Any:
    """Create an API token for the caller from ``{"name"}``, optionally ``"scopes"`` and ``"expires"``.

    The name is at most 64 characters and may not contain ``/`` (nor ``..``, ``\\`` or
    control characters); 400 otherwise, 409 when the caller already has a token of that name.
    ``scopes`` lists ``ROLE:ORG/REPO`` (ROLE ``read_index``, ``read_repository`` or
    ``upload_repository``; REPO may be ``*``); ``expires`` is an ISO 8601 time (UTC unless
    it has an offset). Without them the token does what its owner can, and never expires.

    Returns
    -------
    dict
        201 ``{"name", "token"}`` (and ``scopes``, ``expires`` when given): the only time
        the secret is shown (only its sha256 is kept).
    """
    body = check_fields(parse_json(raw), {"name": str}, {"scopes": (list, type(None)), "expires": (str, type(None))})
    name = check_name(body["name"], "token name", MAX_TOKEN_NAME_LENGTH)
    scopes = parse_scopes(body.get("scopes"))
    expires = parse_expires(body.get("expires"))
    exists = db.scalar(select(ApiToken.id).where(ApiToken.user_id == principal.user_id, ApiToken.name == name))
    if exists is not None:
        raise ApiError(409, f"You already have an API token named '{name}'")
    secret = issue_api_token(db, principal, name, scopes, expires)
    answer = {"name": name, "token": secret}
    if scopes is not None:
        answer["scopes"] = scopes
    if expires is not None:
        answer["expires"] = _iso(expires)
    return answer


def list_api_tokens(db: Session = Depends(get_db), principal: Principal = Depends(get_principal)) -> Any:
    """List the caller's API tokens, oldest first, never with their secrets.

    Returns
    -------
    dict
        ``{"tokens": [{"name", "created", "last_used"}, ...]}``; times are ISO 8601 UTC
        without a zone, ``last_used`` is null for a token never used. A token with scopes
        or an expiry also has ``scopes`` and ``expires`` (a token without them is listed as
        the Brood API describes it).
    """
    tokens = db.scalars(select(ApiToken).where(ApiToken.user_id == principal.user_id).order_by(ApiToken.id))
    return {"tokens": [_token_document(token) for token in tokens]}


def _token_document(token: ApiToken) -> dict[str, Any]:
    document = {"name": token.name, "created": _iso(token.created), "last_used": _iso(token.last_used)}
    if token.scopes is not None or token.expires is not None:
        document.update(scopes=token.scopes, expires=_iso(token.expires))
    return document


def delete_api_token(name: str, db: Session = Depends(get_db), principal: Principal = Depends(get_principal)) -> None:
    """Delete the caller's API token ``name``; 204, or 404 when there is none (``force`` is ignored)."""
    token = db.scalar(select(ApiToken).where(ApiToken.user_id == principal.user_id, ApiToken.name == name))
    if token is None:
        raise ApiError(404, f"No such API token: '{name}'")
    db.delete(token)
    record_by(db, principal, "token.revoke", f"token:{principal.email}/{name}")
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
