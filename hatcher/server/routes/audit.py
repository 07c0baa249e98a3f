"""Route: reading the audit log (API v1 only)."""

from __future__ import annotations

import datetime
from typing import Any, Optional

from fastapi import APIRouter, Depends, Request
from sqlalchemy import select
from sqlalchemy.orm import Session

from hatcher.server import audit
from hatcher.server.db import Organization
from hatcher.server.deps import add_routes, get_db, get_principal
from hatcher.server.errors import ApiError
from hatcher.server.security import ORGANIZATION_ADMINISTRATOR, Principal, organization_role

router = APIRouter()

#: Events per page when ``limit`` is not given, and at most.
DEFAULT_LIMIT, MAX_LIMIT = 100, 1000


def _integer(request: Request, name: str, low: int, high: int) -> Optional[int]:
    value = request.query_params.get(name)
    if value is None:
        return None
    try:
        number = int(value)
    except ValueError:
        number = low - 1
    if not low <= number <= high:
        raise ApiError(400, f"Invalid {name}: an integer from {low} to {high} is required, got {value[:32]!r}")
    return number


def _since(value: Optional[str]) -> Optional[datetime.datetime]:
    if value is None:
        return None
    try:
        moment = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ApiError(400, f"Invalid since: an ISO 8601 time is required, got {value[:64]!r}") from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    return moment


def _visible_organizations(db: Session, principal: Principal, wanted: Optional[str]) -> Optional[list[str]]:
    """The organizations whose events the caller may read (None: all); 403 when none."""
    if principal.is_superuser and principal.scopes is None:
        return None if wanted is None else [wanted]
    names = [name for organization_id, name in db.execute(select(Organization.id, Organization.name))
             if (wanted is None or name == wanted)
             and organization_role(db, principal, organization_id) == ORGANIZATION_ADMINISTRATOR]
    if not names:
        where = f"of '{wanted}'" if wanted is not None else "of an organization"
        raise ApiError(403, f"Reading the audit log needs server or organization administrator rights {where}")
    return names


def list_audit_events(request: Request, db: Session = Depends(get_db),
                      principal: Principal = Depends(get_principal)) -> Any:
    """Audit events, newest first, one page at a time.

    Query: ``organization`` (its events only), ``since`` (ISO 8601, UTC unless it has an
    offset), ``action`` (``egg.delete``, or a subject such as ``egg`` for all its actions),
    ``limit`` (1 to 1000, default 100) and ``before`` (an event id: the next page).
    Superusers read every event; organization administrators their organizations' events;
    everyone else gets 403.

    Returns
    -------
    dict
        ``{"events": [{"id", "time", "actor", "action", "target", "organization", "address",
        "outcome", "detail"}, ...], "next": id or null}``; pass ``next`` as ``before`` for the
        following page (null: no more events).
    """
    params = request.query_params
    organizations = _visible_organizations(db, principal, params.get("organization"))
    limit = _integer(request, "limit", 1, MAX_LIMIT) or DEFAULT_LIMIT
    before = _integer(request, "before", 1, 2 ** 63 - 1)
    events = audit.query(db, organizations, _since(params.get("since")), params.get("action"), before, limit + 1)
    more = len(events) > limit
    events = events[:limit]
    return {"events": [audit.document(event) for event in events], "next": events[-1].id if more else None}


add_routes(router, lambda urls: urls.admin.audit, list_audit_events, ["GET"], versions=(1,))
