"""Passwords, tokens, who is asking, and what each role may do.

Passwords are hashed with scrypt (memory-hard, in the standard library). API and session
tokens are random 160-bit secrets; only their sha256 is stored, so a lookup is one
indexed query and a stolen database reveals no usable token.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import functools
import hashlib
import hmac
import secrets
import threading
import time
from typing import Any, Optional

import attr
from sqlalchemy import and_, bindparam, select
from sqlalchemy.orm import Session

from hatcher.server import throttle
from hatcher.server.coordination import parse_invalidation
from hatcher.server.db import (
    ApiToken,
    Organization,
    Repository,
    SessionToken,
    Team,
    User,
    team_members,
    team_repositories,
    utcnow,
)
from hatcher.server.errors import ApiError

#: The roles a team grants, weakest first.
ROLES = ("read_index", "read_repository", "upload_repository", "organization_administrator")
READ_INDEX, READ_REPOSITORY, UPLOAD_REPOSITORY, ORGANIZATION_ADMINISTRATOR = ROLES

_SCRYPT = {"n": 2 ** 14, "r": 8, "p": 1}


def hash_password(password: str) -> str:
    """``scrypt$n$r$p$salt$hash`` (base64 parts) of ``password``."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, dklen=32, **_SCRYPT)
    parts = [str(_SCRYPT[k]) for k in ("n", "r", "p")] + [base64.b64encode(x).decode() for x in (salt, digest)]
    return "scrypt$" + "$".join(parts)


def verify_password(password: str, stored: Optional[str]) -> bool:
    """True when ``password`` matches the stored hash (always False without one)."""
    if not stored:
        return False
    try:
        _, n, r, p, salt, digest = stored.split("$")
        expected = base64.b64decode(digest)
        actual = hashlib.scrypt(password.encode("utf-8"), salt=base64.b64decode(salt), dklen=len(expected),
                                n=int(n), r=int(r), p=int(p))
    except (ValueError, binascii.Error):
        return False
    return hmac.compare_digest(actual, expected)


@functools.cache
def _dummy_hash() -> str:
    """The hash of a random password, made once: what an unknown user's password is checked against."""
    return hash_password(secrets.token_hex(16))


def spend_a_password_check(password: str) -> None:
    """Check ``password`` against a hash no one knows, at the cost of a real check.

    For an unknown user, or one without a password, so that the answer takes as long as for a
    known user with a wrong password: response times tell nothing of who has an account.
    """
    verify_password(password, _dummy_hash())


def new_secret() -> str:
    """A fresh random token secret (40 hex characters)."""
    return secrets.token_hex(20)


def token_hash(secret: str) -> str:
    """What is stored of a token: the hex sha256 of its secret.

    Tokens are looked up by this digest in a unique index, never by comparing secrets: the
    time a lookup takes depends on the digest, which an attacker cannot steer towards a
    stored one, so no constant-time comparison of secrets is needed (nor possible to leak).
    """
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


#: The roles an API token may be scoped to (never organization administration).
SCOPE_ROLES = ("read_index", "read_repository", "upload_repository")


@attr.s(frozen=True)
class Scope:
    """What a scoped API token may do: ``role`` on ``organization/repository`` (``*``: every repository)."""

    role: str = attr.ib()
    organization: str = attr.ib()
    repository: str = attr.ib()

    @classmethod
    def parse(cls, text: Any) -> Scope:
        """Read ``ROLE:ORG/REPO``.

        Raises
        ------
        ApiError
            400 naming what is wrong.
        """
        if not isinstance(text, str):
            raise ApiError(400, "Invalid scope: a string 'ROLE:ORGANIZATION/REPOSITORY' is required")
        role, _, where = text.partition(":")
        organization, _, repository = where.partition("/")
        if role not in SCOPE_ROLES:
            raise ApiError(400, f"Invalid scope {text[:100]!r}: the role must be one of {', '.join(SCOPE_ROLES)}")
        if not organization or not repository or "/" in repository or "*" in organization:
            raise ApiError(400, f"Invalid scope {text[:100]!r}: expected 'ROLE:ORGANIZATION/REPOSITORY' "
                                "(REPOSITORY may be '*')")
        return cls(role, organization, repository)

    def __str__(self) -> str:
        return f"{self.role}:{self.organization}/{self.repository}"

    def covers(self, organization: str, repository: str) -> bool:
        """Whether the scope names this repository."""
        return self.organization == organization and self.repository in ("*", repository)


@attr.s(frozen=True)
class Principal:
    """Who sent a request, how they proved it, and from where.

    ``scopes`` is None except for a scoped API token, which may do no more than the roles
    it lists (and no more than its owner may: see :func:`role_on_repository`).
    """

    user_id: int = attr.ib()
    email: str = attr.ib()
    is_superuser: bool = attr.ib()
    method: str = attr.ib()  # "basic", "api_token" or "session"
    address: Optional[str] = attr.ib(default=None)
    scopes: Optional[tuple[Scope, ...]] = attr.ib(default=None)


class _VerifiedPasswords:
    """A short-lived memory of successful password checks, so Basic auth is not one scrypt per request.

    Keys are HMACs of ``email:password`` under a per-process random key, values the time of
    the check and the stored hash it passed against; nothing reusable is kept.
    """

    TTL = 60.0

    def __init__(self) -> None:
        self._key = secrets.token_bytes(32)
        self._seen: dict[bytes, tuple[float, str]] = {}
        self._lock = threading.Lock()

    def _pair(self, email: str, password: str) -> bytes:
        return hmac.new(self._key, f"{email}\0{password}".encode(), hashlib.sha256).digest()

    def _fresh(self, pair: bytes) -> Optional[str]:
        """The stored hash this pair passed against within :attr:`TTL` seconds, or None."""
        with self._lock:
            hit = self._seen.get(pair)
        return hit[1] if hit is not None and time.monotonic() - hit[0] < self.TTL else None

    def recently_verified(self, email: str, password: str) -> bool:
        """True when this email and password passed a check within :attr:`TTL` seconds.

        A hint for scheduling only (checking them again will be cheap); :meth:`check` decides.
        """
        return self._fresh(self._pair(email, password)) is not None

    def clear(self) -> None:
        """Forget every check."""
        with self._lock:
            self._seen.clear()

    def check(self, email: str, password: str, stored: Optional[str]) -> bool:
        if not stored:
            return False
        pair = self._pair(email, password)
        if self._fresh(pair) == stored:
            return True
        if not verify_password(password, stored):
            return False
        with self._lock:
            if len(self._seen) > 10_000:
                self._seen.clear()
            self._seen[pair] = (time.monotonic(), stored)
        return True


_PASSWORDS = _VerifiedPasswords()


class SessionTokenCache:
    """Recently verified session tokens, so a busy client's requests skip the token query.

    Keyed by the database engine and the token's sha256 (never the secret). An entry is
    kept at most :attr:`TTL` seconds and never past the token's expiry; deleting tokens
    through :func:`forget_session_tokens` drops them at once, and so does an invalidation
    from another replica (:mod:`hatcher.server.coordination`: on PostgreSQL it arrives within
    milliseconds). A token deleted behind the server's back without one (plain SQL, or
    another process on SQLite) stays usable here for at most ``TTL`` seconds.
    """

    TTL = 30.0
    MAX_ENTRIES = 10_000

    def __init__(self) -> None:
        self._items: dict[tuple[int, str], tuple[float, datetime.datetime, Principal]] = {}
        self._lock = threading.Lock()

    def get(self, engine_id: int, digest: str) -> Optional[Principal]:
        key = (engine_id, digest)
        with self._lock:
            item = self._items.get(key)
            if item is None:
                return None
            cached_at, expires, principal = item
            if time.monotonic() - cached_at >= self.TTL or expires <= utcnow():
                del self._items[key]
                return None
            return principal

    def put(self, engine_id: int, digest: str, expires: datetime.datetime, principal: Principal) -> None:
        with self._lock:
            if len(self._items) >= self.MAX_ENTRIES:
                self._items.clear()
            self._items[(engine_id, digest)] = (time.monotonic(), expires, principal)

    def forget(self, digests: Optional[Any] = None) -> None:
        """Drop these token hashes (every entry when None)."""
        with self._lock:
            if digests is None:
                self._items.clear()
                return
            wanted = set(digests)
            for key in [key for key in self._items if key[1] in wanted]:
                del self._items[key]

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)


SESSION_TOKENS = SessionTokenCache()


def invalidate(message: str) -> None:
    """Drop what a cache invalidation names (see :mod:`hatcher.server.coordination`)."""
    digests = parse_invalidation(message)
    SESSION_TOKENS.forget(digests)
    if digests is None:
        _PASSWORDS.clear()


def forget_session_tokens(digests: Optional[Any] = None) -> None:
    """Make the server look these session-token hashes up again (all tokens when None).

    Call it whenever session tokens are deleted or a user's rights change.
    """
    SESSION_TOKENS.forget(digests)


def _principal(user: User, method: str, address: Optional[str], scopes: Optional[tuple[Scope, ...]] = None
               ) -> Principal:
    return Principal(user.id, user.email, user.is_superuser, method, address, scopes)


def _basic_credentials(value: str) -> tuple[str, str]:
    """The email and password of a Basic ``Authorization`` value; 401 when it is malformed."""
    try:
        email, _, password = base64.b64decode(value, validate=True).decode("utf-8").partition(":")
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ApiError(401, "Malformed Basic credentials") from None
    return email, password


def cheap_to_authenticate(authorization: Optional[str]) -> bool:
    """False when checking ``authorization`` may cost a password hash (scrypt: tens of milliseconds).

    That is Basic credentials that did not pass a check in the last minute; tokens, missing
    or malformed credentials are checked with a cache or one indexed query. Callers use it to
    decide whether the check may run on the event loop.
    """
    scheme, _, value = (authorization or "").partition(" ")
    if scheme.lower() != "basic":
        return True
    try:
        email, password = _basic_credentials(value.strip())
    except ApiError:
        return True
    return _PASSWORDS.recently_verified(email, password)


_DEFAULT_LIMITS = throttle.LoginLimits()


def password_login(db: Session, email: str, password: str, address: Optional[str],
                    limits: throttle.LoginLimits) -> Principal:
    """Check a password, within the login throttle (see :mod:`hatcher.server.throttle`)."""
    failures = throttle.check(db, limits, email, address)
    user = db.scalar(select(User).where(User.email == email))
    if user is None or not user.password_hash:
        spend_a_password_check(password)
        ok = False
    else:
        ok = _PASSWORDS.check(email, password, user.password_hash)
    if not ok:
        throttle.failed(db, limits, email, address)
        raise ApiError(401, "Invalid user name or password")
    throttle.succeeded(db, failures)
    return _principal(user, "basic", address)


def _api_token_principal(db: Session, api_token: ApiToken, address: Optional[str]) -> Principal:
    now = utcnow()
    if api_token.expires is not None and api_token.expires <= now:
        raise ApiError(401, f"The API token '{api_token.name}' expired on {api_token.expires.isoformat()} UTC")
    # Recorded at most once a minute, so that a busy client does not write on every request.
    if api_token.last_used is None or now - api_token.last_used > datetime.timedelta(seconds=60):
        api_token.last_used = now
        db.commit()
    scopes = None if api_token.scopes is None else tuple(Scope.parse(text) for text in api_token.scopes)
    return _principal(api_token.user, "api_token", address, scopes)


def authenticate(db: Session, authorization: Optional[str], address: Optional[str] = None,
                 limits: Optional[throttle.LoginLimits] = None) -> Principal:
    """The principal of an ``Authorization`` header: Basic, Bearer API token or Bearer session token.

    Parameters
    ----------
    db : Session
        The request's database session.
    authorization : str or None
        The header.
    address : str, optional
        The client's address (see :func:`hatcher.server.deps.client_address`): passwords are
        throttled per account and address, and the principal carries it for the audit log.
    limits : LoginLimits, optional
        The throttle's limits (the defaults: 10 failures in 15 minutes).

    Raises
    ------
    ApiError
        401 when the header is missing, malformed or does not match, or the token expired;
        429 while the account is locked out for this address (passwords only).
    """
    if not authorization:
        raise ApiError(401, "Authentication required")
    scheme, _, value = authorization.partition(" ")
    scheme = scheme.lower()
    value = value.strip()
    if scheme == "basic":
        email, password = _basic_credentials(value)
        return password_login(db, email, password, address, limits or _DEFAULT_LIMITS)
    if scheme == "bearer" and value:
        digest = token_hash(value)
        engine_id = id(db.get_bind())
        cached = SESSION_TOKENS.get(engine_id, digest)
        if cached is not None:
            return attr.evolve(cached, address=address)
        session = db.scalar(select(SessionToken).where(SessionToken.token_hash == digest))
        if session is not None:
            if session.expires <= utcnow():
                raise ApiError(401, "Session token expired")
            principal = _principal(session.user, "session", address)
            SESSION_TOKENS.put(engine_id, digest, session.expires, principal)
            return principal
        api_token = db.scalar(select(ApiToken).where(ApiToken.token_hash == digest))
        if api_token is not None:
            return _api_token_principal(db, api_token, address)
        raise ApiError(401, "Invalid token")
    raise ApiError(401, "Unsupported authorization scheme")


def issue_session_token(db: Session, principal: Principal, lifetime: int) -> tuple[str, datetime.datetime]:
    """Create a session token for ``principal``; return its secret and expiry."""
    secret = new_secret()
    expires = utcnow() + datetime.timedelta(seconds=lifetime)
    db.add(SessionToken(user_id=principal.user_id, token_hash=token_hash(secret), expires=expires))
    db.commit()
    return secret, expires


def _rank(role: Optional[str]) -> int:
    return ROLES.index(role) if role in ROLES else -1


def organization_role(db: Session, principal: Principal, organization_id: int) -> Optional[str]:
    """The strongest role ``principal`` holds in the organization through its teams (None if none)."""
    if principal.scopes is not None:
        return None  # a scoped token administers nothing
    if principal.is_superuser:
        return ORGANIZATION_ADMINISTRATOR
    user = db.get(User, principal.user_id)
    roles = [team.role for team in user.teams if team.organization_id == organization_id]
    return max(roles, key=_rank, default=None)


#: The roles a user holds in one organization through its teams, and whether each team lists
#: the repository (built once: every request on a repository runs it, superusers excepted).
_TEAM_ROLES = (
    select(Team.role, team_repositories.c.repository_id)
    .join(team_members, team_members.c.team_id == Team.id)
    .outerjoin(team_repositories, and_(team_repositories.c.team_id == Team.id,
                                       team_repositories.c.repository_id == bindparam("repository")))
    .where(team_members.c.user_id == bindparam("user"), Team.organization_id == bindparam("organization")))


def role_on_repository(db: Session, principal: Principal, repository_id: int, organization_id: int) -> Optional[str]:
    """The strongest role ``principal`` holds on a repository (None if it cannot see it).

    Organization administrators hold that role on every repository of their organization;
    other roles apply to the repositories their team lists. One query (two for a scoped
    token, which gets the lesser of its owner's role and its scopes').

    Raises
    ------
    ApiError
        403 for a scoped token whose scopes do not name a repository its owner can see.
    """
    if principal.is_superuser:
        best: Optional[str] = ORGANIZATION_ADMINISTRATOR
    else:
        best = None
        for role, listed in db.execute(_TEAM_ROLES, {"repository": repository_id, "user": principal.user_id,
                                                     "organization": organization_id}):
            if (role == ORGANIZATION_ADMINISTRATOR or listed is not None) and _rank(role) > _rank(best):
                best = role
    if principal.scopes is None or best is None:
        return best
    return _scoped(db, principal.scopes, repository_id, best)


def _scoped(db: Session, scopes: tuple[Scope, ...], repository_id: int, held: str) -> str:
    """The lesser of ``held`` and the strongest scope naming the repository (403 when none does)."""
    organization, repository = db.execute(
        select(Organization.name, Repository.name).join(Repository.organization)
        .where(Repository.id == repository_id)).one()
    granted = [scope.role for scope in scopes if scope.covers(organization, repository)]
    if not granted:
        raise ApiError(403, f"This API token's scopes do not include '{organization}/{repository}'")
    return min(held, max(granted, key=_rank), key=_rank)


def scope_allows(principal: Principal, organization: str, repository: str) -> bool:
    """Whether ``principal`` may act on the repository at all (always, unless its token is scoped)."""
    return principal.scopes is None or any(scope.covers(organization, repository) for scope in principal.scopes)


def repository_role(db: Session, principal: Principal, repository: Repository) -> Optional[str]:
    """The strongest role ``principal`` holds on ``repository`` (see :func:`role_on_repository`)."""
    return role_on_repository(db, principal, repository.id, repository.organization_id)


def check_role(held: Optional[str], role: str, full_name: str) -> str:
    """Return ``held`` if it is at least ``role``.

    Raises
    ------
    ApiError
        404 when ``held`` is None (the repository is not visible), 403 when it is too weak.
    """
    if held is None:
        raise ApiError(404, f"No such repository: '{full_name}'")
    if _rank(held) < _rank(role):
        raise ApiError(403, f"'{role}' access to '{full_name}' is required")
    return held


def require_repository_role(db: Session, principal: Principal, repository: Repository, role: str) -> str:
    """Return the principal's role on ``repository`` if it is at least ``role`` (404 or 403 otherwise)."""
    return check_role(repository_role(db, principal, repository), role, repository.full_name)
