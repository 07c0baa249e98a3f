"""The exception tree of hatcher: every error hatcher raises itself derives from HatcherException."""

from __future__ import annotations

import requests


class HatcherException(Exception):
    """Base class of every error raised by hatcher itself."""


class MissingFilenameError(HatcherException):
    """A download response does not say which file name to save it under."""


class MissingPlatformError(HatcherException):
    """An app description has no ``platform``."""


class ChecksumMismatchError(HatcherException):
    """A file's sha256 is not the one expected (download or upload verification)."""


class InvalidRuntime(HatcherException):
    """A runtime file (v0 file name or v1 archive) is not valid."""


class InvalidEgg(HatcherException):
    """An egg file is not a valid Enthought egg."""


class InvalidBundle(HatcherException):
    """A bundle file is unreadable, lacks its ``runtime`` or is badly named."""


class InvalidApp(HatcherException):
    """An app description file is not valid."""


class InvalidPlatform(HatcherException, ValueError):
    """A platform name is not a known EPD platform."""


class TargetFileExists(HatcherException):
    """The file a download would write already exists and ``overwrite`` is false."""


class BroodHTTPError(requests.HTTPError):
    """An HTTP error answered by the server (status >= 400).

    It is a :class:`requests.HTTPError`, so code written for the reference hatcher keeps
    working; its message carries the server's own error text when the body has one.

    Attributes
    ----------
    status_code : int
        The HTTP status of the response.
    error_message : str or None
        The ``error`` text of the server's JSON body, if any.
    """

    def __init__(self, message: str, *, response: requests.Response | None = None,
                 error_message: str | None = None) -> None:
        super().__init__(message, response=response)
        self.status_code = response.status_code if response is not None else None
        self.error_message = error_message
