"""The audit log: who did what to which resource, when, from where, and with what outcome.

Events are rows of ``audit_events``, added in the same transaction as the change they
record (so a change that is rolled back leaves no event), and never updated or deleted by
the server. Actions are dotted, ``SUBJECT.VERB``:

=================================== ===========================================================
``login.failed``, ``login.locked``  a wrong password; the lockout it caused (outcome ``failure``)
``login.unlock``                    ``hatcher server unlock`` cleared an account's lockouts
``token.create``, ``token.revoke``  an API token (its name and scopes, never its secret)
``password.set``                    ``hatcher server set-password`` (never the password)
``organization.create``             and ``repository.create``/``.delete``, ``user.create``/``.delete``,
                                    ``team.create``/``.delete``
``team.role_change``                a member or a repository added to or removed from a team
``egg.upload``, ``egg.overwrite``   and ``runtime.*``, ``app.*``, ``bundle.*``; ``detail.enabled``
                                    tells whether it went in enabled (``false``: disabled)
``egg.delete``                      and ``runtime.delete``, ``bundle.delete``
``egg.reindex``                     eggs enabled by a re-index (``detail.enabled``: how many)
=================================== ===========================================================
"""

from __future__ import annotations

import datetime
from typing import Any, Optional

from sqlalchemy import select
from sqlalchemy.orm import Session

from hatcher.server.db import AuditEvent, utcnow

#: The action prefix of each artefact kind.
KIND_SUBJECTS = {"egg": "egg", "runtime_v0": "runtime", "runtime": "runtime", "app": "app", "bundle": "bundle"}


def record(db: Session, action: str, target: str, *, actor: Optional[str], address: Optional[str],
           organization: Optional[str] = None, outcome: str = "success",
           detail: Optional[dict[str, Any]] = None) -> None:
    """Add an event to ``db``'s transaction (it is written when the caller commits)."""
    db.add(AuditEvent(time=utcnow(), actor=actor, action=action, target=target[:1024], organization=organization,
                      address=address, outcome=outcome, detail=detail))


def record_by(db: Session, principal: Any, action: str, target: str, organization: Optional[str] = None,
              **detail: Any) -> None:
    """:func:`record` an event of ``principal`` (a :class:`~hatcher.server.security.Principal`)."""
    record(db, action, target, actor=principal.email, address=principal.address, organization=organization,
           detail=detail or None)


def record_team(db: Session, principal: Any, team: Any, action: str = "team.role_change", **detail: Any) -> None:
    """:func:`record_by` ``action`` on ``team`` (a :class:`~hatcher.server.db.Team`), its role in the
    detail: adding or removing a member or a repository grants or revokes that role."""
    organization = team.organization.name
    record_by(db, principal, action, f"{organization}/{team.name}", organization, role=team.role, **detail)


def document(event: AuditEvent) -> dict[str, Any]:
    """The JSON form of an event."""
    return {"id": event.id, "time": event.time.isoformat(), "actor": event.actor, "action": event.action,
            "target": event.target, "organization": event.organization, "address": event.address,
            "outcome": event.outcome, "detail": event.detail}


def query(db: Session, organizations: Optional[list[str]], since: Optional[datetime.datetime],
          action: Optional[str], before: Optional[int], limit: int) -> list[AuditEvent]:
    """Events newest first: of these organizations (all when None), at ``since`` or later,
    of ``action`` (or of every action under it, for a subject such as ``egg``), with an id
    below ``before``; at most ``limit``."""
    statement = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit)
    if organizations is not None:
        statement = statement.where(AuditEvent.organization.in_(organizations))
    if since is not None:
        statement = statement.where(AuditEvent.time >= since)
    if action is not None:
        statement = statement.where((AuditEvent.action == action) | AuditEvent.action.startswith(action + ".",
                                                                                                   autoescape=True))
    if before is not None:
        statement = statement.where(AuditEvent.id < before)
    return list(db.scalars(statement))
