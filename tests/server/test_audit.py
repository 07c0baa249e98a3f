"""The audit log: an event per change, with actor, target, address and outcome; who may read it."""

from __future__ import annotations

import datetime
import json
from typing import Any, Callable

import pytest
import requests
from server_world import World, build_world

from hatcher.artefacts import builders
from hatcher.core.url_templates import URLS_V0, URLS_V1
from hatcher.errors import BroodHTTPError
from hatcher.server.runner import EmbeddedBrood

AUDIT = URLS_V1.admin.audit.format()
PLATFORM = "rh5-x86_64"


@pytest.fixture
def world(brood: EmbeddedBrood, unique: Callable[[str], str]) -> World:
    return build_world(brood, unique)


def _read(brood: EmbeddedBrood, auth: Any, **query: Any) -> requests.Response:
    return requests.get(brood.url + AUDIT, params=query, auth=auth, timeout=30)


def _events(brood: EmbeddedBrood, auth: Any, **query: Any) -> list[dict[str, Any]]:
    response = _read(brood, auth, **query)
    assert response.status_code == 200, response.text
    return response.json()["events"]


def test_every_change_of_an_organization_is_an_event(world: World, tmp_path: Any) -> None:
    # Given the newest event so far, the moment before, and the organization administrator's client
    start = _events(world.brood, world.brood.admin_auth, limit=1)[0]["id"]
    since = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=1)
    admin = world.client(world.admin_email, 1)
    organization = admin.organization(world.org)
    # When they change the organization in every way the log records
    organization.create_repository("audited", "Audited")
    team = organization.create_team("uploaders", "upload_repository")
    team.add_repository(organization.repository("audited"))
    team.add_user(organization.user(world.plain_email))
    team.remove_user(organization.user(world.plain_email))
    platform = organization.repository("audited").platform(PLATFORM)
    egg = builders.build_egg(str(tmp_path), name="logged", version="1.0", python_tag=None)
    platform.upload_egg(egg, enabled=False)
    with pytest.raises(BroodHTTPError):
        platform.upload_egg(egg)  # refused (409): no event, the transaction rolled back
    platform.upload_egg(egg, overwrite=True, enabled=False)
    platform.reindex([egg])
    platform.delete_egg("none", "logged", "1.0-1")
    organization.user(world.plain_email).delete()
    team.delete()
    organization.repository("audited").delete()
    # Then the log holds one event each, newest first, with who, what, from where, and the outcome
    events = _events(world.brood, world.auth(world.admin_email), organization=world.org, since=since.isoformat())
    events = [event for event in events if event["id"] > start]
    target = f"{world.org}/audited/{PLATFORM}/logged-1.0-1.egg"
    assert [(event["action"], event["target"]) for event in events] == [
        ("repository.delete", f"{world.org}/audited"),
        ("team.delete", f"{world.org}/uploaders"),
        ("user.delete", f"{world.org}/{world.plain_email}"),
        ("egg.delete", target),
        ("egg.reindex", f"{world.org}/audited/{PLATFORM}/eggs"),
        ("egg.overwrite", target),
        ("egg.upload", target),
        ("team.role_change", f"{world.org}/uploaders"),
        ("team.role_change", f"{world.org}/uploaders"),
        ("team.role_change", f"{world.org}/uploaders"),
        ("team.create", f"{world.org}/uploaders"),
        ("repository.create", f"{world.org}/audited"),
    ]
    assert {(event["actor"], event["address"], event["outcome"], event["organization"]) for event in events} == {
        (world.admin_email, "127.0.0.1", "success", world.org)}
    assert [event["detail"]["change"] for event in events if event["action"] == "team.role_change"] == [
        "member_remove", "member_add", "repository_add"]
    assert events[6]["detail"]["enabled"] is False and events[4]["detail"] == {"enabled": 1}
    assert events[0]["id"] > events[-1]["id"]
    assert all(datetime.datetime.fromisoformat(event["time"]) >= since.replace(tzinfo=None) for event in events)


def test_token_events_hold_no_secret(world: World) -> None:
    client = world.client(world.plain_email, 0)
    secret = client.create_api_token("ci", scopes=[f"read_index:{world.org}/*"])["token"]
    client.delete_api_token("ci")
    events = _events(world.brood, world.brood.admin_auth, action="token", limit=50)
    mine = [event for event in events if event["actor"] == world.plain_email]
    assert [event["action"] for event in mine] == ["token.revoke", "token.create"]
    assert mine[1]["target"] == f"token:{world.plain_email}/ci"
    assert mine[1]["detail"] == {"scopes": [f"read_index:{world.org}/*"], "expires": None}
    assert mine[0]["organization"] is None
    assert secret not in json.dumps(events)


def test_who_may_read_the_log(world: World, unique: Callable[[str], str]) -> None:
    brood = world.brood
    world.client(world.admin_email, 1).organization(world.org).create_repository("seen", "Seen")
    # Server administrators read everything, including events of no organization (logins)
    requests.get(brood.url + URLS_V0.user.repositories.format(), auth=(world.outsider_email, "wrong"), timeout=30)
    everything = _events(brood, brood.admin_auth, limit=1000)
    assert any(event["action"] == "login.failed" and event["target"] == f"user:{world.outsider_email}"
               for event in everything)
    # An organization's administrators read its events, and no other's
    mine = _events(brood, world.auth(world.admin_email))
    assert mine and {event["organization"] for event in mine} == {world.org}
    refused = _read(brood, world.auth(world.admin_email), organization=world.outsider_org)
    assert refused.status_code == 403 and "administrator" in refused.json()["error"]
    # Everyone else is refused
    for email in (world.reader_email, world.plain_email, world.outsider_email):
        assert _read(brood, world.auth(email)).status_code == 403
    assert _read(brood, None).status_code == 401
    # And the endpoint is an API v1 one only
    assert requests.get(brood.url + "/api/v0/json/admin/audit", auth=brood.admin_auth, timeout=30).status_code == 404


def test_pages_and_filters(world: World) -> None:
    organization = world.client(world.admin_email, 1).organization(world.org)
    for n in range(5):
        organization.create_repository(f"paged-{n}", "Paged")
    auth = world.auth(world.admin_email)
    first = _read(world.brood, auth, organization=world.org, action="repository.create", limit=2).json()
    assert [event["target"] for event in first["events"]] == [f"{world.org}/paged-4", f"{world.org}/paged-3"]
    second = _read(world.brood, auth, organization=world.org, action="repository.create", limit=2,
                   before=first["next"]).json()
    assert [event["target"] for event in second["events"]] == [f"{world.org}/paged-2", f"{world.org}/paged-1"]
    everything = world.brood.client(auth=auth).audit_events(organization=world.org, action="repository", limit=None)
    # build_world made dev and other; the admin made five more
    assert [event["target"].split("/")[1] for event in everything] == [
        "paged-4", "paged-3", "paged-2", "paged-1", "paged-0", "other", "dev"]
    later = _events(world.brood, auth, organization=world.org, since="2999-01-01T00:00:00Z")
    assert later == []


@pytest.mark.parametrize("query, message", [
    ({"limit": "0"}, "Invalid limit"),
    ({"limit": "many"}, "Invalid limit"),
    ({"limit": "1001"}, "Invalid limit"),
    ({"before": "-3"}, "Invalid before"),
    ({"since": "yesterday"}, "Invalid since"),
])
def test_bad_queries_are_400(brood: EmbeddedBrood, query: dict[str, str], message: str) -> None:
    response = _read(brood, brood.admin_auth, **query)
    assert response.status_code == 400 and message in response.json()["error"]
