"""The background consumer keeps chunks in order, bounds memory and hands errors back."""

from __future__ import annotations

import pytest

from hatcher.core.pipeline import BACKGROUND_THRESHOLD, BackgroundConsumer, BufferRing, InlineConsumer, consumer


def test_chunks_are_consumed_in_order_and_close_waits_for_the_last():
    seen: list[bytes] = []
    sink = BackgroundConsumer(seen.append, depth=2)
    for i in range(100):
        sink.put(bytes([i]))
    sink.close()
    assert seen == [bytes([i]) for i in range(100)]


def test_an_error_of_the_consumer_is_raised_in_the_producer():
    def fail(chunk: bytes) -> None:
        raise OSError("disk full")

    sink = BackgroundConsumer(fail)
    sink.put(b"x")
    with pytest.raises(OSError, match="disk full"):
        sink.close()


def test_leaving_with_an_error_keeps_the_original_error():
    seen: list[bytes] = []
    with pytest.raises(KeyError):
        with BackgroundConsumer(seen.append) as sink:
            sink.put(b"a")
            raise KeyError("network")
    assert seen == [b"a"]  # pending work was finished before leaving


def test_a_consumer_error_wins_over_the_producer_s_error():
    def fail(chunk: bytes) -> None:
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full") as info:
        with BackgroundConsumer(fail) as sink:
            sink.put(b"a")
            raise ConnectionError("network")
    assert isinstance(info.value.__cause__, ConnectionError)


def test_small_transfers_are_consumed_inline():
    assert type(consumer(len, 10)) is InlineConsumer
    assert type(consumer(len, None)) is InlineConsumer
    big = consumer(len, BACKGROUND_THRESHOLD)
    assert type(big) is BackgroundConsumer
    big.close()


# -- the buffer ring ----------------------------------------------------------------------------


def test_the_buffer_ring_hands_every_filled_buffer_to_every_stage_in_order():
    import threading

    seen: dict[str, list[bytes]] = {"a": [], "b": []}
    in_use = {"a": 0, "b": 0, "max": 0}
    lock = threading.Lock()

    def stage(name):
        def consume(view: memoryview) -> None:
            with lock:
                in_use[name] += 1
                in_use["max"] = max(in_use["max"], in_use["a"], in_use["b"])
            seen[name].append(bytes(view))
            with lock:
                in_use[name] -= 1
        return consume

    buffers = set()
    with BufferRing([stage("a"), stage("b")], count=3, size=4096) as ring:
        for i in range(50):
            buffer = ring.buffer()
            buffers.add(id(buffer))
            size = 1 + i * 37 % 4096
            buffer[:size] = bytes([i % 256]) * size
            ring.submit(size)
    expected = [bytes([i % 256]) * (1 + i * 37 % 4096) for i in range(50)]
    assert seen["a"] == expected and seen["b"] == expected
    assert len(buffers) == 3  # memory is the ring's three buffers, reused


def test_an_empty_submission_keeps_the_buffer_and_a_stage_error_reaches_the_filling_thread():
    calls: list[int] = []

    def fail(view: memoryview) -> None:
        calls.append(len(view))
        raise OSError("disk full")

    ring = BufferRing([fail], count=2, size=4096)
    first = ring.buffer()
    ring.submit(0)  # nothing to hand over: the same buffer is handed out again
    assert ring.buffer() is first
    ring.submit(10)
    with pytest.raises(OSError, match="disk full"):
        for _ in range(10):
            ring.buffer()
            ring.submit(10)
    ring.close()
    assert calls == [10]  # after the error, the stage consumes nothing more
    with BufferRing([len], count=1, size=4096) as unused, pytest.raises(RuntimeError):
        unused.submit(1)  # submit() without buffer(); the ring is closed (its thread joined) all the same


def test_a_stage_error_wins_over_the_filling_thread_s_error_but_not_over_an_exit():
    def fail(view: memoryview) -> None:
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full") as info, BufferRing([fail], count=2, size=4096) as ring:
        ring.buffer()
        ring.submit(5)
        raise ConnectionError("broken")
    assert isinstance(info.value.__cause__, ConnectionError)
    with pytest.raises(KeyboardInterrupt), BufferRing([fail], count=2, size=4096) as ring:
        ring.buffer()
        ring.submit(5)
        raise KeyboardInterrupt
    with pytest.raises(KeyError), BufferRing([len], count=2, size=4096):  # no stage error: the original
        raise KeyError("original")


def test_read_ahead_yields_what_fill_gives_and_stages_see_the_same_bytes():
    from hatcher.core.pipeline import read_ahead

    source = bytes(range(256)) * 200  # 51,200 bytes
    position = [0]

    def fill(view: memoryview) -> int:
        piece = source[position[0]:position[0] + len(view)]
        view[:len(piece)] = piece
        position[0] += len(piece)
        return len(piece)

    staged: list[bytes] = []
    received = [bytes(view) for view in read_ahead(fill, [lambda view: staged.append(bytes(view))],
                                                   count=3, size=4096)]
    assert b"".join(received) == source == b"".join(staged)
    assert len(received) == 13  # twelve full buffers and the 2,048 bytes of the last


def test_read_ahead_stops_the_filling_thread_when_the_caller_leaves_and_raises_errors():
    import threading

    from hatcher.core.pipeline import read_ahead

    before = threading.active_count()
    endless = read_ahead(lambda view: len(view), [], count=2, size=4096)
    next(endless)
    endless.close()  # the caller gives up early: nothing is left running
    assert threading.active_count() == before

    def broken(view: memoryview) -> int:
        raise OSError("unreadable")

    with pytest.raises(OSError, match="unreadable"):
        list(read_ahead(broken, []))

    def failing_stage(view: memoryview) -> None:
        raise ValueError("hash failed")

    with pytest.raises(ValueError, match="hash failed"):
        list(read_ahead(lambda view: len(view), [failing_stage], count=2, size=4096))
