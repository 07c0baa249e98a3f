"""BroodClient: the root of the lazy object model, and the server-wide calls."""

from __future__ import annotations

import datetime
import warnings
from typing import Any, Iterable, Optional, Union

import requests

from hatcher.core.brood_url_handler import BroodURLHandler
from hatcher.core.model_registry import ModelRegistry, check_api_version
from hatcher.core.times import iso_utc
from hatcher.core.url_templates import UrlBuilder, display_url, urls_for


class BroodClient:
    """A client of one Brood server, for one API version.

    Build it with :meth:`from_url` (or :meth:`from_session`); it sends nothing until a
    terminal method is called. Navigate with :meth:`organization`.

    Parameters
    ----------
    url_handler : BroodURLHandler
        The transport every request goes through.
    api_version : int
        0 (default) or 1.

    Raises
    ------
    InvalidApiVersion
        ``api_version`` is above :data:`~hatcher.api.MAX_API_VERSION`.
    ValueError
        ``api_version`` is negative or not an integer.
    """

    def __init__(self, url_handler: BroodURLHandler, api_version: int = 0) -> None:
        self._url_handler = url_handler
        self._model_registry = ModelRegistry(api_version=check_api_version(api_version))

    @classmethod
    def from_url(cls, url: str, auth: Any = None, verify_ssl: bool | str = True, api_version: int = 0) -> BroodClient:
        """A client for the server at ``url``.

        Parameters
        ----------
        url : str
            The server, e.g. ``https://packages.example.com`` (only scheme and host are used).
        auth : tuple or requests.auth.AuthBase, optional
            ``(username, password)``, :class:`BroodBearerTokenAuth` or :class:`BroodClientAuth`.
        verify_ssl : bool or str
            Verify TLS certificates (against the system's authorities, or
            ``REQUESTS_CA_BUNDLE``), not (False), or against the CA bundle at this path.
        api_version : int
            0 (default) or 1.
        """
        return cls(BroodURLHandler.from_auth(url, auth=auth, verify_ssl=verify_ssl), api_version=api_version)

    @classmethod
    def from_session(cls, url: str, session: requests.Session, api_version: int = 0) -> BroodClient:
        """A client that sends through a caller-configured :class:`requests.Session`."""
        return cls(BroodURLHandler.from_session(url, session), api_version=api_version)

    @property
    def api_version(self) -> int:
        """The API version of this client and of every object it creates."""
        return self._model_registry.api_version

    @property
    def _api_version(self) -> int:
        warnings.warn("BroodClient._api_version is deprecated; use api_version", DeprecationWarning, stacklevel=2)
        return self.api_version

    @property
    def _urls(self) -> UrlBuilder:
        return urls_for(self.api_version)

    def __repr__(self) -> str:
        return f"<BroodClient url={display_url(self._url_handler.base_url)!r} api_version={self.api_version}>"

    def __dir__(self) -> list[str]:
        return sorted(name for name in super().__dir__() if not name.startswith("_"))

    def organization(self, name: str) -> Any:
        """The organization ``name`` (no request)."""
        return self._model_registry.Organization(name, self._url_handler, self._model_registry)

    def create_organization(self, name: str, description: str) -> Any:
        """Create the organization ``name`` and return it."""
        self._url_handler.post(self._urls.admin.organizations.format(), {"name": name, "description": description})
        return self.organization(name)

    def list_organizations(self) -> list[str]:
        """The names of the organizations, sorted."""
        return sorted(self._url_handler.get_json(self._urls.admin.organizations.format())["organizations"])

    def create_api_token(self, name: str, scopes: Optional[Iterable[str]] = None,
                         expires: Union[datetime.datetime, str, None] = None) -> dict[str, Any]:
        """Create an API token; return ``{"name", "token"}`` (the only time the secret is shown).

        Parameters
        ----------
        name : str
            The token's name.
        scopes : iterable of str, optional
            Limit the token to these ``ROLE:ORG/REPO`` (ROLE ``read_index``,
            ``read_repository`` or ``upload_repository``; REPO may be ``*``). A scoped
            token never administers and cannot make tokens. The answer echoes them.
        expires : datetime or str, optional
            When the token stops working: an aware datetime, a naive one read as UTC, or an
            ISO 8601 string. The answer echoes it (UTC, without a zone).
        """
        body: dict[str, Any] = {"name": name}
        if scopes is not None:
            body["scopes"] = list(scopes)
        if expires is not None:
            body["expires"] = iso_utc(expires) if isinstance(expires, datetime.datetime) else expires
        return self._url_handler.post(self._urls.tokens.api.format(), body).json()

    def delete_api_token(self, name: str) -> None:
        """Delete the API token ``name``."""
        self._url_handler.delete(self._urls.tokens.api.delete.format(name=name))

    def list_api_tokens(self) -> list[dict[str, Any]]:
        """``[{"name", "created", "last_used"}]`` in server order (never the secrets).

        hatcher's server adds ``scopes`` and ``expires`` to a token that has either.
        """
        return self._url_handler.get_json(self._urls.tokens.api.format())["tokens"]

    def audit_events(self, organization: Optional[str] = None,
                     since: Union[datetime.datetime, str, None] = None, action: Optional[str] = None,
                     limit: Optional[int] = 100) -> list[dict[str, Any]]:
        """Events of the server's audit log, newest first (always an API v1 endpoint).

        Parameters
        ----------
        organization : str, optional
            Only this organization's events.
        since : datetime or str, optional
            Only events at this time or later (naive datetimes are UTC).
        action : str, optional
            Only this action (``egg.delete``), or every action of a subject (``egg``).
        limit : int or None
            At most this many events (None: all of them, page after page).

        Returns
        -------
        list of dict
            ``{"id", "time", "actor", "action", "target", "organization", "address",
            "outcome", "detail"}`` each. Server admins read every event, organization
            admins their organizations'; anyone else gets an HTTP 403 error.
        """
        query: dict[str, Any] = {"organization": organization, "action": action,
                                 "since": iso_utc(since) if isinstance(since, datetime.datetime) else since}
        query = {key: value for key, value in query.items() if value is not None}
        events: list[dict[str, Any]] = []
        while limit is None or len(events) < limit:
            page_size = 1000 if limit is None else min(1000, limit - len(events))
            page = self._url_handler.get_json(urls_for(1).admin.audit.format(), limit=page_size, **query)
            events.extend(page["events"])
            if page.get("next") is None:
                break
            query["before"] = page["next"]
        return events

    def list_platforms(self) -> list[str]:
        """The platform names the server knows, in server order."""
        return self._url_handler.get_json(self._urls.metadata.platforms.format())["platforms"]

    def list_python_tags(self, list_all: bool = False) -> list[str]:
        """The concrete python tags, or with ``list_all`` every tag the server understands."""
        node = self._urls.metadata.python_tags
        return self._url_handler.get_json((node.all if list_all else node).format())["python_tags"]

    def list_available_repositories(self, include_indexable: bool = False) -> list[str]:
        """The ``org/repo`` names the current user can download from.

        With ``include_indexable``, also those whose index alone the user may read.
        """
        path = self._urls.user.repositories.format()
        if self.api_version == 0:
            return self._url_handler.get_json(path, include_indexable=include_indexable)["repositories"]
        return [entry["name"] for entry in self._url_handler.get_json(path)["repositories"]
                if include_indexable or entry.get("access") != "read_index"]
