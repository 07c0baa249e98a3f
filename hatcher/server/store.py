"""The blob store: artefact files on disk, addressed by sha256, written once and atomically."""

from __future__ import annotations

import hashlib
import io
import os
import threading
import uuid
from typing import Any, Optional

from hatcher.core import direct_io
from hatcher.core.direct_io import DirectFile, aligned_buffer
from hatcher.core.pipeline import BackgroundConsumer, InlineConsumer

#: Uploads announced (Content-Length) at least this large are md5-hashed in a thread of their
#: own while the receiving thread computes the sha256 and writes (hashlib releases the GIL on
#: large buffers, so the two run in parallel). md5 is the slower hash (about 1.2 s per GiB
#: against 0.5 s for sha256 here), so it is the upload's longest chain: up to
#: :data:`MD5_QUEUE_DEPTH` pieces may wait for it, and the receiving side never waits for
#: the md5 of one piece before it starts on the next.
PARALLEL_HASH_MIN_SIZE = 4 * 1024 * 1024
MD5_QUEUE_DEPTH = 3
#: Blobs smaller than this are not fsync'ed by default (see :class:`BlobStore`; the same as
#: :attr:`hatcher.server.settings.ServerSettings.fsync_min_size`).
DEFAULT_FSYNC_MIN_SIZE = 1024 * 1024

#: Uploads announced (Content-Length) at least this large are written with ``O_DIRECT`` where the
#: file system allows it: no page-cache pages to allocate and fill (the main cost of a large
#: upload on some virtual machines), and the data is on disk when the upload ends.
DIRECT_IO_MIN_SIZE = 32 * 1024 * 1024
_DIRECT_BUFFER = 4 * 1024 * 1024


class _DirectWriter:
    """Collects pieces in an aligned buffer and writes it whole with ``O_DIRECT`` (:mod:`hatcher.core.direct_io`)."""

    def __init__(self, path: str) -> None:
        self._file = DirectFile(path, exclusive=True)
        self.fd = self._file.fd
        self._buffer = aligned_buffer(_DIRECT_BUFFER)
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
        if not self._buffer.closed:
            self._buffer.close()
        self._file.close()


class IncomingBlob:
    """A file being received: written to a temporary file and hashed on the way (written once, read never)."""

    def __init__(self, tmp_dir: str, fsync_min_size: int = 0, expected_size: Optional[int] = None) -> None:
        self.path = os.path.join(tmp_dir, f"upload-{uuid.uuid4().hex}.partial")
        self._file: Any = None
        if expected_size is not None and expected_size >= DIRECT_IO_MIN_SIZE and direct_io.SUPPORTED:
            self._file = _DirectWriter(self.path)
        if self._file is None:
            self._file = open(self.path, "xb")  # noqa: SIM115 - closed by finish/discard
        self._sha256 = hashlib.sha256()
        self._md5 = hashlib.md5()
        self._md5_consumer = (BackgroundConsumer(self._md5.update, depth=MD5_QUEUE_DEPTH)
                              if expected_size is not None and expected_size >= PARALLEL_HASH_MIN_SIZE
                              else InlineConsumer(self._md5.update))
        self._fsync_min_size = fsync_min_size
        self._closed = False
        self.size = 0

    def _fileno(self) -> int:
        return self._file.fd if isinstance(self._file, _DirectWriter) else self._file.fileno()

    def write(self, chunk: bytes | memoryview) -> None:
        """Append ``chunk`` and hash it (the md5 of a large upload in a thread of its own, in order).

        ``chunk`` must not change afterwards: the md5 thread may still be reading it.
        """
        self._md5_consumer.put(chunk)
        self._sha256.update(chunk)
        self._file.write(chunk)
        self.size += len(chunk)

    def finish(self) -> tuple[str, str, int]:
        """Flush (and fsync unless the blob is small, see :class:`BlobStore`); return ``(sha256, md5, size)``."""
        self._md5_consumer.close()
        self._file.flush()
        if self.size >= self._fsync_min_size:
            os.fsync(self._fileno())
        self._file.close()
        self._closed = True
        return self._sha256.hexdigest(), self._md5.hexdigest(), self.size

    def source(self) -> str:
        """Where the received bytes are (call after :meth:`finish`)."""
        return self.path

    def discard(self) -> None:
        """Forget the received bytes."""
        try:
            self._md5_consumer.close()
        except Exception:  # noqa: BLE001 - the bytes are dropped anyway
            pass
        if not self._closed:
            self._file.close()
            self._closed = True
        if os.path.exists(self.path):
            os.unlink(self.path)


class MemoryBlob:
    """A small upload received whole: kept in memory, hashed at once, written to disk once, when committed.

    It has the interface of :class:`IncomingBlob`; its :meth:`source` is the bytes
    themselves, so reading the artefact's metadata needs no file.
    """

    def __init__(self) -> None:
        self._chunks: list[bytes] = []
        self.data = b""
        self.size = 0

    def write(self, chunk: bytes) -> None:
        """Append ``chunk``."""
        self._chunks.append(bytes(chunk))
        self.size += len(chunk)

    def finish(self) -> tuple[str, str, int]:
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


_LOCKS: dict[str, threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()


def _lock_of(root: str) -> threading.Lock:
    """The one lock of the blob directory ``root`` in this process, whichever store opened it."""
    with _LOCKS_GUARD:
        return _LOCKS.setdefault(os.path.realpath(root), threading.Lock())


class BlobStore:
    """Files under ``root/<aa>/<sha256>`` (``aa``: the first two hex digits); uploads arrive in ``tmp_dir`` first.

    One level of 256 directories, as git's object store: after a few hundred uploads no
    upload creates a directory any more. A store of the older two-level layout
    (``root/<aa>/<bb>/<sha256>``) is converted when it is opened.

    A blob appears under its name only complete (written to a temporary file, then renamed
    atomically). Blobs of at least ``fsync_min_size`` bytes are also fsync'ed, file and
    directory, before the rename; smaller ones are left to the operating system's write-back
    (seconds), which makes small uploads several times cheaper: after a power failure (not a
    process crash) the last small uploads may have to be uploaded again. 0 fsyncs every blob.
    """

    def __init__(self, root: str, tmp_dir: str, fsync_min_size: int = DEFAULT_FSYNC_MIN_SIZE) -> None:
        self.root = root
        self.tmp_dir = tmp_dir
        self.fsync_min_size = fsync_min_size
        self._directories: set[str] = set()
        #: Serialises blob commits and removals in this process (one lock per blob directory).
        #: Committing a blob and the row that refers to it happen under it, and so does the
        #: "is this blob still referenced?" check before a removal, so a removal never races
        #: with a new reference to the same content.
        self.lock = _lock_of(root)
        os.makedirs(root, exist_ok=True)
        os.makedirs(tmp_dir, exist_ok=True)
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

    def path(self, sha256: str) -> str:
        """Where the blob ``sha256`` lives."""
        return os.path.join(self.root, sha256[:2], sha256)

    def exists(self, sha256: str) -> bool:
        """True when the blob is stored."""
        return os.path.isfile(self.path(sha256))

    def incoming(self, expected_size: Optional[int] = None) -> IncomingBlob:
        """Start receiving a file (of about ``expected_size`` bytes, when known)."""
        return IncomingBlob(self.tmp_dir, self.fsync_min_size, expected_size)

    def incoming_whole(self) -> MemoryBlob:
        """Start receiving a small file that arrives whole (kept in memory until committed)."""
        return MemoryBlob()

    def _write_temporary(self, data: bytes) -> str:
        """Write ``data`` to a new temporary file (one ``write``, no Python file object); its path.

        It is fsync'ed when it is at least ``fsync_min_size`` bytes long, as received files are.
        """
        path = os.path.join(self.tmp_dir, f"upload-{uuid.uuid4().hex}.partial")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o644)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            if len(data) >= self.fsync_min_size:
                os.fsync(fd)
        except BaseException:
            os.close(fd)
            os.unlink(path)
            raise
        os.close(fd)
        return path

    def commit(self, incoming: IncomingBlob | MemoryBlob, sha256: str) -> str:
        """Move a finished upload into place under its sha256 (atomic); return the blob path."""
        target = self.path(sha256)
        if os.path.exists(target):
            incoming.discard()
            return target
        directory = os.path.dirname(target)
        if directory not in self._directories:  # 256 at most; skips a failing mkdir per upload
            os.makedirs(directory, exist_ok=True)
            self._directories.add(directory)
        source = self._write_temporary(incoming.data) if isinstance(incoming, MemoryBlob) else incoming.path
        try:
            try:
                os.replace(source, target)
            except FileNotFoundError:  # its directory was removed behind the store's back
                self._directories.discard(directory)
                os.makedirs(directory, exist_ok=True)
                os.replace(source, target)
        except BaseException:
            if isinstance(incoming, MemoryBlob):
                os.unlink(source)  # an IncomingBlob's file is removed by its discard()
            raise
        if incoming.size >= self.fsync_min_size:
            directory = os.open(os.path.dirname(target), os.O_RDONLY)
            try:
                os.fsync(directory)
            finally:
                os.close(directory)
        return target

    def remove(self, sha256: str) -> None:
        """Delete the blob (call only when no artefact refers to it any more)."""
        try:
            os.unlink(self.path(sha256))
        except FileNotFoundError:
            pass

    def clean_tmp(self) -> None:
        """Remove leftovers of interrupted uploads (at start-up)."""
        for name in os.listdir(self.tmp_dir):
            if name.endswith(".partial"):
                os.unlink(os.path.join(self.tmp_dir, name))
