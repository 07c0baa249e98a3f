"""Sequential file writes that bypass the page cache (``O_DIRECT``) where the system allows it.

Writing a large file through the page cache costs a page allocation and a copy per 4 KiB,
and on some virtual machines that is the slowest part of a transfer. With ``O_DIRECT`` the
data goes from a page-aligned buffer straight to the disk. The buffer's address, every
write's length and the file offset must be multiples of :data:`ALIGN`; a write that is not
(the tail of a file) switches the descriptor back to ordinary writes, and so does a file
system that refuses direct I/O (``EINVAL``, e.g. tmpfs). Used by downloads and uploads
(client) and large uploads (server). Reading a file the same way skips the copy out of the
page cache.
"""

from __future__ import annotations

import errno
import mmap
import os

#: The alignment of direct I/O: buffer addresses, lengths and file offsets.
ALIGN = 4096

#: True where ``O_DIRECT`` and positioned reads and writes exist (Linux and most Unixes).
SUPPORTED = hasattr(os, "O_DIRECT") and hasattr(os, "pwrite") and hasattr(os, "preadv")


def aligned_buffer(size: int) -> mmap.mmap:
    """A zero-filled, page-aligned buffer of ``size`` bytes (anonymous memory)."""
    return mmap.mmap(-1, size)


class _DirectDescriptor:
    """A file descriptor opened with ``O_DIRECT`` when wanted and allowed, else the ordinary way."""

    def __init__(self, path: str, flags: int, direct: bool) -> None:
        flags |= getattr(os, "O_CLOEXEC", 0)
        self.direct = SUPPORTED and direct
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

    def buffered(self) -> None:
        """From now on, go through the page cache (no alignment needed)."""
        if self.direct:
            import fcntl

            fcntl.fcntl(self.fd, fcntl.F_SETFL, fcntl.fcntl(self.fd, fcntl.F_GETFL) & ~os.O_DIRECT)
            self.direct = False

    def close(self) -> None:
        """Close the descriptor (idempotent)."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


class DirectFile(_DirectDescriptor):
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
        super().__init__(path, os.O_WRONLY | os.O_CREAT | (os.O_EXCL if exclusive else 0), offset % ALIGN == 0)
        self.offset = offset

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


class DirectReader(_DirectDescriptor):
    """Read a file sequentially into page-aligned buffers, with ``O_DIRECT`` where the system allows it.

    Direct reads skip the page cache's copy (the disk's DMA fills the buffer); a file system
    that refuses them (``EINVAL``) is read the ordinary way.
    """

    def __init__(self, path: str) -> None:
        super().__init__(path, os.O_RDONLY, True)
        self.offset = 0

    def readinto(self, buffer: memoryview) -> int:
        """Fill ``buffer`` (aligned, a multiple of :data:`ALIGN` long) as far as the file goes; the byte count."""
        filled = 0
        while filled < len(buffer):
            with buffer[filled:] as rest:
                try:
                    read = os.preadv(self.fd, [rest], self.offset)
                except OSError as exc:
                    if exc.errno != errno.EINVAL or not self.direct:
                        raise
                    self.buffered()
                    continue
            if not read:
                break
            filled += read
            self.offset += read
            if self.direct and read % ALIGN:  # a short direct read ends the file (or is unaligned): go on plainly
                self.buffered()
        return filled

    def __enter__(self) -> DirectReader:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
