"""The HTTP transport of the embedded Brood: TLS, and bounds on what one client may send or hold.

uvicorn serves the application with one of two HTTP/1.1 protocols: httptools' parser when it
is importable, else h11 (see :func:`~hatcher.server.runner.fast_protocols`). This module gives
both the same bounds, so that a slow or oversized client holds at most its own connection:

* **head size**: the request line and headers together are at most
  :attr:`~hatcher.server.settings.ServerSettings.max_header_size` bytes (64 KiB); past it the
  answer is ``431`` and the connection is closed. httptools has no such bound (a 2 MB header
  was accepted whole), and h11's (``max_incomplete_event_size``) lets a head pass that arrives
  whole in one read, so the bytes of a head are counted here before they reach the parser.
* **head time**: the head must arrive within ``request_timeout`` seconds (30) of the
  connection being made, or of its first byte on a kept-alive connection; otherwise the answer
  is ``408`` and the connection is closed (closed without an answer when not a byte came).
  uvicorn itself times only idle kept-alive connections, so a client could otherwise hold a
  connection forever by sending nothing, or a header a byte at a time.
* **keep-alive**: an idle kept-alive connection is closed after ``keep_alive_timeout`` seconds
  (5), uvicorn's own timer.

Each of these errors, and a malformed request (``400``), is answered with the same JSON body
``{"error": ...}`` as the application's errors, not uvicorn's plain text. JSON request bodies
are bounded by the application (see :func:`hatcher.server.deps.body_bytes`).
"""

from __future__ import annotations

import asyncio
import json
import ssl
from http import HTTPStatus
from typing import Any, Optional

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from hatcher.server.settings import ServerSettings


class TLSConfigError(ValueError):
    """The certificate or key file of ``--certfile``/``--keyfile`` cannot be used."""


def check_tls(certfile: Optional[str], keyfile: Optional[str]) -> None:
    """Check that ``certfile`` and ``keyfile`` make a usable server certificate, before anything starts.

    Raises
    ------
    TLSConfigError
        Only one of them is given, a file cannot be read, or they hold no PEM certificate and
        matching (unencrypted) private key; the message is one line naming the file.
    """
    if (certfile is None) != (keyfile is None):
        raise TLSConfigError("HTTPS needs both a certificate file and a key file")
    if certfile is None or keyfile is None:
        return
    contents = {}
    for path in (certfile, keyfile):
        try:
            with open(path, "rb") as stream:
                contents[path] = stream.read()
        except OSError as exc:
            raise TLSConfigError(f"Cannot read {path}: {exc.strerror or exc}") from None
    if b"-----BEGIN CERTIFICATE-----" not in contents[certfile]:
        raise TLSConfigError(f"Cannot use the certificate {certfile}: it holds no PEM certificate")
    if b"PRIVATE KEY-----" not in contents[keyfile]:
        raise TLSConfigError(f"Cannot use the key {keyfile}: it holds no PEM private key")
    if b"ENCRYPTED" in contents[keyfile]:
        raise TLSConfigError(f"Cannot use the key {keyfile}: it is encrypted (give an unencrypted key)")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        # A password callback, so that OpenSSL never prompts on the terminal.
        context.load_cert_chain(certfile, keyfile, password=lambda: b"")
    except (ssl.SSLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or str(exc)
        if reason == "KEY_VALUES_MISMATCH":
            reason = "the key does not belong to the certificate"
        elif reason == "PEM_lib" or "PEM lib" in reason:
            reason = "a PEM block of one of them is malformed"
        raise TLSConfigError(f"Cannot use the certificate {certfile} with the key {keyfile}: {reason}") from None


def _error_bytes(status: int, message: str, default_headers: list[tuple[bytes, bytes]]) -> bytes:
    """A whole HTTP/1.1 error answer with the JSON body ``{"error": message}`` that closes the connection."""
    body = json.dumps({"error": message}).encode("utf-8")
    lines = [f"HTTP/1.1 {status} {HTTPStatus(status).phrase}".encode("ascii")]
    lines += [name + b": " + value for name, value in default_headers]
    lines += [b"content-type: application/json", b"content-length: " + str(len(body)).encode("ascii"),
              b"connection: close"]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


class _Bounds:
    """What both protocols add to uvicorn's: the head-time timer and JSON errors of their own.

    The limits are class attributes: :func:`protocol_class` makes a subclass with the server's.
    """

    max_header_size: int = 64 * 1024
    request_timeout: float = 30.0

    # Provided by uvicorn's protocol classes.
    transport: asyncio.Transport
    loop: asyncio.AbstractEventLoop
    server_state: Any
    cycle: Any
    logger: Any

    _head_timer: Optional[asyncio.TimerHandle] = None
    #: Whether a byte of the awaited head came (a timeout then answers 408, else just closes).
    _head_begun = False

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)  # type: ignore[misc]  # uvicorn's protocol, after this mixin
        self._await_head()

    def connection_lost(self, exc: Optional[Exception]) -> None:
        self._head_done()
        super().connection_lost(exc)  # type: ignore[misc]

    def _await_head(self) -> None:
        """Start timing the next head, unless it is timed already (the deadline does not move)."""
        if self._head_timer is None:
            self._head_timer = self.loop.call_later(self.request_timeout, self._head_timed_out)

    def _head_done(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
        self._head_begun = False

    def _responding(self) -> bool:
        return self.cycle is not None and not self.cycle.response_complete

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self.transport.is_closing():
            return
        if self._head_begun and not self._responding():
            self.logger.warning("Request head not received within %s s: 408", self.request_timeout)
            self.send_error(408, f"The request head did not arrive within {self.request_timeout:g} seconds")
        else:
            self.transport.close()

    def send_error(self, status: int, message: str) -> None:
        """Answer ``status`` with ``{"error": message}`` and close the connection."""
        if self._responding():  # a pipelined request: the answer in progress must not be cut into
            self.transport.close()
            return
        self.transport.write(_error_bytes(status, message, self.server_state.default_headers))
        self.transport.close()

    def send_400_response(self, msg: str) -> None:
        """uvicorn's answer to a malformed request, in JSON."""
        self.send_error(400, msg)


def _head_too_large(size: int) -> str:
    return f"The request line and headers exceed {size} bytes"


def _httptools_protocol() -> type:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    class BoundedHttpToolsProtocol(_Bounds, HttpToolsProtocol):
        """uvicorn's httptools protocol with the bounds of :mod:`hatcher.server.transport`."""

        #: Bytes of the head being received so far; None while none is awaited (body, answer).
        _head_size: Optional[int] = 0

        def data_received(self, data: bytes) -> None:
            size = self._head_size
            if size is None or size + len(data) <= self.max_header_size:
                if size is not None:
                    self._head_size = size + len(data)
                super().data_received(data)
                if self._head_begun and self._head_timer is None and not self.transport.is_closing():
                    self._await_head()  # a head begun in these bytes and not yet complete
                return
            # The head may end within the bytes that fit: feed those, then look again.
            room = self.max_header_size - size
            self._head_size = self.max_header_size
            if room > 0:
                super().data_received(data[:room])
                if self.transport.is_closing():
                    return
            if self._head_size == self.max_header_size:  # still in the same head: too large
                self.logger.warning("Request head larger than %d bytes: 431", self.max_header_size)
                self.send_error(431, _head_too_large(self.max_header_size))
                return
            self.data_received(data[room:])

        def on_message_begin(self) -> None:
            super().on_message_begin()
            # Timed from here, but the timer is set only if the head is still incomplete at the
            # end of these bytes (see data_received): most heads come whole in one read.
            self._head_begun = True

        def on_headers_complete(self) -> None:
            self._head_size = None
            self._head_done()
            super().on_headers_complete()

        def on_message_complete(self) -> None:
            super().on_message_complete()
            # The next head may begin in the bytes after this message: those are not counted,
            # so the bound may be passed by less than one read (pipelined requests only).
            self._head_size = 0

    return BoundedHttpToolsProtocol


class BoundedH11Protocol(_Bounds, H11Protocol):
    """uvicorn's h11 protocol with the bounds of :mod:`hatcher.server.transport`.

    h11 refuses a head only when more than ``max_incomplete_event_size`` bytes of it are
    buffered *incomplete*, so a whole head up to one read larger would pass: the bytes that
    would take the buffered head past the bound are held back until it is complete.
    """

    def data_received(self, data: bytes) -> None:
        if self.conn.their_state is h11.IDLE and data:  # awaiting a head: h11 buffers its bytes
            self._head_begun = True
            room = self.max_header_size - len(self.conn.trailing_data[0])
            if len(data) > room:
                if room > 0:
                    super().data_received(data[:room])
                    if self.transport.is_closing():
                        return
                if self.conn.their_state is h11.IDLE:  # still no whole head: too large
                    self.logger.warning("Request head larger than %d bytes: 431", self.max_header_size)
                    self.send_error(431, _head_too_large(self.max_header_size))
                    return
                self._check_head()
                self.data_received(data[room:])
                return
        super().data_received(data)
        self._check_head()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._check_head()

    def _check_head(self) -> None:
        if self.conn.their_state is not h11.IDLE:  # a head was received (or the connection failed)
            self._head_done()
        elif self._head_begun and self._head_timer is None and not self.transport.is_closing():
            self._await_head()  # a head begun and not yet complete


def protocol_class(protocol: str, settings: ServerSettings) -> type:
    """The bounded uvicorn protocol class for ``protocol`` (``"httptools"`` or ``"h11"``) with the settings' limits."""
    if protocol not in ("httptools", "h11"):
        raise ValueError(f"Unknown HTTP protocol: {protocol!r}")
    base = _httptools_protocol() if protocol == "httptools" else BoundedH11Protocol
    return type(base.__name__, (base,), {"max_header_size": settings.max_header_size,
                                         "request_timeout": float(settings.request_timeout)})


def uvicorn_options(settings: ServerSettings, protocol: str, certfile: Optional[str] = None,
                    keyfile: Optional[str] = None) -> dict[str, Any]:
    """The options of ``uvicorn.Config`` for the transport: protocol, limits, time-outs and TLS.

    Parameters
    ----------
    settings : ServerSettings
        Its ``max_header_size``, ``request_timeout`` and ``keep_alive_timeout``.
    protocol : str
        ``"httptools"`` or ``"h11"``.
    certfile, keyfile : str, optional
        PEM files of the server's certificate (with any intermediates after it) and private
        key: serve HTTPS (both or neither; see :func:`check_tls`).
    """
    check_tls(certfile, keyfile)
    return {"http": protocol_class(protocol, settings), "timeout_keep_alive": settings.keep_alive_timeout,
            "h11_max_incomplete_event_size": settings.max_header_size,
            "ssl_certfile": certfile, "ssl_keyfile": keyfile}
