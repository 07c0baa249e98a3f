"""Pages: the repositories a user can read, their platforms, eggs and downloads.

A repository's pages need at least ``read_index`` on it (otherwise: 404, as if it did not
exist); downloading a file needs ``read_repository``, and the pages hide the download links
of a user without it. Lists are paged and sorted in SQL (:mod:`hatcher.server.web.queries`).
"""

from __future__ import annotations

import datetime
import itertools
from typing import Optional

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from hatcher.server import ingest
from hatcher.server.db import Artefact, Repository
from hatcher.server.deps import find_repository, get_db
from hatcher.server.errors import ApiError
from hatcher.server.routes.artefacts import _file
from hatcher.server.routes.server_metadata import accessible_repositories
from hatcher.server.security import READ_INDEX, READ_REPOSITORY, ROLES, Principal, check_role, repository_role
from hatcher.server.web import queries, urls
from hatcher.server.web.render import render
from hatcher.server.web.session import page_user

router = APIRouter(include_in_schema=False)


def home(request: Request, principal: Principal = Depends(page_user), db: Session = Depends(get_db)) -> HTMLResponse:
    """The organizations and repositories the user holds a role on, by organization."""
    pairs = accessible_repositories(db, principal)
    organizations = [(name, list(group)) for name, group in
                     itertools.groupby(pairs, key=lambda pair: pair[0].organization.name)]
    return render(request, "home.html", title="Repositories", organizations=organizations)


router.add_api_route(urls.HOME, home, methods=["GET"])


# -- a repository's pages ---------------------------------------------------------------------------


def visible_repository(db: Session, principal: Principal, organization: str, repository: str) -> tuple[Repository, str]:
    """The repository and the user's role on it; 404 when it is absent or the user holds no role on it."""
    found = find_repository(db, organization, repository)
    return found, check_role(repository_role(db, principal, found), READ_INDEX, found.full_name)


def can_download(role: Optional[str]) -> bool:
    """Whether ``role`` may download files (``read_repository`` or stronger)."""
    return role is not None and ROLES.index(role) >= ROLES.index(READ_REPOSITORY)


def format_time(mtime: Optional[float]) -> str:
    """``2026-12-03 07:49 UTC`` for a POSIX time (empty for None)."""
    if mtime is None:
        return ""
    return datetime.datetime.fromtimestamp(mtime, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def _platform(name: str) -> str:
    """The canonical platform of a URL segment; 404 (not 400) for one the server does not know."""
    try:
        return ingest.canonical_platform(name)
    except ApiError:
        raise ApiError(404, f"No such platform: '{name}'") from None


def _crumbs(repository: Repository, platform: Optional[str] = None) -> list[tuple[str, Optional[str]]]:
    organization = repository.organization.name
    crumbs: list[tuple[str, Optional[str]]] = [
        ("Repositories", urls.HOME),
        (repository.full_name, urls.path(urls.REPOSITORY, organization=organization, repository=repository.name))]
    if platform is not None:
        crumbs.append((platform, urls.path(urls.PLATFORM, organization=organization, repository=repository.name,
                                           platform=platform)))
    return crumbs


def repository_page(request: Request, organization: str, repository: str,
                    principal: Principal = Depends(page_user), db: Session = Depends(get_db)) -> HTMLResponse:
    """A repository's platforms, with how many eggs, runtimes, apps and bundles each has."""
    found, role = visible_repository(db, principal, organization, repository)
    crumbs = _crumbs(found)
    crumbs[-1] = (crumbs[-1][0], None)
    return render(request, "repository.html", title=found.full_name, crumbs=crumbs, repository=found, role=role,
                  platforms=queries.platform_counts(db, found.id), tabs=queries.TABS)


def platform_page(request: Request, organization: str, repository: str, platform: str,
                  kind: Optional[str] = None, page: Optional[str] = None, sort: Optional[str] = None,
                  principal: Principal = Depends(page_user), db: Session = Depends(get_db)) -> HTMLResponse:
    """One platform of a repository: a tab per kind (``?kind=eggs|runtimes|apps|bundles``), paged and sorted.

    Eggs are listed by name (a link to each name's versions); other kinds one artefact per row.
    """
    found, role = visible_repository(db, principal, organization, repository)
    canonical = _platform(platform)
    tab = kind if kind in queries.TABS else "eggs"
    sorts = queries.NAME_SORTS if tab == "eggs" else queries.ARTEFACT_SORTS
    order = sort if sort in sorts else "name"
    number = queries.page_number(page)
    if tab == "eggs":
        listing = queries.egg_names(db, found.id, canonical, order, number)
        uploaded: dict[int, str] = {}
    else:
        listing = queries.artefacts(db, found.id, canonical, queries.TABS[tab][1], order, number)
        uploaded = queries.uploaders(db, found.full_name, [row[0] for row in listing.rows])

    def link(**changes: object) -> str:
        query = {"kind": tab, "sort": order, "page": None, **changes}
        return urls.path(urls.PLATFORM, query, organization=found.organization.name, repository=found.name,
                         platform=canonical)

    crumbs = _crumbs(found, canonical)
    crumbs[-1] = (crumbs[-1][0], None)
    label = queries.TABS[tab][0]
    title = f"{label} on {canonical} in {found.full_name}" + (f", page {listing.number}" if listing.number > 1 else "")
    return render(request, "platform.html", title=title, crumbs=crumbs, repository=found, platform=canonical,
                  tab=tab, tab_label=label, tabs=queries.TABS, sorts=sorts, sort=order, listing=listing, link=link,
                  uploaded=uploaded, downloadable=can_download(role), when=format_time)


def egg_page(request: Request, organization: str, repository: str, platform: str, name: str,
             page: Optional[str] = None, sort: Optional[str] = None,
             principal: Principal = Depends(page_user), db: Session = Depends(get_db)) -> HTMLResponse:
    """The versions of one egg name on a platform: python tag, size, digests, upload time and uploader, state."""
    found, role = visible_repository(db, principal, organization, repository)
    canonical = _platform(platform)
    stored = ingest.egg_key_name(name)
    order = sort if sort in queries.ARTEFACT_SORTS else "updated"
    listing = queries.artefacts(db, found.id, canonical, (ingest.EGG,), order, queries.page_number(page),
                                name=stored)
    if not listing.total:
        raise ApiError(404, f"No egg named '{name}' on {canonical} in {found.full_name}")

    def link(**changes: object) -> str:
        query = {"sort": order, "page": None, **changes}
        return urls.path(urls.EGG, query, organization=found.organization.name, repository=found.name,
                         platform=canonical, name=stored)

    crumbs = _crumbs(found, canonical) + [(stored, None)]
    title = f"{stored} on {canonical} in {found.full_name}" + (f", page {listing.number}" if listing.number > 1 else "")
    return render(request, "egg.html", title=title, crumbs=crumbs, repository=found, platform=canonical, name=stored,
                  listing=listing, link=link, sorts=queries.ARTEFACT_SORTS, sort=order,
                  uploaded=queries.uploaders(db, found.full_name, [row[0] for row in listing.rows]),
                  downloadable=can_download(role), when=format_time)


def download(request: Request, artefact_id: str, principal: Principal = Depends(page_user),
             db: Session = Depends(get_db)) -> Response:
    """An artefact's file, for a session user with ``read_repository`` on its repository (as the API sends it)."""
    artefact = db.get(Artefact, int(artefact_id)) if artefact_id.isdigit() and len(artefact_id) < 19 else None
    if artefact is None:
        raise ApiError(404, "No such file")
    check_role(repository_role(db, principal, artefact.repository), READ_REPOSITORY, artefact.repository.full_name)
    return _file(request, db, artefact)


# Downloads live under /files/, apart from /ui/{organization}/{repository}: any organization name works.
router.add_api_route(urls.DOWNLOAD, download, methods=["GET"])
router.add_api_route(urls.REPOSITORY, repository_page, methods=["GET"])
router.add_api_route(urls.PLATFORM, platform_page, methods=["GET"])
router.add_api_route(urls.EGG, egg_page, methods=["GET"])
