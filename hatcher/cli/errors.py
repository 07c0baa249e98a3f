"""How the command line reports failures: one line on stderr and exit 1, or a traceback with ``--debug``."""

from __future__ import annotations

from typing import Any

import click

#: Exit statuses of every command.
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class CommandFailed(click.ClickException):
    """An expected failure of a command: its message is printed on one line, the exit status is 1."""

    exit_code = EXIT_FAILED

    def show(self, file: Any = None) -> None:
        """Print ``Error: <message>`` on stderr, in red when stderr is a terminal."""
        click.secho(f"Error: {self.format_message()}", file=file, err=True, fg="red")


def one_line(exc: BaseException) -> str:
    """The message of ``exc`` on a single line (its class name when it has no message)."""
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


def expected_failure(exc: Exception) -> str | None:
    """The one-line message for an exception the command line expects, else None.

    Expected: every :class:`hatcher.errors.HatcherException` (which includes the HTTP errors
    carrying the server's message) and every ``requests`` error (connection refused, TLS, ...).
    """
    from hatcher.errors import BroodHTTPError, HatcherException

    if isinstance(exc, (HatcherException, BroodHTTPError)):
        return one_line(exc)
    try:
        import requests
    except ImportError:  # pragma: no cover - requests is a dependency
        return None
    if isinstance(exc, requests.exceptions.SSLError):
        return f"{one_line(exc)} (use --insecure to skip certificate verification)"
    if isinstance(exc, requests.RequestException):
        return one_line(exc)
    return None
