"""Routes: artefact uploads (eggs, runtimes v0 and v1, apps, bundles), streamed to disk.

The multipart body is parsed incrementally as it arrives: the ``file`` part goes straight
into the blob store's writer (hashed on the way, written once), the
small ``data`` part is collected in memory (at most 1 MiB). Credentials, the repository
and the caller's rights are checked before a byte of the body is read, except for a small
body (:data:`SMALL_UPLOAD_SIZE`), which is received whole first, then checked, parsed and
stored in one go, on the event loop when the credentials are cheap to check and the blob
lock is free (a thread hop would cost more than the work).

Then the announced length is checked against the free space of the store's disk (507, and the
connection closed, when it does not fit above the reserve: :mod:`hatcher.server.space`). Any
failure removes the partial file before the answer, and a full disk met while writing is a 507
too, after which the rest of the body is not read.
"""

from __future__ import annotations

import asyncio
from typing import Any, AsyncIterator, Callable, Optional

import attr
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from hatcher.server import artefact_service as service
from hatcher.server import ingest
from hatcher.server.blobstore import Writer
from hatcher.server.deps import add_routes, find_repository_ids, parse_bool, principal_of
from hatcher.server.errors import ApiError, InsufficientStorage, as_api_error
from hatcher.server.fast_lane import fast_route
from hatcher.server.security import (
    UPLOAD_REPOSITORY,
    cheap_to_authenticate,
    check_role,
    role_on_repository,
)
from hatcher.server.space import check_room

router = APIRouter()

#: Bytes of an upload collected before they are handed to the parser (in a worker thread).
_FEED_SIZE = 4 * 1024 * 1024
#: An upload whose ``Content-Length`` is at most this is received whole before it is authorised,
#: parsed and stored in one go: on the event loop when the credentials are cheap to check (a
#: token, or a password checked lately), else in a worker thread (bigger ones are authorised
#: first, then streamed, and their work is done in worker threads).
SMALL_UPLOAD_SIZE = 256 * 1024
#: A refused upload's body is read and dropped up to this size, so the client sees the answer.
_DRAIN_LIMIT = 256 * 1024 * 1024
#: The header of an answer after which the server reads nothing more of the request (see :func:`_refuse`).
_CLOSE = {"Connection": "close"}


class MultipartReceiver:
    """Parses a ``multipart/form-data`` body fed in chunks; keeps ``file`` on disk and ``data`` in memory."""

    def __init__(self, content_type: Optional[str], incoming: Writer) -> None:
        ctype, options = parse_options_header(content_type or "")
        boundary = options.get(b"boundary")
        if ctype != b"multipart/form-data" or not boundary:
            raise ApiError(400, "An upload must be a multipart/form-data body with a boundary")
        self.incoming = incoming
        self.filename: Optional[str] = None
        self.data: Optional[bytearray] = None
        self.finished = False
        self._target: Optional[str] = None
        self._headers: dict[bytes, bytes] = {}
        self._field = bytearray()
        self._value = bytearray()
        callbacks: Any = {
            "on_part_begin": self._part_begin, "on_header_field": self._header_field,
            "on_header_value": self._header_value, "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished, "on_part_data": self._part_data,
            "on_part_end": self._part_end, "on_end": self._end,
        }
        try:
            self._parser = MultipartParser(boundary, callbacks)
        except Exception as exc:  # FormParserError for an absurd boundary
            raise ApiError(400, f"Invalid multipart boundary: {exc}") from None

    def _part_begin(self) -> None:
        self._headers = {}
        self._target = None

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._field += data[start:end]

    def _header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def _header_end(self) -> None:
        self._headers[bytes(self._field).lower()] = bytes(self._value)
        self._field = bytearray()
        self._value = bytearray()

    def _headers_finished(self) -> None:
        _, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        name = options.get(b"name")
        if name == b"file":
            if self.filename is not None:
                raise ApiError(400, "The upload has more than one 'file' part")
            try:
                self.filename = (options.get(b"filename") or b"").decode("utf-8")
            except UnicodeDecodeError:
                raise ApiError(400, "The 'file' part's file name is not UTF-8") from None
            self._target = "file"
        elif name == b"data":
            if self.data is not None:
                raise ApiError(400, "The upload has more than one 'data' part")
            self.data = bytearray()
            self._target = "data"
        else:
            self._target = None  # unknown parts are ignored

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._target == "file":
            self.incoming.write(memoryview(data)[start:end])  # no copy: the fed pieces are immutable bytes
        elif self._target == "data":
            assert self.data is not None
            self.data += data[start:end]
            if len(self.data) > ingest.MAX_DATA_SIZE:
                raise ApiError(400, f"The 'data' part is larger than {ingest.MAX_DATA_SIZE} bytes")

    def _part_end(self) -> None:
        self._target = None

    def _end(self) -> None:
        self.finished = True

    def feed(self, chunk: bytes) -> None:
        """Parse the next piece of the body (``bytes``: the file's pieces are views of it, kept by the md5 thread)."""
        if self.finished:
            return  # an epilogue after the closing boundary is ignored
        try:
            self._parser.write(chunk)
        except (ApiError, OSError):
            raise  # the store's errors (a full disk is 507), from writing the file's pieces
        except Exception as exc:  # the parser's own errors
            raise ApiError(400, f"Malformed multipart body: {exc}") from None

    def close(self) -> None:
        """The body is over: 400 if the multipart message is incomplete or lacks a part."""
        if not self.finished:
            raise ApiError(400, "Incomplete multipart body: the closing boundary is missing")
        if self.filename is None:
            raise ApiError(400, "The upload has no 'file' part")
        if not self.filename:
            raise ApiError(400, "The 'file' part has no file name")


@attr.s(frozen=True)
class _Target:
    """Where an authorised upload goes, and how (the checked URL and query)."""

    repository_id: int = attr.ib()
    platform: Optional[str] = attr.ib()
    overwrite: bool = attr.ib()
    enabled: bool = attr.ib()
    uploader: service.Uploader = attr.ib()


def _authorize(request: Request, organization_name: str, repository_name: str, platform: Optional[str],
               overwrite: Optional[str], enabled: Optional[str]) -> _Target:
    """401/404/403 (credentials and rights first), then 400 for a bad platform or flag."""
    with request.app.state.sessionmaker() as db:
        principal = principal_of(request, db)
        repository_id, organization_id = find_repository_ids(db, organization_name, repository_name)
        check_role(role_on_repository(db, principal, repository_id, organization_id), UPLOAD_REPOSITORY,
                   f"{organization_name}/{repository_name}")
    return _Target(repository_id, ingest.canonical_platform(platform) if platform is not None else None,
                   parse_bool(overwrite, "overwrite", False), parse_bool(enabled, "enabled", True),
                   service.Uploader(principal.email, principal.address, organization_name,
                                    f"{organization_name}/{repository_name}"))


def _finish(request: Request, kind: str, target: _Target, receiver: MultipartReceiver) -> dict[str, Any]:
    """Check and store the received upload (blocking: in a worker thread, or on the loop for a small one)."""
    incoming = receiver.incoming
    digests = incoming.finish()
    receiver.close()
    data = ingest.parse_data(bytes(receiver.data) if receiver.data is not None else None, kind)
    if data["sha256"] != digests[0]:
        raise ApiError(400, f"Checksum mismatch: 'data' gives sha256 {data['sha256']} but the received "
                            f"file has {digests[0]}")
    assert receiver.filename is not None
    ingest.check_identifier(receiver.filename, "file name")
    parsed = ingest.read_artefact(kind, incoming.source(), receiver.filename, target.platform, data)
    service.store_artefact(request.app.state.services, target.repository_id, parsed, incoming, digests,
                           target.overwrite, target.enabled, target.uploader)
    return {"kind": parsed.kind, "platform": parsed.platform, "python_tag": parsed.key, "name": parsed.name,
            "version": parsed.version, "filename": parsed.filename, "sha256": digests[0], "size": digests[2],
            "enabled": target.enabled}


class _Body:
    """The request body read straight from ASGI ``receive``, remembering whether it is complete."""

    def __init__(self, request: Request) -> None:
        self._receive = request.receive
        self.done = False

    async def chunks(self) -> AsyncIterator[bytes]:
        """The body's chunks; ClientDisconnect when the client goes away first."""
        while not self.done:
            message = await self._receive()
            if message["type"] == "http.disconnect":
                self.done = True
                raise ClientDisconnect()
            self.done = not message.get("more_body", False)
            chunk = message.get("body", b"")
            if chunk:
                yield chunk

    async def drain(self) -> None:
        """Read and drop (up to a limit) the rest of a refused request, so the client sees the answer."""
        received = 0
        try:
            async for chunk in self.chunks():
                received += len(chunk)
                if received > _DRAIN_LIMIT:
                    break
        except ClientDisconnect:
            pass


def _content_length(request: Request) -> Optional[int]:
    try:
        return int(request.headers.get("content-length", ""))
    except ValueError:
        return None


def _check_room(request: Request, length: Optional[int]) -> None:
    """507 when ``length`` bytes do not fit on the store's disk above the reserve (:mod:`hatcher.server.space`)."""
    check_room(request.app.state.store, request.app.state.settings.min_free_space, length)


def _receive_whole(request: Request, kind: str, target_of: Callable[[], _Target], body: bytes) -> dict[str, Any]:
    """Authorise, parse, check and store a small upload already received whole, in one call."""
    target = target_of()
    _check_room(request, len(body))
    incoming = request.app.state.store.memory_writer()
    try:
        receiver = MultipartReceiver(request.headers.get("content-type"), incoming)
        receiver.feed(body)
        return _finish(request, kind, target, receiver)
    finally:
        incoming.discard()  # a no-op once the blob was committed


async def _upload(request: Request, kind: str, organization_name: str, repository_name: str,
                  platform: Optional[str], overwrite: Optional[str], enabled: Optional[str] = None) -> Response:
    body = _Body(request)
    length = _content_length(request)

    def target_of() -> _Target:
        return _authorize(request, organization_name, repository_name, platform, overwrite, enabled)

    if length is not None and length <= SMALL_UPLOAD_SIZE:
        # Small: received whole (at most SMALL_UPLOAD_SIZE bytes), then checked and stored in one go.
        try:
            whole = b"".join([chunk async for chunk in body.chunks()])
        except ClientDisconnect:
            return Response(status_code=400)  # nobody is listening any more
        try:
            if cheap_to_authenticate(request.headers.get("authorization")) and _cheap_to_commit(request):
                # Right here, on the event loop: about a millisecond of work, where a hop to a worker
                # thread and back costs more than that under the GIL.
                return JSONResponse(_receive_whole(request, kind, target_of, whole), status_code=201)
            # A password not checked lately: a wrong one costs tens of milliseconds of scrypt, which
            # must not hold up every other connection. Nor must waiting for the blob lock, which
            # another thread holds (committing a large upload, or removing a deleted repository's
            # blobs); it may still be taken between this check and the commit, and then the loop
            # waits for that one commit or removal. Nor must a database or blob store across the
            # network (PostgreSQL, S3): one that hangs would hold every connection.
            return JSONResponse(await run_in_threadpool(_receive_whole, request, kind, target_of, whole),
                                status_code=201)
        except Exception as exc:
            mapped = as_api_error(exc)  # a full disk is a 507 that says "this upload"
            if isinstance(mapped, InsufficientStorage):
                raise InsufficientStorage() from None
            raise
    try:
        target = await run_in_threadpool(target_of)
        _check_room(request, length)
    except InsufficientStorage:
        # Before a byte of the body is read: answered at once, and the connection closed, so that
        # the client stops sending (see docs/server.rst, Running out of space).
        raise InsufficientStorage(headers=_CLOSE) from None
    except Exception as exc:
        raise await _refuse(body, exc) from None
    try:
        incoming = await run_in_threadpool(request.app.state.store.writer, length)
    except Exception as exc:
        raise await _refuse(body, exc) from None
    feeding: Optional[asyncio.Future[None]] = None
    try:
        receiver = MultipartReceiver(request.headers.get("content-type"), incoming)
        pending: list[bytes] = []
        pending_size = 0
        async for chunk in body.chunks():
            pending.append(chunk)
            pending_size += len(chunk)
            if pending_size >= _FEED_SIZE:
                # One piece is parsed, hashed and written in a worker thread while the next is received.
                if feeding is not None:
                    await feeding
                feeding = asyncio.ensure_future(run_in_threadpool(receiver.feed, b"".join(pending)))
                pending, pending_size = [], 0
        if feeding is not None:
            await feeding
        if pending:
            await run_in_threadpool(receiver.feed, b"".join(pending))
        answer = await run_in_threadpool(_finish, request, kind, target, receiver)
    except ClientDisconnect:
        return Response(status_code=400)  # nobody is listening any more
    except Exception as exc:
        # The received part goes first: its space is back before the rest of the body is read.
        await asyncio.shield(_release(feeding, incoming))
        raise await _refuse(body, exc) from None
    finally:
        # Shielded: a second cancellation (a server shutting down) must not skip the clean-up.
        await asyncio.shield(_release(feeding, incoming))
    return JSONResponse(answer, status_code=201)


def _cheap_to_commit(request: Request) -> bool:
    """Whether storing a small upload is cheap and cannot wait on anything: a local store, SQLite, a free lock."""
    services = request.app.state.services
    return services.store.local and not services.coordinator.postgresql and not services.coordinator.busy()


async def _refuse(body: _Body, exc: Exception) -> Exception:
    """The error to answer a failed upload with (as :func:`~hatcher.server.errors.as_api_error` maps it),
    after reading the rest of the body so that the client sees the answer; unexpected errors as they are."""
    mapped = as_api_error(exc)
    if mapped is None:
        return exc
    if isinstance(mapped, InsufficientStorage):
        # No room: the rest of the body would be dropped; closing the connection stops the client.
        return InsufficientStorage(headers=None if body.done else _CLOSE)
    await body.drain()
    return mapped


async def _release(feeding: Optional[asyncio.Future[None]], incoming: Writer) -> None:
    """Wait for the piece a worker thread is still feeding, then discard the upload (a no-op once committed)."""
    if feeding is not None:
        if not feeding.done():
            await asyncio.wait([feeding])  # never discard a file a worker thread is still writing
        if not feeding.cancelled():
            feeding.exception()  # retrieved (and already reported, or superseded by what ended the upload)
    await run_in_threadpool(incoming.discard)


async def upload_egg(request: Request, organization_name: str, repository_name: str, platform: str,
                     overwrite: Optional[str] = None, enabled: Optional[str] = None) -> Response:
    """Upload an egg (REST §8.2)."""
    return await _upload(request, ingest.EGG, organization_name, repository_name, platform, overwrite, enabled)


async def upload_runtime_v0(request: Request, organization_name: str, repository_name: str, platform: str,
                            overwrite: Optional[str] = None) -> Response:
    """Upload a v0 runtime (REST §9.1)."""
    return await _upload(request, ingest.RUNTIME_V0, organization_name, repository_name, platform, overwrite)


async def upload_runtime_v1(request: Request, organization_name: str, repository_name: str, platform: str,
                            overwrite: Optional[str] = None) -> Response:
    """Upload a v1 runtime (REST §9.2)."""
    return await _upload(request, ingest.RUNTIME, organization_name, repository_name, platform, overwrite)


async def upload_app(request: Request, organization_name: str, repository_name: str, platform: str,
                     overwrite: Optional[str] = None) -> Response:
    """Upload an app description (REST §10)."""
    return await _upload(request, ingest.APP, organization_name, repository_name, platform, overwrite)


async def upload_bundle(request: Request, organization_name: str, repository_name: str,
                        overwrite: Optional[str] = None) -> Response:
    """Upload a bundle (REST §11); its platform and python tag come from its runtime."""
    return await _upload(request, ingest.BUNDLE, organization_name, repository_name, None, overwrite)


add_routes(router, lambda urls: urls.data.eggs.upload, upload_egg, ["POST"], 201)
#: Egg uploads, the requests of batch uploads, skip FastAPI's routing (:mod:`hatcher.server.fast_lane`).
FAST_ROUTES = fast_route(lambda urls: urls.data.eggs.upload, "POST", upload_egg, query=("overwrite", "enabled"))
add_routes(router, lambda urls: urls.data.runtimes.upload, upload_runtime_v0, ["POST"], 201, versions=(0,))
add_routes(router, lambda urls: urls.data.runtimes.upload, upload_runtime_v1, ["POST"], 201, versions=(1,))
add_routes(router, lambda urls: urls.data.apps.upload, upload_app, ["POST"], 201)
add_routes(router, lambda urls: urls.data.bundles.upload, upload_bundle, ["POST"], 201, versions=(1,))
