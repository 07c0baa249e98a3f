"""Team: a lazy handle on one team, which grants one role on a set of repositories."""

from __future__ import annotations

from typing import Any

import attr

from hatcher.core.base import Model, registry_field, url_handler_field
from hatcher.errors import BroodHTTPError


@attr.s(frozen=True, repr=False)
class Team(Model):
    """One team of an organization. Building it sends no request."""

    _repr_fields = (("organization", "organization_name"), ("team", "name"))

    organization_name: str = attr.ib()
    name: str = attr.ib()
    _url_handler: Any = url_handler_field()
    _model_registry: Any = registry_field()

    def _path(self, node: Any, **kwargs: Any) -> str:
        return node.format(organization_name=self.organization_name, team_name=self.name, **kwargs)

    def _query(self, node: Any, **kwargs: Any) -> bool:
        try:
            self._url_handler.get(self._path(node, **kwargs))
        except BroodHTTPError as exc:
            if exc.status_code == 404:
                return False
            raise
        return True

    def metadata(self) -> dict[str, Any]:
        """The team's record (``name``, ``group``, ...)."""
        return self._url_handler.get_json(self._path(self._urls.admin.teams))

    def delete(self) -> None:
        """Delete the team."""
        self._url_handler.delete(self._path(self._urls.admin.teams))

    def list_repositories(self) -> list[str]:
        """The names of the repositories the team grants access to."""
        return self._url_handler.get_json(self._path(self._urls.admin.teams.repositories))["repositories"]

    def add_repository(self, repository: Any) -> None:
        """Grant the team access to ``repository`` (an object with a ``name``)."""
        self._url_handler.put(self._path(self._urls.admin.teams.repositories.query, repository_name=repository.name))

    def remove_repository(self, repository: Any) -> None:
        """Revoke the team's access to ``repository``."""
        self._url_handler.delete(
            self._path(self._urls.admin.teams.repositories.query, repository_name=repository.name))

    def query_repository_access(self, repository: Any) -> bool:
        """True when the team grants access to ``repository`` (the server answers 404 otherwise)."""
        return self._query(self._urls.admin.teams.repositories.query, repository_name=repository.name)

    def list_users(self) -> list[str]:
        """The e-mails of the team's members."""
        return self._url_handler.get_json(self._path(self._urls.admin.teams.members))["members"]

    def add_user(self, user: Any) -> None:
        """Add ``user`` (an object with an ``email``) to the team."""
        self._url_handler.put(self._path(self._urls.admin.teams.members.query, email=user.email))

    def remove_user(self, user: Any) -> None:
        """Remove ``user`` from the team."""
        self._url_handler.delete(self._path(self._urls.admin.teams.members.query, email=user.email))

    def query_user_access(self, user: Any) -> bool:
        """True when ``user`` is a member of the team."""
        return self._query(self._urls.admin.teams.members.query, email=user.email)
