"""Routes: administration of organizations, repositories and users (API v0 and v1)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from sqlalchemy import select
from sqlalchemy.orm import Session

from hatcher.server.artefact_service import delete_repository as delete_repository_artefacts
from hatcher.server.audit import record_by
from hatcher.server.db import Organization, Repository, Team, User
from hatcher.server.deps import (
    add_routes,
    body_bytes,
    check_fields,
    check_name,
    commit_unique,
    get_db,
    get_principal,
    parse_json,
    query_flag,
)
from hatcher.server.errors import ApiError
from hatcher.server.routes.artefacts import uploader
from hatcher.server.security import ORGANIZATION_ADMINISTRATOR, Principal, organization_role, repository_role

router = APIRouter()


# -- helpers shared with the teams routes ---------------------------------------------------------

def current_user(db: Session, principal: Principal) -> User:
    """The database row of the authenticated principal."""
    return db.get(User, principal.user_id)


def visible_organization(db: Session, principal: Principal, name: str) -> Organization:
    """The organization ``name`` if the principal may know it exists (member, team or superuser).

    Raises
    ------
    ApiError
        404, with the same message whether it is missing or merely invisible.
    """
    organization = db.scalar(select(Organization).where(Organization.name == name))
    if organization is not None and (
        principal.is_superuser
        or organization in current_user(db, principal).organizations
        or organization_role(db, principal, organization.id) is not None
    ):
        return organization
    raise ApiError(404, f"No such organization: '{name}'")


def administered_organization(db: Session, principal: Principal, name: str) -> Organization:
    """The organization ``name`` if the principal administers it: 404 when invisible, 403 for plain members."""
    organization = visible_organization(db, principal, name)
    if organization_role(db, principal, organization.id) != ORGANIZATION_ADMINISTRATOR:
        raise ApiError(403, f"Organization administrator rights on '{name}' are required")
    return organization


def repository_of(organization: Organization, name: str) -> Repository:
    """The repository ``name`` of ``organization``, or 404."""
    for repository in organization.repositories:
        if repository.name == name:
            return repository
    raise ApiError(404, f"No such repository: '{organization.name}/{name}'")


def member_of(organization: Organization, email: str) -> User:
    """The user ``email`` if it is a member of ``organization``, or 404."""
    for user in organization.users:
        if user.email == email:
            return user
    raise ApiError(404, f"No such user in organization '{organization.name}': '{email}'")


def team_of(organization: Organization, name: str) -> Team:
    """The team ``name`` of ``organization``, or 404."""
    for team in organization.teams:
        if team.name == name:
            return team
    raise ApiError(404, f"No such team: '{organization.name}/{name}'")


def unique_names(values: list[Any], what: str) -> list[str]:
    """Check a JSON list of unique name strings; 400 otherwise."""
    names = [check_name(value, what) for value in values]
    if len(set(names)) != len(names):
        raise ApiError(400, f"Invalid {what} list: names must be unique")
    return names


def check_email(value: Any) -> str:
    """A user e-mail: a valid name with an ``@`` between two non-empty parts; 400 otherwise."""
    email = check_name(value, "email")
    local, _, domain = email.rpartition("@")
    if not local or not domain or any(c.isspace() for c in email):
        raise ApiError(400, f"Invalid email: {email[:80]!r}")
    return email


def _user_document(user: User, organization: Organization) -> dict[str, Any]:
    teams = sorted(team.name for team in user.teams if team.organization_id == organization.id)
    return {"email": user.email, "organization": organization.name, "teams": teams}


# -- organizations --------------------------------------------------------------------------------

def list_organizations(db: Session = Depends(get_db), principal: Principal = Depends(get_principal)) -> Any:
    """List the organizations the caller can see.

    Returns
    -------
    dict
        ``{"organizations": [name, ...]}``: every organization for a superuser, otherwise
        those the caller is a member of; sorted.
    """
    if principal.is_superuser:
        organizations = db.scalars(select(Organization)).all()
    else:
        organizations = current_user(db, principal).organizations
    return {"organizations": sorted(organization.name for organization in organizations)}


def create_organization(db: Session = Depends(get_db), principal: Principal = Depends(get_principal),
                        raw: bytes = Depends(body_bytes)) -> Any:
    """Create an organization from ``{"name", "description"}`` (superusers only).

    Returns
    -------
    dict
        201 ``{"name", "description"}``; 400 for a bad body or name, 403 for other users,
        409 when the name is taken.
    """
    if not principal.is_superuser:
        raise ApiError(403, "Only superusers can create organizations")
    body = check_fields(parse_json(raw), {"name": str, "description": str})
    name = check_name(body["name"], "organization name")
    if db.scalar(select(Organization).where(Organization.name == name)) is not None:
        raise ApiError(409, f"Organization '{name}' already exists")
    db.add(Organization(name=name, description=body["description"]))
    record_by(db, principal, "organization.create", name, name)
    commit_unique(db, f"Organization '{name}' already exists")
    return {"name": name, "description": body["description"]}


add_routes(router, lambda urls: urls.admin.organizations, list_organizations, ["GET"])
add_routes(router, lambda urls: urls.admin.organizations, create_organization, ["POST"], 201)


# -- repositories ---------------------------------------------------------------------------------

def list_repositories(organization_name: str, db: Session = Depends(get_db),
                      principal: Principal = Depends(get_principal)) -> Any:
    """List the short names of an organization's repositories.

    Administrators see every repository; other members see those their teams grant any
    role on. 404 when the organization is missing or invisible to the caller.

    Returns
    -------
    dict
        ``{"repositories": [name, ...]}``, sorted.
    """
    organization = visible_organization(db, principal, organization_name)
    names = [repository.name for repository in organization.repositories
             if repository_role(db, principal, repository) is not None]
    return {"repositories": sorted(names)}


def create_repository(organization_name: str, db: Session = Depends(get_db),
                      principal: Principal = Depends(get_principal), raw: bytes = Depends(body_bytes)) -> Any:
    """Create a repository from ``{"name", "description"}`` (organization administrators).

    Returns
    -------
    dict
        201 ``{"name", "description"}``; 409 when it exists.
    """
    organization = administered_organization(db, principal, organization_name)
    body = check_fields(parse_json(raw), {"name": str, "description": str})
    name = check_name(body["name"], "repository name")
    if any(repository.name == name for repository in organization.repositories):
        raise ApiError(409, f"Repository '{organization.name}/{name}' already exists")
    organization.repositories.append(Repository(name=name, description=body["description"]))
    record_by(db, principal, "repository.create", f"{organization.name}/{name}", organization.name)
    commit_unique(db, f"Repository '{organization.name}/{name}' already exists")
    return {"name": name, "description": body["description"]}


def delete_repository(organization_name: str, repository_name: str, request: Request,
                      db: Session = Depends(get_db), principal: Principal = Depends(get_principal)) -> None:
    """Delete a repository (organization administrators); 204.

    Without ``force=True`` a repository that holds artefacts is refused with 409. With it,
    its artefacts go too, and every blob no other artefact refers to is collected (at once,
    or after the grace period of :mod:`hatcher.server.gc`).
    """
    organization = administered_organization(db, principal, organization_name)
    repository = repository_of(organization, repository_name)
    force = query_flag(request, "force")
    db.rollback()  # the deletion runs in a transaction of its own
    delete_repository_artefacts(request.app.state.services, repository.id, force, repository.full_name,
                                uploader(principal, repository))


add_routes(router, lambda urls: urls.admin.organizations.repositories, list_repositories, ["GET"])
add_routes(router, lambda urls: urls.admin.organizations.repositories, create_repository, ["POST"], 201)
add_routes(router, lambda urls: urls.admin.repositories, delete_repository, ["DELETE"], 204)


# -- users ----------------------------------------------------------------------------------------

def create_user(organization_name: str, db: Session = Depends(get_db),
                principal: Principal = Depends(get_principal), raw: bytes = Depends(body_bytes)) -> Any:
    """Add a user to an organization from ``{"email"}`` and optional unique ``"teams"`` names.

    The user record is created (without a password) unless the e-mail already exists on
    the server. 400 for a bad body, 404 for an unknown organization or team (as for every
    missing resource), 409 when already a member.

    Returns
    -------
    dict
        201 ``{"email", "organization", "teams"}``.
    """
    organization = administered_organization(db, principal, organization_name)
    body = check_fields(parse_json(raw), {"email": str}, {"teams": list})
    email = check_email(body["email"])
    teams = []
    for team_name in unique_names(body.get("teams", []), "team name"):
        teams.append(team_of(organization, team_name))
    return _user_document(add_member(db, principal, organization, email, teams), organization)


def add_member(db: Session, principal: Principal, organization: Organization, email: str,
               teams: list[Team]) -> User:
    """Add ``email`` (created, without a password, when new) to ``organization`` and ``teams``; audited, committed.

    Raises
    ------
    ApiError
        409 when the user is already a member.
    """
    user = db.scalar(select(User).where(User.email == email))
    if user is None:
        user = User(email=email)
        db.add(user)
    elif organization in user.organizations:
        raise ApiError(409, f"User '{email}' is already a member of '{organization.name}'")
    user.organizations.append(organization)
    for team in teams:
        team.members.append(user)
    record_by(db, principal, "user.create", f"{organization.name}/{email}", organization.name,
              teams=[team.name for team in teams])
    commit_unique(db, f"User '{email}' was added concurrently")
    return user


def user_metadata(organization_name: str, email: str, db: Session = Depends(get_db),
                  principal: Principal = Depends(get_principal)) -> Any:
    """Describe a member of an organization (organization administrators).

    Returns
    -------
    dict
        ``{"email", "organization", "teams"}`` (team names sorted); 404 when not a member.
    """
    organization = administered_organization(db, principal, organization_name)
    return _user_document(member_of(organization, email), organization)


def delete_user(organization_name: str, email: str, db: Session = Depends(get_db),
                principal: Principal = Depends(get_principal)) -> None:
    """Remove a user from an organization and from its teams; 204 (``force`` is ignored).

    The user record itself (password, API tokens) is kept: it may belong to other
    organizations.
    """
    remove_member(db, principal, administered_organization(db, principal, organization_name), email)


def remove_member(db: Session, principal: Principal, organization: Organization, email: str) -> None:
    """Remove the member ``email`` from ``organization`` and its teams, audited and committed; 404 for a non-member."""
    user = member_of(organization, email)
    for team in organization.teams:
        if user in team.members:
            team.members.remove(user)
    user.organizations.remove(organization)
    record_by(db, principal, "user.delete", f"{organization.name}/{email}", organization.name)
    db.commit()


add_routes(router, lambda urls: urls.admin.organizations.users, create_user, ["POST"], 201)
add_routes(router, lambda urls: urls.admin.users.metadata, user_metadata, ["GET"])
add_routes(router, lambda urls: urls.admin.users.metadata, delete_user, ["DELETE"], 204)
