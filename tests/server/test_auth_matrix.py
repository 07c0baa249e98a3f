"""Every endpoint of brood-rest-api.md section 17 against every kind of caller: 401, 403/404, 2xx, never 5xx.

The endpoint list is built from hatcher's URL-template trees (plus the session-token
path), so it names each path exactly as the client sends it. Rows:

* v0, current client (28) and historic (13, the teams and the legacy re-index);
* v1, current client (34) and the never-requested v1 mirror of the team API (12).

Artefact rows (uploads, downloads, indices, metadata, re-index, deletes) act on real
artefacts (:mod:`matrix_artefacts`): uploads send real files, and the other rows name an
artefact that exists. So a caller with the right role must get the exact status of the
spec, a refused caller 401, 403 or 404, and each side is checked against the server's
state afterwards (a refused delete leaves the artefact, a refused upload stores nothing).
A missing route is a failure like any other.
"""

from __future__ import annotations

import uuid
from typing import Any, Callable, Optional

import attr
import matrix_artefacts as artefacts
import pytest
import requests
from server_world import PASSWORD, World, build_world, call

from hatcher.core.url_templates import HEALTH_PATH, TOKENS_AUTH_PATH, URLS_V1, UrlBuilder, urls_for

# Who may call a row: "user" (anyone authenticated), "superuser", "org" (members holding a
# role: repository listing), "admin" (organization administrators), "artefact" (repository roles).
USER, SUPERUSER, ORG, ADMIN, ARTEFACT = "user", "superuser", "org", "admin", "artefact"
# What an artefact row does: reading needs read_index or read_repository; the others upload_repository.
UPLOAD, READ, DELETE, REINDEX = "upload", "read", "delete", "reindex"

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
    #: Artefact rows: the kind of artefact (see :mod:`matrix_artefacts`), what the row does with
    #: it, and the exact success status of the spec.
    artefact: Optional[str] = attr.ib(default=None)
    action: Optional[str] = attr.ib(default=None)
    expect: Optional[int] = attr.ib(default=None)

    @property
    def id(self) -> str:
        return f"{self.method} {self.template}"


@attr.s
class Context:
    """What a row's ``prepare`` may use: the server, the world, and a fresh-name maker."""

    brood: Any = attr.ib()
    world: World = attr.ib()
    #: Where artefact files are built.
    directory: str = attr.ib(default="")
    #: One stored artefact per kind, shared by the rows that only read it or are refused.
    samples: dict[str, dict[str, str]] = attr.ib(factory=dict)

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


@attr.s(frozen=True)
class Call:
    """The variable parts of one request: path values, JSON body, or a multipart upload."""

    values: dict[str, str] = attr.ib(factory=dict)
    body: Any = attr.ib(default=None)
    upload: Optional[artefacts.Upload] = attr.ib(default=None)


def artefact_call(ctx: Context, row: Row, fresh: bool) -> Call:
    """A valid call of an artefact row: a new real file to upload, or an artefact that exists.

    ``fresh`` stores a new artefact for the call (it will be deleted or changed); otherwise
    the kind's shared sample is named.
    """
    kind = row.artefact
    assert kind is not None
    if row.action == UPLOAD:
        upload = artefacts.new_upload(kind, ctx.directory)
        return Call({"platform": upload.values["platform"]}, upload=upload)
    if fresh:
        values = artefacts.store(ctx.brood.url, ctx.brood.admin_auth, kind, ctx.world.org, ctx.world.repo,
                                 ctx.directory)
    else:
        if kind not in ctx.samples:
            ctx.samples[kind] = artefacts.store(ctx.brood.url, ctx.brood.admin_auth, kind, ctx.world.org,
                                                ctx.world.repo, ctx.directory)
        values = ctx.samples[kind]
    if row.action == REINDEX:
        return Call(values, {"eggs": [{"name": values["name"], "version": values["version"],
                                       "python_tag": values["python_tag"]}]})
    return Call(values)


def stored(ctx: Context, row: Row, call: Call) -> bool:
    """Whether the artefact a call of ``row`` names (or uploads) is on the server now."""
    assert row.artefact is not None
    values = call.upload.values if call.upload is not None else call.values
    return artefacts.exists(ctx.brood.url, ctx.brood.admin_auth, row.artefact, ctx.world.org, ctx.world.repo,
                            values)


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
    runtime = artefacts.RUNTIME_V0 if version == 0 else artefacts.RUNTIME
    egg, app, bundle = artefacts.EGG, artefacts.APP, artefacts.BUNDLE

    def row(method: str, node: UrlBuilder, kind: str, action: str, expect: int,
            query: tuple[tuple[str, str], ...] = ()) -> Row:
        return Row(group, method, node.full_template, ARTEFACT, None, query, artefact=kind, action=action,
                   expect=expect)

    rows = [
        row("POST", data.eggs.upload, egg, UPLOAD, 201, _OVERWRITE + (("enabled", "True"),)),
        row("POST", data.eggs.re_index, egg, REINDEX, 202),
        row("GET", data.eggs.download, egg, READ, 200),
        row("DELETE", data.eggs.delete, egg, DELETE, 204, _FORCE),
        row("POST", data.runtimes.upload, runtime, UPLOAD, 201, _OVERWRITE),
        row("GET", data.runtimes.download, runtime, READ, 200),
        row("POST", data.apps.upload, app, UPLOAD, 201, _OVERWRITE),
        row("GET", indices.eggs, egg, READ, 200),
        row("GET", indices.runtimes, runtime, READ, 200),
        row("GET", indices.apps, app, READ, 200),
        row("GET", metadata.eggs, egg, READ, 200),
        row("GET", metadata.runtimes, runtime, READ, 200),
        row("GET", metadata.apps, app, READ, 200),
    ]
    if version >= 1:
        rows += [
            row("DELETE", data.runtimes.delete, runtime, DELETE, 204, _FORCE),
            row("POST", data.bundles.upload, bundle, UPLOAD, 201, _OVERWRITE),
            row("GET", indices.bundles, bundle, READ, 200),
            row("GET", metadata.bundles, bundle, READ, 200),
            row("DELETE", metadata.bundles, bundle, DELETE, 204, _FORCE),
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
        Row("v0-historic", "POST", v0.data.eggs.re_index_repository.full_template, ARTEFACT,
            artefact=artefacts.EGG, action=REINDEX, expect=202),
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


@pytest.fixture(scope="module")
def ctx(brood, world: World, tmp_path_factory: pytest.TempPathFactory) -> Context:
    """The matrix's context: one per module, so the artefact samples are stored once."""
    return Context(brood, world, str(tmp_path_factory.mktemp("matrix-artefacts")))


def _sample(world: World, row: Row) -> dict[str, str]:
    return {
        "organization_name": world.org, "repository_name": world.repo, "platform": "rh7-x86_64",
        "python_tag": "cp38", "team_name": "readers", "email": world.reader_email, "name": "nosuchname",
    }


def send(ctx: Context, row: Row, auth: Any, call: Optional[Call] = None) -> requests.Response:
    """Send ``row`` with the world's sample values (overridden by ``call``) and ``auth``."""
    call = call or Call()
    path = row.template.format(**{**_sample(ctx.world, row), **call.values})
    kwargs: dict[str, Any] = {"json": row.body if call.body is None else call.body}
    if call.upload is not None:
        kwargs = {"data": call.upload.body, "headers": {"Content-Type": call.upload.content_type}}
    response = requests.request(row.method, ctx.brood.url + path, params=list(row.query), auth=auth,
                                timeout=30, **kwargs)
    assert response.status_code < 500, (row.id, response.status_code, response.text)
    return response


def refused_call(ctx: Context, row: Row) -> Call:
    """A valid call of ``row`` for a caller who must be refused (artefact rows name the shared samples)."""
    return artefact_call(ctx, row, fresh=False) if row.artefact is not None else Call()


def assert_no_effect(ctx: Context, row: Row, call: Call) -> None:
    """A refused artefact call changed nothing: a refused delete left the artefact, an upload stored nothing."""
    if row.action == DELETE:
        assert stored(ctx, row, call), (row.id, "a refused delete removed the artefact")
    elif row.action == UPLOAD:
        assert not stored(ctx, row, call), (row.id, "a refused upload stored the artefact")


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
def test_bad_credentials_are_401(ctx: Context, row: Row, credentials: str):
    # Given a valid request with missing or invalid credentials
    call = refused_call(ctx, row)
    auth = BAD_CREDENTIALS[credentials](ctx.world)
    # When it is sent
    response = send(ctx, row, auth, call)
    # Then it is refused with 401 and a JSON error, and changed nothing
    assert response.status_code == 401, (row.id, response.status_code, response.text)
    assert response.headers["Content-Type"] == "application/json"
    assert_no_effect(ctx, row, call)


def test_health_needs_no_credentials(brood):
    # When the health probe is called without credentials / Then 200
    assert requests.get(brood.url + HEALTH_PATH, timeout=30).status_code == 200


@pytest.mark.parametrize("row", PROTECTED, ids=[row.id for row in PROTECTED])
def test_a_user_without_access_is_refused(ctx: Context, row: Row):
    # Given a valid user of another organization, and a valid request
    call = refused_call(ctx, row)
    # When they call the endpoint on this organization
    response = send(ctx, row, ctx.world.auth(ctx.world.outsider_email), call)
    # Then 403 or 404, never success, and nothing changed
    assert response.status_code in (403, 404), (row.id, response.status_code, response.text)
    assert_no_effect(ctx, row, call)


@pytest.mark.parametrize("row", RESTRICTED, ids=[row.id for row in RESTRICTED])
def test_a_member_without_the_role_is_refused(ctx: Context, row: Row):
    # Given a member of the organization in no team, and a valid request
    call = refused_call(ctx, row)
    # When they call an administration or artefact endpoint
    response = send(ctx, row, ctx.world.auth(ctx.world.plain_email), call)
    # Then 403 or 404, never success, and nothing changed
    assert response.status_code in (403, 404), (row.id, response.status_code, response.text)
    assert_no_effect(ctx, row, call)


ARTEFACT_ROWS = [row for row in ROWS if row.artefact is not None]


@pytest.mark.parametrize("row", ARTEFACT_ROWS, ids=[row.id for row in ARTEFACT_ROWS])
def test_a_reader_reads_but_may_not_change(ctx: Context, row: Row):
    # Given a member whose team grants read_repository on the repository, and a valid request
    call = refused_call(ctx, row)
    # When they call an artefact endpoint
    response = send(ctx, row, ctx.world.auth(ctx.world.reader_email), call)
    # Then reading succeeds with the spec's status; uploads, deletes and re-indexing are 403, with no effect
    if row.action == READ:
        assert response.status_code == row.expect, (row.id, response.status_code, response.text)
    else:
        assert response.status_code == 403, (row.id, response.status_code, response.text)
        assert_no_effect(ctx, row, call)


def _right_auth(world: World, brood: Any, row: Row) -> Any:
    if row.scope == SUPERUSER:
        return brood.admin_auth
    if row.scope in (USER, ORG):
        return world.auth(world.reader_email)
    return world.auth(world.admin_email)


@pytest.mark.parametrize("row", ROWS, ids=IDS)
def test_a_user_with_the_right_role_succeeds(ctx: Context, row: Row):
    # Given a caller holding the role the endpoint needs, and a valid request on something that exists
    if row.artefact is not None:
        call = artefact_call(ctx, row, fresh=row.action in (DELETE, REINDEX))
    elif row.prepare is not None:
        values, body = row.prepare(ctx)
        call = Call(values, body)
    else:
        call = Call()
    # When it is sent
    response = send(ctx, row, _right_auth(ctx.world, ctx.brood, row), call)
    # Then it succeeds: with the spec's exact status for artefact rows, and with the change made
    if row.expect is not None:
        assert response.status_code == row.expect, (row.id, response.status_code, response.text)
    else:
        assert 200 <= response.status_code < 300, (row.id, response.status_code, response.text)
    if row.action == DELETE:
        assert not stored(ctx, row, call), (row.id, "the artefact is still there")
    elif row.action == UPLOAD:
        assert stored(ctx, row, call), (row.id, "the upload was not stored")
