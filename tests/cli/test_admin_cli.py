"""``organizations``, ``repositories``, ``users``, ``user``, ``api-tokens``, ``platforms``, ``python-tags``."""

from __future__ import annotations

import json
import re

import pytest
from click.testing import CliRunner

from hatcher.artefacts.builders import build_egg
from hatcher.cli.main import hatcher
from hatcher.testing import set_user_password

DOWN = "http://127.0.0.1:1"
PASSWORD = "S3cret-pass-word"


def one_column(header: str, values: list[str]) -> str:
    """The expected one-column table, written out by hand (tabulate "simple")."""
    width = max([len(header) + 2] + [len(value) for value in values])
    return "\n".join([header, "-" * width, *values]) + "\n"


@pytest.fixture
def member(brood, repository, unique):
    """A user with a password, reading ``org/dev`` and seeing only the index of ``org/idx``."""
    org, repo = repository
    client = brood.client(api_version=1)
    organization = client.organization(org)
    organization.create_repository("idx", "Index only")
    email = f"{unique('jane')}@example.com"
    user = organization.create_user(email)
    set_user_password(brood, email, PASSWORD)
    for team_name, role, repo_name in (("readers", "read_repository", repo), ("lookers", "read_index", "idx")):
        team = organization.create_team(team_name, role)
        team.add_repository(organization.repository(repo_name))
        team.add_user(user)
    return email


# -- organizations ---------------------------------------------------------------------------------

def test_organizations_create_then_list_sorted(cli, brood, unique):
    # Given two new organizations created in reverse order
    second, first = unique("zz-org"), unique("aa-org")
    assert cli("organizations", "create", second, "Second").exit_code == 0
    result = cli("organizations", "create", first, "First")
    assert (result.exit_code, result.stdout) == (0, "")

    # When listing
    result = cli("organizations", "list")

    # Then every name appears sorted, one per line
    expected = sorted(brood.client().list_organizations())
    assert result.exit_code == 0
    assert result.stdout == "".join(f"{name}\n" for name in expected)
    assert result.stdout.index(first) < result.stdout.index(second)
    assert json.loads(cli("organizations", "list", "--json").stdout) == {"organizations": expected}


def test_organizations_create_duplicate_fails(cli, repository, failed):
    failed(cli("organizations", "create", repository[0], "Again"), f"Organization '{repository[0]}' already exists")


# -- repositories ----------------------------------------------------------------------------------

def test_repositories_create_then_list_sorted(cli, repository):
    org, _ = repository
    for name in ("zeta", "alpha"):
        result = cli("repositories", "create", org, name, f"The {name} repository")
        assert (result.exit_code, result.stdout, result.stderr) == (0, "", "")

    result = cli("repositories", "list", org)

    assert (result.exit_code, result.stdout) == (0, "alpha\ndev\nzeta\n")
    assert json.loads(cli("repositories", "list", org, "--json").stdout) == {"repositories": ["alpha", "dev", "zeta"]}


def test_repositories_list_sorts_what_the_server_sends(cli, repository, monkeypatch):
    # Given a server answering in no particular order
    from hatcher.core.organization import Organization

    monkeypatch.setattr(Organization, "list_repositories", lambda self: ["zeta", "Beta", "alpha"])

    # Then the names are printed sorted as plain strings
    assert cli("repositories", "list", repository[0]).stdout == "Beta\nalpha\nzeta\n"


def test_repositories_errors(cli, repository, failed):
    org, repo = repository
    failed(cli("repositories", "create", org, repo, "Again"))
    failed(cli("repositories", "create", "no-such-org", "dev", "x"), "No such organization: 'no-such-org'")
    failed(cli("repositories", "list", "no-such-org"), "No such organization: 'no-such-org'")
    failed(cli("repositories", "delete", org, "missing", "-y"))


def test_repositories_delete_non_empty_needs_force(cli, brood, repository, tmp_path, failed):
    # Given a repository holding an egg
    org, repo = repository
    egg = build_egg(str(tmp_path), name="foo", version="1.0", build=1, platform="rh7-x86_64", python_tag="cp38")
    brood.client().organization(org).repository(repo).platform("rh7-x86_64").upload_egg(egg)

    # When deleting without --force, it is refused and kept
    failed(cli("repositories", "delete", org, repo, "-y"))
    assert cli("repositories", "list", org).stdout == f"{repo}\n"

    # When deleting with --force, it goes
    result = cli("repositories", "delete", org, repo, "--force", "--yes")
    assert (result.exit_code, result.stdout) == (0, "")
    assert cli("repositories", "list", org).stdout == ""


def test_repositories_delete_confirmation(cli, repository):
    org, repo = repository
    prompt = f"{org}/{repo} will be deleted. Proceed? [y/N]: "

    # Declined against a server that is down: exit 0, so no request was made
    declined = cli("repositories", "delete", org, repo, input="n\n", url=DOWN)
    assert (declined.exit_code, declined.stdout, declined.stderr) == (0, prompt + "n\n", "")

    # End of input aborts
    aborted = cli("repositories", "delete", org, repo, input="", url=DOWN)
    assert (aborted.exit_code, aborted.stdout, aborted.stderr) == (1, prompt, "Aborted!\n")
    assert cli("repositories", "list", org).stdout == f"{repo}\n"

    # Accepted: deleted
    accepted = cli("repositories", "delete", org, repo, input="y\n")
    assert (accepted.exit_code, accepted.stdout) == (0, prompt + "y\n")
    assert cli("repositories", "list", org).stdout == ""


def test_repositories_delete_options_from_environment(cli_env, brood, repository, tmp_path):
    org, repo = repository
    egg = build_egg(str(tmp_path), name="foo", version="1.0", build=1, platform="rh7-x86_64", python_tag="cp38")
    brood.client().organization(org).repository(repo).platform("rh7-x86_64").upload_egg(egg)

    result = cli_env("repositories", "delete", org, repo,
                     env={"HATCHER_REPOSITORIES_DELETE_ASSUME_YES": "1", "HATCHER_REPOSITORIES_DELETE_FORCE": "true"})

    assert (result.exit_code, result.stdout, result.stderr) == (0, "", "")
    assert brood.client().organization(org).list_repositories() == []


# -- users and user ------------------------------------------------------------------------------

def test_users_create_and_delete(cli, brood, repository, unique, failed):
    org, _ = repository
    email = f"{unique('bob')}@example.com"
    user = brood.client().organization(org).user(email)

    result = cli("users", "create", org, email)
    assert (result.exit_code, result.stdout) == (0, "")
    assert user.metadata()["email"] == email
    failed(cli("users", "create", org, email))
    failed(cli("users", "create", "no-such-org", email), "No such organization: 'no-such-org'")

    declined = cli("users", "delete", org, email, input="n\n")
    assert (declined.exit_code, declined.stdout) == (0, f"{email} will be deleted. Proceed? [y/N]: n\n")
    assert user.metadata()["email"] == email

    result = cli("users", "delete", org, email, "-y")
    assert (result.exit_code, result.stdout) == (0, "")
    failed(cli("users", "delete", org, email, "-y"))


def test_user_repositories(cli, repository, member, failed):
    org, repo = repository
    auth = ("-U", member, "-p", PASSWORD)

    result = cli("user", "repositories", auth=auth)
    assert (result.exit_code, result.stdout) == (0, one_column("Repository", [f"{org}/{repo}"]))

    result = cli("user", "repositories", "--include-indexable", auth=auth)
    assert result.exit_code == 0
    assert sorted(result.stdout.splitlines()[2:]) == [f"{org}/{repo}", f"{org}/idx"]
    assert result.stdout == one_column("Repository", result.stdout.splitlines()[2:])

    document = json.loads(cli("user", "repositories", "--json", auth=auth).stdout)
    assert document == {"repositories": [f"{org}/{repo}"]}
    failed(cli("user", "repositories", auth=("-U", member, "-p", "wrong")), "Invalid user name or password")


# -- api-tokens ------------------------------------------------------------------------------------

def test_api_tokens_create_list_delete(cli, brood, member, failed):
    auth = ("-U", member, "-p", PASSWORD)

    # Create: a two-column table with the secret
    result = cli("api-tokens", "create", "laptop", auth=auth)
    assert result.exit_code == 0
    header, rule, row = result.stdout.splitlines()
    token = row.split()[1]
    assert re.fullmatch(r"[0-9a-f]{20,}", token)
    width = len(token)
    assert header == "New Token Name    New Token"
    assert rule == "-" * 16 + "  " + "-" * width
    assert row == "laptop".ljust(16) + "  " + token
    failed(cli("api-tokens", "create", "laptop", auth=auth), "You already have an API token named 'laptop'")

    # The token works, and is then shown as used
    created = json.loads(cli("api-tokens", "create", "ci", "--json", auth=auth).stdout)
    assert sorted(created) == ["name", "token"] and created["name"] == "ci"
    result = cli("api-tokens", "list", auth=("-t", token))
    assert result.exit_code == 0
    listed = {entry["name"]: entry for entry in brood.client(auth=(member, PASSWORD)).list_api_tokens()}
    assert listed["ci"]["last_used"] is None and listed["laptop"]["last_used"] is not None
    created_width = max(len("Created") + 2, *(len(entry["created"]) for entry in listed.values()))
    used_width = max(len("Last Used") + 2, len(listed["laptop"]["last_used"]))
    expected = [
        "Name    " + "Created".ljust(created_width) + "  Last Used",
        "------  " + "-" * created_width + "  " + "-" * used_width,
        "ci      " + listed["ci"]["created"],
        "laptop  " + listed["laptop"]["created"].ljust(created_width) + "  " + listed["laptop"]["last_used"],
    ]
    assert result.stdout == "\n".join(expected) + "\n"
    document = json.loads(cli("api-tokens", "list", "--json", auth=auth).stdout)
    plain = ("name", "created", "last_used")  # no scopes, no expiry: the keys hatcher 0.17 prints
    assert document == {"tokens": [{key: listed[name][key] for key in plain} for name in ("ci", "laptop")]}

    # Delete, after confirmation
    declined = cli("api-tokens", "delete", "ci", input="n\n", auth=auth)
    assert (declined.exit_code, declined.stdout) == (0, "API token 'ci' will be deleted. Proceed? [y/N]: n\n")
    assert (cli("api-tokens", "delete", "ci", "-y", auth=auth).exit_code) == 0
    assert json.loads(cli("api-tokens", "list", "--json", auth=auth).stdout)["tokens"] == [
        {key: listed["laptop"][key] for key in plain}]
    failed(cli("api-tokens", "delete", "ci", "-y", auth=auth), "No such API token: 'ci'")
    failed(cli("api-tokens", "list", auth=("-t", "not-a-token")), "Invalid token")


# -- platforms and python-tags ---------------------------------------------------------------------

def test_platforms_list(cli, brood):
    platforms = brood.client().list_platforms()
    assert "rh7-x86_64" in platforms

    result = cli("platforms", "list")

    assert (result.exit_code, result.stdout) == (0, one_column("Platforms", platforms))
    assert json.loads(cli("platforms", "list", "--json").stdout) == {"platforms": platforms}


@pytest.mark.parametrize("list_all", [False, True])
def test_python_tags_list_sorted_as_strings(cli, brood, list_all):
    tags = sorted(brood.client().list_python_tags(list_all=list_all))
    assert tags.index("cp311") < tags.index("cp38")
    assert ("py3" in tags) is list_all

    result = cli("python-tags", "list", *(["--all"] if list_all else []))

    assert (result.exit_code, result.stdout) == (0, one_column("Python Tag", tags))
    document = json.loads(cli("python-tags", "list", "--json", *(["--all"] if list_all else [])).stdout)
    assert document == {"python_tags": tags}


def test_python_tags_list_all_from_environment(cli_env, brood):
    result = cli_env("python-tags", "list", env={"HATCHER_PYTHON_TAGS_LIST_ALL": "1"})

    assert result.exit_code == 0
    assert result.stdout == one_column("Python Tag", sorted(brood.client().list_python_tags(list_all=True)))


# -- failures shared by every command --------------------------------------------------------------

COMMANDS = [
    ("organizations", "create", "{org}-new", "New"),
    ("organizations", "list"),
    ("repositories", "list", "{org}"),
    ("repositories", "create", "{org}", "new", "New"),
    ("repositories", "delete", "{org}", "dev", "-y"),
    ("users", "create", "{org}", "x@example.com"),
    ("users", "delete", "{org}", "x@example.com", "-y"),
    ("user", "repositories"),
    ("api-tokens", "create", "tok"),
    ("api-tokens", "list"),
    ("api-tokens", "delete", "tok", "-y"),
    ("platforms", "list"),
    ("python-tags", "list"),
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda command: " ".join(command[:2]))
def test_wrong_password_is_one_line(cli, brood, repository, command, failed):
    args = [arg.format(org=repository[0]) for arg in command]
    result = cli(*args, auth=("-U", brood.admin_auth[0], "-p", "wrong"))
    failed(result, "Invalid user name or password")
    assert brood.client().organization(repository[0]).list_repositories() == ["dev"]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda command: " ".join(command[:2]))
def test_server_down_is_one_line(cli, command, failed):
    result = cli(*[arg.format(org="acme") for arg in command], url=DOWN)
    failed(result, "Cannot connect to http://127.0.0.1:1: connection refused")


@pytest.mark.parametrize("command", COMMANDS, ids=lambda command: " ".join(command[:2]))
def test_missing_url_is_a_usage_error(command):
    result = CliRunner().invoke(hatcher, [*[arg.format(org="acme") for arg in command]], prog_name="hatcher")
    assert result.exit_code == 2
    assert "Missing option '-u' / '--url'" in result.stderr
    assert "Traceback" not in result.stderr


def test_debug_shows_the_traceback(cli):
    with pytest.raises(Exception, match="Connection refused|connection"):
        cli("--debug", "platforms", "list", url=DOWN)
