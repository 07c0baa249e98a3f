"""Server-side account management used by the command line: superusers and passwords."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from hatcher.server import audit
from hatcher.server.coordination import EVERYTHING, invalidation_message, notify_replicas
from hatcher.server.db import SessionToken, User
from hatcher.server.security import forget_session_tokens, hash_password


def ensure_superuser(db: Session, email: str, password: str) -> User:
    """Create the superuser ``email``, or make an existing user a superuser with this password."""
    user = db.scalar(select(User).where(User.email == email))
    if user is None:
        user = User(email=email)
        db.add(user)
    user.is_superuser = True
    user.password_hash = hash_password(password)
    audit.record(db, "password.set", f"user:{email}", actor=None, address=None, detail={"superuser": True})
    notify_replicas(db, EVERYTHING)  # cached principals carry the superuser flag
    db.commit()
    forget_session_tokens()
    return user


def set_password(db: Session, email: str, password: str) -> bool:
    """Set the password of the user ``email`` and end their sessions; False when there is no such user.

    The user's session tokens are deleted, and every replica is told to forget them.
    """
    user = db.scalar(select(User).where(User.email == email))
    if user is None:
        return False
    user.password_hash = hash_password(password)
    audit.record(db, "password.set", f"user:{email}", actor=None, address=None)
    sessions = list(db.scalars(select(SessionToken.token_hash).where(SessionToken.user_id == user.id)))
    if sessions:
        db.execute(delete(SessionToken).where(SessionToken.user_id == user.id))
        notify_replicas(db, invalidation_message(sessions))
    db.commit()
    forget_session_tokens(sessions)
    return True
