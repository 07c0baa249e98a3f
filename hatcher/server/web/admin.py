"""Pages: administration of organizations (superusers), and of an organization's repositories, users and teams.

Each change checks and audits exactly as the API's administration routes do (the helpers of
:mod:`hatcher.server.routes.admin` and :mod:`hatcher.server.routes.teams`); form errors are
shown next to their fields, and every removal goes through a confirmation page naming it.
"""

from __future__ import annotations

from typing import Any, Callable, Optional

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from hatcher.server import ingest
from hatcher.server.artefact_service import delete_repository as delete_repository_artefacts
from hatcher.server.audit import record_by, record_team
from hatcher.server.db import Artefact, Organization, Repository, Team
from hatcher.server.deps import check_name, commit_unique, get_db
from hatcher.server.errors import ApiError
from hatcher.server.routes.admin import (
    add_member,
    administered_organization,
    check_email,
    current_user,
    member_of,
    remove_member,
    repository_of,
    team_of,
)
from hatcher.server.routes.artefacts import uploader
from hatcher.server.security import ORGANIZATION_ADMINISTRATOR, ROLES, Principal, organization_role
from hatcher.server.web import urls
from hatcher.server.web.render import render
from hatcher.server.web.session import form_user, page_user
from hatcher.server.web.tokens import see_other

router = APIRouter(include_in_schema=False)

#: The roles a team grants, with their labels.
ROLE_LABELS = {"read_index": "Read the index", "read_repository": "Read (download)",
               "upload_repository": "Upload and delete", "organization_administrator": "Administer the organization"}


def _organizations(db: Session, principal: Principal) -> list[Organization]:
    """The organizations the principal administers (every one for a superuser), by name."""
    if principal.is_superuser:
        found = list(db.scalars(select(Organization)))
    else:
        found = [organization for organization in current_user(db, principal).organizations
                 if organization_role(db, principal, organization.id) == ORGANIZATION_ADMINISTRATOR]
    return sorted(found, key=lambda organization: organization.name)


def _admin_page(request: Request, db: Session, principal: Principal, status_code: int = 200,
                errors: Optional[dict[str, str]] = None, values: Optional[dict[str, str]] = None) -> Response:
    return render(request, "admin_home.html", status_code, title="Administration",
                  crumbs=[("Home", urls.HOME), ("Administration", None)],
                  organizations=_organizations(db, principal), errors=errors or {},
                  values=values or {"name": "", "description": ""})


def admin_home(request: Request, principal: Principal = Depends(page_user), db: Session = Depends(get_db)) -> Response:
    """The organizations the user administers; superusers also create organizations here."""
    return _admin_page(request, db, principal)


async def create_organization(request: Request, principal: Principal = Depends(form_user),
                              db: Session = Depends(get_db)) -> Response:
    """Create an organization (superusers), then on to its page."""
    if not principal.is_superuser:
        raise ApiError(403, "Only superusers can create organizations")
    form = await request.form()
    values = {key: str(form.get(key, "")).strip() for key in ("name", "description")}
    errors: dict[str, str] = {}
    try:
        name = check_name(values["name"], "organization name")
        if db.scalar(select(Organization).where(Organization.name == name)) is not None:
            errors["name"] = f"Organization '{name}' already exists."
    except ApiError as error:
        errors["name"] = error.message
    if errors:
        return _admin_page(request, db, principal, 400, errors, values)
    db.add(Organization(name=name, description=values["description"]))
    record_by(db, principal, "organization.create", name, name)
    commit_unique(db, f"Organization '{name}' already exists")
    return see_other(urls.path(urls.ADMIN_ORGANIZATION, organization=name))


# -- an organization ------------------------------------------------------------------------------

_EMPTY = {"repository_name": "", "repository_description": "", "user_email": "", "user_teams": [],
          "team_name": "", "team_role": "read_repository", "team_repositories": []}


def _organization_page(request: Request, db: Session, organization: Organization, status_code: int = 200,
                       errors: Optional[dict[str, str]] = None, values: Optional[dict[str, Any]] = None,
                       message: Optional[str] = None) -> Response:
    counts: dict[int, int] = {}
    platforms: dict[int, list[str]] = {}
    for repository_id, platform, count in db.execute(
            select(Artefact.repository_id, Artefact.platform, func.count()).join(Repository)
            .where(Repository.organization_id == organization.id)
            .group_by(Artefact.repository_id, Artefact.platform).order_by(Artefact.platform)):
        counts[repository_id] = counts.get(repository_id, 0) + count
        platforms.setdefault(repository_id, []).append(platform)
    users = sorted(organization.users, key=lambda user: user.email)
    teams_of = {user.email: sorted(team.name for team in user.teams if team.organization_id == organization.id)
                for user in users}
    return render(request, "admin_organization.html", status_code, title=f"Administer {organization.name}",
                  crumbs=[("Home", urls.HOME), ("Administration", urls.ADMIN), (organization.name, None)],
                  organization=organization, repositories=sorted(organization.repositories, key=lambda r: r.name),
                  counts=counts, platforms=platforms, users=users, teams_of=teams_of,
                  teams=sorted(organization.teams, key=lambda team: team.name), roles=ROLE_LABELS,
                  errors=errors or {}, values={**_EMPTY, **(values or {})}, message=message)


#: The status messages after a change (``?done=ACTION&subject=NAME``): fixed sentences around a name.
DONE = {"create-repository": "Created the repository {}.", "add-user": "Added {}.",
        "create-team": "Created the team {}.",
        "delete-repository": "Deleted the repository {}.", "remove-user": "Removed {}.",
        "delete-team": "Deleted the team {}.", "add-repository": "Granted access to {}.", "add-member": "Added {}.",
        "remove-repository": "Revoked access to {}.", "remove-member": "Removed {} from the team."}


def done_message(done: Optional[str], subject: Optional[str]) -> Optional[str]:
    """The status message of the change ``done`` on ``subject`` (None for no or an unknown change)."""
    if done not in DONE:
        return None
    return DONE[done].format((subject or "")[:200])


def organization_page(request: Request, organization: str, done: Optional[str] = None, subject: Optional[str] = None,
                      principal: Principal = Depends(page_user), db: Session = Depends(get_db)) -> Response:
    """An organization's repositories, users and teams, with the forms changing them."""
    return _organization_page(request, db, administered_organization(db, principal, organization),
                              message=done_message(done, subject))


def _back(organization: str, action: str, subject: str) -> Response:
    return see_other(urls.path(urls.ADMIN_ORGANIZATION, {"done": action, "subject": subject},
                               organization=organization))


def _create_repository(db: Session, principal: Principal, organization: Organization, form: Any,
                       errors: dict[str, str]) -> Optional[str]:
    name = str(form.get("repository_name", "")).strip()
    try:
        check_name(name, "repository name")
        if any(repository.name == name for repository in organization.repositories):
            errors["repository_name"] = f"Repository '{organization.name}/{name}' already exists."
    except ApiError as error:
        errors["repository_name"] = error.message
    if errors:
        return None
    organization.repositories.append(Repository(name=name, description=str(form.get("repository_description", ""))))
    record_by(db, principal, "repository.create", f"{organization.name}/{name}", organization.name)
    commit_unique(db, f"Repository '{organization.name}/{name}' already exists")
    return name


def _teams_named(organization: Organization, names: list[str]) -> list[Team]:
    teams = []
    for name in dict.fromkeys(names):
        teams.append(team_of(organization, name))
    return teams


def _add_user(db: Session, principal: Principal, organization: Organization, form: Any,
              errors: dict[str, str]) -> Optional[str]:
    try:
        email = check_email(str(form.get("user_email", "")).strip())
    except ApiError as error:
        errors["user_email"] = error.message
        return None
    try:
        teams = _teams_named(organization, [str(name) for name in form.getlist("user_teams")])
    except ApiError as error:
        errors["user_teams"] = error.message
        return None
    try:
        add_member(db, principal, organization, email, teams)
    except ApiError as error:
        errors["user_email"] = error.message
        return None
    return email


def _create_team(db: Session, principal: Principal, organization: Organization, form: Any,
                 errors: dict[str, str]) -> Optional[str]:
    name = str(form.get("team_name", "")).strip()
    role = str(form.get("team_role", ""))
    try:
        check_name(name, "team name")
        if any(team.name == name for team in organization.teams):
            errors["team_name"] = f"Team '{organization.name}/{name}' already exists."
    except ApiError as error:
        errors["team_name"] = error.message
    if role not in ROLES:
        errors["team_role"] = "Choose one of the roles."
    try:
        repositories = [repository_of(organization, str(value))
                        for value in dict.fromkeys(form.getlist("team_repositories"))]
    except ApiError as error:
        errors["team_repositories"] = error.message
    if errors:
        return None
    organization.teams.append(Team(name=name, role=role, repositories=repositories))
    record_by(db, principal, "team.create", f"{organization.name}/{name}", organization.name, role=role,
              repositories=[repository.name for repository in repositories])
    commit_unique(db, f"Team '{organization.name}/{name}' already exists")
    return name


_CREATE: dict[str, Callable[..., Optional[str]]] = {
    "create-repository": _create_repository, "add-user": _add_user, "create-team": _create_team}


def _removal(db: Session, organization: Organization, action: str, subject: str) -> tuple[str, list[str], str]:
    """What a removal deletes: (heading, items, explanation); 404 when the subject is not there."""
    if action == "delete-repository":
        repository = repository_of(organization, subject)
        count = db.scalar(select(func.count()).select_from(Artefact)
                          .where(Artefact.repository_id == repository.id)) or 0
        return (f"Delete the repository {repository.full_name}?",
                [f"Repository {repository.full_name}", f"Its {count} artefact{'s' if count != 1 else ''}"],
                "The repository, its index and every file in it are deleted. This cannot be undone.")
    if action == "remove-user":
        user = member_of(organization, subject)
        return (f"Remove {user.email} from {organization.name}?", [f"User {user.email} (from {organization.name} "
                "and its teams)"], "They lose every role in this organization; their account stays.")
    if action == "delete-team":
        team = team_of(organization, subject)
        return (f"Delete the team {team.name}?", [f"Team {organization.name}/{team.name} ({team.role})"],
                "Its members stay in the organization but lose the roles it granted.")
    raise ApiError(404, f"No such action: '{action}'")


def organization_action_page(request: Request, organization: str, action: str, subject: str = "",
                             platform: str = "", principal: Principal = Depends(page_user),
                             db: Session = Depends(get_db)) -> Response:
    """The confirmation page of removing a repository, a user or a team (``?subject=NAME``).

    ``go-upload`` (``?subject=REPOSITORY&platform=PLATFORM``) redirects to the upload page
    of that repository platform.
    """
    found = administered_organization(db, principal, organization)
    if action == "go-upload":
        repository = repository_of(found, subject)
        return see_other(urls.path(urls.UPLOAD, organization=organization, repository=repository.name,
                                   platform=ingest.canonical_platform(platform.strip() or "-")))
    heading, items, explanation = _removal(db, found, action, subject)
    verb = {"delete-repository": "Delete repository", "remove-user": "Remove user", "delete-team": "Delete team"}
    back = urls.path(urls.ADMIN_ORGANIZATION, organization=organization)
    return render(request, "confirm.html", title=f"{verb[action]} {subject} of {organization}",
                  crumbs=[("Home", urls.HOME), ("Administration", urls.ADMIN), (organization, back),
                          (verb[action], None)],
                  heading=heading, explanation=explanation, items=items, items_label="This will go",
                  action=urls.path(urls.ADMIN_ACTION, organization=organization, action=action),
                  hidden=[("subject", subject)], button=verb[action], cancel=back)


async def organization_action(request: Request, organization: str, action: str,
                              principal: Principal = Depends(form_user), db: Session = Depends(get_db)) -> Response:
    """Create a repository, add a user, create a team, or carry out a confirmed removal."""
    found = administered_organization(db, principal, organization)
    form = await request.form()
    if action in _CREATE:
        errors: dict[str, str] = {}
        created = _CREATE[action](db, principal, found, form, errors)
        if created is None:
            db.rollback()
            values = {key: str(form.get(key, "")) for key in _EMPTY if not key.endswith(("_teams", "_repositories"))}
            values.update(user_teams=form.getlist("user_teams"), team_repositories=form.getlist("team_repositories"))
            return _organization_page(request, db, administered_organization(db, principal, organization), 400,
                                      errors, values)
        return _back(organization, action, created)
    subject = str(form.get("subject", ""))
    _removal(db, found, action, subject)  # 404 for an unknown action or subject
    if action == "delete-repository":
        repository = repository_of(found, subject)
        repository_id, full_name, who = repository.id, repository.full_name, uploader(principal, repository)
        db.rollback()
        await run_in_threadpool(delete_repository_artefacts, request.app.state.services, repository_id, True,
                                full_name, who)
        return _back(organization, action, subject)
    if action == "remove-user":
        remove_member(db, principal, found, subject)
        return _back(organization, action, subject)
    team = team_of(found, subject)
    record_team(db, principal, team, "team.delete")
    db.delete(team)
    db.commit()
    return _back(organization, action, subject)


# -- a team -----------------------------------------------------------------------------------------

def _team_page(request: Request, db: Session, team: Team, status_code: int = 200,
               errors: Optional[dict[str, str]] = None, message: Optional[str] = None) -> Response:
    organization = team.organization
    granted = sorted(team.repositories, key=lambda repository: repository.name)
    members = sorted(team.members, key=lambda user: user.email)
    return render(request, "admin_team.html", status_code, title=f"Team {team.name} of {organization.name}",
                  crumbs=[("Home", urls.HOME), ("Administration", urls.ADMIN),
                          (organization.name, urls.path(urls.ADMIN_ORGANIZATION, organization=organization.name)),
                          (f"Team {team.name}", None)],
                  organization=organization, team=team, roles=ROLE_LABELS, granted=granted, members=members,
                  other_repositories=sorted(r.name for r in organization.repositories if r not in granted),
                  other_users=sorted(u.email for u in organization.users if u not in members),
                  errors=errors or {}, message=message)


def team_page(request: Request, organization: str, team: str, done: Optional[str] = None,
              subject: Optional[str] = None, principal: Principal = Depends(page_user),
              db: Session = Depends(get_db)) -> Response:
    """A team: its role, the repositories it grants it on, its members, and the forms changing them."""
    found = team_of(administered_organization(db, principal, organization), team)
    return _team_page(request, db, found, message=done_message(done, subject))


def _team_removal(team: Team, action: str, subject: str) -> tuple[str, str]:
    """(heading, item) of removing a repository or a member from a team; 404 when it is not there."""
    full = f"{team.organization.name}/{team.name}"
    if action == "remove-repository":
        if not any(repository.name == subject for repository in team.repositories):
            raise ApiError(404, f"Team '{team.name}' has no access to '{team.organization.name}/{subject}'")
        return (f"Revoke team {team.name}'s access to {subject}?",
                f"The {team.role} role of team {full} on {team.organization.name}/{subject}")
    if action == "remove-member":
        if not any(user.email == subject for user in team.members):
            raise ApiError(404, f"'{subject}' is not a member of team '{full}'")
        return f"Remove {subject} from team {team.name}?", f"{subject}'s membership of team {full}"
    raise ApiError(404, f"No such action: '{action}'")


def team_action_page(request: Request, organization: str, team: str, action: str, subject: str = "",
                     principal: Principal = Depends(page_user), db: Session = Depends(get_db)) -> Response:
    """The confirmation page of removing a repository or a member from a team (``?subject=NAME``)."""
    found = team_of(administered_organization(db, principal, organization), team)
    heading, item = _team_removal(found, action, subject)
    back = urls.path(urls.ADMIN_TEAM, organization=organization, team=team)
    verb = "Revoke access" if action == "remove-repository" else "Remove member"
    return render(request, "confirm.html", title=f"{verb} {subject}: team {team} of {organization}",
                  crumbs=[("Home", urls.HOME), ("Administration", urls.ADMIN),
                          (organization, urls.path(urls.ADMIN_ORGANIZATION, organization=organization)),
                          (f"Team {team}", back), (verb, None)],
                  heading=heading, explanation="The change takes effect at once.", items=[item],
                  items_label="This will go",
                  action=urls.path(urls.ADMIN_TEAM_ACTION, organization=organization, team=team, action=action),
                  hidden=[("subject", subject)], button=verb, cancel=back)


async def team_action(request: Request, organization: str, team: str, action: str,
                      principal: Principal = Depends(form_user), db: Session = Depends(get_db)) -> Response:
    """Grant a repository or add a member to a team, or carry out a confirmed removal."""
    found = team_of(administered_organization(db, principal, organization), team)
    form = await request.form()
    subject = str(form.get("subject", ""))
    if action == "add-repository":
        try:
            repository = repository_of(found.organization, subject)
        except ApiError as error:
            return _team_page(request, db, found, 400, {"repository": error.message})
        if repository not in found.repositories:
            found.repositories.append(repository)
            record_team(db, principal, found, change="repository_add", repository=repository.name)
    elif action == "add-member":
        try:
            user = member_of(found.organization, subject)
        except ApiError as error:
            return _team_page(request, db, found, 400, {"member": error.message})
        if user not in found.members:
            found.members.append(user)
            record_team(db, principal, found, change="member_add", member=subject)
    else:
        _team_removal(found, action, subject)
        if action == "remove-repository":
            found.repositories.remove(repository_of(found.organization, subject))
            record_team(db, principal, found, change="repository_remove", repository=subject)
        else:
            found.members.remove(member_of(found.organization, subject))
            record_team(db, principal, found, change="member_remove", member=subject)
    commit_unique(db, "The team changed concurrently; retry")
    return see_other(urls.path(urls.ADMIN_TEAM, {"done": action, "subject": subject}, organization=organization,
                               team=team))


router.add_api_route(urls.ADMIN, admin_home, methods=["GET"])
router.add_api_route(urls.ADMIN, create_organization, methods=["POST"])
router.add_api_route(urls.ADMIN_ORGANIZATION, organization_page, methods=["GET"])
router.add_api_route(urls.ADMIN_TEAM, team_page, methods=["GET"])
router.add_api_route(urls.ADMIN_TEAM_ACTION, team_action_page, methods=["GET"])
router.add_api_route(urls.ADMIN_TEAM_ACTION, team_action, methods=["POST"])
router.add_api_route(urls.ADMIN_ACTION, organization_action_page, methods=["GET"])
router.add_api_route(urls.ADMIN_ACTION, organization_action, methods=["POST"])
