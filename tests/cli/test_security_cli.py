"""The command line of scoped, expiring tokens and of the audit log."""

from __future__ import annotations

import datetime
import json

import pytest

from hatcher.core.times import parse_when
from hatcher.testing import set_user_password

PASSWORD = "S3cret-pass-word"


@pytest.fixture
def owner(brood, repository, unique):
    """An organization administrator of ``org`` (with ``org/dev``), with a password."""
    org, _ = repository
    organization = brood.client(api_version=1).organization(org)
    email = f"{unique('owner')}@example.com"
    user = organization.create_user(email)
    set_user_password(brood, email, PASSWORD)
    organization.create_team("admins", "organization_administrator").add_user(user)
    return email


def test_a_scoped_expiring_token_from_the_command_line(cli, owner, repository, failed):
    org, repo = repository
    auth = ("-U", owner, "-p", PASSWORD)
    before = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    # Create, as JSON: the scopes and the expiry are echoed
    result = cli("api-tokens", "create", "ci", "--scope", f"upload_repository:{org}/{repo}",
                 "--scope", f"read_index:{org}/*", "--expires", "30d", "--json", auth=auth)
    assert result.exit_code == 0, result.output
    created = json.loads(result.stdout)
    assert sorted(created) == ["expires", "name", "scopes", "token"]
    assert created["scopes"] == [f"upload_repository:{org}/{repo}", f"read_index:{org}/*"]
    expires = datetime.datetime.fromisoformat(created["expires"])
    assert datetime.timedelta(days=30) <= expires - before <= datetime.timedelta(days=30, minutes=1)
    # The token uploads where it may, and administers nothing
    token = ("-t", created["token"])
    assert cli("repositories", "list", org, auth=token).exit_code == 1
    failed(cli("repositories", "list", org, auth=token),
           "A scoped API token cannot administer the server or manage tokens")
    # The table has two more columns when some token has scopes or an expiry
    cli("api-tokens", "create", "plain", auth=auth)
    table = cli("api-tokens", "list", auth=auth).stdout.splitlines()
    assert table[0].split() == ["Name", "Created", "Last", "Used", "Scopes", "Expires"]
    assert table[2].startswith("ci ") and table[2].endswith(f"{org}/*  {created['expires']}")
    listed = json.loads(cli("api-tokens", "list", "--json", auth=auth).stdout)["tokens"]
    assert [sorted(token) for token in listed] == [["created", "expires", "last_used", "name", "scopes"],
                                                  ["created", "last_used", "name"]]
    # A table when created without --json
    shown = cli("api-tokens", "create", "nightly", "--scope", f"read_index:{org}/{repo}", auth=auth).stdout
    assert shown.splitlines()[0].split() == ["New", "Token", "Name", "New", "Token", "Scopes"]


@pytest.mark.parametrize("args, message", [
    (("--expires", "soon"), "'soon' is neither a duration"),
    (("--scope", "admin:acme/dev"), "the role must be one of read_index, read_repository, upload_repository"),
])
def test_bad_token_options(cli, owner, args, message):
    result = cli("api-tokens", "create", "bad", *args, auth=("-U", owner, "-p", PASSWORD))
    assert result.exit_code in (1, 2) and message in result.stderr
    assert "Traceback" not in result.output


def test_audit_list(cli, owner, repository, brood):
    org, _ = repository
    auth = ("-U", owner, "-p", PASSWORD)
    organization = brood.client(api_version=1).organization(org)
    organization.create_repository("logged", "Logged")
    organization.repository("logged").delete()
    result = cli("audit", "list", "--organization", org, "--since", "1h", "--action", "repository", auth=auth)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["Time", "Actor", "Action", "Target", "Address", "Outcome"]
    assert [line.split()[2:4] for line in lines[2:5]] == [
        ["repository.delete", f"{org}/logged"], ["repository.create", f"{org}/logged"],
        ["repository.create", f"{org}/dev"]]
    document = json.loads(cli("audit", "list", "--organization", org, "--action", "repository.delete", "--json",
                              auth=auth).stdout)
    assert [event["target"] for event in document["events"]] == [f"{org}/logged"]
    assert document["events"][0]["actor"] == brood.admin_auth[0]
    by_token = cli("audit", "list", auth=("-t", json.loads(cli("api-tokens", "create", "t", "--json",
                                                                  auth=auth).stdout)["token"]))
    assert by_token.exit_code == 0  # an organization administrator's token reads their organizations' events
    assert cli("audit", "list", "--since", "yesterday", auth=auth).exit_code == 2


def test_when_is_a_duration_or_a_time():
    now = datetime.datetime(2026, 12, 3, 12, 0, tzinfo=datetime.timezone.utc)
    assert parse_when("2d", ago=True, now=now) == "2026-12-01T12:00:00Z"
    assert parse_when("12h", ago=False, now=now) == "2026-12-04T00:00:00Z"
    assert parse_when("2027-01-31T12:00:00+01:00", ago=False, now=now) == "2027-01-31T11:00:00Z"
    with pytest.raises(ValueError, match="neither a duration"):
        parse_when("tomorrow", ago=False, now=now)
