"""The restored ``teams`` group, with ``teams repositories`` and ``teams members``, in API versions 0 and 1."""

from __future__ import annotations

import json

import pytest

DOWN = "http://127.0.0.1:1"


@pytest.fixture
def team(cli, repository):
    """``(org, "devs")``: a team of the fresh organization, created through the command line."""
    org, _ = repository
    result = cli("teams", "create", org, "devs", "read_repository")
    assert (result.exit_code, result.stdout, result.stderr) == (0, "", "")
    return org, "devs"


def test_teams_create_list_metadata_delete(cli, team, failed):
    org, name = team
    assert cli("teams", "create", org, "admins", "organization_administrator").exit_code == 0

    # list: names sorted, one per line
    result = cli("teams", "list", org)
    assert (result.exit_code, result.stdout) == (0, "admins\ndevs\n")
    assert json.loads(cli("teams", "list", org, "--json").stdout) == {"teams": ["admins", "devs"]}

    # metadata: JSON, the same with --json
    result = cli("teams", "metadata", org, name)
    assert result.exit_code == 0
    document = json.loads(result.stdout)
    assert document["name"] == name and document["group"] == "read_repository"
    assert result.stdout == json.dumps(document, indent=2, sort_keys=True) + "\n"
    assert cli("teams", "metadata", org, name, "--json").stdout == result.stdout

    # delete: no confirmation, no output
    result = cli("teams", "delete", org, "admins")
    assert (result.exit_code, result.stdout) == (0, "")
    assert cli("teams", "list", org).stdout == "devs\n"
    failed(cli("teams", "delete", org, "admins"), f"No such team: '{org}/admins'")
    failed(cli("teams", "metadata", org, "admins"), f"No such team: '{org}/admins'")


def test_teams_create_errors(cli, team, failed):
    org, name = team
    failed(cli("teams", "create", org, name, "read_repository"))
    failed(cli("teams", "create", org, "other", "bogus"))
    failed(cli("teams", "create", "no-such-org", "other", "read_index"))
    failed(cli("teams", "list", "no-such-org"))


def test_teams_repositories(cli, team, failed):
    org, name = team

    result = cli("teams", "repositories", "query", org, name, "dev")
    assert (result.exit_code, result.stdout, result.stderr) == (1, f"'{name}' does not have access to 'dev'\n", "")

    result = cli("teams", "repositories", "add", org, name, "dev")
    assert (result.exit_code, result.stdout) == (0, "")
    result = cli("teams", "repositories", "list", org, name)
    assert (result.exit_code, result.stdout) == (0, "dev\n")
    assert json.loads(cli("teams", "repositories", "list", org, name, "--json").stdout) == {"repositories": ["dev"]}

    result = cli("teams", "repositories", "query", org, name, "dev")
    assert (result.exit_code, result.stdout) == (0, f"'{name}' has access to 'dev'\n")
    result = cli("teams", "repositories", "query", org, name, "dev", "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout) == {"access": True, "organization": org, "team": name, "repository": "dev"}

    result = cli("teams", "repositories", "remove", org, name, "dev")
    assert (result.exit_code, result.stdout) == (0, "")
    assert cli("teams", "repositories", "list", org, name).stdout == ""
    result = cli("teams", "repositories", "query", org, name, "dev", "--json")
    assert result.exit_code == 1
    assert json.loads(result.stdout)["access"] is False

    failed(cli("teams", "repositories", "add", org, name, "missing"))
    failed(cli("teams", "repositories", "list", org, "no-such-team"))


def test_teams_members(cli, brood, team, unique, failed):
    org, name = team
    email = f"{unique('ann')}@example.com"
    brood.client().organization(org).create_user(email)

    result = cli("teams", "members", "query", org, name, email)
    assert (result.exit_code, result.stdout, result.stderr) == (1, f"'{email}' does not have access to '{name}'\n", "")

    result = cli("teams", "members", "add", org, name, email)
    assert (result.exit_code, result.stdout) == (0, "")
    assert cli("teams", "members", "list", org, name).stdout == f"{email}\n"
    assert json.loads(cli("teams", "members", "list", org, name, "--json").stdout) == {"members": [email]}

    result = cli("teams", "members", "query", org, name, email)
    assert (result.exit_code, result.stdout) == (0, f"'{email}' has access to '{name}'\n")
    document = json.loads(cli("teams", "members", "query", org, name, email, "--json").stdout)
    assert document == {"access": True, "organization": org, "team": name, "email": email}

    result = cli("teams", "members", "remove", org, name, email)
    assert (result.exit_code, result.stdout) == (0, "")
    assert cli("teams", "members", "list", org, name).stdout == ""
    failed(cli("teams", "members", "add", org, name, "nobody@example.com"))


def test_team_membership_grants_access(cli, brood, team, unique):
    # Given a user in a team that reads dev
    from hatcher.testing import set_user_password

    org, name = team
    email = f"{unique('kim')}@example.com"
    brood.client().organization(org).create_user(email)
    set_user_password(brood, email, "pw-pw-pw-pw")
    assert cli("teams", "repositories", "add", org, name, "dev").exit_code == 0
    assert cli("teams", "members", "add", org, name, email).exit_code == 0

    # Then the user sees it
    result = cli("user", "repositories", "--json", auth=("-U", email, "-p", "pw-pw-pw-pw"))
    assert json.loads(result.stdout) == {"repositories": [f"{org}/dev"]}


COMMANDS = [
    ("list", "{org}"),
    ("create", "{org}", "t", "read_index"),
    ("delete", "{org}", "devs"),
    ("metadata", "{org}", "devs"),
    ("repositories", "list", "{org}", "devs"),
    ("repositories", "add", "{org}", "devs", "dev"),
    ("repositories", "remove", "{org}", "devs", "dev"),
    ("repositories", "query", "{org}", "devs", "dev"),
    ("members", "list", "{org}", "devs"),
    ("members", "add", "{org}", "devs", "a@example.com"),
    ("members", "remove", "{org}", "devs", "a@example.com"),
    ("members", "query", "{org}", "devs", "a@example.com"),
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda command: " ".join(command[:2]))
def test_wrong_password_is_one_line(cli, brood, team, command, failed):
    org, name = team
    result = cli("teams", *[arg.format(org=org) for arg in command], auth=("-U", brood.admin_auth[0], "-p", "nope"))
    failed(result, "Invalid user name or password")
    assert brood.client().organization(org).team(name).metadata()["name"] == name


@pytest.mark.parametrize("command", COMMANDS, ids=lambda command: " ".join(command[:2]))
def test_server_down_is_one_line(cli, command, failed):
    result = cli("teams", *[arg.format(org="acme") for arg in command], url=DOWN)
    failed(result, "Cannot connect to http://127.0.0.1:1: connection refused")


def test_teams_exist_in_both_api_versions(cli):
    result = cli("--command-tree", url=DOWN)
    assert result.exit_code == 0
    lines = [line.rstrip() for line in result.stdout.splitlines()]
    assert "    teams" in lines
    assert any(line.split() == ["query", "[OPTIONS]", "ORGANIZATION", "TEAM", "EMAIL"] for line in lines)
    assert any(line.split() == ["create", "[OPTIONS]", "ORGANIZATION", "TEAM", "GROUP"] for line in lines)
