"""Routes: the egg, runtime, app and bundle indices of a repository platform.

Each index is built from the database in one query, serialised and gzip-compressed once, and
kept in a small in-memory LRU keyed by (repository, generation, platform, kind, tag,
availability): an upload, deletion or re-index gives the repository a new generation, so
the next request builds afresh. A client whose ``Accept-Encoding`` allows gzip gets the
pre-compressed copy (``Content-Encoding: gzip``), others the plain JSON; nothing is
compressed per request. Every answer carries an ``ETag`` (one per representation) and a
matching ``If-None-Match`` gets 304.
"""

from __future__ import annotations

from typing import Any, Callable, Optional

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from hatcher.server import documents, ingest
from hatcher.server.deps import add_routes, get_db, get_principal
from hatcher.server.routes.artefacts import repository_for
from hatcher.server.security import READ_INDEX, Principal

router = APIRouter()


def _cache(request: Request) -> documents.IndexCache:
    state = request.app.state
    cache = getattr(state, "index_cache", None)
    if cache is None:
        cache = state.index_cache = documents.IndexCache()
    return cache


def accepts_gzip(accept_encoding: Optional[str]) -> bool:
    """True when an ``Accept-Encoding`` header allows gzip (``gzip`` or ``*`` without ``q=0``)."""
    if not accept_encoding:
        return False
    allowed: dict[str, bool] = {}
    for item in accept_encoding.split(","):
        coding, _, params = item.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        allowed[coding.strip().lower()] = quality > 0
    if "gzip" in allowed:
        return allowed["gzip"]
    if "x-gzip" in allowed:
        return allowed["x-gzip"]
    return allowed.get("*", False)


def _matches(if_none_match: Optional[str], *etags: str) -> bool:
    if not if_none_match:
        return False
    if if_none_match.strip() == "*":
        return True
    candidates = {value.strip().removeprefix("W/") for value in if_none_match.split(",")}
    return any(etag in candidates for etag in etags)


def _answer(request: Request, db: Session, principal: Principal, organization_name: str, repository_name: str,
            platform: str, kind: str, tag: str, build: Callable[[Any, bool, str], dict[str, Any]]) -> Response:
    repository, held = repository_for(db, principal, organization_name, repository_name, READ_INDEX)
    canonical = ingest.canonical_platform(platform)
    available = held != READ_INDEX
    key = (repository.id, repository.generation, canonical, kind, tag, available)
    cache = _cache(request)
    item = cache.get(key)
    if item is None:
        item = cache.put(key, documents.serialise(build(repository, available, canonical)))
    gzipped = accepts_gzip(request.headers.get("accept-encoding"))
    etag = item.gzip_etag if gzipped else item.etag
    headers = {"ETag": etag, "Cache-Control": "no-cache", "Vary": "Accept-Encoding"}
    # Either representation's tag validates: the index behind both is the same.
    if _matches(request.headers.get("if-none-match"), item.etag, item.gzip_etag):
        return Response(status_code=304, headers=headers)
    if gzipped:
        headers["Content-Encoding"] = "gzip"
        return Response(item.gzipped, media_type="application/json", headers=headers)
    return Response(item.body, media_type="application/json", headers=headers)


def egg_index(request: Request, organization_name: str, repository_name: str, platform: str, python_tag: str,
              principal: Principal = Depends(get_principal), db: Session = Depends(get_db)) -> Response:
    """Enabled eggs usable by ``python_tag`` (its generic ``py`` tags and ``none`` merged in)."""
    tag = ingest.url_python_tag(python_tag)
    return _answer(request, db, principal, organization_name, repository_name, platform, ingest.EGG, tag,
                   lambda repo, available, canonical: documents.build_egg_index(
                       db, repo.id, canonical, tag, available, repo.name))


def runtime_index_v0(request: Request, organization_name: str, repository_name: str, platform: str,
                     principal: Principal = Depends(get_principal), db: Session = Depends(get_db)) -> Response:
    """``language -> version -> build -> runtime``."""
    return _answer(request, db, principal, organization_name, repository_name, platform, ingest.RUNTIME_V0, "",
                   lambda repo, available, canonical: documents.build_runtime_index(
                       db, repo.id, canonical, ingest.RUNTIME_V0))


def runtime_index_v1(request: Request, organization_name: str, repository_name: str, platform: str,
                     principal: Principal = Depends(get_principal), db: Session = Depends(get_db)) -> Response:
    """``implementation -> version -> runtime``."""
    return _answer(request, db, principal, organization_name, repository_name, platform, ingest.RUNTIME, "",
                   lambda repo, available, canonical: documents.build_runtime_index(
                       db, repo.id, canonical, ingest.RUNTIME))


def app_index_v0(request: Request, organization_name: str, repository_name: str, platform: str,
                 principal: Principal = Depends(get_principal), db: Session = Depends(get_db)) -> Response:
    """``python_tag -> app_id -> version -> build -> entry``; each entry's platform as its description spells it."""
    return _answer(request, db, principal, organization_name, repository_name, platform, ingest.APP, "v0",
                   lambda repo, available, canonical: documents.build_app_index(db, repo.id, canonical, True))


def app_index(request: Request, organization_name: str, repository_name: str, platform: str,
              principal: Principal = Depends(get_principal), db: Session = Depends(get_db)) -> Response:
    """``python_tag -> app_id -> version -> build -> entry`` (API v1: canonical platform names)."""
    return _answer(request, db, principal, organization_name, repository_name, platform, ingest.APP, "",
                   lambda repo, available, canonical: documents.build_app_index(db, repo.id, canonical))


def bundle_index(request: Request, organization_name: str, repository_name: str, platform: str,
                 principal: Principal = Depends(get_principal), db: Session = Depends(get_db)) -> Response:
    """``python_tag -> name -> version -> build -> entry``."""
    return _answer(request, db, principal, organization_name, repository_name, platform, ingest.BUNDLE, "",
                   lambda repo, available, canonical: documents.build_bundle_index(db, repo.id, canonical))


add_routes(router, lambda urls: urls.indices.eggs, egg_index, ["GET"])
add_routes(router, lambda urls: urls.indices.runtimes, runtime_index_v0, ["GET"], versions=(0,))
add_routes(router, lambda urls: urls.indices.runtimes, runtime_index_v1, ["GET"], versions=(1,))
add_routes(router, lambda urls: urls.indices.apps, app_index_v0, ["GET"], versions=(0,))
add_routes(router, lambda urls: urls.indices.apps, app_index, ["GET"], versions=(1,))
add_routes(router, lambda urls: urls.indices.bundles, bundle_index, ["GET"], versions=(1,))
