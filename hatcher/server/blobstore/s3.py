"""The S3 blob store (obstore): uploads streamed to a multipart upload under a unique key, downloads streamed or signed.

Every upload gets a key of its own (``blobs/<uuid>``): S3 has no atomic rename, and two
replicas receiving the same content at once must not write to one key. Which object
holds a digest is decided in the database (``blobs``, under the digest's advisory lock);
the object that loses that race is deleted after the commit. Objects are written with
mode ``overwrite``: any other mode makes obstore buffer the whole object in memory.

Credentials and the endpoint come from the standard variables ``AWS_ENDPOINT_URL``,
``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_SESSION_TOKEN`` and
``AWS_REGION``; errors of the store become :class:`~hatcher.server.blobstore.BlobStoreError`
(answered with 503), bounded in time by the client's time-outs and retry limits below, except a
write the store refuses for lack of room (full, or over a quota: :func:`is_store_full`), which is
:class:`~hatcher.server.errors.InsufficientStorage` (507). A refused multipart upload is aborted
(by obstore when its completion fails, by :meth:`S3Writer.discard` otherwise): it leaves no parts.
"""

from __future__ import annotations

import datetime
import functools
import hashlib
import hmac
import json
import logging
import os
import re
import uuid
from typing import Any, Callable, Iterator, Mapping, Optional, TypeVar
from urllib.parse import quote, unquote, urlsplit

import obstore
from obstore.store import S3Store
from starlette.responses import RedirectResponse, Response

from hatcher.server.blobstore import BlobStore, BlobStoreError, Digester, Digests, MemoryBlob, Writer
from hatcher.server.errors import ApiError, InsufficientStorage

#: Multipart part size, and parts in flight per upload: about 5 x 5 MiB of memory per upload.
PART_SIZE = 5 * 1024 * 1024
PART_CONCURRENCY = 4
#: Bytes per piece of a streamed download, and per read when parsing an uploaded file.
DOWNLOAD_CHUNK = 1024 * 1024
READ_BUFFER = 256 * 1024
#: Bounds on a request to the store: a store that is down or hangs is an error within ~15 s.
CLIENT_OPTIONS = {"connect_timeout": "2s", "timeout": "10s"}
RETRY_CONFIG = {"max_retries": 2, "retry_timeout": datetime.timedelta(seconds=10),
                "backoff": {"init_backoff": datetime.timedelta(milliseconds=100),
                            "max_backoff": datetime.timedelta(seconds=1), "base": 2}}
#: Where uploads go, under the store's prefix.
OBJECTS = "blobs"
_RANGE_RE = re.compile(r"bytes=(\d*)-(\d*)\Z")

T = TypeVar("T")
logger = logging.getLogger("hatcher.server")


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:300] or type(exc).__name__


_S3_ERROR_RE = re.compile(r"<Code>([^<]*)</Code>(?:\s*<Message>([^<]*)</Message>)?")
_STATUS_RE = re.compile(r"status code: (\d{3})")
_OS_MESSAGE_RE = re.compile(r'message: "([^"]+)"')


def _problem(exc: BaseException) -> str:
    """What went wrong with a request to the store, in a few words: the S3 error code and message
    (``403 SignatureDoesNotMatch: ...``, ``404 NoSuchBucket: ...``), or why the endpoint could not
    be reached (``cannot connect: Connection refused``); else the error's first 300 characters."""
    text = str(exc)
    error = _S3_ERROR_RE.search(text)
    if error is not None:
        status = _STATUS_RE.search(text)
        code, message = error.group(1), " ".join((error.group(2) or "").split())
        return f"{status.group(1) + ' ' if status else ''}{code}{': ' + message if message else ''}"
    if "kind: Connect" in text:
        reason = _OS_MESSAGE_RE.search(text)
        return f"cannot connect: {reason.group(1) if reason else 'error sending request'}"
    if "kind: Timeout" in text:
        return "no answer in time"
    return _one_line(exc)


def _quote(value: str, safe: str = "-_.~") -> str:
    """Percent-encoding as AWS Signature Version 4 wants it (RFC 3986 unreserved characters kept)."""
    return quote(value, safe=safe)


def _presigned_get(url: str, access_key: str, secret_key: str, session_token: str, region: str, lifetime: int,
                   parameters: Mapping[str, str]) -> str:
    """``url`` (an object's URL, as obstore signs it) presigned for GET with AWS Signature Version 4 and
    these extra query ``parameters`` covered by the signature (``response-content-disposition``...).

    obstore's ``sign`` takes no query parameters, and a parameter added to its URL breaks the signature.
    """
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port is not None and (parts.scheme, parts.port) not in (("http", 80), ("https", 443)):
        host = f"{host}:{parts.port}"
    path = _quote(unquote(parts.path), safe="/-_.~")
    now = datetime.datetime.now(datetime.timezone.utc)
    stamp, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
    scope = f"{day}/{region}/s3/aws4_request"
    query = {"X-Amz-Algorithm": "AWS4-HMAC-SHA256", "X-Amz-Credential": f"{access_key}/{scope}",
             "X-Amz-Date": stamp, "X-Amz-Expires": str(lifetime), "X-Amz-SignedHeaders": "host", **parameters}
    if session_token:
        query["X-Amz-Security-Token"] = session_token
    canonical_query = "&".join(f"{_quote(name)}={_quote(value)}" for name, value in sorted(query.items()))
    request = "\n".join(["GET", path, canonical_query, f"host:{host}", "", "host", "UNSIGNED-PAYLOAD"])
    to_sign = "\n".join(["AWS4-HMAC-SHA256", stamp, scope, hashlib.sha256(request.encode()).hexdigest()])
    key = f"AWS4{secret_key}".encode()
    for part in (day, region, "s3", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    return f"{parts.scheme}://{parts.netloc}{path}?{canonical_query}&X-Amz-Signature={signature}"


#: S3 error codes that say the store has no room for a write: its disks are full or a quota is
#: reached. ``InsufficientStorage`` is HTTP 507's own name; MinIO answers ``XMinioStorageFull``
#: (507) below its free-space threshold and ``XMinioAdminBucketQuotaExceeded`` (400) past a bucket
#: quota; Ceph's RADOS Gateway answers ``QuotaExceeded`` (403) past a user or bucket quota.
#: Throttling (``SlowDown``, 503) and the size limit of one object (``EntityTooLarge``) are not
#: lack of room: they stay errors of the store (503).
NO_ROOM_CODES = frozenset({"InsufficientStorage", "XMinioStorageFull", "XMinioAdminBucketQuotaExceeded",
                           "QuotaExceeded"})
_NO_ROOM_STATUS = "507"


def is_store_full(exc: BaseException) -> bool:
    """Whether an error of the store (obstore's, or the plain ``OSError`` of a writer) says that it has
    no room for what was written: the HTTP status 507, or one of :data:`NO_ROOM_CODES`."""
    text = str(exc)
    if any(code in NO_ROOM_CODES for code, _ in _S3_ERROR_RE.findall(text)):
        return True
    return any(status == _NO_ROOM_STATUS for status in _STATUS_RE.findall(text))


def _errors(what: str, writing: bool = False) -> Callable[[Callable[..., T]], Callable[..., T]]:
    """Turn the store's errors (except a missing object: FileNotFoundError) into BlobStoreError, or
    into InsufficientStorage when ``writing`` and the store has no room (:func:`is_store_full`).

    obstore's writers (``open_writer``) raise a plain ``OSError`` when a part or the completion
    of a multipart upload fails: that is the store's error too.
    """
    def decorate(function: Callable[..., T]) -> Callable[..., T]:
        @functools.wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> T:
            try:
                return function(*args, **kwargs)
            except (FileNotFoundError, ApiError):
                raise
            except (obstore.exceptions.BaseError, OSError) as exc:
                if writing and is_store_full(exc):
                    problem = _problem(exc)
                    logger.warning("The blob store has no room (%s): %s", what, problem)
                    raise InsufficientStorage(f"Not enough space on the server for this upload: the blob store "
                                              f"is full or over its quota ({problem})") from exc
                raise BlobStoreError(f"The blob store is unavailable ({what}): {_problem(exc)}") from exc
        return wrapper
    return decorate


class _ObjectReader:
    """A seekable file object over a stored object (ranged GETs), returning plain ``bytes``."""

    def __init__(self, handle: Any) -> None:
        self._handle = handle

    @_errors("reading an upload")
    def read(self, size: int = -1) -> bytes:
        return bytes(self._handle.read(size if size is not None and size >= 0 else None))

    @_errors("reading an upload")
    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        return self._handle.seek(offset, whence)

    def tell(self) -> int:
        return self._handle.tell()

    def seekable(self) -> bool:
        return True

    def close(self) -> None:
        self._handle.close()

    def __enter__(self) -> _ObjectReader:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()


class S3Writer:
    """An upload streamed to a multipart upload under a unique key, hashed on the way.

    The object exists, complete, once :meth:`finish` returns; :meth:`discard` aborts the
    multipart upload, or deletes the object when it was finished but not published.
    """

    def __init__(self, store: S3BlobStore, key: str, expected_size: Optional[int]) -> None:
        self.key = key
        self._store = store
        self._digester = Digester(expected_size)
        self._file: Any = store.call("starting an upload", obstore.open_writer, key, buffer_size=PART_SIZE,
                                     max_concurrency=PART_CONCURRENCY)
        self._state = "receiving"

    @property
    def size(self) -> int:
        """Bytes received so far."""
        return self._digester.size

    def write(self, chunk: bytes | memoryview) -> None:
        """Hash ``chunk`` and hand it to the multipart upload."""
        self._digester.update(chunk)
        self._store.call_file("uploading", self._file.write, chunk, writing=True)

    def finish(self) -> Digests:
        """Complete the multipart upload; ``(sha256, md5, size)``."""
        digests = self._digester.finish()
        self._state = "closing"
        self._store.call_file("completing an upload", self._file.close, writing=True)
        self._state = "stored"
        return digests

    def source(self) -> _ObjectReader:
        """The stored object as a seekable file (ranged reads), for the artefact readers."""
        handle = self._store.call("reading an upload", obstore.open_reader, self.key, buffer_size=READ_BUFFER,
                                  size=self.size)
        return _ObjectReader(handle)

    def published(self) -> None:
        """The object is now a blob: :meth:`discard` leaves it alone."""
        self._state = "published"

    def discard(self) -> None:
        """Abort the upload, or delete the finished object that was not published (errors are ignored)."""
        self._digester.abandon()
        try:
            if self._state == "receiving":
                self._state = "discarded"
                self._file.__exit__(RuntimeError, RuntimeError("upload abandoned"), None)  # aborts the upload
            elif self._state in ("closing", "stored"):
                self._state = "discarded"
                self._store.delete(self.key)
        except Exception:  # noqa: BLE001 - an object left behind is removed by garbage collection
            pass


def _parse_range(value: Optional[str], size: int) -> Optional[tuple[int, int]]:
    """``(start, end)`` (end exclusive) of a single-range ``Range`` header; None for the whole object.

    Raises
    ------
    ValueError
        The range cannot be satisfied (416).
    """
    match = _RANGE_RE.match(value.strip()) if value else None
    if match is None:
        return None  # absent, multiple ranges or another unit: the whole object (RFC 9110 allows it)
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:
        start, end = max(size - int(last), 0), size
    else:
        start, end = int(first), min(int(last) + 1, size) if last else size
    if start >= size or start >= end:
        raise ValueError("unsatisfiable range")
    return start, end


class _ObjectResponse(Response):
    """Streams a stored object (or a range of it); a store that fails before the first byte is a 503."""

    def __init__(self, store: S3BlobStore, key: str, size: int, headers: Mapping[str, str],
                 span: Optional[tuple[int, int]]) -> None:
        super().__init__(status_code=206 if span else 200, headers=dict(headers),
                         media_type="application/octet-stream")
        self._store, self._key, self._span = store, key, span
        start, end = span or (0, size)
        self.headers["content-length"] = str(end - start)
        self.headers["accept-ranges"] = "bytes"
        if span:
            self.headers["content-range"] = f"bytes {start}-{end - 1}/{size}"

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        options = {"range": self._span} if self._span else None
        try:
            result = await obstore.get_async(self._store.store, self._key, options=options)
        except (obstore.exceptions.BaseError, FileNotFoundError) as exc:
            status = 503 if not isinstance(exc, FileNotFoundError) else 500
            message = ("The blob store is unavailable: " + _one_line(exc)) if status == 503 else \
                "The artefact's file is missing from the blob store"
            answer = Response(json.dumps({"error": message}), status_code=status, media_type="application/json")
            await answer(scope, receive, send)
            return
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        if scope.get("method") != "HEAD":
            async for chunk in result.stream(min_chunk_size=DOWNLOAD_CHUNK):
                await send({"type": "http.response.body", "body": memoryview(chunk), "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})


class S3BlobStore(BlobStore):
    """Blobs in an S3 bucket (any S3-compatible store), under ``PREFIX/blobs/``.

    Parameters
    ----------
    bucket, prefix : str
        Where the objects go: ``s3://BUCKET/PREFIX``.
    endpoint_url : str, optional
        The endpoint (``AWS_ENDPOINT_URL`` by default; AWS itself when neither is set).
    presigned_downloads : int, optional
        Answer downloads with a 302 to a URL signed for this many seconds, instead of
        streaming them through the server.
    environ : mapping, optional
        Where the ``AWS_*`` variables are read (``os.environ`` by default).
    """

    def __init__(self, bucket: str, prefix: str = "", endpoint_url: Optional[str] = None,
                 presigned_downloads: Optional[int] = None, environ: Optional[Mapping[str, str]] = None) -> None:
        env = os.environ if environ is None else environ
        self.bucket, self.prefix = bucket, prefix
        self.url = f"s3://{bucket}/{prefix}".rstrip("/")
        self.endpoint_url = endpoint_url or env.get("AWS_ENDPOINT_URL") or None
        self.presigned_downloads = presigned_downloads
        config: dict[str, Any] = {
            "region": env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1",
            "session_token": env.get("AWS_SESSION_TOKEN", ""), "skip_signature": False,
        }
        for name, variable in (("access_key_id", "AWS_ACCESS_KEY_ID"), ("secret_access_key", "AWS_SECRET_ACCESS_KEY")):
            if env.get(variable):
                config[name] = env[variable]
        #: Static credentials and region, to presign URLs with extra parameters (None: obstore's URLs only).
        self._signing = ((config["access_key_id"], config["secret_access_key"], config["session_token"],
                          config["region"]) if "access_key_id" in config and "secret_access_key" in config else None)
        client_options: dict[str, Any] = dict(CLIENT_OPTIONS)
        if self.endpoint_url:
            config["endpoint"] = self.endpoint_url
            config["virtual_hosted_style_request"] = False
            client_options["allow_http"] = self.endpoint_url.startswith("http://")
        try:
            self.store = S3Store(bucket, prefix=prefix or None, client_options=client_options,
                                 retry_config=RETRY_CONFIG, **config)
        except obstore.exceptions.BaseError as exc:
            raise BlobStoreError(f"Cannot use the blob store {self.url}: {_one_line(exc)}") from None

    def call(self, what: str, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """``function(store, *args, **kwargs)``, the store's errors as BlobStoreError."""
        return _errors(what)(function)(self.store, *args, **kwargs)

    def call_file(self, what: str, method: Callable[..., T], *args: Any, writing: bool = False) -> T:
        """``method(*args)`` of an object's writer, the store's errors as BlobStoreError (or, ``writing``,
        InsufficientStorage when the store has no room)."""
        return _errors(what, writing)(method)(*args)

    @staticmethod
    def new_key() -> str:
        """A key no other upload uses."""
        return f"{OBJECTS}/{uuid.uuid4().hex}"

    def writer(self, expected_size: Optional[int] = None) -> S3Writer:
        """Start a multipart upload under a new key."""
        return S3Writer(self, self.new_key(), expected_size)

    def publish(self, writer: Writer, sha256: str) -> str:
        """The key of a finished upload (small ones are written now, in one request)."""
        if isinstance(writer, MemoryBlob):
            key = self.new_key()
            _errors("storing an upload", writing=True)(obstore.put)(self.store, key, writer.data, mode="overwrite")
            return key
        assert isinstance(writer, S3Writer)
        writer.published()
        return writer.key

    def response(self, key: str, size: int, headers: Mapping[str, str], request_headers: Mapping[str, str]) -> Any:
        """A redirect to a signed URL (with ``presigned_downloads``), or the object streamed through."""
        if self.presigned_downloads:
            # The redirect carries the file name (and the ETag), and so does the signed URL's answer: the
            # reference client (hatcher 0.17.0) takes the name from the final answer's Content-Disposition.
            disposition = next((value for name, value in headers.items() if name.lower() == "content-disposition"),
                               None)
            return RedirectResponse(self.sign(key, self.presigned_downloads, disposition), status_code=302,
                                    headers=dict(headers))
        try:
            span = _parse_range(request_headers.get("range"), size)
        except ValueError:
            return Response(status_code=416, headers={"content-range": f"bytes */{size}"})
        return _ObjectResponse(self, key, size, headers, span)

    def sign(self, key: str, lifetime: int, disposition: Optional[str] = None) -> str:
        """A URL that GETs the object without credentials for ``lifetime`` seconds.

        With ``disposition`` (and static credentials: the ``AWS_*`` variables), the store is asked to
        answer with that ``Content-Disposition`` (the signed ``response-content-disposition`` parameter).
        """
        url = self.call("signing a URL", obstore.sign, "GET", key, datetime.timedelta(seconds=lifetime))
        if disposition is None or self._signing is None:
            return url
        return _presigned_get(url, *self._signing, lifetime, {"response-content-disposition": disposition})

    def delete(self, key: str) -> None:
        """Delete an object (a missing one is not an error)."""
        self.call("deleting an object", obstore.delete, key)

    def objects(self, older_than: float) -> Iterator[str]:
        """The keys of the stored objects last modified before ``older_than``."""
        for batch in self.call("listing objects", obstore.list, prefix=OBJECTS):
            for meta in batch:
                if meta["last_modified"].timestamp() < older_than:
                    yield meta["path"]

    def check(self) -> None:
        """Write, read back and delete a probe object; BlobStoreError (one line) when any of it fails."""
        key = f"probe/{uuid.uuid4().hex}"
        try:
            obstore.put(self.store, key, b"hatcher probe", mode="overwrite")
            ok = bytes(obstore.get(self.store, key).bytes()) == b"hatcher probe"
            obstore.delete(self.store, key)
        except (obstore.exceptions.BaseError, FileNotFoundError) as exc:
            raise BlobStoreError(f"Cannot use the blob store {self.url}"
                                 f"{' at ' + self.endpoint_url if self.endpoint_url else ''}: "
                                 f"{_problem(exc)}") from None
        if not ok:
            raise BlobStoreError(f"Cannot use the blob store {self.url}: a probe object read back differently")
