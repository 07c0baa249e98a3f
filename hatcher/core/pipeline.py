"""Overlap network I/O with hashing and disk writes: a sequential consumer in a background thread.

``hashlib`` and file writes release the GIL for large buffers, and so do socket sends and
receives, so moving the consumer of a transfer's chunks to another thread lets both run
at once. Chunks stay in order; at most ``depth`` of them wait, so memory stays bounded.
"""

from __future__ import annotations

import mmap
import queue
import threading
from typing import Any, Callable, Iterator, Optional, Sequence

#: Transfers smaller than this are consumed inline (a thread would cost more than it saves).
BACKGROUND_THRESHOLD = 4 << 20

_STOP = object()


def close_after(close: Callable[[], None], exc: Optional[BaseException]) -> None:
    """Leave a ``with`` block of a consumer: let the background work finish, and pick the error to raise.

    Without an error, ``close()`` raises the consumers' own. With one, the consumers' failure
    (e.g. a full disk) wins over the producer's (e.g. a broken connection, which would
    otherwise be resumed past bytes never written), chained to it; GeneratorExit,
    KeyboardInterrupt and SystemExit are kept.
    """
    if exc is None:
        close()
        return
    try:
        close()
    except BaseException as consumer_error:
        if isinstance(exc, Exception):
            raise consumer_error from exc


class InlineConsumer:
    """Consume each chunk at once, in the calling thread."""

    def __init__(self, consume: Callable[[bytes], Any]) -> None:
        self._consume = consume

    def put(self, chunk: bytes) -> None:
        """Consume ``chunk`` now."""
        self._consume(chunk)

    def close(self) -> None:
        """Nothing is pending."""

    def __enter__(self) -> InlineConsumer:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()


class BackgroundConsumer(InlineConsumer):
    """Consume chunks in order in a background thread; :meth:`close` waits for the last one.

    An error raised by the consumer is raised again by the next :meth:`put` or by
    :meth:`close`.
    """

    def __init__(self, consume: Callable[[bytes], Any], depth: int = 4) -> None:
        super().__init__(consume)
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=depth)
        self._error: Optional[BaseException] = None
        self._thread = threading.Thread(target=self._run, name="hatcher-consumer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            chunk = self._queue.get()
            if chunk is _STOP:
                return
            if self._error is None:
                try:
                    self._consume(chunk)
                except BaseException as exc:  # noqa: BLE001 - handed back to the producer
                    self._error = exc

    def put(self, chunk: bytes) -> None:
        """Queue ``chunk`` (blocks while ``depth`` chunks are waiting)."""
        if self._error is not None:
            raise self._error
        self._queue.put(chunk)

    def close(self) -> None:
        """Wait until every queued chunk is consumed; raise the consumer's error, if any."""
        if self._thread.is_alive():
            self._queue.put(_STOP)
            self._thread.join()
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def __exit__(self, exc_type: Any, exc: Any, traceback: Any) -> None:
        close_after(self.close, exc)


def consumer(consume: Callable[[bytes], Any], size: Optional[int]) -> InlineConsumer:
    """A background consumer for transfers of at least :data:`BACKGROUND_THRESHOLD` bytes, else inline."""
    if size is not None and size >= BACKGROUND_THRESHOLD:
        return BackgroundConsumer(consume)
    return InlineConsumer(consume)


class BufferRing:
    """Fill page-aligned buffers in the calling thread; each stage consumes every filled buffer in a thread of its own.

    The stages (e.g. hashing and writing) see the buffers in order and in parallel with
    each other and with the filling (e.g. socket reads): all of them release the GIL on
    large buffers. A buffer is handed out again only when every stage is done with it, so
    memory stays at ``count * size`` bytes and no byte is copied between the stages. An
    error raised by a stage is raised again by the next :meth:`buffer` or :meth:`submit`,
    or by :meth:`close`, and the stages consume nothing more.

    Parameters
    ----------
    stages : sequence of callables
        Each is called with a ``memoryview`` of every filled buffer, in order.
    count, size : int
        The number of buffers and their size in bytes (a multiple of 4096 for direct I/O).
    """

    def __init__(self, stages: Sequence[Callable[[memoryview], Any]], count: int = 4, size: int = 4 << 20) -> None:
        from hatcher.core.direct_io import aligned_buffer

        self._buffers = [aligned_buffer(size) for _ in range(count)]
        self._free = [threading.Semaphore(count) for _ in stages]
        self._queues: list[queue.Queue[Any]] = [queue.Queue() for _ in stages]
        self._error: Optional[BaseException] = None
        self._failed = False
        self._next = 0
        self._held = False
        self._threads = [threading.Thread(target=self._run, args=(stage, index), name="hatcher-stage", daemon=True)
                         for index, stage in enumerate(stages)]
        for thread in self._threads:
            thread.start()

    def _run(self, stage: Callable[[memoryview], Any], index: int) -> None:
        while True:
            item = self._queues[index].get()
            if item is _STOP:
                return
            slot, length = item
            if not self._failed:
                try:
                    with memoryview(self._buffers[slot]) as view, view[:length] as filled:
                        stage(filled)
                except BaseException as exc:  # noqa: BLE001 - handed back to the filling thread
                    self._failed = True
                    self._error = exc
            self._free[index].release()

    def _raise(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def buffer(self) -> mmap.mmap:
        """The next buffer to fill (waits until every stage is done with its previous use)."""
        self._raise()
        if not self._held:
            for free in self._free:
                free.acquire()
            self._held = True
        return self._buffers[self._next % len(self._buffers)]

    def submit(self, length: int) -> None:
        """Hand the first ``length`` bytes of the buffer from :meth:`buffer` to every stage."""
        self._raise()
        if not self._held:
            raise RuntimeError("submit() without buffer()")
        if length:
            for pending in self._queues:
                pending.put((self._next % len(self._buffers), length))
            self._next += 1
            self._held = False

    def close(self) -> None:
        """Wait until every stage is done with every submitted buffer; raise a stage's error, if any."""
        for pending in self._queues:
            pending.put(_STOP)
        for thread in self._threads:
            thread.join()
        self._raise()

    def __enter__(self) -> BufferRing:
        return self

    def __exit__(self, exc_type: Any, exc: Any, traceback: Any) -> None:
        close_after(self.close, exc)


_END = object()


def read_ahead(fill: Callable[[memoryview], int], stages: Sequence[Callable[[memoryview], Any]],
               count: int = 4, size: int = 4 << 20) -> Iterator[memoryview]:
    """Yield buffers filled by ``fill`` in a background thread, each also given to ``stages`` in threads of their own.

    ``fill(view)`` fills a buffer and returns the byte count; fewer than the buffer's size
    ends the stream. The caller gets each filled buffer in order while the next ones are
    being filled, and the stages (e.g. hashing) see the same bytes at the same time: no
    copy between them. A yielded view is valid until the caller asks for the next one.
    Leaving the loop early stops the filling thread; an error of ``fill`` or of a stage
    is raised in the caller.
    """
    handoff: queue.Queue[Any] = queue.Queue()
    cancelled = threading.Event()

    def to_caller(view: memoryview) -> None:
        done = threading.Event()
        handoff.put((view, done))
        done.wait()

    def produce() -> None:
        try:
            with BufferRing([*stages, to_caller], count, size) as ring:
                while not cancelled.is_set():
                    buffer = ring.buffer()
                    with memoryview(buffer) as view:
                        filled = fill(view)
                    ring.submit(filled)
                    if filled < len(buffer):
                        break
        except BaseException as exc:  # noqa: BLE001 - handed to the caller
            handoff.put(exc)
        else:
            handoff.put(_END)

    producer = threading.Thread(target=produce, name="hatcher-read-ahead", daemon=True)
    producer.start()
    try:
        while True:
            item = handoff.get()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            view, done = item
            try:
                yield view
            finally:
                done.set()
    finally:
        cancelled.set()
        while producer.is_alive():  # release a stage waiting on a buffer nobody will take
            try:
                item = handoff.get(timeout=0.05)
            except queue.Empty:
                continue
            if isinstance(item, tuple):
                item[1].set()
        producer.join()
