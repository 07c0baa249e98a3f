"""Raw HTTP: status codes and error bodies of the admin, token and metadata endpoints."""

from __future__ import annotations

import concurrent.futures
import threading

import pytest
from server_world import World, call

from hatcher.core.url_templates import URLS_V0, URLS_V1, urls_for

BAD_NAMES = {"dotdot": "..", "slash": "a/b", "nul": "a\x00b", "control": "a\nb", "long": "x" * 10_000}


def assert_error(response, status: int) -> str:
    """Check status, exact Content-Type and ``{"error": str}`` body; return the message."""
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"] == "application/json"
    body = response.json()
    assert list(body) == ["error"] and isinstance(body["error"], str) and body["error"]
    return body["error"]


def _creations(world: World, version: int) -> dict[str, tuple[str, dict]]:
    urls = urls_for(version)
    org = world.org
    return {
        "organization": (urls.admin.organizations.format(), {"name": "N", "description": ""}),
        "repository": (urls.admin.organizations.repositories.format(organization_name=org),
                       {"name": "N", "description": ""}),
        "team": (urls.admin.organizations.teams.format(organization_name=org), {"name": "N", "group": "read_index"}),
        "token": (urls.tokens.api.format(), {"name": "N"}),
        "user": (urls.admin.organizations.users.format(organization_name=org), {"email": "N"}),
    }


@pytest.mark.parametrize("version", [0, 1])
@pytest.mark.parametrize("kind", ["organization", "repository", "team", "token"])
def test_creating_twice_is_409(world: World, brood, unique, kind, version):
    # Given a created object
    path, body = _creations(world, version)[kind]
    body["name"] = unique(kind)
    assert call(brood, "POST", path, json=body).status_code == 201
    # When it is created again / Then 409 with a JSON error
    assert "already" in assert_error(call(brood, "POST", path, json=body), 409)


@pytest.mark.parametrize("bad", list(BAD_NAMES.values()), ids=list(BAD_NAMES))
@pytest.mark.parametrize("kind", ["organization", "repository", "team", "token", "user"])
def test_invalid_names_are_400(world: World, brood, kind, bad):
    # Given a creation body with an invalid name (user: e-mail)
    path, body = _creations(world, 1)[kind]
    key = "email" if kind == "user" else "name"
    body[key] = bad
    # When it is posted / Then 400 with a JSON error
    assert_error(call(brood, "POST", path, json=body), 400)


BAD_BODIES = {
    "not-json": b"{not json",
    "array": b"[]",
    "missing-key": b'{"name": "x"}',
    "unknown-key": b'{"name": "x", "description": "", "colour": "red"}',
    "wrong-type": b'{"name": 3, "description": ""}',
    "bool-as-string": b'{"name": "x", "description": true}',
}


@pytest.mark.parametrize("body", list(BAD_BODIES.values()), ids=list(BAD_BODIES))
def test_malformed_json_bodies_are_400(world: World, brood, body):
    # Given a repository creation with a malformed body
    path = URLS_V0.admin.organizations.repositories.format(organization_name=world.org)
    # When it is posted / Then 400 with a JSON error, and nothing is created
    assert_error(call(brood, "POST", path, data=body, headers={"Content-Type": "application/json"}), 400)
    listing = call(brood, "GET", path).json()
    assert listing == {"repositories": ["dev", "other"]}


@pytest.mark.parametrize("body", [
    {"name": "t", "group": "superuser"},
    {"name": "t", "role": "admin"},
    {"name": "t", "group": "read_index", "role": "read_index"},
    {"name": "t"},
    {"name": "t", "group": "read_index", "repositories": ["dev", "dev"]},
    {"name": "t", "group": "read_index", "repositories": ["ghost"]},
], ids=["bad-group", "bad-role", "both", "neither", "duplicate-repos", "unknown-repo"])
def test_bad_team_bodies_are_400(world: World, brood, body):
    # Given a team body with a bad role or repository list
    path = URLS_V0.admin.organizations.teams.format(organization_name=world.org)
    # When it is posted / Then 400
    assert_error(call(brood, "POST", path, json=body), 400)


def test_team_created_with_role_and_repositories(world: World, brood):
    # Given a team body using "role" and a repository list
    path = URLS_V1.admin.organizations.teams.format(organization_name=world.org)
    # When it is posted
    response = call(brood, "POST", path, json={"name": "t", "role": "upload_repository", "repositories": ["dev"]})
    # Then the team has that group and repository
    assert response.status_code == 201
    team = call(brood, "GET", URLS_V1.admin.teams.format(organization_name=world.org, team_name="t")).json()
    assert team == {"name": "t", "group": "upload_repository", "repositories": ["dev"], "members": []}


def test_missing_and_invisible_things_are_404_with_the_same_message(world: World, brood):
    # Given an organization that does not exist and one the outsider cannot see
    def listing(org, auth=None):
        return call(brood, "GET", URLS_V1.admin.organizations.repositories.format(organization_name=org), auth=auth)

    # When the outsider asks for both / Then both are 404, indistinguishable apart from the name
    missing = assert_error(listing("no-such-org", world.auth(world.outsider_email)), 404)
    hidden = assert_error(listing(world.org, world.auth(world.outsider_email)), 404)
    assert missing.replace("no-such-org", world.org) == hidden


def test_forbidden_is_403_for_members(world: World, brood):
    # Given a plain member of the organization
    path = URLS_V1.admin.organizations.teams.format(organization_name=world.org)
    # When they list teams / Then 403
    assert_error(call(brood, "GET", path, auth=world.auth(world.plain_email)), 403)


@pytest.mark.parametrize("value,status", [("True", 204), ("true", 204), ("1", 204), ("maybe", 400)])
def test_force_accepts_python_and_json_booleans(world: World, brood, value, status):
    # Given a repository holding nothing
    call(brood, "POST", URLS_V1.admin.organizations.repositories.format(organization_name=world.org),
         json={"name": "tmp", "description": ""})
    path = URLS_V1.admin.repositories.format(organization_name=world.org, repository_name="tmp")
    # When it is deleted with a force value / Then booleans pass and garbage is 400
    response = call(brood, "DELETE", path, params={"force": value})
    assert response.status_code == status, response.text
    if status == 204:
        assert response.content == b"" and "Content-Type" not in response.headers


def test_unauthenticated_errors_carry_a_basic_challenge(brood):
    # When a request has no credentials
    response = call(brood, "GET", URLS_V0.admin.organizations.format(), auth=None)
    # Then 401 with a JSON error and a WWW-Authenticate header
    assert_error(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Basic")


def test_team_queries_answer_204_or_404(world: World, brood):
    # Given the readers team (dev, the reader)
    team = URLS_V0.admin.teams
    args = {"organization_name": world.org, "team_name": "readers"}
    # Then the queries are 204 for present and 404 for absent entries
    assert call(brood, "GET", team.members.query.format(email=world.reader_email, **args)).status_code == 204
    assert_error(call(brood, "GET", team.members.query.format(email=world.plain_email, **args)), 404)
    assert call(brood, "GET", team.repositories.query.format(repository_name="dev", **args)).status_code == 204
    assert_error(call(brood, "GET", team.repositories.query.format(repository_name="other", **args)), 404)


def test_concurrent_creations_of_one_name_give_one_201_and_409s(world: World, brood, unique):
    # Given eight clients racing to create the same repository
    path = URLS_V1.admin.organizations.repositories.format(organization_name=world.org)
    body = {"name": unique("race"), "description": ""}
    barrier = threading.Barrier(8)

    def create() -> int:
        barrier.wait()
        return call(brood, "POST", path, json=body).status_code

    # When they all post at once
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        statuses = sorted(pool.map(lambda _: create(), range(8)))
    # Then exactly one wins and the others get 409 (never a 5xx from the unique constraint)
    assert statuses == [201] + [409] * 7
