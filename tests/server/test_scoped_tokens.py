"""Scoped and expiring API tokens: the lesser of the scopes and the owner's rights; never administration."""

from __future__ import annotations

import datetime
import time
from typing import Any, Callable

import pytest
import requests
from server_world import World, build_world

from hatcher.artefacts import builders
from hatcher.core.url_templates import TOKENS_AUTH_PATH, URLS_V0, URLS_V1
from hatcher.errors import BroodHTTPError
from hatcher.server.runner import EmbeddedBrood

PLATFORM = "rh5-x86_64"


@pytest.fixture
def world(brood: EmbeddedBrood, unique: Callable[[str], str]) -> World:
    return build_world(brood, unique)


def _token(world: World, email: str, **body: Any) -> requests.Response:
    return requests.post(world.brood.url + URLS_V1.tokens.api.format(), json={"name": "scoped", **body},
                         auth=world.auth(email), timeout=30)


def _scoped_client(world: World, email: str, *scopes: str, api_version: int = 1) -> Any:
    """A client of a new token of ``email`` with these scopes; its token is ``client.token``."""
    from hatcher.api import BroodBearerTokenAuth

    created = world.brood.client(auth=world.auth(email)).create_api_token(f"t-{time.monotonic_ns()}", scopes=scopes)
    assert created["scopes"] == list(scopes)
    client = world.brood.client(api_version=api_version, auth=BroodBearerTokenAuth(created["token"]))
    client.token = created["token"]
    return client


def _status(call: Callable[[], Any]) -> int:
    with pytest.raises(BroodHTTPError) as info:
        call()
    return info.value.status_code


def test_a_scoped_token_is_refused_outside_its_scope(world: World, tmp_path: Any) -> None:
    # Given an organization administrator's token scoped to uploads to one repository
    org = world.org
    client = _scoped_client(world, world.admin_email, f"upload_repository:{org}/{world.repo}")
    dev = client.organization(org).repository(world.repo).platform(PLATFORM)
    other = client.organization(org).repository(world.other_repo).platform(PLATFORM)
    egg = builders.build_egg(str(tmp_path), name="scoped", version="1.0", python_tag=None)
    # Then it uploads to, reads and deletes from that repository
    dev.upload_egg(egg)
    assert list(dev.egg_index("cp27")) == ["scoped-1.0-1.egg"]
    # But not to the other one, though its owner administers both
    assert _status(lambda: other.upload_egg(egg)) == 403
    assert _status(lambda: other.egg_index("cp27")) == 403
    answer = requests.get(world.brood.url + URLS_V1.indices.eggs.format(
        organization_name=org, repository_name=world.other_repo, platform=PLATFORM, python_tag="cp27"),
        headers={"Authorization": f"Bearer {client.token}"}, timeout=30)
    assert answer.status_code == 403
    assert answer.json() == {"error": f"This API token's scopes do not include '{org}/{world.other_repo}'"}
    # And it administers nothing, on either API version, and makes no tokens
    for version in (0, 1):
        scoped = _scoped_client(world, world.admin_email, f"upload_repository:{org}/*", api_version=version)
        for refused in (lambda c=scoped: c.organization(org).create_repository("new", "refused"),
                        lambda c=scoped: c.list_organizations(),
                        lambda c=scoped: c.organization(org).team("admins").metadata(),
                        lambda c=scoped: c.create_api_token("more"),
                        lambda c=scoped: c.list_api_tokens()):
            assert _status(refused) == 403
    exchange = requests.post(world.brood.url + TOKENS_AUTH_PATH, timeout=30,
                             headers={"Authorization": f"Bearer {client.token}"})
    assert exchange.status_code == 403 and "scoped API token" in exchange.json()["error"]
    audit = requests.get(world.brood.url + URLS_V1.admin.audit.format(), timeout=30,
                         headers={"Authorization": f"Bearer {client.token}"})
    assert audit.status_code == 403
    dev.delete_egg("none", "scoped", "1.0-1")


def test_a_scoped_token_never_exceeds_its_owner(world: World, tmp_path: Any) -> None:
    # Given a reader (read_repository on dev) whose token claims uploads to dev
    client = _scoped_client(world, world.reader_email, f"upload_repository:{world.org}/{world.repo}")
    dev = client.organization(world.org).repository(world.repo).platform(PLATFORM)
    egg = builders.build_egg(str(tmp_path), name="owner", version="1.0", python_tag=None)
    # Then it reads, as its owner may, but does not upload
    assert dev.egg_index("cp27") == {}
    assert _status(lambda: dev.upload_egg(egg)) == 403
    # And a scope on a repository the owner cannot see shows nothing of it
    hidden = _scoped_client(world, world.reader_email, f"read_repository:{world.org}/{world.other_repo}")
    assert _status(lambda: hidden.organization(world.org).repository(world.other_repo).platform(PLATFORM)
                   .egg_index("cp27")) == 404


def test_a_read_index_scope_on_every_repository(world: World, tmp_path: Any) -> None:
    # Given an egg in dev, and the org admin's token scoped to read_index on every repository of the org
    egg = builders.build_egg(str(tmp_path), name="indexed", version="2.0", python_tag=None)
    world.client(world.admin_email, 1).organization(world.org).repository(world.repo).platform(PLATFORM).upload_egg(egg)
    client = _scoped_client(world, world.admin_email, f"read_index:{world.org}/*")
    dev = client.organization(world.org).repository(world.repo).platform(PLATFORM)
    # Then it reads the indices of every repository, but downloads nothing
    assert list(dev.egg_index("cp27")) == ["indexed-2.0-1.egg"]
    assert client.organization(world.org).repository(world.other_repo).platform(PLATFORM).egg_index("cp27") == {}
    assert _status(lambda: dev.download_egg("none", "indexed", "2.0-1", str(tmp_path))) == 403
    # And it lists only the repositories of its scope, with the scope's role
    listed = requests.get(world.brood.url + URLS_V1.user.repositories.format(), timeout=30,
                          headers={"Authorization": f"Bearer {client.token}"}).json()["repositories"]
    assert {entry["name"]: entry["access"] for entry in listed} == {
        f"{world.org}/{world.repo}": "read_index", f"{world.org}/{world.other_repo}": "read_index"}


def test_an_expired_token_is_refused_with_a_message_that_says_so(world: World) -> None:
    expires = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=1.5)
    created = world.brood.client(auth=world.auth(world.plain_email)).create_api_token("soon", expires=expires)
    assert created["expires"] == expires.replace(tzinfo=None).isoformat()
    bearer = {"Authorization": f"Bearer {created['token']}"}
    url = world.brood.url + URLS_V0.user.repositories.format()
    assert requests.get(url, headers=bearer, timeout=30).status_code == 200
    time.sleep(1.6)
    answer = requests.get(url, headers=bearer, timeout=30)
    assert answer.status_code == 401
    assert answer.json() == {"error": f"The API token 'soon' expired on {created['expires']} UTC"}


def test_the_token_list_shows_scopes_and_expiry(world: World) -> None:
    scope = f"read_repository:{world.org}/{world.repo}"
    response = _token(world, world.plain_email, scopes=[scope, scope], expires="2099-01-31T12:00:00+01:00")
    assert response.status_code == 201, response.text
    assert response.json()["scopes"] == [scope] and response.json()["expires"] == "2099-01-31T11:00:00"
    listed = world.brood.client(auth=world.auth(world.plain_email)).list_api_tokens()
    assert [(token["name"], token["scopes"], token["expires"]) for token in listed] == [
        ("scoped", [scope], "2099-01-31T11:00:00")]


@pytest.mark.parametrize("body, message", [
    ({"scopes": ["organization_administrator:acme/dev"]}, "the role must be one of"),
    ({"scopes": ["upload_repository:acme"]}, "expected 'ROLE:ORGANIZATION/REPOSITORY'"),
    ({"scopes": ["read_index:*/dev"]}, "expected 'ROLE:ORGANIZATION/REPOSITORY'"),
    ({"scopes": []}, "'scopes' must be a list of 1 to 100"),
    ({"scopes": "read_index:acme/dev"}, "'scopes' must be of type list"),
    ({"scopes": [7]}, "Invalid scope: a string"),
    ({"expires": "next week"}, "'expires' must be an ISO 8601 time"),
    ({"expires": "2001-01-01T00:00:00Z"}, "is in the past"),
    ({"expires": 5}, "'expires' must be of type str"),
])
def test_bad_scopes_and_expiry_are_400(world: World, body: dict[str, Any], message: str) -> None:
    response = _token(world, world.plain_email, **body)
    assert response.status_code == 400 and message in response.json()["error"], response.text
    assert world.brood.client(auth=world.auth(world.plain_email)).list_api_tokens() == []
