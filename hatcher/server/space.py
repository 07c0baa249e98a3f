"""Free disk space: the reserve a server keeps, and the check that refuses an upload before its body is read.

A file store receives uploads in its temporary directory, on the same file system as its
blobs (a received file is renamed into place). When a request announces (``Content-Length``)
more than that file system's free space minus the reserve, it is answered ``507`` at once,
before a byte of its body is read, so that the client does not send a gigabyte for
nothing. The reserve (``--min-free-space``; by default 256 MiB or 5 % of the file system,
whichever is smaller) keeps room for the database and the uploads already under way.
``GET /health`` reports the free space and the reserve, and ``degraded`` below it.
"""

from __future__ import annotations

import logging
import os
import re
from typing import Any, Optional, Union

import attr

from hatcher.server.errors import InsufficientStorage

logger = logging.getLogger("hatcher.server")

MIB = 1024 * 1024
#: The default reserve: this many bytes, or :data:`DEFAULT_RESERVE_PERCENT` of the file system if smaller.
DEFAULT_RESERVE_BYTES = 256 * MIB
DEFAULT_RESERVE_PERCENT = 5.0

_UNITS = {"": 1, "B": 1, "K": 1024, "KB": 1024, "KIB": 1024, "M": MIB, "MB": MIB, "MIB": MIB,
          "G": 1024 * MIB, "GB": 1024 * MIB, "GIB": 1024 * MIB, "T": 1024 * 1024 * MIB, "TB": 1024 * 1024 * MIB,
          "TIB": 1024 * 1024 * MIB}
_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*|%)\s*$")


@attr.s(frozen=True)
class Reserve:
    """The free space a server keeps: a number of bytes, or a percentage of the file system's size."""

    size: Optional[int] = attr.ib(default=None)
    percent: Optional[float] = attr.ib(default=None)

    def of(self, total: int) -> int:
        """The reserve in bytes on a file system of ``total`` bytes."""
        if self.size is not None:
            return self.size
        assert self.percent is not None
        return int(total * self.percent // 100)

    def __str__(self) -> str:
        return f"{self.percent:g}%" if self.percent is not None else str(self.size)


def parse_reserve(value: Union[None, int, str, Reserve]) -> Optional[Reserve]:
    """``--min-free-space``: bytes (``1073741824``), with a binary unit (``512K``, ``256M``, ``1G``, ``1T``;
    ``MB``, ``MiB`` are the same), or a percentage of the file system (``5%``). None is the default.

    Raises
    ------
    ValueError
        For anything else (a negative number, an unknown unit, a percentage over 100).
    """
    if value is None or isinstance(value, Reserve):
        return value
    if isinstance(value, bool):
        raise ValueError(f"Invalid free-space reserve {value!r}")
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"The free-space reserve must not be negative, not {value}")
        return Reserve(size=value)
    match = _SIZE_RE.match(str(value))
    if match is None:
        raise ValueError(f"Invalid free-space reserve {value!r}: give bytes (e.g. 268435456), a size with a unit "
                         f"(512K, 256M, 1G) or a percentage of the disk (5%)")
    number, unit = float(match.group(1)), match.group(2).upper()
    if unit == "%":
        if number > 100:
            raise ValueError(f"The free-space reserve cannot exceed 100%, not {value!r}")
        return Reserve(percent=number)
    if unit not in _UNITS:
        raise ValueError(f"Invalid free-space reserve {value!r}: unknown unit {match.group(2)!r} (use K, M, G or T)")
    return Reserve(size=int(number * _UNITS[unit]))


@attr.s(frozen=True)
class DiskSpace:
    """The space of the file system where uploads are received, in bytes."""

    free: int = attr.ib()  # available to the server (statvfs f_bavail: without root's reserved blocks)
    total: int = attr.ib()


def disk_space(paths: Any) -> DiskSpace:
    """The least free space among the file systems of ``paths`` (one, when they share it)."""
    found: Optional[DiskSpace] = None
    for path in paths:
        stat = os.statvfs(path)
        space = DiskSpace(stat.f_bavail * stat.f_frsize, stat.f_blocks * stat.f_frsize)
        if found is None or space.free < found.free:
            found = space
    assert found is not None
    return found


def reserve_bytes(reserve: Optional[Reserve], total: int) -> int:
    """The reserve in bytes: the configured one, or the default (256 MiB or 5 %, whichever is smaller)."""
    if reserve is not None:
        return reserve.of(total)
    return min(DEFAULT_RESERVE_BYTES, int(total * DEFAULT_RESERVE_PERCENT // 100))


@attr.s(frozen=True)
class SpaceReport:
    """Free space and reserve (bytes) of a store that receives uploads on this machine's disk."""

    free: int = attr.ib()
    reserve: int = attr.ib()

    @property
    def low(self) -> bool:
        """Below the reserve: uploads are refused."""
        return self.free < self.reserve


def space_report(store: Any, reserve: Optional[Reserve]) -> Optional[SpaceReport]:
    """The free space and reserve of ``store`` (None when it receives no upload on this machine's disk)."""
    space = store.disk_space()
    if space is None:
        return None
    return SpaceReport(space.free, reserve_bytes(reserve, space.total))


def check_room(store: Any, reserve: Optional[Reserve], length: Optional[int]) -> None:
    """Refuse (507) an upload announcing ``length`` bytes when they do not fit above the reserve.

    Nothing is checked without a ``Content-Length`` (a chunked body), or for a store that does
    not receive uploads on this machine's disk; such an upload still gets 507 when the disk
    fills while it is written.
    """
    if length is None:
        return
    report = space_report(store, reserve)
    if report is not None and length > report.free - report.reserve:
        logger.warning("Refused an upload of %d bytes: %d bytes free, %d kept in reserve",
                       length, report.free, report.reserve)
        raise InsufficientStorage()
