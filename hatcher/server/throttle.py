"""Login throttling: too many wrong passwords for one account from one address get 429.

The rule: after ``limit`` failed password checks of one account (the e-mail as sent, known
or not, so that a lockout says nothing of who has an account) from one client address,
counted over ``window`` seconds, every password attempt for that account from that
address is refused with 429 and a ``Retry-After``, even with the right password, for
``window`` seconds after the failure that reached the limit. A successful login clears the
count. Bearer tokens are never throttled, and other accounts and addresses are not affected.

The counters are rows of ``login_failures`` in the server's database, so every replica
shares them; ``hatcher server unlock EMAIL`` deletes an account's rows.
"""

from __future__ import annotations

import datetime
import math
from typing import Optional

import attr
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hatcher.server import audit
from hatcher.server.db import LoginFailures, utcnow
from hatcher.server.errors import ApiError


@attr.s(frozen=True)
class LoginLimits:
    """How many failures (``limit``) within how many seconds (``window``) lock an account out."""

    limit: int = attr.ib(default=10)
    window: int = attr.ib(default=15 * 60)


def _key(email: str, address: Optional[str]) -> tuple[str, str]:
    return email[:255], (address or "unknown")[:64]


def check(db: Session, limits: LoginLimits, email: str, address: Optional[str]) -> Optional[LoginFailures]:
    """The account's failure record from this address, or None when there is none.

    Raises
    ------
    ApiError
        429 with ``Retry-After`` while the account is locked out for this address.
    """
    email, address = _key(email, address)
    row = db.get(LoginFailures, (email, address))
    if row is None:
        return None
    now = utcnow()
    if row.locked_until is not None and row.locked_until > now:
        seconds = max(1, math.ceil((row.locked_until - now).total_seconds()))
        raise ApiError(429, f"Too many failed logins for '{email}' from {address}: try again in {seconds} s, "
                            f"or ask an administrator to unlock the account",
                       headers={"Retry-After": str(seconds)})
    return row


def failed(db: Session, limits: LoginLimits, email: str, address: Optional[str]) -> None:
    """Count a failed password check (and lock the account out at the limit); commits.

    Each failure is an audit event ``login.failed``; reaching the limit adds ``login.locked``.
    Concurrent failures from several replicas are counted by one ``UPDATE ... count + 1``.
    """
    email, address = _key(email, address)
    now = utcnow()
    since = now - datetime.timedelta(seconds=limits.window)
    db.rollback()  # whatever the request read so far: this is its own transaction
    for _ in range(3):
        bumped = db.execute(update(LoginFailures).where(
            LoginFailures.email == email, LoginFailures.address == address, LoginFailures.first_failure > since)
            .values(count=LoginFailures.count + 1)).rowcount
        if bumped:
            break
        # No recent streak: start one (a stale row, or a lockout that has passed, starts again).
        db.execute(delete(LoginFailures).where(LoginFailures.email == email, LoginFailures.address == address))
        db.add(LoginFailures(email=email, address=address, count=1, first_failure=now))
        try:
            db.flush()
            break
        except IntegrityError:  # another replica started it first: count on its row
            db.rollback()
    count, locked_until = db.execute(select(LoginFailures.count, LoginFailures.locked_until).where(
        LoginFailures.email == email, LoginFailures.address == address)).one()
    audit.record(db, "login.failed", f"user:{email}", actor=email, address=address, outcome="failure",
                 detail={"failures": count})
    if count >= limits.limit and locked_until is None:
        until = now + datetime.timedelta(seconds=limits.window)
        db.execute(update(LoginFailures).where(LoginFailures.email == email, LoginFailures.address == address)
                   .values(locked_until=until))
        audit.record(db, "login.locked", f"user:{email}", actor=email, address=address, outcome="failure",
                     detail={"failures": count, "seconds": limits.window})
    db.commit()


def succeeded(db: Session, row: Optional[LoginFailures]) -> None:
    """Clear the failure count after a right password (nothing to do without a record)."""
    if row is not None:
        db.execute(delete(LoginFailures).where(LoginFailures.email == row.email,
                                               LoginFailures.address == row.address))
        db.commit()


def unlock(db: Session, email: str) -> int:
    """Delete every failure record of ``email``; the number of addresses it was counted for."""
    removed = db.execute(delete(LoginFailures).where(LoginFailures.email == email)).rowcount
    audit.record(db, "login.unlock", f"user:{email}", actor=None, address=None, detail={"addresses": removed})
    db.commit()
    return removed
