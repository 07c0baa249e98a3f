"""Server-side account management used by the command line: superusers and passwords."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from hatcher.server.db import User
from hatcher.server.security import forget_session_tokens, hash_password


def ensure_superuser(db: Session, email: str, password: str) -> User:
    """Create the superuser ``email``, or make an existing user a superuser with this password."""
    user = db.scalar(select(User).where(User.email == email))
    if user is None:
        user = User(email=email)
        db.add(user)
    user.is_superuser = True
    user.password_hash = hash_password(password)
    db.commit()
    forget_session_tokens()  # cached principals carry the superuser flag
    return user


def set_password(db: Session, email: str, password: str) -> bool:
    """Set the password of the user ``email``; False when there is no such user."""
    user = db.scalar(select(User).where(User.email == email))
    if user is None:
        return False
    user.password_hash = hash_password(password)
    db.commit()
    return True
