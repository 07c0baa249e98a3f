"""Every endpoint of brood-rest-api.md section 17 against every kind of caller: 401, 403/404, 2xx, never 5xx.

The endpoint list is built from hatcher's URL-template trees (plus the session-token
path), so it names each path exactly as the client sends it. Rows:

* v0, current client (28) and historic (13, the teams and the legacy re-index);
* v1, current client (34) and the never-requested v1 mirror of the team API (12).

Artefact rows (uploads, downloads, indices, metadata, re-index, deletes) are served by
routes another module provides; each such row is an expected failure only while the
running application has no route for it, and becomes a real check once it has.
"""

from __future__ import annotations

import uuid
from typing import Any, Callable, Optional

import attr
import pytest
import requests
from server_world import PASSWORD, World, build_world, call

from hatcher.core.url_templates import HEALTH_PATH, TOKENS_AUTH_PATH, URLS_V1, UrlBuilder, urls_for

# Who may call a row: "user" (anyone authenticated), "superuser", "org" (members holding a
# role: repository listing), "admin" (organization administrators), "artefact" (repository roles).
USER, SUPERUSER, ORG, ADMIN, ARTEFACT = "user", "superuser", "org", "admin", "artefact"

Prepare = Callable[["Context"], tuple[dict[str, str], Any]]


@attr.s(frozen=True)
class Row:
    """One endpoint: method, path template, who may call it, and how to build a valid call."""

    group: str = attr.ib()
    method: str = attr.ib()
    template: str = attr.ib()
    scope: str = attr.ib()
    prepare: Optional[Prepare] = attr.ib(default=None, eq=False)
    query: tuple[tuple[str, str], ...] = attr.ib(default=())
    #: A well-formed JSON body sent by every caller (``prepare`` may give the right-role call another).
    body: Any = attr.ib(default=None, eq=False)

    @property
    def id(self) -> str:
        return f"{self.method} {self.template}"


@attr.s
class Context:
    """What a row's ``prepare`` may use: the server, the world, and a fresh-name maker."""

    brood: Any = attr.ib()
    world: World = attr.ib()

    def fresh(self, prefix: str) -> str:
        return f"{prefix}-{uuid.uuid4().hex[:10]}"

    def post(self, template_node: UrlBuilder, body: dict[str, Any], **values: str) -> None:
        response = call(self.brood, "POST", template_node.format(organization_name=self.world.org, **values),
                        json=body)
        assert response.status_code == 201, response.text

    def fresh_team(self) -> str:
        team = self.fresh("team")
        self.post(URLS_V1.admin.organizations.teams, {"name": team, "group": "read_repository",
                                                      "repositories": ["dev"]})
        response = call(self.brood, "PUT", URLS_V1.admin.teams.members.query.format(
            organization_name=self.world.org, team_name=team, email=self.world.plain_email))
        assert response.status_code == 204, response.text
        return team


def _new_org(ctx: Context) -> tuple[dict[str, str], Any]:
    return {}, {"name": ctx.fresh("org"), "description": "matrix"}


def _new_repo(ctx: Context) -> tuple[dict[str, str], Any]:
    return {}, {"name": ctx.fresh("repo"), "description": "matrix"}


def _new_user(ctx: Context) -> tuple[dict[str, str], Any]:
    return {}, {"email": ctx.fresh("user") + "@example.org"}


def _new_token(ctx: Context) -> tuple[dict[str, str], Any]:
    return {}, {"name": ctx.fresh("token")}


def _new_team(ctx: Context) -> tuple[dict[str, str], Any]:
    return {}, {"name": ctx.fresh("team"), "group": "read_index"}


def _existing_repo(ctx: Context) -> tuple[dict[str, str], Any]:
    repo = ctx.fresh("repo")
    ctx.post(URLS_V1.admin.organizations.repositories, {"name": repo, "description": ""})
    return {"repository_name": repo}, None


def _existing_user(ctx: Context) -> tuple[dict[str, str], Any]:
    email = ctx.fresh("user") + "@example.org"
    ctx.post(URLS_V1.admin.organizations.users, {"email": email})
    return {"email": email}, None


def _existing_token(ctx: Context) -> tuple[dict[str, str], Any]:
    name = ctx.fresh("token")
    response = call(ctx.brood, "POST", URLS_V1.tokens.api.format(), auth=ctx.world.auth(ctx.world.reader_email),
                    json={"name": name})
    assert response.status_code == 201, response.text
    return {"name": name}, None


def _team(extra: dict[str, str]) -> Prepare:
    def prepare(ctx: Context) -> tuple[dict[str, str], Any]:
        values = {"team_name": ctx.fresh_team()}
        values.update({key: getattr(ctx.world, value) for key, value in extra.items()})
        return values, None
    return prepare


_TEAM = _team({})
_TEAM_MEMBER = _team({"email": "plain_email"})
_TEAM_NEW_MEMBER = _team({"email": "reader_email"})
_TEAM_REPO = _team({"repository_name": "repo"})
_TEAM_NEW_REPO = _team({"repository_name": "other_repo"})
_FORCE = (("force", "False"),)
_OVERWRITE = (("overwrite", "False"),)
_REINDEX = {"eggs": [{"name": "nosuchproject", "version": "1.0.0-1", "python_tag": "cp38"}]}


def _admin_rows(urls: UrlBuilder, group: str) -> list[Row]:
    admin = urls.admin
    return [
        Row(group, "GET", admin.organizations.full_template, USER),
        Row(group, "POST", admin.organizations.full_template, SUPERUSER, _new_org),
        Row(group, "GET", admin.organizations.repositories.full_template, ORG),
        Row(group, "POST", admin.organizations.repositories.full_template, ADMIN, _new_repo),
        Row(group, "POST", admin.organizations.users.full_template, ADMIN, _new_user),
        Row(group, "DELETE", admin.repositories.full_template, ADMIN, _existing_repo, _FORCE),
        Row(group, "GET", admin.users.metadata.full_template, ADMIN),
        Row(group, "DELETE", admin.users.metadata.full_template, ADMIN, _existing_user, _FORCE),
        Row(group, "GET", urls.tokens.api.full_template, USER),
        Row(group, "POST", urls.tokens.api.full_template, USER, _new_token),
        Row(group, "DELETE", urls.tokens.api.delete.full_template, USER, _existing_token, _FORCE),
    ]


def _artefact_rows(urls: UrlBuilder, group: str, version: int) -> list[Row]:
    data, indices, metadata = urls.data, urls.indices, urls.metadata.artefacts
    rows = [
        Row(group, "POST", data.eggs.upload.full_template, ARTEFACT, None, _OVERWRITE + (("enabled", "True"),)),
        Row(group, "POST", data.eggs.re_index.full_template, ARTEFACT, body=_REINDEX),
        Row(group, "GET", data.eggs.download.full_template, ARTEFACT),
        Row(group, "DELETE", data.eggs.delete.full_template, ARTEFACT, None, _FORCE),
        Row(group, "POST", data.runtimes.upload.full_template, ARTEFACT, None, _OVERWRITE),
        Row(group, "GET", data.runtimes.download.full_template, ARTEFACT),
        Row(group, "POST", data.apps.upload.full_template, ARTEFACT, None, _OVERWRITE),
        Row(group, "GET", indices.eggs.full_template, ARTEFACT),
        Row(group, "GET", indices.runtimes.full_template, ARTEFACT),
        Row(group, "GET", indices.apps.full_template, ARTEFACT),
        Row(group, "GET", metadata.eggs.full_template, ARTEFACT),
        Row(group, "GET", metadata.runtimes.full_template, ARTEFACT),
        Row(group, "GET", metadata.apps.full_template, ARTEFACT),
    ]
    if version >= 1:
        rows += [
            Row(group, "DELETE", data.runtimes.delete.full_template, ARTEFACT, None, _FORCE),
            Row(group, "POST", data.bundles.upload.full_template, ARTEFACT, None, _OVERWRITE),
            Row(group, "GET", indices.bundles.full_template, ARTEFACT),
            Row(group, "GET", metadata.bundles.full_template, ARTEFACT),
            Row(group, "DELETE", metadata.bundles.full_template, ARTEFACT, None, _FORCE),
        ]
    return rows


def _metadata_rows(urls: UrlBuilder, group: str, version: int) -> list[Row]:
    query = (("include_indexable", "True"),) if version == 0 else ()
    return [
        Row(group, "GET", urls.metadata.platforms.full_template, USER),
        Row(group, "GET", urls.metadata.python_tags.full_template, USER),
        Row(group, "GET", urls.metadata.python_tags.all.full_template, USER),
        Row(group, "GET", urls.user.repositories.full_template, USER, None, query),
    ]


def _team_rows(urls: UrlBuilder, group: str) -> list[Row]:
    teams, org_teams = urls.admin.teams, urls.admin.organizations.teams.full_template
    return [
        Row(group, "GET", org_teams, ADMIN),
        Row(group, "POST", org_teams, ADMIN, _new_team),
        Row(group, "GET", teams.full_template, ADMIN, _TEAM),
        Row(group, "DELETE", teams.full_template, ADMIN, _TEAM, _FORCE),
        Row(group, "GET", teams.members.full_template, ADMIN, _TEAM),
        Row(group, "GET", teams.members.query.full_template, ADMIN, _TEAM_MEMBER),
        Row(group, "PUT", teams.members.query.full_template, ADMIN, _TEAM_NEW_MEMBER),
        Row(group, "DELETE", teams.members.query.full_template, ADMIN, _TEAM_MEMBER, _FORCE),
        Row(group, "GET", teams.repositories.full_template, ADMIN, _TEAM),
        Row(group, "GET", teams.repositories.query.full_template, ADMIN, _TEAM_REPO),
        Row(group, "PUT", teams.repositories.query.full_template, ADMIN, _TEAM_NEW_REPO),
        Row(group, "DELETE", teams.repositories.query.full_template, ADMIN, _TEAM_REPO, _FORCE),
    ]


def all_rows() -> list[Row]:
    """The endpoints of section 17 (v0 current + historic, v1) and the v1 team mirror."""
    v0, v1 = urls_for(0), urls_for(1)
    return [
        *_admin_rows(v0, "v0"), *_artefact_rows(v0, "v0", 0), *_metadata_rows(v0, "v0", 0),
        *_team_rows(v0, "v0-historic"),
        Row("v0-historic", "POST", v0.data.eggs.re_index_repository.full_template, ARTEFACT, body=_REINDEX),
        *_admin_rows(v1, "v1"), Row("v1", "POST", TOKENS_AUTH_PATH, USER),
        *_artefact_rows(v1, "v1", 1), *_metadata_rows(v1, "v1", 1),
        *_team_rows(v1, "v1-teams"),
    ]


ROWS = all_rows()
IDS = [row.id for row in ROWS]
PROTECTED = [row for row in ROWS if row.scope != USER]
RESTRICTED = [row for row in ROWS if row.scope in (ADMIN, ARTEFACT)]


def test_the_matrix_covers_section_17():
    # Given the rows built from the URL templates
    counts = {group: sum(row.group == group for row in ROWS) for group in ("v0", "v0-historic", "v1", "v1-teams")}
    # Then they match the spec's counts, with no duplicate (method, path)
    assert counts == {"v0": 28, "v0-historic": 13, "v1": 34, "v1-teams": 12}
    assert len(set(IDS)) == len(IDS) == 87
    assert all(row.template.startswith(("/api/v0/json/", "/api/v1/json/")) for row in ROWS)


@pytest.fixture(scope="module")
def world(brood) -> World:
    """One world for the whole matrix (rows that change things act on fresh objects)."""
    return build_world(brood, lambda prefix: f"{prefix}-{uuid.uuid4().hex[:10]}")


def _routes(routes: Any) -> Any:
    """Every route, looking inside included routers (FastAPI may keep them wrapped; no prefixes are used)."""
    for route in routes:
        inner = getattr(route, "original_router", route)
        if hasattr(inner, "routes") and inner is not route or not hasattr(route, "path"):
            yield from _routes(getattr(inner, "routes", ()))
        else:
            yield route


def _routed(app: Any, row: Row) -> bool:
    return any(route.path == row.template and row.method in (getattr(route, "methods", None) or ())
               for route in _routes(app.routes))


def _sample(world: World, row: Row) -> dict[str, str]:
    runtime_version = "3.8.10+2" if "{implementation}" in row.template else "2.7.3-1"
    return {
        "organization_name": world.org, "repository_name": world.repo, "platform": "rh7-x86_64",
        "python_tag": "cp38", "name": "nosuchproject", "version": "1.0.0-1", "implementation": "cpython",
        "app_id": "demo.app", "team_name": "readers", "email": world.reader_email,
        **({"version": runtime_version} if "runtimes" in row.template else {}),
    }


def send(brood: Any, world: World, row: Row, auth: Any, values: Optional[dict[str, str]] = None,
         body: Any = None) -> requests.Response:
    """Send ``row`` with the world's sample values (overridden by ``values``) and ``auth``."""
    if row.scope == ARTEFACT and not _routed(brood.app, row):
        pytest.xfail(f"no route serves {row.id} yet")
    path = row.template.format(**{**_sample(world, row), **(values or {})})
    body = row.body if body is None else body
    response = requests.request(row.method, brood.url + path, params=list(row.query), json=body,
                                auth=auth, timeout=30)
    assert response.status_code < 500, (row.id, response.status_code, response.text)
    return response


class _Bearer(requests.auth.AuthBase):
    def __init__(self, token: str) -> None:
        self.token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self.token}"
        return request


BAD_CREDENTIALS = {
    "no-credentials": lambda world: None,
    "wrong-password": lambda world: (world.reader_email, "not-" + PASSWORD),
    "bogus-bearer": lambda world: _Bearer("0" * 40),
}


@pytest.mark.parametrize("credentials", list(BAD_CREDENTIALS))
@pytest.mark.parametrize("row", ROWS, ids=IDS)
def test_bad_credentials_are_401(brood, world: World, row: Row, credentials: str):
    # Given a request with missing or invalid credentials
    auth = BAD_CREDENTIALS[credentials](world)
    # When it is sent / Then it is refused with 401 and a JSON error
    response = send(brood, world, row, auth)
    assert response.status_code == 401, (row.id, response.status_code, response.text)
    assert response.headers["Content-Type"] == "application/json"


def test_health_needs_no_credentials(brood):
    # When the health probe is called without credentials / Then 200
    assert requests.get(brood.url + HEALTH_PATH, timeout=30).status_code == 200


@pytest.mark.parametrize("row", PROTECTED, ids=[row.id for row in PROTECTED])
def test_a_user_without_access_is_refused(brood, world: World, row: Row):
    # Given a valid user of another organization
    auth = world.auth(world.outsider_email)
    # When they call the endpoint on this organization / Then 403 or 404, never success
    response = send(brood, world, row, auth)
    assert response.status_code in (403, 404), (row.id, response.status_code, response.text)


@pytest.mark.parametrize("row", RESTRICTED, ids=[row.id for row in RESTRICTED])
def test_a_member_without_the_role_is_refused(brood, world: World, row: Row):
    # Given a member of the organization in no team
    auth = world.auth(world.plain_email)
    # When they call an administration or artefact endpoint / Then 403 or 404, never success
    response = send(brood, world, row, auth)
    assert response.status_code in (403, 404), (row.id, response.status_code, response.text)


def _right_auth(world: World, brood: Any, row: Row) -> Any:
    if row.scope == SUPERUSER:
        return brood.admin_auth
    if row.scope in (USER, ORG):
        return world.auth(world.reader_email)
    return world.auth(world.admin_email)


@pytest.mark.parametrize("row", ROWS, ids=IDS)
def test_a_user_with_the_right_role_succeeds(brood, world: World, row: Row):
    # Given a caller holding the role the endpoint needs, and a valid request
    values, body = row.prepare(Context(brood, world)) if row.prepare else ({}, None)
    # When it is sent
    response = send(brood, world, row, _right_auth(world, brood, row), values, body)
    # Then it succeeds (artefact endpoints may also answer a 4xx about the missing artefact)
    if row.scope == ARTEFACT and 400 <= response.status_code < 500:
        assert response.status_code not in (401, 403), (row.id, response.status_code, response.text)
    else:
        assert 200 <= response.status_code < 300, (row.id, response.status_code, response.text)
