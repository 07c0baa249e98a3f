"""Authentication helpers: a bearer API token, and session tokens exchanged from credentials."""

from __future__ import annotations

import threading
import time
from typing import Any, Union

import requests
import six
from requests.auth import AuthBase, HTTPBasicAuth

from hatcher.core.url_templates import TOKENS_AUTH_PATH, split_base_url

#: Credentials accepted by :class:`BroodClientAuth`: an API token or ``(username, password)``.
Credentials = Union[str, "tuple[str, str]"]

# One lock for every instance, so that concurrent threads share one token exchange.
_TOKEN_LOCK = threading.RLock()


def _text_credentials(credentials: Any) -> Credentials:
    """Credentials as text: a token, or a (username, password) pair; bytes are decoded as UTF-8."""
    if isinstance(credentials, (str, bytes)):
        return six.ensure_text(credentials).strip()
    username, password = credentials
    return (six.ensure_text(username), six.ensure_text(password))


class _BearerAuth(AuthBase):
    """Sets ``Authorization: Bearer <token>``; never shows the token in its repr."""

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self._bearer()}"
        return request

    def _bearer(self) -> str:  # pragma: no cover - abstract
        raise NotImplementedError


class BroodBearerTokenAuth(_BearerAuth):
    """Send a long-lived API token as ``Authorization: Bearer <token>`` on every request.

    Parameters
    ----------
    token : str or bytes
        An API token, as returned by :meth:`BroodClient.create_api_token` (bytes, e.g. read
        from a file, are decoded as UTF-8).
    """

    def __init__(self, token: str | bytes) -> None:
        self.token = six.ensure_text(token).strip()

    def _bearer(self) -> str:
        return self.token

    def __eq__(self, other: object) -> bool:
        return isinstance(other, BroodBearerTokenAuth) and other.token == self.token

    def __hash__(self) -> int:
        return hash(self.token)

    def __repr__(self) -> str:
        return "<BroodBearerTokenAuth token=<hidden>>"


class BroodClientAuth(_BearerAuth):
    """Exchange a password or an API token for short-lived session tokens.

    The exchange (``POST /api/v1/json/auth/tokens/auth``) happens before the first
    request and again whenever the session token is older than
    :attr:`TOKEN_REFRESH_SECONDS`. It is thread safe: concurrent requests share one
    exchange. When the server answers 401 because it expired a token early, the token is
    renewed and the request is sent once more (when its body can be replayed).

    Parameters
    ----------
    brood_url : str
        The server URL. The token request goes to the same scheme and host as every
        other request (``http`` when no scheme is given).
    credentials : str or tuple of (str, str)
        An API token, or a ``(username, password)`` pair.
    verify_ssl : bool or str, optional
        Verify TLS certificates of the token request (``None`` means ``True``), or verify
        them against the CA bundle at this path.
    """

    #: Seconds after which a session token is renewed before the next request.
    TOKEN_REFRESH_SECONDS = 240
    #: Seconds the token request may take before it fails.
    TIMEOUT = 60

    def __init__(self, brood_url: str, credentials: Credentials, verify_ssl: bool | str | None = None) -> None:
        scheme, host = split_base_url(brood_url.rstrip("/"))
        self.brood_url = f"{scheme}://{host}"
        self.credentials = _text_credentials(credentials)
        self.verify_ssl = True if verify_ssl is None else verify_ssl
        self.session_token: str | None = None
        self._fetched_at: float | None = None

    @property
    def token_url(self) -> str:
        """The URL of the session-token exchange."""
        return self.brood_url + TOKENS_AUTH_PATH

    def _credentials_auth(self) -> AuthBase:
        if isinstance(self.credentials, str):
            return BroodBearerTokenAuth(self.credentials)
        username, password = self.credentials
        return HTTPBasicAuth(username, password)

    def refresh(self) -> str:
        """Fetch a new session token now and return it.

        Raises
        ------
        requests.HTTPError
            The server refused the credentials (the message carries its error text).
        """
        from hatcher.core.brood_url_handler import raise_for_status

        with _TOKEN_LOCK:
            response = requests.post(
                self.token_url,
                auth=self._credentials_auth(),
                verify=self.verify_ssl,
                timeout=self.TIMEOUT,
            )
            raise_for_status(response)
            self.session_token = response.json()["token"]
            self._fetched_at = time.monotonic()
            return self.session_token

    def _bearer(self) -> str:
        with _TOKEN_LOCK:
            now = time.monotonic()
            if (
                self.session_token is None
                or self._fetched_at is None
                or now - self._fetched_at > self.TOKEN_REFRESH_SECONDS
                or now < self._fetched_at
            ):
                self.refresh()
            return self.session_token  # type: ignore[return-value]

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request = super().__call__(request)
        request.register_hook("response", self._retry_on_401)
        return request

    def _retry_on_401(self, response: requests.Response, **kwargs: object) -> requests.Response:
        request = response.request
        replayable = request.body is None or isinstance(request.body, (bytes, str))
        if response.status_code != 401 or not replayable or getattr(request, "_hatcher_retried", False):
            return response
        token_used = request.headers.get("Authorization", "")
        with _TOKEN_LOCK:
            if token_used == f"Bearer {self.session_token}":
                self.refresh()
        response.content  # noqa: B018 - drain the body so the connection can be reused
        response.close()
        retry = request.copy()
        retry._hatcher_retried = True  # type: ignore[attr-defined]
        retry.headers["Authorization"] = f"Bearer {self.session_token}"
        new_response = response.connection.send(retry, **kwargs)
        new_response.history.append(response)
        new_response.request = retry
        return new_response

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, BroodClientAuth)
            and other.brood_url == self.brood_url
            and other.credentials == self.credentials
            and other.verify_ssl == self.verify_ssl
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        kind = "api-token" if isinstance(self.credentials, str) else "username/password"
        return f"<BroodClientAuth brood_url={self.brood_url!r} credentials=<hidden {kind}>>"
