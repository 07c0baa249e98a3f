"""The search page: names of eggs, runtimes, apps and bundles across the repositories the user can read.

``GET /search?q=TEXT&page=N``: a case-insensitive substring match, grouped by repository,
platform, kind and name, paged in SQL (:func:`hatcher.server.web.queries.search`).
"""

from __future__ import annotations

from typing import Any, Optional

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from hatcher.server import ingest
from hatcher.server.db import MAX_NAME_LENGTH
from hatcher.server.deps import get_db
from hatcher.server.routes.server_metadata import accessible_repositories
from hatcher.server.security import Principal
from hatcher.server.web import queries, urls
from hatcher.server.web.browse import format_time
from hatcher.server.web.render import render
from hatcher.server.web.session import page_user

router = APIRouter(include_in_schema=False)

#: How a stored kind is named on the page.
KIND_LABELS = {ingest.EGG: "egg", ingest.RUNTIME_V0: "runtime", ingest.RUNTIME: "runtime", ingest.APP: "app",
               ingest.BUNDLE: "bundle"}


def search_page(request: Request, q: Optional[str] = None, page: Optional[str] = None,
                principal: Principal = Depends(page_user), db: Session = Depends(get_db)) -> HTMLResponse:
    """Search result page: every match links to its egg page, or to its platform's tab for other kinds."""
    query = (q or "").strip()[:MAX_NAME_LENGTH]
    repositories = {repository.id: repository for repository, _ in accessible_repositories(db, principal)}
    listing = queries.search(db, list(repositories), query, queries.page_number(page))
    results: list[dict[str, Any]] = []
    for row in listing.rows:
        repository = repositories[row.repository_id]
        names = {"organization": repository.organization.name, "repository": repository.name,
                 "platform": row.platform}
        if row.kind == ingest.EGG:
            href = urls.path(urls.EGG, name=row.name, **names)
        else:
            href = urls.path(urls.PLATFORM, {"kind": queries.KIND_TABS[row.kind]}, **names)
        results.append({"name": row.name, "kind": KIND_LABELS.get(row.kind, row.kind),
                        "repository": repository.full_name, "platform": row.platform, "versions": row.versions,
                        "updated": row.updated, "href": href})

    def link(**changes: object) -> str:
        return urls.path(urls.SEARCH, {"q": query, **changes})

    title = f"Search for “{query}”" + (f", page {listing.number}" if listing.number > 1 else "") if query \
        else "Search"
    return render(request, "search.html", title=title, crumbs=[("Repositories", urls.HOME), ("Search", None)],
                  query=query, listing=listing, results=results, link=link, when=format_time)


router.add_api_route(urls.SEARCH, search_page, methods=["GET"])
