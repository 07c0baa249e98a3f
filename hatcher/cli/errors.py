"""How the command line reports failures: one line on stderr and exit 1, or a traceback with ``--debug``.

=========  ==================================================================
status     meaning
=========  ==================================================================
0          success (also help, ``--version``, ``--command-tree``, a declined prompt)
1          the operation failed (HTTP error, invalid file, checksum mismatch,
           connection, TLS or time-out problem, end of input at a prompt)
2          usage error (missing or bad argument or option, unknown command,
           ``--url`` missing where a server is needed)
=========  ==================================================================
"""

from __future__ import annotations

import contextlib
import re
from typing import Any, Iterator
from urllib.parse import urlsplit

import click

#: Exit statuses of every command.
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2

_ERRNO_RE = re.compile(r"\[Errno -?\d+\] ([^')\"]+)")


class CommandFailed(click.ClickException):
    """An expected failure of a command: its message is printed on one line, the exit status is 1."""

    exit_code = EXIT_FAILED

    def show(self, file: Any = None) -> None:
        """Print the message on stderr, in red when stderr is a terminal."""
        click.secho(self.format_message(), file=file, err=True, fg="red")


def one_line(exc: BaseException) -> str:
    """The message of ``exc`` on a single line (its class name when it has no message)."""
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


def _origin(exc: Any) -> str:
    request = getattr(exc, "request", None)
    url = getattr(request, "url", None)
    if not url:
        return "the server"
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _connection_reason(exc: BaseException) -> str:
    text = repr(exc)
    if "NameResolution" in text or "Name or service not known" in text or "nodename nor servname" in text:
        return "the host name could not be resolved"
    if "Connection refused" in text:
        return "connection refused"
    if "RemoteDisconnected" in text or "Connection aborted" in text or "Connection reset" in text:
        return "the server closed the connection"
    match = _ERRNO_RE.search(text)
    return match.group(1).strip() if match else one_line(exc)


def http_error_message(exc: Any) -> str:
    """The line shown for an HTTP error: the server's own text when it sent one."""
    text = getattr(exc, "error_message", None)
    if text is None:
        return one_line(exc)
    if getattr(exc, "status_code", None) == 404 and text == "Not Found":
        return "'Not Found' - invalid request or insufficient permissions."
    return text


def expected_failure(exc: BaseException) -> str | None:
    """The one-line message for an exception the command line expects, else None (a bug: traceback)."""
    import requests

    from hatcher.errors import BroodHTTPError, HatcherException

    if isinstance(exc, BroodHTTPError):
        return http_error_message(exc)
    if isinstance(exc, HatcherException):
        return one_line(exc)
    if isinstance(exc, requests.exceptions.SSLError):
        return (f"TLS error talking to {_origin(exc)}: {_connection_reason(exc)} "
                f"(use --insecure to skip certificate verification)")
    if isinstance(exc, requests.exceptions.Timeout):
        return f"{_origin(exc)} did not answer in time"
    if isinstance(exc, requests.exceptions.ConnectionError):
        return f"Cannot connect to {_origin(exc)}: {_connection_reason(exc)}"
    if isinstance(exc, requests.RequestException):
        return one_line(exc)
    if isinstance(exc, OSError):
        return one_line(exc)
    return None


@contextlib.contextmanager
def upload_errors(organization: str, repository: str) -> Iterator[None]:
    """Upload commands' wording: 401 is ``Authentication failed``, 404 ``No such repository: 'org/repo'``."""
    from hatcher.errors import BroodHTTPError

    try:
        yield
    except BroodHTTPError as exc:
        if exc.status_code == 401:
            raise CommandFailed("Authentication failed") from exc
        if exc.status_code == 404:
            raise CommandFailed(f"No such repository: '{organization}/{repository}'") from exc
        raise
