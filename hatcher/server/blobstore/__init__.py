"""The blob store: where artefact files live, behind one small interface (local files, or S3).

A store receives uploads (:meth:`BlobStore.writer`, :meth:`BlobStore.memory_writer`),
makes a received file a stored object (:meth:`BlobStore.publish`, which names its key),
serves it (:meth:`BlobStore.response`) and deletes it. Which content is stored once, and
which artefacts refer to it, lives in the database (``blobs``); routes and services call
this interface and never know which backend they hold. :func:`open_blob_store` picks the
backend from a URL: ``file:///absolute/path`` or ``s3://BUCKET[/PREFIX]``.
"""

from __future__ import annotations

import abc
import hashlib
import io
from typing import Any, BinaryIO, Iterator, Mapping, Optional, Protocol, Union
from urllib.parse import unquote, urlsplit

from hatcher.core.pipeline import BackgroundConsumer, InlineConsumer
from hatcher.server.errors import ApiError
from hatcher.server.space import DiskSpace

#: ``(sha256, md5, size)`` of a received file.
Digests = tuple[str, str, int]
#: What the artefact readers read a received file from: a path, or a seekable file object.
Source = Union[str, BinaryIO]

#: Uploads announced (Content-Length) at least this large are md5-hashed in a thread of their
#: own while the receiving thread computes the sha256 and writes (hashlib releases the GIL on
#: large buffers, so the two run in parallel). md5 is the slower hash (about 1.2 s per GiB
#: against 0.5 s for sha256 here), so it is the upload's longest chain: up to
#: :data:`MD5_QUEUE_DEPTH` pieces may wait for it, and the receiving side never waits for
#: the md5 of one piece before it starts on the next.
PARALLEL_HASH_MIN_SIZE = 4 * 1024 * 1024
MD5_QUEUE_DEPTH = 3


class BlobStoreError(ApiError):
    """The blob store cannot be used (unreachable, refused credentials...); answered with 503."""

    def __init__(self, message: str) -> None:
        super().__init__(503, message)


class Digester:
    """The sha256 and md5 of a stream, the md5 of a large one in a thread of its own (in order)."""

    def __init__(self, expected_size: Optional[int] = None) -> None:
        self._sha256 = hashlib.sha256()
        self._md5 = hashlib.md5()
        self._md5_consumer = (BackgroundConsumer(self._md5.update, depth=MD5_QUEUE_DEPTH)
                              if expected_size is not None and expected_size >= PARALLEL_HASH_MIN_SIZE
                              else InlineConsumer(self._md5.update))
        self.size = 0

    def update(self, chunk: bytes | memoryview) -> None:
        """Hash ``chunk``; it must not change afterwards (the md5 thread may still be reading it)."""
        self._md5_consumer.put(chunk)
        self._sha256.update(chunk)
        self.size += len(chunk)

    def finish(self) -> Digests:
        """Wait for the md5 thread; ``(sha256, md5, size)``."""
        self._md5_consumer.close()
        return self._sha256.hexdigest(), self._md5.hexdigest(), self.size

    def abandon(self) -> None:
        """Stop the md5 thread, whatever it was doing."""
        try:
            self._md5_consumer.close()
        except Exception:  # noqa: BLE001 - the digests are dropped anyway
            pass


class Writer(Protocol):
    """A file being received by a store: written and hashed on the way."""

    size: int

    def write(self, chunk: bytes | memoryview) -> None:
        """Append ``chunk`` (which must not change afterwards)."""

    def finish(self) -> Digests:
        """The body is complete: ``(sha256, md5, size)``."""

    def source(self) -> Source:
        """Where the artefact readers find the received bytes (after :meth:`finish`)."""

    def discard(self) -> None:
        """Forget the received bytes (a no-op once the store published them)."""


class MemoryBlob:
    """A small upload received whole: kept in memory, hashed at once, written once, when published.

    Its :meth:`source` is the bytes themselves, so reading the artefact's metadata needs no I/O.
    """

    def __init__(self) -> None:
        self._chunks: list[bytes] = []
        self.data = b""
        self.size = 0

    def write(self, chunk: bytes | memoryview) -> None:
        """Append ``chunk``."""
        self._chunks.append(bytes(chunk))
        self.size += len(chunk)

    def finish(self) -> Digests:
        """Return ``(sha256, md5, size)``."""
        self.data = b"".join(self._chunks)
        self._chunks = []
        return hashlib.sha256(self.data).hexdigest(), hashlib.md5(self.data).hexdigest(), self.size

    def source(self) -> io.BytesIO:
        """The received bytes, as a file object."""
        return io.BytesIO(self.data)

    def discard(self) -> None:
        """Forget the received bytes."""
        self._chunks, self.data = [], b""


class BlobStore(abc.ABC):
    """Where blobs live. Keys are the store's own names for objects, recorded in ``blobs.key``."""

    #: The store's URL, for messages (no secret in it).
    url: str
    #: True when the store is on this machine's disk: then its calls are cheap enough for the event loop.
    local: bool = False

    @abc.abstractmethod
    def writer(self, expected_size: Optional[int] = None) -> Writer:
        """Start receiving a streamed file (of about ``expected_size`` bytes, when known)."""

    def memory_writer(self) -> MemoryBlob:
        """Start receiving a small file that arrives whole (kept in memory until published)."""
        return MemoryBlob()

    @abc.abstractmethod
    def publish(self, writer: Writer, sha256: str) -> str:
        """Make a finished upload a stored object; its key. Call under the digest's commit lock."""

    @abc.abstractmethod
    def response(self, key: str, size: int, headers: Mapping[str, str], request_headers: Mapping[str, str]) -> Any:
        """The HTTP answer that sends the object: streamed (Range requests: 206 or 416), or a redirect."""

    @abc.abstractmethod
    def delete(self, key: str) -> None:
        """Delete an object (a missing one is not an error)."""

    @abc.abstractmethod
    def objects(self, older_than: float) -> Iterator[str]:
        """The keys of the stored objects last modified before ``older_than`` (a POSIX time)."""

    def sweep_temporary(self, older_than: float) -> int:
        """Remove what interrupted uploads left before ``older_than``; how many were removed."""
        return 0

    def disk_space(self) -> Optional[DiskSpace]:
        """The space of the file system where uploads are received (see :mod:`hatcher.server.space`),
        or None when they are not received on this machine's disk: then nothing is refused early."""
        return None

    def check(self) -> None:  # noqa: B027 - most stores have nothing to check
        """Check at start that the store can be used (raise :class:`BlobStoreError` otherwise)."""

    def close(self) -> None:  # noqa: B027 - most stores hold nothing to release
        """Release the store's resources."""


def open_blob_store(url: str, tmp_dir: Optional[str] = None, fsync_min_size: int = 0,
                    endpoint_url: Optional[str] = None, presigned_downloads: Optional[int] = None,
                    environ: Optional[Mapping[str, str]] = None) -> BlobStore:
    """The store of ``url``: ``file:///absolute/path`` or ``s3://BUCKET[/PREFIX]``.

    Parameters
    ----------
    url : str
        Where the blobs live.
    tmp_dir : str, optional
        Where a file store receives uploads (default: ``tmp`` beside its directory).
    fsync_min_size : int
        File store: blobs at least this large are fsync'ed before they are published.
    endpoint_url : str, optional
        S3: the endpoint, instead of ``AWS_ENDPOINT_URL``.
    presigned_downloads : int, optional
        S3: answer downloads with a redirect to a URL signed for this many seconds.
    environ : mapping, optional
        S3: where the ``AWS_*`` variables are read (``os.environ`` by default).

    Raises
    ------
    ValueError
        For a URL of another scheme, a relative file path, or an S3 URL without a bucket.
    """
    parts = urlsplit(url)
    if parts.scheme == "file":
        from hatcher.server.blobstore.file import FileBlobStore

        path = unquote(parts.path)
        if parts.netloc not in ("", "localhost") or not path.startswith("/"):
            raise ValueError(f"A file blob store needs an absolute path: file:///absolute/path, not {url!r}")
        return FileBlobStore(path, tmp_dir, fsync_min_size)
    if parts.scheme == "s3":
        if not parts.netloc:
            raise ValueError(f"An S3 blob store needs a bucket: s3://BUCKET[/PREFIX], not {url!r}")
        from hatcher.server.blobstore.s3 import S3BlobStore

        return S3BlobStore(parts.netloc, parts.path.strip("/"), endpoint_url=endpoint_url,
                           presigned_downloads=presigned_downloads, environ=environ)
    raise ValueError(f"Unsupported blob store {url!r}: use file:///absolute/path or s3://BUCKET[/PREFIX]")
