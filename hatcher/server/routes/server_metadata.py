"""Routes: server metadata (platforms, python tags) and the repositories available to the caller."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from sqlalchemy import select
from sqlalchemy.orm import Session

from hatcher.server.db import Repository, User
from hatcher.server.deps import add_routes, api_version, get_db, get_principal, get_settings, query_flag
from hatcher.server.security import ORGANIZATION_ADMINISTRATOR, READ_INDEX, ROLES, Principal
from hatcher.server.settings import ServerSettings

router = APIRouter()


def list_platforms(principal: Principal = Depends(get_principal),
                   settings: ServerSettings = Depends(get_settings)) -> Any:
    """List the platforms the server knows.

    Returns
    -------
    dict
        ``{"platforms": [name, ...]}`` from ``settings.platforms``.
    """
    return {"platforms": list(settings.platforms)}


def list_python_tags(principal: Principal = Depends(get_principal),
                     settings: ServerSettings = Depends(get_settings)) -> Any:
    """List the python tags of concrete implementations and versions.

    Returns
    -------
    dict
        ``{"python_tags": [tag, ...]}`` from ``settings.python_tags``.
    """
    return {"python_tags": list(settings.python_tags)}


def list_all_python_tags(principal: Principal = Depends(get_principal),
                         settings: ServerSettings = Depends(get_settings)) -> Any:
    """List every python tag the server understands, generic ones included.

    Returns
    -------
    dict
        ``{"python_tags": [tag, ...]}`` from ``settings.all_python_tags``.
    """
    return {"python_tags": list(settings.all_python_tags)}


def accessible_repositories(db: Session, principal: Principal) -> list[tuple[Repository, str]]:
    """Every repository the principal holds a role on, with its strongest role, sorted by ``org/repo``.

    For a scoped API token: those its scopes name, with the lesser of its owner's role and theirs.
    """
    pairs = _owner_repositories(db, principal)
    if principal.scopes is None:
        return pairs
    scoped = []
    for repository, role in pairs:
        granted = [scope.role for scope in principal.scopes
                   if scope.covers(repository.organization.name, repository.name)]
        if granted:
            scoped.append((repository, min(role, max(granted, key=ROLES.index), key=ROLES.index)))
    return scoped


def _owner_repositories(db: Session, principal: Principal) -> list[tuple[Repository, str]]:
    if principal.is_superuser:
        return sorted(((repository, ORGANIZATION_ADMINISTRATOR) for repository in db.scalars(select(Repository))),
                      key=lambda pair: pair[0].full_name)
    best: dict[int, tuple[Repository, str]] = {}
    for team in db.get(User, principal.user_id).teams:
        granted = team.organization.repositories if team.role == ORGANIZATION_ADMINISTRATOR else team.repositories
        for repository in granted:
            held = best.get(repository.id)
            if held is None or ROLES.index(team.role) > ROLES.index(held[1]):
                best[repository.id] = (repository, team.role)
    return sorted(best.values(), key=lambda pair: pair[0].full_name)


def list_user_repositories(request: Request, db: Session = Depends(get_db),
                           principal: Principal = Depends(get_principal)) -> Any:
    """List the repositories available to the caller.

    v0, and v1 when the query holds ``include_indexable`` (as hatcher 0.11.0 sent it):
    ``{"repositories": ["org/repo", ...]}`` with the repositories the caller can at least
    ``read_repository``, plus those it can only ``read_index`` when
    ``include_indexable=True``.

    v1 otherwise: ``{"repositories": [{"name", "access", "description"}, ...]}`` with every
    repository the caller holds a role on (a superuser: all, as ``organization_administrator``).
    """
    pairs = accessible_repositories(db, principal)
    if api_version(request) == 0 or "include_indexable" in request.query_params:
        indexable = query_flag(request, "include_indexable")
        return {"repositories": [repository.full_name for repository, role in pairs
                                 if indexable or role != READ_INDEX]}
    return {"repositories": [{"name": repository.full_name, "access": role, "description": repository.description}
                             for repository, role in pairs]}


add_routes(router, lambda urls: urls.metadata.platforms, list_platforms, ["GET"])
add_routes(router, lambda urls: urls.metadata.python_tags, list_python_tags, ["GET"])
add_routes(router, lambda urls: urls.metadata.python_tags.all, list_all_python_tags, ["GET"])
add_routes(router, lambda urls: urls.user.repositories, list_user_repositories, ["GET"])
