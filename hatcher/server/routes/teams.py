"""Routes: teams of an organization (the historic v0 paths and their v1 mirror)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from sqlalchemy.orm import Session

from hatcher.server.audit import record_by, record_team
from hatcher.server.db import Repository, Team, User
from hatcher.server.deps import (
    add_routes,
    body_bytes,
    check_fields,
    check_name,
    commit_unique,
    get_db,
    get_principal,
    parse_json,
)
from hatcher.server.errors import ApiError
from hatcher.server.routes.admin import administered_organization, member_of, repository_of, team_of, unique_names
from hatcher.server.security import ROLES, Principal

router = APIRouter()


def _role(body: dict[str, Any]) -> str:
    if ("group" in body) == ("role" in body):
        raise ApiError(400, "Invalid request body: give exactly one of 'group' or 'role'")
    role = body.get("group", body.get("role"))
    if role not in ROLES:
        raise ApiError(400, f"Invalid role {str(role)[:80]!r}: expected one of {', '.join(ROLES)}")
    return role


def _team_document(team: Team) -> dict[str, Any]:
    return {
        "name": team.name,
        "group": team.role,
        "repositories": sorted(repository.name for repository in team.repositories),
        "members": sorted(user.email for user in team.members),
    }


def _team(db: Session, principal: Principal, organization_name: str, team_name: str) -> Team:
    return team_of(administered_organization(db, principal, organization_name), team_name)


def list_teams(organization_name: str, db: Session = Depends(get_db),
               principal: Principal = Depends(get_principal)) -> Any:
    """List an organization's teams (organization administrators).

    Returns
    -------
    dict
        ``{"teams": [{"name", "group"}, ...]}``, sorted by name.
    """
    organization = administered_organization(db, principal, organization_name)
    teams = sorted(organization.teams, key=lambda team: team.name)
    return {"teams": [{"name": team.name, "group": team.role} for team in teams]}


def create_team(organization_name: str, db: Session = Depends(get_db),
                principal: Principal = Depends(get_principal), raw: bytes = Depends(body_bytes)) -> Any:
    """Create a team from ``{"name", "group"}`` (``role`` accepted instead of ``group``).

    An optional unique ``"repositories"`` list of repository names grants the team access
    to them. 400 for a bad body, unknown role or unknown repository; 409 when it exists.

    Returns
    -------
    dict
        201 ``{"name", "group", "repositories", "members"}``.
    """
    organization = administered_organization(db, principal, organization_name)
    body = check_fields(parse_json(raw), {"name": str}, {"group": str, "role": str, "repositories": list})
    name = check_name(body["name"], "team name")
    role = _role(body)
    repositories = []
    for repository_name in unique_names(body.get("repositories", []), "repository name"):
        repository = next((r for r in organization.repositories if r.name == repository_name), None)
        if repository is None:
            raise ApiError(400, f"No such repository: '{organization.name}/{repository_name}'")
        repositories.append(repository)
    if any(team.name == name for team in organization.teams):
        raise ApiError(409, f"Team '{organization.name}/{name}' already exists")
    team = Team(name=name, role=role, repositories=repositories)
    organization.teams.append(team)
    record_by(db, principal, "team.create", f"{organization.name}/{name}", organization.name, role=role,
              repositories=[repository.name for repository in repositories])
    commit_unique(db, f"Team '{organization.name}/{name}' already exists")
    return _team_document(team)


def team_metadata(organization_name: str, team_name: str, db: Session = Depends(get_db),
                  principal: Principal = Depends(get_principal)) -> Any:
    """Describe a team.

    Returns
    -------
    dict
        ``{"name", "group", "repositories", "members"}`` (lists sorted).
    """
    return _team_document(_team(db, principal, organization_name, team_name))


def delete_team(organization_name: str, team_name: str, db: Session = Depends(get_db),
                principal: Principal = Depends(get_principal)) -> None:
    """Delete a team (its members stay in the organization); 204."""
    team = _team(db, principal, organization_name, team_name)
    record_team(db, principal, team, "team.delete")
    db.delete(team)
    db.commit()


add_routes(router, lambda urls: urls.admin.organizations.teams, list_teams, ["GET"])
add_routes(router, lambda urls: urls.admin.organizations.teams, create_team, ["POST"], 201)
add_routes(router, lambda urls: urls.admin.teams, team_metadata, ["GET"])
add_routes(router, lambda urls: urls.admin.teams, delete_team, ["DELETE"], 204)


def list_team_repositories(organization_name: str, team_name: str, db: Session = Depends(get_db),
                           principal: Principal = Depends(get_principal)) -> Any:
    """List the repositories a team grants access to.

    Returns
    -------
    dict
        ``{"repositories": [short name, ...]}``, sorted.
    """
    team = _team(db, principal, organization_name, team_name)
    return {"repositories": sorted(repository.name for repository in team.repositories)}


def add_team_repository(organization_name: str, team_name: str, repository_name: str,
                        db: Session = Depends(get_db), principal: Principal = Depends(get_principal)) -> None:
    """Grant a team access to a repository of its organization; 204 (also when already granted)."""
    team = _team(db, principal, organization_name, team_name)
    repository = repository_of(team.organization, repository_name)
    if repository not in team.repositories:
        team.repositories.append(repository)
        record_team(db, principal, team, change="repository_add", repository=repository.name)
        commit_unique(db, "The team changed concurrently; retry")


def _granted(team: Team, repository_name: str) -> Repository:
    for repository in team.repositories:
        if repository.name == repository_name:
            return repository
    raise ApiError(404, f"Team '{team.name}' has no access to '{team.organization.name}/{repository_name}'")


def query_team_repository(organization_name: str, team_name: str, repository_name: str,
                          db: Session = Depends(get_db), principal: Principal = Depends(get_principal)) -> None:
    """Answer 204 when the team grants access to the repository, 404 when it does not."""
    _granted(_team(db, principal, organization_name, team_name), repository_name)


def remove_team_repository(organization_name: str, team_name: str, repository_name: str,
                           db: Session = Depends(get_db), principal: Principal = Depends(get_principal)) -> None:
    """Revoke a team's access to a repository; 204, or 404 when it had none."""
    team = _team(db, principal, organization_name, team_name)
    team.repositories.remove(_granted(team, repository_name))
    record_team(db, principal, team, change="repository_remove", repository=repository_name)
    db.commit()


add_routes(router, lambda urls: urls.admin.teams.repositories, list_team_repositories, ["GET"])
add_routes(router, lambda urls: urls.admin.teams.repositories.query, add_team_repository, ["PUT"], 204)
add_routes(router, lambda urls: urls.admin.teams.repositories.query, query_team_repository, ["GET"], 204)
add_routes(router, lambda urls: urls.admin.teams.repositories.query, remove_team_repository, ["DELETE"], 204)


def list_team_members(organization_name: str, team_name: str, db: Session = Depends(get_db),
                      principal: Principal = Depends(get_principal)) -> Any:
    """List a team's members.

    Returns
    -------
    dict
        ``{"members": [email, ...]}``, sorted.
    """
    team = _team(db, principal, organization_name, team_name)
    return {"members": sorted(user.email for user in team.members)}


def add_team_member(organization_name: str, team_name: str, email: str, db: Session = Depends(get_db),
                    principal: Principal = Depends(get_principal)) -> None:
    """Add a member of the organization to a team; 204 (also when already in it), 404 for non-members."""
    team = _team(db, principal, organization_name, team_name)
    user = member_of(team.organization, email)
    if user not in team.members:
        team.members.append(user)
        record_team(db, principal, team, change="member_add", member=email)
        commit_unique(db, "The team changed concurrently; retry")


def _member(team: Team, email: str) -> User:
    for user in team.members:
        if user.email == email:
            return user
    raise ApiError(404, f"'{email}' is not a member of team '{team.organization.name}/{team.name}'")


def query_team_member(organization_name: str, team_name: str, email: str, db: Session = Depends(get_db),
                      principal: Principal = Depends(get_principal)) -> None:
    """Answer 204 when the user is a member of the team, 404 when not."""
    _member(_team(db, principal, organization_name, team_name), email)


def remove_team_member(organization_name: str, team_name: str, email: str, db: Session = Depends(get_db),
                       principal: Principal = Depends(get_principal)) -> None:
    """Remove a member from a team (not from the organization); 204, or 404 when not a member."""
    team = _team(db, principal, organization_name, team_name)
    team.members.remove(_member(team, email))
    record_team(db, principal, team, change="member_remove", member=email)
    db.commit()


add_routes(router, lambda urls: urls.admin.teams.members, list_team_members, ["GET"])
add_routes(router, lambda urls: urls.admin.teams.members.query, add_team_member, ["PUT"], 204)
add_routes(router, lambda urls: urls.admin.teams.members.query, query_team_member, ["GET"], 204)
add_routes(router, lambda urls: urls.admin.teams.members.query, remove_team_member, ["DELETE"], 204)
