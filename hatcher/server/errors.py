"""Errors the server answers with: every one is JSON ``{"error": "..."}`` (Content-Type application/json)."""

from __future__ import annotations

import errno
import logging
from typing import Any, Optional

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

logger = logging.getLogger("hatcher.server")


class ApiError(Exception):
    """An expected failure: answered with ``status`` and ``{"error": message}``."""

    def __init__(self, status: int, message: str, headers: Optional[dict[str, str]] = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers


#: The status of a request the server has no room to store (RFC 4918: 507 Insufficient Storage).
INSUFFICIENT_STORAGE = 507
#: ``OSError.errno`` values that mean "no room": the disk is full, or a quota is reached.
_NO_SPACE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})


#: The message of a 507: of an upload, and of any other request (a database write).
UPLOAD_NO_SPACE = "Not enough space on the server for this upload"
NO_SPACE = "Not enough space on the server to store this request"


class InsufficientStorage(ApiError):
    """The server has no room for what the request would store: answered with 507."""

    def __init__(self, message: str = UPLOAD_NO_SPACE,
                 headers: Optional[dict[str, str]] = None) -> None:
        super().__init__(INSUFFICIENT_STORAGE, message, headers)


#: SQLite's "database or disk is full" (``SQLITE_FULL``), and PostgreSQL's class 53100 ``disk_full``.
_SQLITE_FULL = 13
_POSTGRESQL_DISK_FULL = "53100"


def is_out_of_space(exc: BaseException) -> bool:
    """Whether ``exc`` says that a disk or a quota is full: ``ENOSPC`` or ``EDQUOT`` from the
    operating system, ``SQLITE_FULL`` from SQLite, ``disk_full`` from PostgreSQL (the driver's
    error itself, or SQLAlchemy's wrapping of it)."""
    if isinstance(exc, OSError) and exc.errno in _NO_SPACE_ERRNOS:
        return True
    orig = getattr(exc, "orig", None) or exc
    if getattr(orig, "sqlite_errorcode", None) == _SQLITE_FULL or "database or disk is full" in str(orig):
        return True  # (the error code is set from Python 3.11 on)
    return getattr(orig, "sqlstate", None) == _POSTGRESQL_DISK_FULL


def as_api_error(exc: BaseException) -> Optional[ApiError]:
    """The answer to an exception: itself for an :class:`ApiError`, 507 for a full disk or quota,
    503 for a database that is unreachable (down, restarting, out of connections), 409 for rows a
    concurrent request changed under this one, None for anything else (a bug: 500)."""
    if isinstance(exc, ApiError):
        return exc
    if is_out_of_space(exc):
        logger.warning("Out of space: %s", " ".join(str(getattr(exc, "orig", None) or exc).split())[:200])
        return InsufficientStorage(NO_SPACE)
    from sqlalchemy import exc as sa_exc
    from sqlalchemy.orm.exc import StaleDataError

    if isinstance(exc, StaleDataError):  # e.g. a team deleted while another request removed one of its members
        return ApiError(409, "The resource was changed by a concurrent request; retry")

    if isinstance(exc, (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError)) or (
            isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated):
        detail = " ".join(str(getattr(exc, "orig", None) or exc).split(" [SQL:")[0].split())[:200]
        logger.warning("Database unavailable: %s", detail)
        return ApiError(503, f"The database is unavailable, try again later ({detail})")
    return None


def error_response(status: int, message: str, headers: Optional[dict[str, str]] = None) -> JSONResponse:
    """The JSON error answer (header exactly ``Content-Type: application/json``)."""
    headers = dict(headers or {})
    if status == 401:
        headers.setdefault("WWW-Authenticate", 'Basic realm="brood"')
    return JSONResponse({"error": message}, status_code=status, headers=headers or None)


def install_error_handlers(app: FastAPI) -> None:
    """Make every error, expected or not, a JSON ``{"error": ...}`` answer."""

    def _answer(request: Request, status: int, message: str, headers: Optional[dict[str, str]] = None) -> Any:
        html = getattr(request.app.state, "html_errors", None)  # the web interface's pages (hatcher.server.web)
        page = html(request, status, message) if html is not None else None
        return page if page is not None else error_response(status, message, headers)

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> Any:
        return _answer(request, exc.status, exc.message, exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Any:
        return _answer(request, exc.status_code, str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        details = "; ".join(f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg')}" for e in exc.errors())
        return error_response(400, f"Invalid request: {details}")

    from sqlalchemy.exc import SQLAlchemyError

    # Its own handler, not only the catch-all below: Starlette re-raises what reaches the catch-all
    # once answered, and the server would log a traceback for every request while the database is
    # down. Here a 503 is answered with one warning line.
    @app.exception_handler(SQLAlchemyError)
    async def _database_error(request: Request, exc: SQLAlchemyError) -> Any:
        return await _unexpected(request, exc)

    # The same for the operating system's errors: a full disk (ENOSPC, EDQUOT) is a 507 and one
    # warning line; any other OSError goes on to the catch-all (500, and its traceback).
    @app.exception_handler(OSError)
    async def _os_error(request: Request, exc: OSError) -> Any:
        if not is_out_of_space(exc):
            raise exc
        return await _unexpected(request, exc)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Any:
        mapped = as_api_error(exc)
        if mapped is not None:
            return _answer(request, mapped.status, mapped.message, mapped.headers)
        logger.exception("Unexpected error on %s %s", request.method, request.url.path)
        return error_response(500, "Internal server error")
