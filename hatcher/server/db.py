"""The server's database: SQLAlchemy 2 models and sessions (SQLite by default, any SQLAlchemy URL works)."""

from __future__ import annotations

import datetime
from typing import Any, Optional

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Table,
    UniqueConstraint,
    create_engine,
    event,
)
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship, sessionmaker

#: Longest name (organization, repository, team, token, artefact) the server accepts.
MAX_NAME_LENGTH = 255


def utcnow() -> datetime.datetime:
    """The current UTC time, naive (as the API reports times without a zone)."""
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


class Base(DeclarativeBase):
    """Base class of the models."""


memberships = Table(
    "memberships", Base.metadata,
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("organization_id", ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True),
)

team_members = Table(
    "team_members", Base.metadata,
    Column("team_id", ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
)

team_repositories = Table(
    "team_repositories", Base.metadata,
    Column("team_id", ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True),
    Column("repository_id", ForeignKey("repositories.id", ondelete="CASCADE"), primary_key=True),
)


class User(Base):
    """A user, keyed by e-mail. Users created through the API have no password until one is set."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(MAX_NAME_LENGTH), unique=True)
    password_hash: Mapped[Optional[str]] = mapped_column(String(255), default=None)
    is_superuser: Mapped[bool] = mapped_column(Boolean, default=False)
    created: Mapped[datetime.datetime] = mapped_column(DateTime, default=utcnow)

    organizations: Mapped[list[Organization]] = relationship(secondary=memberships, back_populates="users")
    teams: Mapped[list[Team]] = relationship(secondary=team_members, back_populates="members")


class Organization(Base):
    """An organization: it owns repositories, teams and (through memberships) users."""

    __tablename__ = "organizations"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(MAX_NAME_LENGTH), unique=True)
    description: Mapped[str] = mapped_column(String(4096), default="")

    repositories: Mapped[list[Repository]] = relationship(
        back_populates="organization", cascade="all, delete-orphan", order_by="Repository.id")
    teams: Mapped[list[Team]] = relationship(
        back_populates="organization", cascade="all, delete-orphan", order_by="Team.id")
    users: Mapped[list[User]] = relationship(secondary=memberships, back_populates="organizations")


class Repository(Base):
    """A repository of an organization. ``generation`` changes whenever its content changes."""

    __tablename__ = "repositories"
    __table_args__ = (UniqueConstraint("organization_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(MAX_NAME_LENGTH))
    description: Mapped[str] = mapped_column(String(4096), default="")
    generation: Mapped[int] = mapped_column(Integer, default=0)

    organization: Mapped[Organization] = relationship(back_populates="repositories")
    teams: Mapped[list[Team]] = relationship(secondary=team_repositories, back_populates="repositories")
    # The database deletes a repository's artefacts (ON DELETE CASCADE), not one ORM DELETE each.
    artefacts: Mapped[list[Artefact]] = relationship(back_populates="repository", cascade="all, delete-orphan",
                                                     passive_deletes=True)

    @property
    def full_name(self) -> str:
        """``org/repo``."""
        return f"{self.organization.name}/{self.name}"


class Team(Base):
    """A team grants one role (its ``group``) on a set of repositories to its members."""

    __tablename__ = "teams"
    __table_args__ = (UniqueConstraint("organization_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(MAX_NAME_LENGTH))
    role: Mapped[str] = mapped_column(String(64))

    organization: Mapped[Organization] = relationship(back_populates="teams")
    members: Mapped[list[User]] = relationship(secondary=team_members, back_populates="teams")
    repositories: Mapped[list[Repository]] = relationship(secondary=team_repositories, back_populates="teams")


class ApiToken(Base):
    """A long-lived API token; only the sha256 of its secret is stored."""

    __tablename__ = "api_tokens"
    __table_args__ = (UniqueConstraint("user_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(64))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created: Mapped[datetime.datetime] = mapped_column(DateTime, default=utcnow)
    last_used: Mapped[Optional[datetime.datetime]] = mapped_column(DateTime, default=None)
    #: ``["ROLE:ORG/REPO", ...]``: what the token may do (None: whatever its owner may do).
    scopes: Mapped[Optional[list[str]]] = mapped_column(JSON, default=None)
    #: When the token stops working (None: never).
    expires: Mapped[Optional[datetime.datetime]] = mapped_column(DateTime, default=None)

    user: Mapped[User] = relationship()


class SessionToken(Base):
    """A short-lived session token from the token exchange; only its sha256 is stored."""

    __tablename__ = "session_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires: Mapped[datetime.datetime] = mapped_column(DateTime)

    user: Mapped[User] = relationship()


class Blob(Base):
    """A stored file: its digests and where the blob store keeps it.

    Uniqueness by content lives here (one row per sha256); artefacts refer to it by
    ``sha256``. ``key`` is the blob store's name for the object: the content address
    ``aa/<sha256>`` for files, a unique upload key for S3. ``unreferenced_since`` is set
    when the last artefact referring to the blob goes; garbage collection removes the row
    (then the object) once that is older than its grace period (see :mod:`hatcher.server.gc`).
    """

    __tablename__ = "blobs"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    key: Mapped[str] = mapped_column(String(1024))
    md5: Mapped[str] = mapped_column(String(32))
    size: Mapped[int] = mapped_column(BigInteger)
    created: Mapped[datetime.datetime] = mapped_column(DateTime, default=utcnow)
    unreferenced_since: Mapped[Optional[datetime.datetime]] = mapped_column(DateTime, default=None, index=True)


class Artefact(Base):
    """One stored artefact (egg, runtime, app or bundle) of a repository platform.

    Its identity is ``(repository, kind, platform, key, name, version)``:

    ============ ===================== ======================== ==================
    kind         key                   name                     version
    ============ ===================== ======================== ==================
    egg          python tag or "none"  normalised project name  ``1.8.0-1``
    runtime_v0   python tag            language                 ``2.7.3-1``
    runtime      implementation        "" (empty)               ``3.8.10+2``
    app          python tag            app id                   ``4.6.0-1``
    bundle       python tag            bundle name              ``2.1.0-3``
    ============ ===================== ======================== ==================

    The file is in the blob store under ``sha256``; ``document`` holds the metadata the
    API reports (and, for bundles, the bundle itself).
    """

    __tablename__ = "artefacts"
    __table_args__ = (UniqueConstraint("repository_id", "kind", "platform", "key", "name", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    repository_id: Mapped[int] = mapped_column(ForeignKey("repositories.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    platform: Mapped[str] = mapped_column(String(32))
    key: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(MAX_NAME_LENGTH))
    version: Mapped[str] = mapped_column(String(MAX_NAME_LENGTH))
    filename: Mapped[str] = mapped_column(String(MAX_NAME_LENGTH))
    sha256: Mapped[str] = mapped_column(
        ForeignKey("blobs.sha256", ondelete="RESTRICT", name="fk_artefacts_sha256_blobs"), index=True)
    md5: Mapped[str] = mapped_column(String(32))
    size: Mapped[int] = mapped_column(BigInteger)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    mtime: Mapped[float] = mapped_column()
    document: Mapped[dict[str, Any]] = mapped_column(JSON)

    repository: Mapped[Repository] = relationship(back_populates="artefacts")


class LoginFailures(Base):
    """Recent failed password checks of one account (e-mail as given) from one client address.

    See :mod:`hatcher.server.throttle`: the row is shared by every replica, and deleted by a
    successful login or ``hatcher server unlock``.
    """

    __tablename__ = "login_failures"

    email: Mapped[str] = mapped_column(String(MAX_NAME_LENGTH), primary_key=True)
    address: Mapped[str] = mapped_column(String(64), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)
    first_failure: Mapped[datetime.datetime] = mapped_column(DateTime)
    locked_until: Mapped[Optional[datetime.datetime]] = mapped_column(DateTime, default=None)


class AuditEvent(Base):
    """One entry of the audit log (append-only: the server never updates or deletes one).

    See :mod:`hatcher.server.audit` for the actions. No secret is ever stored here.
    """

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    time: Mapped[datetime.datetime] = mapped_column(DateTime, default=utcnow, index=True)
    actor: Mapped[Optional[str]] = mapped_column(String(MAX_NAME_LENGTH), default=None)
    action: Mapped[str] = mapped_column(String(64), index=True)
    target: Mapped[str] = mapped_column(String(1024))
    organization: Mapped[Optional[str]] = mapped_column(String(MAX_NAME_LENGTH), default=None, index=True)
    address: Mapped[Optional[str]] = mapped_column(String(64), default=None)
    outcome: Mapped[str] = mapped_column(String(16), default="success")
    detail: Mapped[Optional[dict[str, Any]]] = mapped_column(JSON, default=None)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


#: A PostgreSQL connection attempt gives up after this many seconds; a request waits at most
#: :data:`POOL_TIMEOUT` seconds for a pooled connection. Together they keep the answer to a
#: request that finds the database down within 15 s (a 503, see :mod:`hatcher.server.errors`).
CONNECT_TIMEOUT = 5
POOL_TIMEOUT = 8


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite gets WAL, foreign keys and a generous busy timeout.

    The schema is not touched: :func:`hatcher.server.schema.prepare_schema` checks it.
    """
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        connect_args = {"connect_timeout": CONNECT_TIMEOUT} if url.startswith("postgresql") else {}
        engine = create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20, pool_timeout=POOL_TIMEOUT,
                               connect_args=connect_args)
    return engine


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    """A session factory whose objects stay readable after commit."""
    return sessionmaker(engine, expire_on_commit=False)
