"""The file blob store: artefact files on this machine's disk, addressed by sha256, written once and atomically."""

from __future__ import annotations

import os
import time
import uuid
from typing import Any, Iterator, Mapping, Optional

from starlette.responses import FileResponse, MalformedRangeHeader

from hatcher.core import direct_io
from hatcher.core.direct_io import DirectFile, aligned_buffer
from hatcher.server.blobstore import BlobStore, Digester, Digests, MemoryBlob, Writer
from hatcher.server.space import DiskSpace, disk_space

#: Blobs smaller than this are not fsync'ed by default (see :class:`FileBlobStore`; the same as
#: :attr:`hatcher.server.settings.ServerSettings.fsync_min_size`).
DEFAULT_FSYNC_MIN_SIZE = 1024 * 1024

#: Uploads announced (Content-Length) at least this large are written with ``O_DIRECT`` where the
#: file system allows it: no page-cache pages to allocate and fill (the main cost of a large
#: upload on some virtual machines), and the data is on disk when the upload ends.
DIRECT_IO_MIN_SIZE = 32 * 1024 * 1024
_DIRECT_BUFFER = 4 * 1024 * 1024
_PARTIAL = ".partial"


class _DirectWriter:
    """Collects pieces in an aligned buffer and writes it whole with ``O_DIRECT`` (:mod:`hatcher.core.direct_io`)."""

    def __init__(self, path: str) -> None:
        self._file = DirectFile(path, exclusive=True)
        self.fd = self._file.fd
        try:
            self._buffer = aligned_buffer(_DIRECT_BUFFER)
        except BaseException:
            self._file.close()
            raise
        self._fill = 0

    def write(self, chunk: bytes | memoryview) -> None:
        view = memoryview(chunk)
        while view:
            room = min(len(view), _DIRECT_BUFFER - self._fill)
            self._buffer[self._fill:self._fill + room] = view[:room]
            self._fill += room
            view = view[room:]
            if self._fill == _DIRECT_BUFFER:
                with memoryview(self._buffer) as buffer:
                    self._file.write(buffer)
                self._fill = 0

    def flush(self) -> None:
        with memoryview(self._buffer) as buffer:
            self._file.write(buffer[:self._fill])  # an unaligned tail is written the ordinary way
        self._fill = 0

    def close(self) -> None:
        try:
            if not self._buffer.closed:
                self._buffer.close()
        except BufferError:
            pass  # a failed write's traceback still holds a view of it: it is freed with the traceback
        finally:
            self._file.close()


class IncomingBlob:
    """A file being received: written to a temporary file and hashed on the way (written once, read never)."""

    def __init__(self, tmp_dir: str, fsync_min_size: int = 0, expected_size: Optional[int] = None) -> None:
        self.path = os.path.join(tmp_dir, f"upload-{uuid.uuid4().hex}{_PARTIAL}")
        self._file: Any = None
        self._closed = False
        self._digester: Optional[Digester] = None
        try:
            if expected_size is not None and expected_size >= DIRECT_IO_MIN_SIZE and direct_io.SUPPORTED:
                self._file = _DirectWriter(self.path)
            if self._file is None:
                # Unbuffered: a failed write (a full disk) fails at once, and leaves no buffer that
                # close() would try to flush again. The pieces written are large (4 MiB, or a small
                # upload's whole file), so a buffer would save no system call.
                self._file = open(self.path, "xb", buffering=0)  # noqa: SIM115 - closed by finish/discard
            self._digester = Digester(expected_size)
        except BaseException:
            self.discard()
            raise
        self._fsync_min_size = fsync_min_size

    @property
    def size(self) -> int:
        """Bytes received so far."""
        return self._digester.size if self._digester is not None else 0

    def _fileno(self) -> int:
        return self._file.fd if isinstance(self._file, _DirectWriter) else self._file.fileno()

    def write(self, chunk: bytes | memoryview) -> None:
        """Append ``chunk`` and hash it; ``chunk`` must not change afterwards (the md5 thread may read it)."""
        assert self._digester is not None
        self._digester.update(chunk)
        if isinstance(self._file, _DirectWriter):
            self._file.write(chunk)
        else:
            view = memoryview(chunk)
            while view:  # an unbuffered file may write less than asked
                view = view[self._file.write(view):]

    def finish(self) -> Digests:
        """Flush (and fsync unless the blob is small, see :class:`FileBlobStore`); return ``(sha256, md5, size)``."""
        assert self._digester is not None
        digests = self._digester.finish()
        self._file.flush()
        if self.size >= self._fsync_min_size:
            os.fsync(self._fileno())
        self._closed = True
        self._file.close()
        return digests

    def source(self) -> str:
        """Where the received bytes are (call after :meth:`finish`)."""
        return self.path

    def discard(self) -> None:
        """Forget the received bytes: stop the md5 thread, close the file and remove it, whatever fails.

        Idempotent, and a no-op once published (the file has moved). Never raises for a file
        that cannot be flushed (a full disk): what it held is dropped anyway.
        """
        try:
            if self._digester is not None:
                self._digester.abandon()
        finally:
            try:
                if not self._closed and self._file is not None:
                    self._closed = True
                    self._file.close()
            except (OSError, BufferError):
                pass  # a last flush on a full disk, a buffer still viewed: the descriptor is closed all the same
            finally:
                try:
                    os.unlink(self.path)
                except FileNotFoundError:
                    pass


class BlobResponse(FileResponse):
    """A file answer read and sent in 1 MiB pieces (Starlette's 64 KiB means one thread hop per 64 KiB).

    Range requests work as with :class:`~starlette.responses.FileResponse` (206, or 416), except
    that a malformed ``Range`` is ignored (the whole file, as RFC 9110 allows, and as the S3
    store does) instead of a plain-text 400.
    """

    chunk_size = 1024 * 1024

    @classmethod
    def _parse_range_header(cls, http_range: str, file_size: int) -> list[tuple[int, int]]:
        try:
            return super()._parse_range_header(http_range, file_size)
        except MalformedRangeHeader:
            return []


class FileBlobStore(BlobStore):
    """Files under ``root/<aa>/<sha256>`` (``aa``: the first two hex digits); uploads arrive in ``tmp_dir`` first.

    The key of a blob is its path under ``root``: its content address. One level of 256
    directories, as git's object store: after a few hundred uploads no upload creates a
    directory any more. A store of the older two-level layout (``root/<aa>/<bb>/<sha256>``)
    is converted when it is opened.

    A blob appears under its name only complete (written to a temporary file, then renamed
    atomically). Blobs of at least ``fsync_min_size`` bytes are also fsync'ed, file and
    directory, before the rename; smaller ones are left to the operating system's write-back
    (seconds), which makes small uploads several times cheaper: after a power failure (not a
    process crash) the last small uploads may have to be uploaded again. 0 fsyncs every blob.
    """

    local = True

    def __init__(self, root: str, tmp_dir: Optional[str] = None, fsync_min_size: int = DEFAULT_FSYNC_MIN_SIZE) -> None:
        self.root = root
        self.url = "file://" + root
        self.tmp_dir = tmp_dir or os.path.join(os.path.dirname(root.rstrip("/")), "tmp")
        self.fsync_min_size = fsync_min_size
        self._directories: set[str] = set()
        os.makedirs(root, exist_ok=True)
        os.makedirs(self.tmp_dir, exist_ok=True)
        self._convert_two_level_layout()

    def _convert_two_level_layout(self) -> None:
        """Move blobs of the older ``root/<aa>/<bb>/<sha256>`` layout up one level (idempotent)."""
        for first in os.listdir(self.root):
            top = os.path.join(self.root, first)
            if len(first) != 2 or not os.path.isdir(top):
                continue
            for second in os.listdir(top):
                legacy = os.path.join(top, second)
                if len(second) != 2 or not os.path.isdir(legacy):
                    continue
                for name in os.listdir(legacy):
                    os.replace(os.path.join(legacy, name), os.path.join(top, name))
                os.rmdir(legacy)

    @staticmethod
    def key(sha256: str) -> str:
        """The key (content address) of the blob ``sha256``."""
        return f"{sha256[:2]}/{sha256}"

    def path(self, sha256: str) -> str:
        """Where the blob ``sha256`` lives."""
        return os.path.join(self.root, sha256[:2], sha256)

    def exists(self, sha256: str) -> bool:
        """True when the blob's file is there."""
        return os.path.isfile(self.path(sha256))

    def writer(self, expected_size: Optional[int] = None) -> IncomingBlob:
        """Start receiving a file (of about ``expected_size`` bytes, when known)."""
        return IncomingBlob(self.tmp_dir, self.fsync_min_size, expected_size)

    def _write_temporary(self, data: bytes) -> str:
        """Write ``data`` to a new temporary file (one ``write``, no Python file object); its path.

        It is fsync'ed when it is at least ``fsync_min_size`` bytes long, as received files are.
        """
        path = os.path.join(self.tmp_dir, f"upload-{uuid.uuid4().hex}{_PARTIAL}")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o644)
        written = False
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            if len(data) >= self.fsync_min_size:
                os.fsync(fd)
            written = True
        finally:
            os.close(fd)
            if not written:  # a full disk, or anything else: nothing is left behind
                os.unlink(path)
        return path

    def disk_space(self) -> DiskSpace:
        """The space of the file system of the temporary directory and the blobs (the least free, if two)."""
        return disk_space({self.tmp_dir, self.root})

    def publish(self, writer: Writer, sha256: str) -> str:
        """Move a finished upload into place under its content address (atomic); its key."""
        target = self.path(sha256)
        directory = os.path.dirname(target)
        if directory not in self._directories:  # 256 at most; skips a failing mkdir per upload
            os.makedirs(directory, exist_ok=True)
            self._directories.add(directory)
        memory = isinstance(writer, MemoryBlob)
        source = self._write_temporary(writer.data) if memory else writer.source()
        assert isinstance(source, str)
        try:
            try:
                os.replace(source, target)
            except FileNotFoundError:  # its directory was removed behind the store's back
                self._directories.discard(directory)
                os.makedirs(directory, exist_ok=True)
                os.replace(source, target)
        except BaseException:
            if memory:
                os.unlink(source)  # an IncomingBlob's file is removed by its discard()
            raise
        if writer.size >= self.fsync_min_size:
            fd = os.open(directory, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        return self.key(sha256)

    def response(self, key: str, size: int, headers: Mapping[str, str], request_headers: Mapping[str, str]) -> Any:
        """Stream the file (Range requests: 206, or 416 when unsatisfiable)."""
        return BlobResponse(os.path.join(self.root, key), media_type="application/octet-stream", headers=dict(headers))

    def delete(self, key: str) -> None:
        """Delete the blob's file."""
        try:
            os.unlink(os.path.join(self.root, key))
        except FileNotFoundError:
            pass

    def objects(self, older_than: float) -> Iterator[str]:
        """The keys of the blob files last modified before ``older_than``."""
        for first in sorted(os.listdir(self.root)):
            directory = os.path.join(self.root, first)
            if len(first) != 2 or not os.path.isdir(directory):
                continue
            for entry in os.scandir(directory):
                if entry.is_file() and entry.stat().st_mtime < older_than:
                    yield f"{first}/{entry.name}"

    def sweep_temporary(self, older_than: float) -> int:
        """Remove received files that interrupted uploads left in the temporary directory."""
        removed = 0
        for entry in os.scandir(self.tmp_dir):
            if entry.name.endswith(_PARTIAL) and entry.stat().st_mtime < older_than:
                try:
                    os.unlink(entry.path)
                    removed += 1
                except FileNotFoundError:
                    pass
        return removed

    def clean_tmp(self) -> None:
        """Remove every leftover of interrupted uploads (at start-up, when no upload can be running)."""
        self.sweep_temporary(time.time() + 1)
