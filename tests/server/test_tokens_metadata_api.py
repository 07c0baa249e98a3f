"""API tokens, session tokens and server metadata through hatcher's public client, over loopback HTTP."""

from __future__ import annotations

import datetime

import pytest
from server_world import PASSWORD, World, call

from hatcher.api import BroodBearerTokenAuth, BroodClientAuth
from hatcher.core.url_templates import TOKENS_AUTH_PATH, URLS_V1
from hatcher.errors import BroodHTTPError


def status_of(call_, *args, **kwargs) -> int:
    """The HTTP status a client call failed with (fails the test if it succeeded)."""
    with pytest.raises(BroodHTTPError) as info:
        call_(*args, **kwargs)
    return info.value.status_code


def _naive_iso(text: str) -> datetime.datetime:
    moment = datetime.datetime.fromisoformat(text)
    assert moment.tzinfo is None
    return moment


# -- API tokens -----------------------------------------------------------------------------------

def test_an_api_token_is_created_listed_used_and_deleted(world: World, brood, api_version):
    # Given a user
    client = world.client(world.reader_email, api_version)
    # When they create an API token
    created = client.create_api_token("ci")
    # Then the secret is returned once, and the listing shows the name and times only
    assert created["name"] == "ci" and len(created["token"]) >= 32
    [info] = client.list_api_tokens()
    assert set(info) == {"name", "created", "last_used"} and info["name"] == "ci"
    _naive_iso(info["created"])
    assert info["last_used"] is None
    # When the token authenticates a client
    token_client = brood.client(api_version=api_version, auth=BroodBearerTokenAuth(created["token"]))
    assert token_client.list_organizations() == [world.org]
    # Then its last use is recorded
    _naive_iso(client.list_api_tokens()[0]["last_used"])
    # When it is deleted
    client.delete_api_token("ci")
    # Then it is no longer listed nor accepted, and deleting it again is 404
    assert client.list_api_tokens() == []
    assert status_of(token_client.list_organizations) == 401
    assert status_of(client.delete_api_token, "ci") == 404


def test_api_token_names_are_unique_per_user_and_validated(world: World, api_version):
    # Given two users, one of whom has a token named "ci"
    reader = world.client(world.reader_email, api_version)
    plain = world.client(world.plain_email, api_version)
    reader.create_api_token("ci")
    # When the same user reuses the name / Then 409; another user may use it
    assert status_of(reader.create_api_token, "ci") == 409
    plain.create_api_token("ci")
    assert [t["name"] for t in plain.list_api_tokens()] == ["ci"]
    # And names with "/" or over 64 characters are refused; 64 are fine
    assert status_of(reader.create_api_token, "a/b") == 400
    assert status_of(reader.create_api_token, "x" * 65) == 400
    reader.create_api_token("x" * 64)


# -- session tokens -------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["password", "api-token"])
def test_broodclientauth_exchanges_credentials_for_a_session_token(world: World, brood, api_version, kind):
    # Given a user's password, or an API token of theirs
    credentials = world.auth(world.reader_email)
    if kind == "api-token":
        credentials = world.client(world.reader_email, api_version).create_api_token("session")["token"]
    auth = BroodClientAuth(brood.url, credentials)
    # When a client authenticates with session tokens
    client = brood.client(api_version=api_version, auth=auth)
    # Then its requests succeed, carrying a session token distinct from the credentials
    assert client.list_organizations() == [world.org]
    assert auth.session_token and auth.session_token != credentials


def test_a_session_token_renews_itself_and_wrong_credentials_are_401(world: World, brood):
    # Given a session token obtained with a password
    first = call(brood, "POST", TOKENS_AUTH_PATH, auth=world.auth(world.reader_email))
    assert first.status_code == 200
    body = first.json()
    now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    assert _naive_iso(body["expires"]) > now + datetime.timedelta(seconds=600)
    # When the session token itself is exchanged
    second = call(brood, "POST", TOKENS_AUTH_PATH, auth=BroodBearerTokenAuth(body["token"]))
    # Then a new token comes back, and works
    assert second.status_code == 200 and second.json()["token"] != body["token"]
    renewed = BroodBearerTokenAuth(second.json()["token"])
    listing = call(brood, "GET", URLS_V1.admin.organizations.format(), auth=renewed)
    assert listing.json() == {"organizations": [world.org]}
    # And a wrong password is refused
    assert call(brood, "POST", TOKENS_AUTH_PATH, auth=(world.reader_email, "wrong")).status_code == 401
    assert world.auth(world.reader_email)[1] == PASSWORD


# -- server metadata ------------------------------------------------------------------------------

@pytest.mark.embedded
def test_platforms_and_python_tags_come_from_the_settings(world: World, brood, api_version):
    # Given any authenticated user
    client = world.client(world.plain_email, api_version)
    settings = brood.settings
    # When they ask for platforms and tags / Then the settings' lists come back
    assert client.list_platforms() == list(settings.platforms)
    assert client.list_python_tags() == list(settings.python_tags)
    assert client.list_python_tags(list_all=True) == list(settings.all_python_tags)
    assert "cp38" in client.list_python_tags() and "py3" in client.list_python_tags(list_all=True)


def test_available_repositories_follow_the_roles(world: World, admin, api_version):
    # Given users of each kind
    def available(email, include_indexable=False):
        return world.client(email, api_version).list_available_repositories(include_indexable=include_indexable)

    dev, other = f"{world.org}/dev", f"{world.org}/other"
    # Then readers see what they can download, indexers only with include_indexable,
    # administrators everything of their organization, outsiders nothing of it
    assert available(world.reader_email) == [dev]
    assert available(world.indexer_email) == []
    assert available(world.indexer_email, include_indexable=True) == [other]
    assert available(world.admin_email) == [dev, other]
    assert available(world.plain_email, include_indexable=True) == []
    assert available(world.outsider_email, include_indexable=True) == []
    # And the superuser sees them all
    assert {dev, other} <= set(admin.list_available_repositories())


def test_v1_available_repositories_carry_access_and_description(world: World, brood):
    # Given the indexer and the administrator
    path = URLS_V1.user.repositories.format()
    # When they ask the v1 endpoint
    indexer = call(brood, "GET", path, auth=world.auth(world.indexer_email)).json()
    administrator = call(brood, "GET", path, auth=world.auth(world.admin_email)).json()
    # Then each entry is an object with the role held
    assert indexer == {"repositories": [
        {"name": f"{world.org}/other", "access": "read_index", "description": "Other"}]}
    assert [entry["access"] for entry in administrator["repositories"]] == ["organization_administrator"] * 2
    # And hatcher 0.11.0's query on the v1 path gets the v0 shape
    legacy = call(brood, "GET", path, auth=world.auth(world.indexer_email), params={"include_indexable": "True"})
    assert legacy.json() == {"repositories": [f"{world.org}/other"]}
