"""The blob store: artefact files on disk, addressed by sha256, written once and atomically."""

from __future__ import annotations

import hashlib
import os
import uuid
from typing import BinaryIO


class IncomingBlob:
    """A file being received: written to a temporary file and hashed on the way."""

    def __init__(self, tmp_dir: str) -> None:
        self.path = os.path.join(tmp_dir, f"upload-{uuid.uuid4().hex}.partial")
        self._file: BinaryIO = open(self.path, "xb")  # noqa: SIM115 - closed by finish/discard
        self._sha256 = hashlib.sha256()
        self._md5 = hashlib.md5()
        self.size = 0

    def write(self, chunk: bytes) -> None:
        """Append ``chunk`` and hash it."""
        self._file.write(chunk)
        self._sha256.update(chunk)
        self._md5.update(chunk)
        self.size += len(chunk)

    def finish(self) -> tuple[str, str, int]:
        """Flush to disk; return ``(sha256, md5, size)``."""
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        return self._sha256.hexdigest(), self._md5.hexdigest(), self.size

    def discard(self) -> None:
        """Forget the received bytes."""
        if not self._file.closed:
            self._file.close()
        if os.path.exists(self.path):
            os.unlink(self.path)


class BlobStore:
    """Files under ``root/<aa>/<bb>/<sha256>``; uploads arrive in ``tmp_dir`` first."""

    def __init__(self, root: str, tmp_dir: str) -> None:
        self.root = root
        self.tmp_dir = tmp_dir
        os.makedirs(root, exist_ok=True)
        os.makedirs(tmp_dir, exist_ok=True)

    def path(self, sha256: str) -> str:
        """Where the blob ``sha256`` lives."""
        return os.path.join(self.root, sha256[:2], sha256[2:4], sha256)

    def exists(self, sha256: str) -> bool:
        """True when the blob is stored."""
        return os.path.isfile(self.path(sha256))

    def incoming(self) -> IncomingBlob:
        """Start receiving a file."""
        return IncomingBlob(self.tmp_dir)

    def commit(self, incoming: IncomingBlob, sha256: str) -> str:
        """Move a finished upload into place under its sha256 (atomic); return the blob path."""
        target = self.path(sha256)
        if os.path.exists(target):
            incoming.discard()
            return target
        os.makedirs(os.path.dirname(target), exist_ok=True)
        os.replace(incoming.path, target)
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
