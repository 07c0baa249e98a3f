"""A streaming multipart upload body that reads the file once and hashes it on the way.

The body has the two parts Brood expects, ``file`` then ``data``. The ``data`` part (a
small JSON object holding the file's sha256) comes after the file on the wire, so the
digest is computed while the file streams out and written at the end. Because a sha256
always has 64 hex digits, the body's length is known before the first byte is read: the
request carries a ``Content-Length`` (no chunked encoding), as Brood requires.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from typing import Any, Callable, Iterator

from hatcher.core import direct_io
from hatcher.core.direct_io import DirectReader
from hatcher.core.pipeline import consumer, read_ahead
from hatcher.errors import HatcherException

#: Bytes read from disk (and handed to the socket) at a time.
CHUNK_SIZE = 1 << 20
#: Files of at least this many bytes are read ahead in a thread, into aligned buffers with
#: direct I/O where possible, and hashed in another thread, while the sends go on.
READ_AHEAD_MIN_SIZE = 32 << 20
_PLACEHOLDER = "0" * 64


def _ignore(chunk: bytes) -> None:
    """A consumer for a body whose sha256 is already known."""


def _quote(filename: str) -> str:
    """A file name safe inside a quoted ``Content-Disposition`` parameter (HTML5 style)."""
    return filename.replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")


class MultipartUpload:
    """An iterable request body of known length: ``file`` streamed from disk, then ``data``.

    Iterating it again starts over (re-opening the file), so a retried request sends a
    fresh body.

    Parameters
    ----------
    path : str
        The file to send; the part's file name is its base name.
    data : dict
        The JSON of the ``data`` part. Its ``sha256`` is filled in from the bytes read
        when it is missing (or None).
    progress : callable, optional
        Called with the number of file bytes just sent.
    boundary : str, optional
        The multipart boundary (32 random hex digits by default).
    """

    def __init__(self, path: str | os.PathLike[str], data: dict[str, Any],
                 progress: Callable[[int], None] | None = None, boundary: str | None = None) -> None:
        self.path = os.fspath(path)
        self.size = os.path.getsize(self.path)
        self.boundary = boundary or uuid.uuid4().hex
        self.progress = progress
        self._data = dict(data)
        self._hash = self._data.get("sha256") is None
        if self._hash:
            self._data["sha256"] = _PLACEHOLDER
        self.sha256: str | None = None if self._hash else self._data["sha256"]
        name = _quote(os.path.basename(self.path))
        self._head = (f"--{self.boundary}\r\n"
                      f'Content-Disposition: form-data; name="file"; filename="{name}"\r\n\r\n').encode()
        self._middle = (f"\r\n--{self.boundary}\r\n"
                        'Content-Disposition: form-data; name="data"; filename=""\r\n'
                        "Content-Type: application/json; charset=UTF-8\r\n\r\n").encode()
        self._tail = f"\r\n--{self.boundary}--\r\n".encode()
        self._data_length = len(self._data_json())

    @property
    def content_type(self) -> str:
        """The request's ``Content-Type`` header."""
        return f"multipart/form-data; boundary={self.boundary}"

    def _data_json(self) -> bytes:
        return json.dumps(self._data).encode("utf-8")

    def __len__(self) -> int:
        return len(self._head) + self.size + len(self._middle) + self._data_length + len(self._tail)

    def _file_chunks(self, digest: Any) -> Iterator[bytes | memoryview]:
        """The file's bytes in order, each also given to ``digest.update`` (when hashing)."""
        if self.size >= READ_AHEAD_MIN_SIZE and direct_io.SUPPORTED:
            # Read ahead (direct I/O: no page-cache copy) and hash in two threads beside the sends.
            with DirectReader(self.path) as reader:
                yield from read_ahead(reader.readinto, [digest.update] if digest else [])
            return
        # Hashing runs beside the socket sends (both release the GIL) for large files.
        with open(self.path, "rb") as stream, consumer(digest.update if digest else _ignore, self.size) as hasher:
            for chunk in iter(lambda: stream.read(CHUNK_SIZE), b""):
                hasher.put(chunk)
                yield chunk

    def __iter__(self) -> Iterator[bytes | memoryview]:
        digest = hashlib.sha256() if self._hash else None
        sent = 0
        yield self._head
        chunks = self._file_chunks(digest)
        try:
            for chunk in chunks:
                sent += len(chunk)
                if sent > self.size:
                    break
                yield chunk
                if self.progress is not None:
                    self.progress(len(chunk))
        finally:
            chunks.close()  # stops the reading and hashing threads; the digest is complete
        if sent != self.size:
            raise HatcherException(f"{self.path} changed size while it was being uploaded "
                                   f"({self.size} bytes expected, {sent} read)")
        if digest is not None:
            self.sha256 = digest.hexdigest()
            self._data["sha256"] = self.sha256
        yield self._middle
        yield self._data_json()
        yield self._tail

    def to_bytes(self) -> bytes:
        """The whole body at once (for tests and tiny files only)."""
        return b"".join(bytes(chunk) for chunk in self)  # a read-ahead view is valid only until the next one
