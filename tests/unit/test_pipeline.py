"""The background consumer keeps chunks in order, bounds memory and hands errors back."""

from __future__ import annotations

import pytest

from hatcher.core.pipeline import BACKGROUND_THRESHOLD, BackgroundConsumer, InlineConsumer, consumer


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


def test_small_transfers_are_consumed_inline():
    assert type(consumer(len, 10)) is InlineConsumer
    assert type(consumer(len, None)) is InlineConsumer
    big = consumer(len, BACKGROUND_THRESHOLD)
    assert type(big) is BackgroundConsumer
    big.close()
