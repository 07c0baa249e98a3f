"""Request dependencies shared by the routes: database session, principal, lookups, input checks."""

from __future__ import annotations

from typing import Any, Iterator

from fastapi import Depends, Request
from sqlalchemy import select
from sqlalchemy.orm import Session

from hatcher.server.db import MAX_NAME_LENGTH, Organization, Repository
from hatcher.server.errors import ApiError
from hatcher.server.security import Principal, authenticate
from hatcher.server.settings import ServerSettings
from hatcher.server.store import BlobStore

_TRUE = {"true", "1", "yes"}
_FALSE = {"false", "0", "no"}


def get_db(request: Request) -> Iterator[Session]:
    """A database session for the request, closed afterwards."""
    with request.app.state.sessionmaker() as session:
        yield session


def get_principal(request: Request, db: Session = Depends(get_db)) -> Principal:
    """The authenticated principal; 401 without valid credentials."""
    return authenticate(db, request.headers.get("authorization"))


def get_settings(request: Request) -> ServerSettings:
    """The server's settings."""
    return request.app.state.settings


def get_store(request: Request) -> BlobStore:
    """The blob store."""
    return request.app.state.store


def parse_bool(value: Any, name: str, default: bool) -> bool:
    """A query boolean: ``True``/``False`` as Python spells them, also true/false/1/0/yes/no."""
    if value is None:
        return default
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ApiError(400, f"Invalid boolean for {name}: {value!r}")


def check_name(value: Any, what: str, max_length: int = MAX_NAME_LENGTH) -> str:
    """Refuse names that are empty, too long, or hold ``/``, ``\\``, ``..``, NUL or control characters."""
    if not isinstance(value, str) or not value.strip():
        raise ApiError(400, f"Invalid {what}: a non-empty string is required")
    if len(value) > max_length:
        raise ApiError(400, f"Invalid {what}: longer than {max_length} characters")
    if value in (".", "..") or ".." in value or any(c in value for c in "/\\") or any(ord(c) < 32 for c in value):
        raise ApiError(400, f"Invalid {what}: {value[:80]!r}")
    return value


def find_organization(db: Session, name: str) -> Organization:
    """The organization ``name``, or 404."""
    organization = db.scalar(select(Organization).where(Organization.name == name))
    if organization is None:
        raise ApiError(404, f"No such organization: '{name}'")
    return organization


def find_repository(db: Session, organization_name: str, repository_name: str) -> Repository:
    """The repository ``organization_name/repository_name``, or 404."""
    repository = db.scalar(
        select(Repository).join(Organization)
        .where(Organization.name == organization_name, Repository.name == repository_name))
    if repository is None:
        raise ApiError(404, f"No such repository: '{organization_name}/{repository_name}'")
    return repository


async def json_body(request: Request) -> Any:
    """The request's JSON body; 400 when it is not JSON. Declare it after the principal."""
    try:
        return await request.json()
    except ValueError:
        raise ApiError(400, "The request body is not valid JSON") from None


def api_version(request: Request) -> int:
    """The API version of the path the request came in on (0 or 1)."""
    return 1 if request.url.path.startswith("/api/v1/") else 0
