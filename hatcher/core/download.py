"""Verified, resumable downloads: stream to ``<target>.hatcher-partial``, check sha256, rename into place.

No file is created before the transfer starts. A transfer that fails (the connection
breaks more often than it is resumed, an exception is raised inside it) leaves its partial
file; the next attempt (in the same call, or a later one) continues it with an HTTP
``Range`` request, and the whole file is still verified by sha256 before it appears under
its name. A mismatch discards the partial file, so the next attempt starts over. A
transfer its caller abandons (the iterator closed or garbage-collected before its end)
removes the partial file it created.
"""

from __future__ import annotations

import collections.abc
import hashlib
import http.client
import os
import re
import time
from typing import Any, Callable, Generator, Iterator, Optional

import requests
import urllib3

from hatcher.core import direct_io
from hatcher.core.direct_io import DirectFile
from hatcher.core.pipeline import BufferRing, consumer
from hatcher.errors import BroodHTTPError, ChecksumMismatchError, HatcherException

#: Bytes read from the network (and written to disk) at a time.
CHUNK_SIZE = 1 << 20
#: Transfers of at least this many bytes are read into a ring of :data:`BUFFER_COUNT` aligned
#: buffers of :data:`BUFFER_SIZE` bytes, hashed and written with ``O_DIRECT`` beside the reads.
BUFFER_RING_MIN_SIZE = 4 << 20
BUFFER_COUNT = 4
BUFFER_SIZE = 4 << 20
#: Suffix of the file a download is written to before it is verified.
PARTIAL_SUFFIX = ".hatcher-partial"
#: How many times one call resumes a transfer that broke off mid-body.
RESUME_ATTEMPTS = 3

_CONTENT_RANGE_RE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")
_BROKEN = (requests.exceptions.ChunkedEncodingError, requests.exceptions.ConnectionError,
           requests.exceptions.Timeout, urllib3.exceptions.HTTPError)

#: Opens ``GET <path>`` as a stream, with extra headers: what the transport gives a download.
Opener = Callable[[dict[str, str]], requests.Response]


def _lock(stream: Any, target: str) -> None:
    """Refuse a second concurrent download of the same target (POSIX advisory lock)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: no advisory lock, last writer wins
        return
    try:
        fcntl.flock(stream.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        stream.close()
        raise HatcherException(f"Another download of {target} is in progress") from None


def _partial_size(partial: str, target: str) -> int:
    """The size of an existing partial file (0 when there is none); refuse one being written.

    Only an existing file is opened (to test its lock): nothing is created.
    """
    try:
        fd = os.open(partial, os.O_RDONLY | getattr(os, "O_BINARY", 0))
    except FileNotFoundError:
        return 0
    with os.fdopen(fd, "rb") as stream:
        _lock(stream, target)
        return os.fstat(stream.fileno()).st_size


def _open_partial(partial: str) -> tuple[Any, bool]:
    """Open (or create) the partial file for writing; also say whether this call created it."""
    flags = os.O_RDWR | getattr(os, "O_BINARY", 0)
    while True:
        try:
            return os.fdopen(os.open(partial, flags), "r+b"), False
        except FileNotFoundError:
            pass
        try:
            return os.fdopen(os.open(partial, flags | os.O_CREAT | os.O_EXCL, 0o666), "r+b"), True
        except FileExistsError:  # pragma: no cover - created between the two calls: open it
            continue


def pieces(size: int, largest: int) -> Iterator[int]:
    """``size`` split into parts of at most ``largest`` (nothing for 0)."""
    while size > 0:
        yield min(size, largest)
        size -= largest


def content_length(response: requests.Response) -> int:
    try:
        return int(response.headers.get("Content-Length", 0))
    except ValueError:
        return 0


def file_digest(path: str | os.PathLike[str], algorithm: str = "sha256", block_size: int = CHUNK_SIZE) -> str:
    """The hex digest of a file, read ``block_size`` bytes at a time."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(block_size), b""):
            digest.update(block)
    return digest.hexdigest()


def _direct_reader(response: requests.Response) -> Any:
    """The response's underlying ``http.client`` body reader, when the body can be read from it as is.

    That is when nothing of the body was read yet and it is not content-encoded: then
    ``readinto`` fills a caller's buffer straight from the socket. None otherwise (the
    body is then read through ``requests``).
    """
    raw = response.raw
    reader = getattr(raw, "_fp", None)
    if (not direct_io.SUPPORTED or not hasattr(reader, "readinto") or getattr(raw, "_fp_bytes_read", None) != 0
            or response.headers.get("Content-Encoding", "identity").lower() != "identity"):
        return None
    return reader


def _hash_file(stream: Any, size: int) -> Any:
    digest = hashlib.sha256()
    stream.seek(0)
    remaining = size
    while remaining:
        block = stream.read(min(CHUNK_SIZE, remaining))
        if not block:
            break
        digest.update(block)
        remaining -= len(block)
    return digest


class ResumableDownload:
    """One download into ``target``; iterate :meth:`chunks` to transfer (it yields byte counts).

    Building it opens the HTTP response (so :attr:`length` is known) but creates no file:
    the partial file is opened, or created, when the transfer starts. A transfer that
    fails keeps its partial file for a later resume; one abandoned by its caller (the
    iterator closed or garbage-collected before its end) removes the partial file it
    created, so the directory is left as it was.

    Parameters
    ----------
    open_stream : callable
        ``open_stream(headers)`` sends the GET and returns the streamed response.
    target : str
        The final path.
    expected_sha256 : str or None
        The digest the whole file must have (None: not checked).
    response : requests.Response, optional
        A response already opened without ``Range`` (e.g. to learn the file name).
    """

    def __init__(self, open_stream: Opener, target: str, expected_sha256: Optional[str],
                 response: Optional[requests.Response] = None) -> None:
        self.open_stream = open_stream
        self.target = target
        self.expected_sha256 = expected_sha256
        self.partial = target + PARTIAL_SUFFIX
        self._file: Any = None
        self._created = False
        try:
            self.offset = _partial_size(self.partial, target)
        except BaseException:
            if response is not None:
                response.close()
            raise
        if self.offset and response is not None:
            response.close()  # a fresh request continues the partial file instead
            response = None
        self._total: Optional[int] = None
        if response is None:
            response = self._open()
        else:
            self._total = content_length(response) or None
        self._response: Optional[requests.Response] = response
        #: The size of the whole file (0 when the server did not say).
        self.length = self._total or 0

    @property
    def total(self) -> Optional[int]:
        """The size of the whole file, when the server said it."""
        return self._total

    def chunks(self) -> DownloadIterator:
        """The iterator of the transfer: it yields the size of each chunk received."""
        return DownloadIterator(self)

    def close(self) -> None:
        """Release the response and the partial file (the latter removed if this download created it)."""
        if self._response is not None:
            self._response.close()
            self._response = None
        if self._file is not None and not self._file.closed:
            self._file.close()
            if self._created:
                try:
                    os.unlink(self.partial)
                except FileNotFoundError:  # pragma: no cover - removed by someone else
                    pass

    def _open(self) -> requests.Response:
        """Request the rest of the file; start over when the server cannot send a range."""
        if self.offset:
            try:
                response = self.open_stream({"Range": f"bytes={self.offset}-"})
            except BroodHTTPError as exc:
                if exc.status_code != 416:
                    raise
                response = None
            if response is not None:
                match = _CONTENT_RANGE_RE.fullmatch(response.headers.get("Content-Range", ""))
                if response.status_code == 206 and match and int(match.group(1)) == self.offset:
                    if match.group(3) != "*":
                        self._total = int(match.group(3))
                    return response
                response.close()
            self._restart()
        response = self.open_stream({})
        self._total = content_length(response) or None
        return response

    def _restart(self) -> None:
        if self._file is not None:
            self._file.seek(0)
            self._file.truncate()
        self.offset = 0

    def _start(self) -> None:
        """Open (or create) and lock the partial file; re-request if it changed since the call."""
        self._file, self._created = _open_partial(self.partial)
        _lock(self._file, self.target)
        on_disk = os.fstat(self._file.fileno()).st_size
        if on_disk != self.offset:  # changed since the response was opened: ask again from here
            self._response.close()
            self.offset = on_disk
            self._response = self._open()

    def transfer(self) -> Generator[int, None, None]:
        """Transfer, verify and rename into place, yielding the size of each chunk received.

        Use :meth:`chunks`, which also releases the response of a transfer never started.
        """
        try:
            self._start()
            yield from self._transfer()
        except GeneratorExit:
            self.close()  # abandoned by the caller: leave the directory as it was
            raise
        finally:
            if self._response is not None:
                self._response.close()
                self._response = None
            if self._file is not None and not self._file.closed:
                self._file.close()


    def _receive(self, digest: Any) -> Iterator[int]:
        """Stream the current response to the file.

        For a large transfer, writing and hashing each run in a thread of their own, beside
        the network reads (all three release the GIL).
        """
        remaining = self.length - self.offset if self.length else None
        reader = _direct_reader(self._response)
        if reader is not None and remaining is not None and remaining >= BUFFER_RING_MIN_SIZE:
            yield from self._receive_into_buffers(reader, digest)
            return
        self._file.seek(self.offset)  # the buffer ring writes at explicit offsets: never trust the position
        with consumer(self._file.write, remaining) as writer, consumer(digest.update, remaining) as hasher:
            for chunk in self._response.iter_content(CHUNK_SIZE):
                writer.put(chunk)
                hasher.put(chunk)
                self.offset += len(chunk)
                yield len(chunk)

    def _receive_into_buffers(self, reader: Any, digest: Any) -> Iterator[int]:
        """Read the body straight into aligned buffers; hash and write (``O_DIRECT``) them in two threads.

        No byte is copied after the socket read: the hash and the direct write use the very
        buffer the body was read into. A connection that breaks off mid-buffer still hands
        the bytes received to both stages, so the partial file and the digest agree.
        """
        writer = DirectFile(self.partial, self.offset)
        try:
            with BufferRing([digest.update, writer.write], count=BUFFER_COUNT, size=BUFFER_SIZE) as ring:
                while True:
                    buffer = ring.buffer()
                    filled = 0
                    with memoryview(buffer) as view:
                        try:
                            while filled < len(view):
                                # At most CHUNK_SIZE a read, reported as it arrives (as the streamed path does).
                                with view[filled:filled + CHUNK_SIZE] as rest:
                                    read = reader.readinto(rest)
                                if not read:
                                    break
                                filled += read
                                yield read
                        except (OSError, http.client.HTTPException) as exc:
                            ring.submit(filled)
                            self.offset += filled
                            raise requests.exceptions.ConnectionError(f"Connection broken: {exc!r}") from exc
                    ring.submit(filled)
                    self.offset += filled
                    if filled < len(buffer):
                        break
        finally:
            writer.close()
        if self.length and self.offset < self.length:
            raise requests.exceptions.ConnectionError(
                f"Connection broken: {self.offset} of {self.length} bytes received")
        if reader.isclosed():
            # http.client read the whole body: the connection can serve the next request, as it
            # does when urllib3 itself reads a body to its end.
            self._response.raw.release_conn()

    def _transfer(self) -> Iterator[int]:
        digest = _hash_file(self._file, self.offset)  # each receive writes from self.offset on
        yield from pieces(self.offset, CHUNK_SIZE)  # already on disk from an earlier attempt
        resumes = 0
        pieced = self.offset > 0  # the file is made of more than one response
        while True:
            try:
                yield from self._receive(digest)
                break
            except _BROKEN:
                resumes += 1
                if resumes > RESUME_ATTEMPTS:
                    raise  # the partial file stays: a later call resumes it
                self._response.close()
                self._file.flush()
                time.sleep(min(0.1 * 2 ** resumes, 1.0))
                restarted_from = self.offset
                self._response = self._open()
                if self.offset != restarted_from:  # the server could not continue: start over
                    digest = hashlib.sha256()
        self._file.flush()
        actual = digest.hexdigest()
        if self.expected_sha256 is not None and (pieced or resumes):
            # A file put together from several responses (and partial files) is checked as it is
            # on disk, not as it was received: the bytes hashed must be the bytes installed.
            actual = file_digest(self.partial)
        on_disk = os.fstat(self._file.fileno()).st_size
        if on_disk != self.offset:  # what was hashed is not what was written: never install it
            self._file.close()
            os.unlink(self.partial)
            raise HatcherException(f"The download of {self.target} wrote {on_disk} bytes but received "
                                   f"{self.offset}; the download was discarded")
        if self.expected_sha256 is not None and actual != self.expected_sha256:
            self._file.close()
            os.unlink(self.partial)
            raise ChecksumMismatchError(
                f"Checksum mismatch for {self.target}: expected sha256 {self.expected_sha256}, "
                f"received {actual}; the download was discarded")
        self._file.close()
        replace_file(self.partial, self.target)


class DownloadIterator(collections.abc.Generator):
    """The iterator of a :class:`ResumableDownload` (what ``iter_download`` returns).

    A generator, as the reference's is. Nothing is written before the first ``next()``.
    ``close()``, or dropping the iterator, before its end releases the connection and
    removes the partial file the transfer created.
    """

    def __init__(self, download: ResumableDownload) -> None:
        self._download = download
        self._generator: Optional[Generator[int, None, None]] = None
        self._closed = False

    def _started(self) -> Generator[int, None, None]:
        if self._generator is None:
            self._generator = self._download.transfer() if not self._closed else _nothing()
        return self._generator

    def send(self, value: Any) -> int:
        """Like ``next()`` (the value sent is ignored)."""
        return next(self._started())

    def throw(self, *args: Any) -> int:  # type: ignore[override]
        """Raise an exception inside the transfer (one not started yet is abandoned first)."""
        if self._generator is None:
            self.close()
        return self._started().throw(*args)

    def close(self) -> None:
        """Abandon the download: release the connection; remove the partial file it created."""
        self._closed = True
        if self._generator is not None:
            self._generator.close()
        else:
            self._download.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # pragma: no cover - nothing to report to from a finalizer
            pass


def _nothing() -> Generator[int, None, None]:
    yield from ()


def replace_file(source: str, target: str, attempts: int = 6) -> None:
    """Atomically rename ``source`` onto ``target``, retrying briefly on Windows file locks."""
    for attempt in range(attempts):
        try:
            os.replace(source, target)
            return
        except PermissionError:
            if os.name != "nt" or attempt == attempts - 1:
                raise
            time.sleep(min(0.05 * 2 ** attempt, 1.0))
