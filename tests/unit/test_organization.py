"""Organization: repositories, users and teams of one organization, on both API versions."""

from __future__ import annotations

import pytest
from model_http import ORG, api, sent
from unit_http import json_body

from hatcher.core.repository import Repository
from hatcher.core.team import Team
from hatcher.core.user import User


@pytest.fixture
def organization(client):
    """The organization ``enthought`` of a client of each API version."""
    return client.organization(ORG)


def admin_url(organization, suffix):
    """The absolute URL of ``/admin/organizations/enthought<suffix>`` on the organization's API version."""
    return api(organization._model_registry.api_version, f"/admin/organizations/{ORG}{suffix}")


def test_create_repository_posts_name_and_description(mocked, organization):
    # Given
    url = admin_url(organization, "/repositories")
    mocked.post(url)

    # When
    repository = organization.create_repository("dev", "Development builds")

    # Then
    assert sent(mocked) == [f"POST {url}"]
    assert json_body(mocked.calls[0]) == {"name": "dev", "description": "Development builds"}
    assert isinstance(repository, Repository)
    assert (repository.organization_name, repository.name) == (ORG, "dev")


def test_list_repositories_returns_the_server_order(mocked, organization):
    # Given
    url = admin_url(organization, "/repositories")
    mocked.get(url, json={"repositories": ["staging", "dev", "prod"]})

    # When / Then
    assert organization.list_repositories() == ["staging", "dev", "prod"]
    assert sent(mocked) == [f"GET {url}"]


def test_create_user_without_teams_posts_only_the_email(mocked, organization):
    # Given
    url = admin_url(organization, "/users")
    mocked.post(url, status=201)

    # When
    user = organization.create_user("jane@example.com")

    # Then
    assert sent(mocked) == [f"POST {url}"]
    assert json_body(mocked.calls[0]) == {"email": "jane@example.com"}
    assert isinstance(user, User)
    assert (user.organization_name, user.email) == (ORG, "jane@example.com")


def test_create_user_with_teams_posts_the_team_names(mocked, organization):
    # Given two team objects
    url = admin_url(organization, "/users")
    mocked.post(url, status=201)
    teams = [organization.team("devs"), organization.team("readers")]

    # When
    user = organization.create_user("raj@example.com", teams=teams)

    # Then only their names are sent
    assert json_body(mocked.calls[0]) == {"email": "raj@example.com", "teams": ["devs", "readers"]}
    assert user.email == "raj@example.com"


def test_create_user_with_an_empty_team_list_sends_an_empty_list(mocked, organization):
    # Given
    mocked.post(admin_url(organization, "/users"), status=201)

    # When
    organization.create_user("raj@example.com", teams=[])

    # Then
    assert json_body(mocked.calls[0]) == {"email": "raj@example.com", "teams": []}


def test_create_team_posts_group_and_name(mocked, organization):
    # Given
    url = admin_url(organization, "/teams")
    mocked.post(url, status=201)

    # When
    team = organization.create_team("read-dev", "read_repository")

    # Then
    assert sent(mocked) == [f"POST {url}"]
    assert json_body(mocked.calls[0]) == {"group": "read_repository", "name": "read-dev"}
    assert isinstance(team, Team)
    assert (team.organization_name, team.name) == (ORG, "read-dev")


def test_list_teams_returns_the_teams_array_as_sent(mocked, organization):
    # Given
    url = admin_url(organization, "/teams")
    teams = [{"name": "read-dev"}, {"name": "admins", "group": "organization_administrator"}]
    mocked.get(url, json={"teams": teams})

    # When / Then
    assert organization.list_teams() == teams
    assert sent(mocked) == [f"GET {url}"]


@pytest.mark.parametrize("method", ["list_users", "metadata", "delete"])
def test_unsupported_operations_raise_not_implemented_without_a_request(mocked, organization, method):
    # When / Then
    with pytest.raises(NotImplementedError, match="not implemented by the Brood server"):
        getattr(organization, method)()
    assert sent(mocked) == []


@pytest.mark.parametrize("navigate, cls, fields", [
    (lambda o: o.repository("dev"), Repository, {"organization_name": ORG, "name": "dev"}),
    (lambda o: o.user("jane@example.com"), User, {"organization_name": ORG, "email": "jane@example.com"}),
    (lambda o: o.team("devs"), Team, {"organization_name": ORG, "name": "devs"}),
], ids=["repository", "user", "team"])
def test_navigators_build_children_of_the_same_api_version(organization, navigate, cls, fields):
    # When
    child = navigate(organization)

    # Then
    assert isinstance(child, cls)
    assert {name: getattr(child, name) for name in fields} == fields
    assert child._model_registry.api_version == organization._model_registry.api_version
    assert child._url_handler is organization._url_handler
