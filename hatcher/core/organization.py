"""Organization: a lazy handle on one organization, its repositories, users and teams."""

from __future__ import annotations

from typing import Any, Iterable

import attr

from hatcher.core.base import Model, registry_field, url_handler_field

NOT_IMPLEMENTED = "{} is not implemented by the Brood server API"


@attr.s(frozen=True, repr=False)
class Organization(Model):
    """One organization of a Brood server. Building it sends no request.

    Parameters
    ----------
    name : str
        The organization's name.
    url_handler : BroodURLHandler
        The shared transport.
    model_registry : ModelRegistry, optional
        The API version's model classes (API version 0 when omitted).
    """

    _repr_fields = (("organization_name", "name"),)

    name: str = attr.ib()
    _url_handler: Any = url_handler_field()
    _model_registry: Any = registry_field()

    def _path(self, node: Any, **kwargs: Any) -> str:
        return node.format(organization_name=self.name, **kwargs)

    def repository(self, name: str) -> Any:
        """The repository ``name`` of this organization (no request)."""
        return self._model_registry.Repository(self.name, name, self._url_handler, self._model_registry)

    def create_repository(self, name: str, description: str) -> Any:
        """Create the repository ``name`` and return it.

        Raises
        ------
        requests.HTTPError
            The server refused (e.g. 409 when it exists, 404 for a missing organization).
        """
        self._url_handler.post(
            self._path(self._urls.admin.organizations.repositories),
            {"name": name, "description": description},
        )
        return self.repository(name)

    def list_repositories(self) -> list[str]:
        """The names of the organization's repositories, in server order."""
        response = self._url_handler.get_json(self._path(self._urls.admin.organizations.repositories))
        return response["repositories"]

    def user(self, user_email: str) -> Any:
        """The user ``user_email`` of this organization (no request)."""
        return self._model_registry.User(self.name, user_email, self._url_handler, self._model_registry)

    def create_user(self, email: str, teams: Iterable[Any] | None = None) -> Any:
        """Create the user ``email`` (optionally in ``teams``, objects with a ``name``) and return it."""
        data: dict[str, Any] = {"email": email}
        if teams is not None:
            data["teams"] = [team.name for team in teams]
        self._url_handler.post(self._path(self._urls.admin.organizations.users), data)
        return self.user(email)

    def team(self, team_name: str) -> Any:
        """The team ``team_name`` of this organization (no request)."""
        return self._model_registry.Team(self.name, team_name, self._url_handler, self._model_registry)

    def create_team(self, name: str, group_name: str) -> Any:
        """Create the team ``name`` granting the role ``group_name`` and return it.

        ``group_name`` is one of ``read_index``, ``read_repository``,
        ``upload_repository`` or ``organization_administrator``.
        """
        self._url_handler.post(
            self._path(self._urls.admin.organizations.teams), {"group": group_name, "name": name}
        )
        return self.team(name)

    def list_teams(self) -> list[Any]:
        """The organization's teams, as the server sends them (objects with a ``name``)."""
        return self._url_handler.get_json(self._path(self._urls.admin.organizations.teams))["teams"]

    def list_users(self) -> list[str]:
        """Not provided by the Brood API: always raises ``NotImplementedError``."""
        raise NotImplementedError(NOT_IMPLEMENTED.format("Listing the users of an organization"))

    def metadata(self) -> dict[str, Any]:
        """Not provided by the Brood API: always raises ``NotImplementedError``."""
        raise NotImplementedError(NOT_IMPLEMENTED.format("Organization metadata"))

    def delete(self) -> None:
        """Not provided by the Brood API: always raises ``NotImplementedError``."""
        raise NotImplementedError(NOT_IMPLEMENTED.format("Deleting an organization"))
