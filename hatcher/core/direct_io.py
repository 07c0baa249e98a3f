"""Sequential file writes that bypass the page cache (``O_DIRECT``) where the system allows it.

Writing a large file through the page cache costs a page allocation and a copy per 4 KiB,
and on some virtual machines that is the slowest part of a transfer. With ``O_DIRECT`` the
data goes from a page-aligned buffer straight to the disk. The buffer's address, every
write's length and the file offset must be multiples of :data:`ALIGN`; a write that is not
(the tail of a file) switches the descriptor back to ordinary writes, and so does a file
system that refuses direct I/O (``EINVAL``, e.g. tmpfs). Used by downloads (client) and
large uploads (server).
"""

from __future__ import annotations

import errno
import mmap
import os

#: The alignment of direct I/O: buffer addresses, lengths and file offsets.
ALIGN = 4096

#: True where ``O_DIRECT`` and positioned writes exist (Linux and most Unixes).
SUPPORTED = hasattr(os, "O_DIRECT") and hasattr(os, "pwrite")


def aligned_buffer(size: int) -> mmap.mmap:
    """A zero-filled, page-aligned buffer of ``size`` bytes (anonymous memory)."""
    return mmap.mmap(-1, size)


class DirectFile:
    """Write a file sequentially from ``offset`` on, with ``O_DIRECT`` while every write is aligned.

    Parameters
    ----------
    path : str
        The file (created if missing, never truncated).
    offset : int
        Where the first write goes; direct I/O is used only when it is aligned.
    exclusive : bool
        The file must not exist yet (``O_EXCL``).
    """

    def __init__(self, path: str, offset: int = 0, exclusive: bool = False) -> None:
        flags = os.O_WRONLY | os.O_CREAT | getattr(os, "O_CLOEXEC", 0) | (os.O_EXCL if exclusive else 0)
        self.direct = SUPPORTED and offset % ALIGN == 0
        self.fd = -1
        if self.direct:
            try:
                self.fd = os.open(path, flags | os.O_DIRECT, 0o644)
            except OSError as exc:
                if exc.errno != errno.EINVAL:
                    raise
                self.direct = False
        if self.fd < 0:
            self.fd = os.open(path, flags, 0o644)
        self.offset = offset

    def buffered(self) -> None:
        """From now on, write through the page cache (no alignment needed)."""
        if self.direct:
            import fcntl

            fcntl.fcntl(self.fd, fcntl.F_SETFL, fcntl.fcntl(self.fd, fcntl.F_GETFL) & ~os.O_DIRECT)
            self.direct = False

    def write(self, data: memoryview) -> None:
        """Write all of ``data`` at the current offset (an unaligned length ends direct I/O)."""
        if self.direct and len(data) % ALIGN:
            self.buffered()
        while data:
            try:
                written = os.pwrite(self.fd, data, self.offset) if SUPPORTED else os.write(self.fd, data)
            except OSError as exc:
                if exc.errno != errno.EINVAL or not self.direct:
                    raise
                self.buffered()  # the file system refuses this direct write: write it the ordinary way
                continue
            self.offset += written
            data = data[written:]

    def close(self) -> None:
        """Close the descriptor (idempotent)."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
