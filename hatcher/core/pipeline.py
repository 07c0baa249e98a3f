"""Overlap network I/O with hashing and disk writes: a sequential consumer in a background thread.

``hashlib`` and file writes release the GIL for large buffers, and so do socket sends and
receives, so moving the consumer of a transfer's chunks to another thread lets both run
at once. Chunks stay in order; at most ``depth`` of them wait, so memory stays bounded.
"""

from __future__ import annotations

import queue
import threading
from typing import Any, Callable, Optional

#: Transfers smaller than this are consumed inline (a thread would cost more than it saves).
BACKGROUND_THRESHOLD = 4 << 20

_STOP = object()


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

    def __exit__(self, *exc_info: Any) -> None:
        if exc_info[0] is None:
            self.close()
            return
        try:  # already failing: finish the pending work, but keep the original error
            self.close()
        except BaseException:  # noqa: BLE001
            pass


def consumer(consume: Callable[[bytes], Any], size: Optional[int]) -> InlineConsumer:
    """A background consumer for transfers of at least :data:`BACKGROUND_THRESHOLD` bytes, else inline."""
    if size is not None and size >= BACKGROUND_THRESHOLD:
        return BackgroundConsumer(consume)
    return InlineConsumer(consume)
