"""``DirectFile``: aligned writes with O_DIRECT, the tail and refusing file systems the ordinary way."""

from __future__ import annotations

import errno
import os

import pytest

from hatcher.core import direct_io
from hatcher.core.direct_io import ALIGN, DirectFile, aligned_buffer

pytestmark = pytest.mark.skipif(not direct_io.SUPPORTED, reason="no O_DIRECT here")


def _fill(size: int, seed: int) -> memoryview:
    buffer = aligned_buffer(max(size, ALIGN))
    buffer[:size] = bytes((seed + i) % 251 for i in range(size))
    return memoryview(buffer)[:size]


def _refuse_once(monkeypatch, name: str) -> list[int]:
    """Make ``os.<name>(fd, data, offset)`` fail once with EINVAL, as a file system refusing direct I/O does.

    Returns the offsets of the refused calls.
    """
    real = getattr(os, name)
    refused: list[int] = []

    def call(fd, data, offset):
        if not refused:
            refused.append(offset)
            raise OSError(errno.EINVAL, "Invalid argument")
        return real(fd, data, offset)

    monkeypatch.setattr(os, name, call)
    return refused


def test_aligned_writes_are_direct_and_an_unaligned_tail_is_written_the_ordinary_way(tmp_path):
    path = str(tmp_path / "file")
    pieces = [_fill(4 * ALIGN, 1), _fill(2 * ALIGN, 2), _fill(1234, 3)]
    target = DirectFile(path)
    direct_before = target.direct
    for piece in pieces[:2]:
        target.write(piece)
    direct_after_aligned = target.direct
    target.write(pieces[2])
    assert not target.direct  # the tail ended direct I/O
    target.close()
    target.close()  # idempotent
    with open(path, "rb") as stream:
        assert stream.read() == b"".join(bytes(piece) for piece in pieces)
    assert direct_after_aligned == direct_before  # aligned writes keep whatever the file system allowed


def test_an_unaligned_start_offset_writes_the_ordinary_way_after_what_is_there(tmp_path):
    path = tmp_path / "file"
    path.write_bytes(b"x" * 100)
    target = DirectFile(str(path), offset=100)
    assert not target.direct
    target.write(_fill(ALIGN, 7))
    target.close()
    assert path.read_bytes() == b"x" * 100 + bytes(_fill(ALIGN, 7))


def test_a_file_system_that_refuses_a_direct_write_gets_an_ordinary_one(tmp_path, monkeypatch):
    path = str(tmp_path / "file")
    target = DirectFile(path)
    target.direct = True  # as if the open had allowed it
    refused = _refuse_once(monkeypatch, "pwrite")
    target.write(_fill(2 * ALIGN, 5))
    target.close()
    assert refused == [0] and not target.direct
    with open(path, "rb") as stream:
        assert stream.read() == bytes(_fill(2 * ALIGN, 5))


def test_other_write_errors_are_raised(tmp_path, monkeypatch):
    target = DirectFile(str(tmp_path / "file"))
    monkeypatch.setattr(os, "pwrite", lambda fd, data, offset: (_ for _ in ()).throw(OSError(errno.ENOSPC, "full")))
    with pytest.raises(OSError, match="full"):
        target.write(_fill(ALIGN, 1))
    target.close()
    with pytest.raises(FileExistsError):
        DirectFile(str(tmp_path / "file"), exclusive=True)


def test_direct_reads_fill_aligned_buffers_up_to_the_end_of_the_file(tmp_path):
    from hatcher.core.direct_io import DirectReader

    content = os.urandom(3 * ALIGN * 4 + 1001)
    path = tmp_path / "file"
    path.write_bytes(content)
    pieces = []
    with DirectReader(str(path)) as reader:
        buffer = aligned_buffer(4 * ALIGN)
        with memoryview(buffer) as view:
            while True:
                count = reader.readinto(view)
                pieces.append(bytes(view[:count]))
                if count < len(view):
                    break
        assert not reader.direct  # the short read at the end went back to ordinary reads
    assert b"".join(pieces) == content and [len(p) for p in pieces] == [4 * ALIGN] * 3 + [1001]


def test_a_file_system_that_refuses_direct_reads_is_read_the_ordinary_way(tmp_path, monkeypatch):
    from hatcher.core.direct_io import DirectReader

    content = os.urandom(2 * ALIGN)
    (tmp_path / "file").write_bytes(content)
    refused = _refuse_once(monkeypatch, "preadv")
    reader = DirectReader(str(tmp_path / "file"))
    reader.direct = True
    buffer = aligned_buffer(4 * ALIGN)
    with memoryview(buffer) as view:
        assert reader.readinto(view) == len(content) and bytes(view[:len(content)]) == content
    reader.close()
    reader.close()
    assert refused == [0] and not reader.direct
