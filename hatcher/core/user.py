"""User: a lazy handle on one user of an organization."""

from __future__ import annotations

from typing import Any

import attr

from hatcher.core.base import Model, registry_field, url_handler_field


@attr.s(frozen=True, repr=False)
class User(Model):
    """One user (keyed by e-mail) of an organization. Building it sends no request."""

    _repr_fields = (("organization", "organization_name"), ("email", "email"))

    organization_name: str = attr.ib()
    email: str = attr.ib()
    _url_handler: Any = url_handler_field()
    _model_registry: Any = registry_field()

    @property
    def _metadata_path(self) -> str:
        return self._urls.admin.users.metadata.format(organization_name=self.organization_name, email=self.email)

    def metadata(self) -> dict[str, Any]:
        """The user's record: ``{"email", "organization", "teams"}``."""
        return self._url_handler.get_json(self._metadata_path)

    def delete(self) -> None:
        """Delete the user from the organization."""
        self._url_handler.delete(self._metadata_path)
