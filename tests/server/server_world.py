"""Helpers of the server tests: users with passwords, raw calls, and a world of one user per role."""

from __future__ import annotations

from typing import Any, Callable

import attr
import requests

from hatcher.server.accounts import set_password
from hatcher.server.runner import EmbeddedBrood

#: The password every test user gets.
PASSWORD = "user-password"


def give_password(brood: EmbeddedBrood, email: str, password: str = PASSWORD) -> None:
    """Set a user's password directly in the server's database (the API has no call for it)."""
    with brood.app.state.sessionmaker() as db:
        assert set_password(db, email, password)


#: Marks "the superuser's credentials" for :func:`call` (``None`` means no credentials).
ADMIN = object()


def call(brood: EmbeddedBrood, method: str, path: str, auth: Any = ADMIN, **kwargs: Any) -> requests.Response:
    """A raw request to ``path`` of the server (superuser credentials unless ``auth`` is given)."""
    auth = brood.admin_auth if auth is ADMIN else auth
    return requests.request(method, brood.url + path, auth=auth, timeout=30, **kwargs)


@attr.s(auto_attribs=True)
class World:
    """An organization with two repositories, three teams and users of every kind.

    ==================  =====================================================
    ``admin_email``     in team ``admins`` (organization_administrator)
    ``reader_email``    in team ``readers`` (read_repository on ``dev``)
    ``indexer_email``   in team ``indexers`` (read_index on ``other``)
    ``plain_email``     member of the organization, in no team
    ``outsider_email``  a user of the server, member of no organization
    ==================  =====================================================

    Every one of them has the password :data:`PASSWORD`.
    """

    brood: EmbeddedBrood
    org: str
    repo: str
    other_repo: str
    admin_email: str
    reader_email: str
    indexer_email: str
    plain_email: str
    outsider_email: str
    outsider_org: str

    def auth(self, email: str) -> tuple[str, str]:
        """Basic credentials of one of the world's users."""
        return (email, PASSWORD)

    def client(self, email: str, api_version: int) -> Any:
        """A hatcher client authenticated as ``email``."""
        return self.brood.client(api_version=api_version, auth=self.auth(email))


def build_world(brood: EmbeddedBrood, unique: Callable[[str], str]) -> World:
    """Create a :class:`World` through the API (superuser), with unique names."""
    org, outsider_org = unique("org"), unique("elsewhere")
    emails = {kind: f"{unique(kind)}@example.org" for kind in ("admin", "reader", "indexer", "plain", "outsider")}
    root = "/api/v1/json/admin"
    steps = [
        (f"{root}/organizations", {"name": org, "description": "Test organization"}),
        (f"{root}/organizations", {"name": outsider_org, "description": "Another organization"}),
        (f"{root}/organizations/{org}/repositories", {"name": "dev", "description": "Development"}),
        (f"{root}/organizations/{org}/repositories", {"name": "other", "description": "Other"}),
        (f"{root}/organizations/{org}/teams", {"name": "admins", "group": "organization_administrator"}),
        (f"{root}/organizations/{org}/teams", {"name": "readers", "group": "read_repository",
                                               "repositories": ["dev"]}),
        (f"{root}/organizations/{org}/teams", {"name": "indexers", "role": "read_index",
                                               "repositories": ["other"]}),
        (f"{root}/organizations/{org}/users", {"email": emails["admin"], "teams": ["admins"]}),
        (f"{root}/organizations/{org}/users", {"email": emails["reader"], "teams": ["readers"]}),
        (f"{root}/organizations/{org}/users", {"email": emails["indexer"], "teams": ["indexers"]}),
        (f"{root}/organizations/{org}/users", {"email": emails["plain"]}),
        (f"{root}/organizations/{outsider_org}/users", {"email": emails["outsider"]}),
    ]
    for path, body in steps:
        response = call(brood, "POST", path, json=body)
        assert response.status_code == 201, (path, response.status_code, response.text)
    for email in emails.values():
        give_password(brood, email)
    return World(brood, org, "dev", "other", emails["admin"], emails["reader"], emails["indexer"],
                 emails["plain"], emails["outsider"], outsider_org)
