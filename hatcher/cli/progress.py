"""Progress bars on stderr: shown only when stderr is a terminal and ``--no-progress`` was not given."""

from __future__ import annotations

import sys
from typing import Any, Iterator

import click


class _Silent:
    """A progress bar that shows nothing."""

    def update(self, amount: int) -> None:
        """Ignore progress."""


class _Bar:
    """A thread-safe wrapper of click's bar (parallel workers report to one bar)."""

    def __init__(self, bar: Any) -> None:
        import threading

        self._bar = bar
        self._lock = threading.Lock()

    def update(self, amount: int) -> None:
        """Advance by ``amount`` (bytes or files)."""
        with self._lock:
            self._bar.update(amount)


def stderr_is_tty() -> bool:
    """True when standard error is a terminal."""
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


class progress:  # noqa: N801 - used like a function: ``with progress(...) as bar``
    """Context manager yielding an object with ``update(amount)``.

    Parameters
    ----------
    length : int
        The total (bytes, or files).
    label : str
        Shown before the bar.
    enabled : bool
        False (``--no-progress``) hides the bar; it is also hidden when stderr is not a terminal.
    end_line : bool
        When the bar is hidden, print an empty line on stdout at the end, where the reference
        client ends its bar's line (downloads and file-counting bars), so that scripts read the
        same lines.
    """

    def __init__(self, length: int, label: str = "", enabled: bool = True, end_line: bool = False) -> None:
        self.length = length
        self.label = label
        self.enabled = enabled and stderr_is_tty()
        self.end_line = end_line
        self._context: Any = None

    def __enter__(self) -> Any:
        if not self.enabled:
            return _Silent()
        self._context = click.progressbar(length=max(self.length, 1), label=self.label, file=sys.stderr,
                                          show_eta=True, show_percent=True)
        return _Bar(self._context.__enter__())

    def __exit__(self, *exc_info: Any) -> None:
        if self._context is not None:
            self._context.__exit__(*exc_info)
        elif self.end_line:
            click.echo()


def iterate(items: Iterator[Any] | list[Any], **kwargs: Any) -> Iterator[Any]:
    """Yield ``items`` while advancing a bar by one per item."""
    items = list(items)
    with progress(len(items), **kwargs) as bar:
        for item in items:
            yield item
            bar.update(1)


def drain(download: tuple[int, Iterator[int]], label: str = "", enabled: bool = True) -> None:
    """Exhaust a ``(content length, iterator of chunk sizes)`` download with a byte bar (ending the line)."""
    length, chunks = download
    with progress(length, label, enabled, end_line=True) as bar:
        for size in chunks:
            bar.update(size)


class upload_progress(progress):  # noqa: N801 - used like a function: ``with upload_progress(...) as callback``
    """A byte bar for sending the file ``path``; yields the callback for the library's ``progress=``.

    A missing file gives an empty bar, so that the library reports the problem itself.
    """

    def __init__(self, path: str, label: str = "", enabled: bool = True) -> None:
        import os

        super().__init__(os.path.getsize(path) if os.path.isfile(path) else 0, label, enabled)

    def __enter__(self) -> Any:
        return super().__enter__().update
