"""The transport: one requests session plus the server's address, shared by every model object.

It sends JSON calls, streams multipart uploads from disk, downloads to a temporary file
that is verified by sha256 and renamed into place, retries what is safe to retry, and
turns HTTP errors into :class:`~hatcher.errors.BroodHTTPError` (a ``requests.HTTPError``)
that carries the server's own error text.
"""

from __future__ import annotations

import codecs
import gzip
import json
import logging
import os
import re
import time
from typing import Any, Callable, Iterator

import attr
import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from hatcher.core.download import ResumableDownload, content_length, file_digest
from hatcher.core.multipart import MultipartUpload
from hatcher.core.url_templates import display_url, split_base_url
from hatcher.errors import BroodHTTPError, MissingFilenameError

logger = logging.getLogger(__name__)

#: Default ``(connect, read)`` timeouts in seconds: a dead server is an error, not a hang.
DEFAULT_TIMEOUT = (30.0, 300.0)
#: The bodies of files up to this many bytes are built in memory and sent in one piece (with
#: the request's headers); bigger files are streamed from disk.
WHOLE_BODY_MAX_SIZE = 256 * 1024
#: How many times an upload is retried when the connection could not be made at all.
UPLOAD_CONNECT_RETRIES = 2

_FILENAME_RE = re.compile(r'filename="(\S+)"')


class VerifyingSession(requests.Session):
    """A session whose ``verify`` wins over ``REQUESTS_CA_BUNDLE``/``CURL_CA_BUNDLE``.

    requests lets those variables replace a session's ``verify`` (False, or a CA bundle path)
    on every request (psf/requests#3829): ``verify_ssl=False`` (``--insecure``) would still
    verify wherever they are set. Here only a session that verifies as usual (True) takes
    the variables' bundle; a ``verify`` given to one request still wins over both.
    """

    def merge_environment_settings(self, url: Any, proxies: Any, stream: Any, verify: Any,
                                   cert: Any) -> dict[str, Any]:
        settings = super().merge_environment_settings(url, proxies, stream, verify, cert)
        if verify is None and self.verify is not True:
            settings["verify"] = self.verify
        return settings
_GZIP_MAGIC = b"\x1f\x8b"

#: A progress callback: called with the number of bytes just transferred.
ProgressCallback = Callable[[int], None]


def _json_or_none(response: requests.Response) -> Any:
    """The decoded JSON body of a response, or None when it is empty or not JSON."""
    try:
        return json.loads(response.content)
    except (ValueError, RuntimeError):  # RuntimeError: the content was already consumed
        return None


def _error_text(response: requests.Response) -> str | None:
    """Return the ``error`` text of a JSON error body, or None."""
    body = _json_or_none(response)
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        return body["error"]
    return None


@attr.s(frozen=True)
class UploadReceipt:
    """What a successful upload returned: the status, the sha256 sent and the decoded answer.

    Attributes
    ----------
    status_code : int
        The HTTP status of the answer (any 2xx).
    sha256 : str or None
        The sha256 of the file that was sent (computed on the way when it was not given;
        None if the body was not read to its end).
    answer : object
        The decoded JSON body, or None when the body is empty or not JSON.
    """

    status_code: int = attr.ib()
    sha256: str | None = attr.ib()
    answer: Any = attr.ib(default=None, repr=False)

    @property
    def confirms_stored(self) -> bool:
        """True when the answer is ``201 Created`` describing a stored file with this sha256.

        Brood may process uploads asynchronously (its answer body is unspecified): only an
        answer that names the very sha256 that was sent says the artefact is stored.
        """
        return (self.status_code == 201 and self.sha256 is not None and isinstance(self.answer, dict)
                and self.answer.get("sha256") == self.sha256)


def raise_for_status(response: requests.Response) -> None:
    """Raise :class:`~hatcher.errors.BroodHTTPError` when ``response`` is an HTTP error.

    The message reads ``"<status> <reason>: <server error text> (<METHOD> <url>)"``; the
    server's text is taken from a JSON body ``{"error": ...}`` when there is one.
    """
    if response.status_code < 400:
        return
    error = _error_text(response)
    reason = response.reason or ""
    method = response.request.method if response.request is not None else ""
    where = f"({method} {response.url})".replace("( ", "(")
    kind = "Client Error" if response.status_code < 500 else "Server Error"
    detail = error if error is not None else kind
    message = f"{response.status_code} {reason}: {detail} {where}".replace("  ", " ")
    raise BroodHTTPError(message, response=response, error_message=error)


def _decode_json(response: requests.Response) -> Any:
    """Decode a JSON body, gunzipping it when it starts with the gzip magic bytes."""
    content = response.content
    if content[:2] == _GZIP_MAGIC:
        try:
            content = gzip.decompress(content)
        except (OSError, EOFError) as exc:
            raise requests.exceptions.ContentDecodingError(
                f"The response body looks gzipped but cannot be decompressed: {exc}"
            ) from exc
    encoding = response.encoding if "charset" in response.headers.get("Content-Type", "") else None
    return json.loads(content.decode(encoding or _sniff_json_encoding(content)))


def _sniff_json_encoding(content: bytes) -> str:
    """Detect UTF-8/16/32 from the first bytes of a JSON document (RFC 4627)."""
    for bom, name in ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
                      (codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"),
                      (codecs.BOM_UTF16_BE, "utf-16")):
        if content.startswith(bom):
            return name
    head = content[:4]
    nulls = [b == 0 for b in head]
    if len(head) == 4:
        if nulls == [True, True, True, False]:
            return "utf-32-be"
        if nulls == [False, True, True, True]:
            return "utf-32-le"
        if nulls[0] and nulls[2] and not nulls[1]:
            return "utf-16-be"
        if nulls[1] and nulls[3] and not nulls[0]:
            return "utf-16-le"
    return "utf-8"


def _is_connect_error(exc: requests.RequestException) -> bool:
    """True when no byte of the request can have reached the server."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    if not isinstance(exc, requests.exceptions.ConnectionError):
        return False
    text = repr(exc)
    return any(word in text for word in ("NewConnectionError", "Connection refused", "NameResolution"))


def _safe_filename(name: str) -> str:
    """Refuse a server-given file name that would escape the destination directory."""
    if name in ("", ".", "..") or os.path.basename(name) != name or "\\" in name or "\x00" in name:
        raise MissingFilenameError(f"The server sent an unsafe file name: {name!r}")
    return name


def _filename_from_response(response: requests.Response) -> str:
    """The file name of a download, from its ``Content-Disposition`` header.

    When the server redirected the download (to a signed URL of its object store, which
    knows no file names), the header of the redirect counts.
    """
    disposition = next((answer.headers["Content-Disposition"] for answer in (response, *reversed(response.history))
                        if "Content-Disposition" in answer.headers), None)
    if disposition is None:
        response.close()
        raise MissingFilenameError(
            f"The server sent no Content-Disposition header for {response.url}, "
            "so the file name is unknown; pass filename= to choose one"
        )
    match = _FILENAME_RE.search(disposition)
    if match is None:
        response.close()
        raise MissingFilenameError(f"No file name in Content-Disposition: {disposition!r}")
    try:
        return _safe_filename(match.group(1))
    except MissingFilenameError:
        response.close()
        raise


def _once(value: int) -> Iterator[int]:
    """A generator of one value (it has ``close()``, as the iterator of a transfer has)."""
    yield value


class BroodURLHandler:
    """Send requests to one Brood server through one :class:`requests.Session`.

    Build it with :meth:`from_auth` or :meth:`from_session`; model objects share one
    handler through the whole object graph.

    Parameters
    ----------
    url : str
        The server URL; only its scheme and ``host[:port]`` are used.
    session : requests.Session
        The session every request goes through.
    timeout : tuple of float, optional
        ``(connect, read)`` timeouts in seconds.
    """

    #: Vestigial class attribute kept for compatibility; paths come from url_templates.
    api_root = "/api/v0/json"

    def __init__(self, url: str, session: requests.Session, timeout: tuple[float, float] = DEFAULT_TIMEOUT) -> None:
        self.scheme, self.host = split_base_url(url)
        self.session = session
        self.timeout = timeout

    @classmethod
    def from_auth(cls, url: str, auth: Any = None, verify_ssl: bool | str = True) -> BroodURLHandler:
        """A handler with a new session: ``auth`` attached, TLS verification as given (True,
        False or a CA bundle path: see :class:`VerifyingSession`), the hatcher User-Agent, and
        safe automatic retries of idempotent requests."""
        from hatcher.core.utils import hatcher_user_agent

        session = VerifyingSession()
        session.verify = verify_ssl
        session.auth = auth
        session.headers["User-Agent"] = hatcher_user_agent()
        retry = Retry(
            total=3, connect=3, read=2, status=3, backoff_factor=0.2,
            status_forcelist=(502, 503, 504),
            allowed_methods=frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"}),
            raise_on_status=False,
        )
        adapter = HTTPAdapter(max_retries=retry, pool_connections=4, pool_maxsize=16)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        return cls(url, session)

    @classmethod
    def from_session(cls, url: str, session: requests.Session) -> BroodURLHandler:
        """A handler that uses a caller-configured session unchanged."""
        return cls(url, session)

    @property
    def base_url(self) -> str:
        """``scheme://host[:port]`` that every path is appended to."""
        return f"{self.scheme}://{self.host}"

    def url(self, path: str) -> str:
        """The absolute URL of an endpoint path."""
        return self.base_url + path

    def __repr__(self) -> str:
        return f"<BroodURLHandler url={display_url(self.base_url)!r}>"

    # -- plain requests -------------------------------------------------------------

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """Send one request and raise :class:`BroodHTTPError` on an HTTP error status."""
        kwargs.setdefault("timeout", self.timeout)
        response = self.session.request(method, self.url(path), **kwargs)
        logger.debug("%s %s -> %s", method, path, response.status_code)
        raise_for_status(response)
        return response

    def get(self, path: str) -> None:
        """GET ``path`` (an existence probe); raises on an HTTP error."""
        self.request("GET", path).close()

    def get_json(self, path: str, **query: Any) -> Any:
        """GET ``path`` with ``query`` as the query string and return the decoded JSON."""
        return _decode_json(self.request("GET", path, params=query or None))

    def post(self, path: str, data: Any) -> requests.Response:
        """POST ``data`` as a JSON body and return the response."""
        return self.request(
            "POST", path, data=json.dumps(data), headers={"Content-Type": "application/json"}
        )

    def put(self, path: str, data: Any = None) -> None:
        """PUT, with a JSON body only when ``data`` is not None."""
        if data is None:
            self.request("PUT", path).close()
        else:
            self.request("PUT", path, data=json.dumps(data), headers={"Content-Type": "application/json"}).close()

    def delete(self, path: str, force: bool = False) -> None:
        """DELETE with the query ``force=True`` or ``force=False`` (always present)."""
        self.request("DELETE", path, params={"force": force}).close()

    # -- uploads --------------------------------------------------------------------

    def upload(self, path: str, data: dict[str, Any], filename: str | os.PathLike[str],
               overwrite: bool = False, enabled: bool | None = None,
               progress: ProgressCallback | None = None) -> UploadReceipt:
        """Stream ``filename`` as a multipart POST with the parts ``file`` and ``data``.

        The file is read from disk once, in fixed-size chunks, as it is sent; when
        ``data`` has no ``sha256`` (or None) it is computed on the way and sent in the
        ``data`` part, which follows the file. A fresh body is built for every attempt;
        an attempt whose connection could not be made at all is retried.

        Parameters
        ----------
        path : str
            The upload endpoint path.
        data : dict
            The JSON of the ``data`` part (e.g. ``{"sha256": ...}``).
        filename : str
            The local file; the part's file name is its base name.
        overwrite, enabled : bool
            Query parameters; ``enabled`` is sent only when not None.
        progress : callable, optional
            Called with the number of file bytes sent since the previous call.

        Returns
        -------
        UploadReceipt
            The status, the sha256 sent and the server's decoded answer.
        """
        params: dict[str, bool] = {"overwrite": overwrite}
        if enabled is not None:
            params["enabled"] = enabled
        attempt = 0
        while True:
            whole = os.path.getsize(filename) <= WHOLE_BODY_MAX_SIZE
            body = MultipartUpload(filename, data, progress=None if whole else progress)
            try:
                # A small body goes out whole, in one send with the headers; a bigger one streams from disk.
                payload = body.to_bytes() if whole else body
                response = self.request("POST", path, params=params, data=payload,
                                        headers={"Content-Type": body.content_type})
            except requests.RequestException as exc:
                if attempt == UPLOAD_CONNECT_RETRIES or not _is_connect_error(exc):
                    raise
                logger.info("Could not connect to upload %s; retrying", filename)
                time.sleep(0.2 * 2 ** attempt)
                attempt += 1
                continue
            if whole and progress is not None:
                progress(body.size)  # reported once it was sent, never twice for a retried attempt
            with response:
                return UploadReceipt(response.status_code, body.sha256, _json_or_none(response))

    # -- downloads ------------------------------------------------------------------

    def _stream(self, path: str, headers: dict[str, str] | None = None) -> requests.Response:
        return self.request("GET", path, stream=True, headers=headers)

    def iter_download(self, path: str, destination_directory: str | os.PathLike[str],
                      expected_sha256: str | None, filename: str | None = None
                      ) -> tuple[int, Iterator[int]]:
        """Prepare a verified download; return ``(content_length, iterator)``.

        The request is sent now (so ``content_length`` is known) but no file is created:
        consuming the iterator streams the body to ``<target>.hatcher-partial`` (yielding
        the size of each chunk, at most 1 MiB), checks the sha256 of the whole file and
        renames it into place. A partial file left by a failed download is continued with
        a ``Range`` request (see :class:`~hatcher.core.download.ResumableDownload`).
        Closing the iterator (``close()``, or dropping it) before its end releases the
        connection and removes the partial file this download created. If the target
        already exists with the expected sha256, nothing is downloaded and the iterator
        yields ``content_length`` once (no request at all when ``filename`` is given).

        Raises
        ------
        MissingFilenameError
            No ``filename`` was given and the server did not send one.
        ChecksumMismatchError
            (from the iterator) the downloaded bytes do not match ``expected_sha256``;
            no file is left under the target name, and the partial file is removed.
        HatcherException
            Another download of the same target is in progress.
        """
        response = None
        length = 0
        if filename is None:
            response = self._stream(path)
            length = content_length(response)
            filename = _filename_from_response(response)
        elif os.path.basename(filename) != filename or filename in ("", ".", ".."):
            raise ValueError(f"filename must be a plain file name, not a path: {filename!r}")
        target = os.path.join(os.fspath(destination_directory), filename)
        if expected_sha256 is not None and os.path.isfile(target) and file_digest(target) == expected_sha256:
            if response is not None:
                response.close()
            return length, _once(length)
        download = ResumableDownload(lambda headers: self._stream(path, headers), target, expected_sha256, response)
        return download.length, download.chunks()

    def download_file(self, path: str, destination_directory: str | os.PathLike[str],
                      expected_sha256: str | None, filename: str | None = None,
                      progress: ProgressCallback | None = None) -> None:
        """Download and verify in one call (see :meth:`iter_download`)."""
        _, chunks = self.iter_download(path, destination_directory, expected_sha256, filename)
        for size in chunks:
            if progress is not None:
                progress(size)
