"""Request dependencies shared by the routes: database session, principal, lookups, input checks."""

from __future__ import annotations

import functools
from typing import Any, Iterator, Optional

from fastapi import Depends, Request, Response
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from hatcher.server.blobstore import BlobStore
from hatcher.server.db import MAX_NAME_LENGTH, Organization, Repository
from hatcher.server.errors import ApiError
from hatcher.server.security import Principal, authenticate
from hatcher.server.settings import ServerSettings
from hatcher.server.throttle import LoginLimits

_TRUE = {"true", "1", "yes"}
_FALSE = {"false", "0", "no"}


def get_db(request: Request) -> Iterator[Session]:
    """A database session for the request, closed afterwards."""
    with request.app.state.sessionmaker() as session:
        yield session


def client_address(request: Request) -> str:
    """The client's address: the peer's, or, when the peer is a trusted proxy, the last address
    in ``X-Forwarded-For`` that no trusted proxy added (``--trusted-proxy``)."""
    peer = request.client.host if request.client is not None else "unknown"
    trusted = request.app.state.settings.trusted_proxies
    if not trusted or not _trusted(peer, trusted):
        return peer
    hops = [hop.strip() for hop in ",".join(request.headers.getlist("x-forwarded-for")).split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _trusted(hop, trusted):
            return hop[:64]
    return hops[0][:64] if hops else peer


def _trusted(address: str, trusted: tuple[str, ...]) -> bool:
    import ipaddress

    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in ipaddress.ip_network(network, strict=False) for network in trusted)


def login_limits(request: Request) -> LoginLimits:
    """The server's login throttle limits."""
    settings = request.app.state.settings
    return LoginLimits(settings.login_failure_limit, settings.login_window)


@functools.cache
def _unscoped_prefixes() -> tuple[str, ...]:
    """Paths a scoped API token may never use: administration, and tokens (making more of them)."""
    from hatcher.core.url_templates import TOKENS_AUTH_PATH, URLS_V0, URLS_V1

    return (TOKENS_AUTH_PATH, *(tree.admin.full_template + "/" for tree in (URLS_V0, URLS_V1)),
            *(tree.tokens.full_template + "/" for tree in (URLS_V0, URLS_V1)))


def _scoped_token_forbidden(path: str) -> bool:
    return path.startswith(_unscoped_prefixes())


def principal_of(request: Request, db: Session) -> Principal:
    """Authenticate the request (see :func:`hatcher.server.security.authenticate`).

    Raises
    ------
    ApiError
        401 or 429 as ``authenticate`` does; 403 for a scoped API token on an administration
        or token endpoint.
    """
    principal = authenticate(db, request.headers.get("authorization"), client_address(request),
                             login_limits(request))
    if principal.scopes is not None and _scoped_token_forbidden(request.url.path):
        raise ApiError(403, "A scoped API token cannot administer the server or manage tokens")
    return principal


def get_principal(request: Request, db: Session = Depends(get_db)) -> Principal:
    """The authenticated principal; 401 without valid credentials (see :func:`principal_of`)."""
    return principal_of(request, db)


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


#: Built once: every request on a repository runs it.
_FIND_REPOSITORY = (select(Repository).join(Organization)
                    .where(Organization.name == bindparam("organization"), Repository.name == bindparam("repository")))


_REPOSITORY_IDS = (select(Repository.id, Repository.organization_id).join(Organization)
                   .where(Organization.name == bindparam("organization"), Repository.name == bindparam("repository")))


def find_repository_ids(db: Session, organization_name: str, repository_name: str) -> tuple[int, int]:
    """The ids of the repository ``organization_name/repository_name`` and of its organization, or 404.

    A lighter :func:`find_repository` for requests that need no more (one row, no object).
    """
    row = db.execute(_REPOSITORY_IDS, {"organization": organization_name, "repository": repository_name}).first()
    if row is None:
        raise ApiError(404, f"No such repository: '{organization_name}/{repository_name}'")
    return row[0], row[1]


def find_repository(db: Session, organization_name: str, repository_name: str) -> Repository:
    """The repository ``organization_name/repository_name``, or 404."""
    repository = db.scalar(_FIND_REPOSITORY, {"organization": organization_name, "repository": repository_name})
    if repository is None:
        raise ApiError(404, f"No such repository: '{organization_name}/{repository_name}'")
    return repository


def api_version(request: Request) -> int:
    """The API version of the path the request came in on (0 or 1)."""
    return 1 if request.url.path.startswith("/api/v1/") else 0


def add_routes(router: Any, select: Any, endpoint: Any, methods: list[str], status_code: int = 200,
               versions: tuple[int, ...] = (0, 1), **kwargs: Any) -> None:
    """Register ``endpoint`` on the path ``select(tree)`` of each API version's URL-template tree.

    Parameters
    ----------
    router : fastapi.APIRouter
        Where to register.
    select : callable
        Maps a template tree (``URLS_V0`` or ``URLS_V1``) to one of its nodes, e.g.
        ``lambda urls: urls.admin.organizations``; every path is thus spelled once, in
        :mod:`hatcher.core.url_templates`.
    endpoint : callable
        The route function.
    methods : list of str
        HTTP methods, e.g. ``["GET"]``.
    status_code : int
        The success status.
    versions : tuple of int
        The API versions to serve it on (both by default).
    **kwargs
        Passed on to :meth:`fastapi.APIRouter.add_api_route`.
    """
    from hatcher.core.url_templates import urls_for

    kwargs.setdefault("response_model", None)
    if status_code == 204:
        kwargs.setdefault("response_class", Response)  # no body, so no Content-Type either
    for version in versions:
        router.add_api_route(select(urls_for(version)).full_template, endpoint, methods=methods,
                             status_code=status_code, include_in_schema=False, **kwargs)


def check_fields(body: Any, required: dict[str, Any], optional: Optional[dict[str, Any]] = None,
                 what: str = "request body") -> dict[str, Any]:
    """Validate a JSON object body: required and optional keys with their types, no other keys.

    ``required`` and ``optional`` map key names to a type (or tuple of types) the value
    must be an instance of (``bool`` never passes for ``int``). Returns the body.

    Raises
    ------
    ApiError
        400 naming the first problem found.
    """
    optional = optional or {}
    if not isinstance(body, dict):
        raise ApiError(400, f"Invalid {what}: a JSON object is required")
    missing = sorted(set(required) - set(body))
    if missing:
        raise ApiError(400, f"Invalid {what}: missing key(s) {', '.join(map(repr, missing))}")
    unknown = sorted(set(body) - set(required) - set(optional))
    if unknown:
        raise ApiError(400, f"Invalid {what}: unexpected key(s) {', '.join(map(repr, unknown))}")
    for key, value in body.items():
        expected = required.get(key, optional.get(key))
        if not isinstance(value, expected) or (isinstance(value, bool) and bool not in _as_tuple(expected)):
            names = "/".join(t.__name__ for t in _as_tuple(expected))
            raise ApiError(400, f"Invalid {what}: {key!r} must be of type {names}")
    return body


def _as_tuple(types: Any) -> tuple[type, ...]:
    return types if isinstance(types, tuple) else (types,)


def query_flag(request: Request, name: str, default: bool = False) -> bool:
    """The boolean query parameter ``name`` of the request (see :func:`parse_bool`)."""
    return parse_bool(request.query_params.get(name), name, default)


#: The largest JSON request body read (1 MiB): a larger one is answered 413.
MAX_JSON_BODY = 1024 * 1024


async def body_bytes(request: Request) -> bytes:
    """The raw request body, for routes that check permissions before parsing it (see :func:`parse_json`).

    It is read in chunks, up to :data:`MAX_JSON_BODY` bytes and within the server's
    ``request_timeout``; uploads (multipart, of any size) are not read here.

    Raises
    ------
    ApiError
        413 when the body (or its ``Content-Length``) is larger, without reading the rest (uvicorn
        drops it); 408, closing the connection, when it does not arrive in time.
    """
    import asyncio

    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_JSON_BODY:
        raise _too_large()

    async def read() -> bytes:
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_JSON_BODY:
                raise _too_large()
            chunks.append(chunk)
        return b"".join(chunks)

    timeout = request.app.state.settings.request_timeout
    try:
        return await asyncio.wait_for(read(), timeout)
    except asyncio.TimeoutError:
        raise ApiError(408, f"The request body did not arrive within {timeout:g} seconds",
                       headers={"Connection": "close"}) from None


def _too_large() -> ApiError:
    return ApiError(413, f"The request body is larger than {MAX_JSON_BODY} bytes (1 MiB)")


def parse_json(data: bytes) -> Any:
    """Parse a request body read by :func:`body_bytes`; 400 when it is not JSON."""
    import json

    try:
        return json.loads(data)
    except ValueError:
        raise ApiError(400, "The request body is not valid JSON") from None


def commit_unique(db: Session, conflict: str) -> None:
    """Commit; a unique-constraint race (two concurrent creations of one name) becomes 409 ``conflict``."""
    from sqlalchemy.exc import IntegrityError

    try:
        db.commit()
    except IntegrityError:
        db.rollback()
        raise ApiError(409, conflict) from None
