"""User and Team: the admin calls on one user and on one team, on both API versions."""

from __future__ import annotations

import pytest
import requests
from model_http import ORG, api, sent

TEAM_PATH = f"/admin/teams/{ORG}/devs"


@pytest.fixture
def user(client):
    """The user jane@example.com of ``enthought``."""
    return client.organization(ORG).user("jane@example.com")


@pytest.fixture
def team(client):
    """The team ``devs`` of ``enthought``."""
    return client.organization(ORG).team("devs")


@pytest.fixture
def repository(client):
    """The repository ``enthought/dev`` (only its name is used by the team calls)."""
    return client.organization(ORG).repository("dev")


def team_url(team, suffix=""):
    """The absolute URL of the team's admin path plus ``suffix``."""
    return api(team._model_registry.api_version, TEAM_PATH + suffix)


# -- User ------------------------------------------------------------------------------


def test_user_metadata_returns_the_user_record(mocked, user):
    # Given
    url = api(user._model_registry.api_version, f"/admin/users/{ORG}/jane@example.com")
    record = {"email": "jane@example.com", "organization": ORG, "teams": ["devs"]}
    mocked.get(url, json=record)

    # When / Then
    assert user.metadata() == record
    assert sent(mocked) == [f"GET {url}"]


def test_user_delete_sends_delete_with_force_false(mocked, user):
    # Given
    url = api(user._model_registry.api_version, f"/admin/users/{ORG}/jane@example.com")
    mocked.delete(url, status=204)

    # When / Then
    assert user.delete() is None
    assert sent(mocked) == [f"DELETE {url}?force=False"]


# -- Team: reads -----------------------------------------------------------------------


@pytest.mark.parametrize("method, suffix, body, expected", [
    ("metadata", "", {"name": "devs", "group": "read_repository"}, {"name": "devs", "group": "read_repository"}),
    ("list_repositories", "/repositories", {"repositories": ["prod", "dev"]}, ["prod", "dev"]),
    ("list_users", "/members", {"members": ["raj@example.com", "jane@example.com"]},
     ["raj@example.com", "jane@example.com"]),
])
def test_team_reads_return_the_response_member(mocked, team, method, suffix, body, expected):
    # Given
    url = team_url(team, suffix)
    mocked.get(url, json=body)

    # When / Then
    assert getattr(team, method)() == expected
    assert sent(mocked) == [f"GET {url}"]


def test_team_delete_sends_delete_with_force_false(mocked, team):
    # Given
    url = team_url(team)
    mocked.delete(url, status=204)

    # When / Then
    assert team.delete() is None
    assert sent(mocked) == [f"DELETE {url}?force=False"]


# -- Team: membership of repositories and users ----------------------------------------

#: (team method stem, path below the team, how to get the argument from the fixtures)
MEMBERSHIPS = [
    ("repository", "/repositories/dev", lambda repository, user: repository),
    ("user", "/members/jane@example.com", lambda repository, user: user),
]
MEMBERSHIP_IDS = ["repository", "user"]


@pytest.mark.parametrize("stem, suffix, argument", MEMBERSHIPS, ids=MEMBERSHIP_IDS)
def test_team_add_sends_put_without_a_body(mocked, team, repository, user, stem, suffix, argument):
    # Given
    url = team_url(team, suffix)
    mocked.put(url, status=204)

    # When
    result = getattr(team, f"add_{stem}")(argument(repository, user))

    # Then
    assert result is None
    assert sent(mocked) == [f"PUT {url}"]
    request = mocked.calls[0].request
    assert request.body is None
    assert "Content-Type" not in request.headers


@pytest.mark.parametrize("stem, suffix, argument", MEMBERSHIPS, ids=MEMBERSHIP_IDS)
def test_team_remove_sends_delete_with_force_false(mocked, team, repository, user, stem, suffix, argument):
    # Given
    url = team_url(team, suffix)
    mocked.delete(url, status=204)

    # When
    result = getattr(team, f"remove_{stem}")(argument(repository, user))

    # Then
    assert result is None
    assert sent(mocked) == [f"DELETE {url}?force=False"]


@pytest.mark.parametrize("status, expected", [(200, True), (204, True), (404, False)])
@pytest.mark.parametrize("stem, suffix, argument", MEMBERSHIPS, ids=MEMBERSHIP_IDS)
def test_team_query_is_true_on_success_and_false_on_404(mocked, team, repository, user, stem, suffix, argument,
                                                        status, expected):
    # Given
    url = team_url(team, suffix)
    mocked.get(url, status=status)

    # When
    answer = getattr(team, f"query_{stem}_access")(argument(repository, user))

    # Then
    assert answer is expected
    assert sent(mocked) == [f"GET {url}"]


@pytest.mark.parametrize("status", [403, 500])
@pytest.mark.parametrize("stem, suffix, argument", MEMBERSHIPS, ids=MEMBERSHIP_IDS)
def test_team_query_reraises_other_http_errors(mocked, team, repository, user, stem, suffix, argument, status):
    # Given
    mocked.get(team_url(team, suffix), status=status, json={"error": "nope"})

    # When / Then
    with pytest.raises(requests.HTTPError) as info:
        getattr(team, f"query_{stem}_access")(argument(repository, user))
    assert info.value.response.status_code == status


def test_team_membership_calls_use_only_the_name_or_email_attribute(mocked, team):
    # Given plain objects that only carry a name / an email
    class Named:
        name = "prod"

    class Emailed:
        email = "raj@example.com"

    repo_url = team_url(team, "/repositories/prod")
    member_url = team_url(team, "/members/raj@example.com")
    mocked.put(repo_url, status=204)
    mocked.put(member_url, status=204)

    # When
    team.add_repository(Named())
    team.add_user(Emailed())

    # Then
    assert sent(mocked) == [f"PUT {repo_url}", f"PUT {member_url}"]
