"""Routes: artefact downloads, deletions, egg re-indexing and artefact metadata.

Uploads are in :mod:`hatcher.server.routes.uploads`, indices in
:mod:`hatcher.server.routes.indices`. Platforms in paths are normalised
(``rh7_x86_64`` == ``rh7-x86_64`` == ``rh7-64``); egg names match case-insensitively.
"""

from __future__ import annotations

from typing import Any, Optional

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from hatcher.server import artefact_service as service
from hatcher.server import documents, ingest
from hatcher.server.db import Artefact, Blob, Repository
from hatcher.server.deps import add_routes, body_bytes, find_repository, get_db, get_principal, parse_json
from hatcher.server.errors import ApiError
from hatcher.server.security import (
    READ_INDEX,
    READ_REPOSITORY,
    UPLOAD_REPOSITORY,
    Principal,
    require_repository_role,
)

router = APIRouter()


def repository_for(db: Session, principal: Principal, organization_name: str, repository_name: str,
                   role: str) -> tuple[Repository, str]:
    """The repository (404 if absent or invisible, 403 if the role is too weak) and the role held."""
    repository = find_repository(db, organization_name, repository_name)
    held = require_repository_role(db, principal, repository, role)
    return repository, held


def _egg(db: Session, repository: Repository, platform: str, python_tag: str, name: str,
         version: str) -> Artefact:
    """The egg under ``python_tag``, else under the most specific compatible tag (as the index shows it).

    ``export`` fetches every egg of the ``cp38`` index, Python-independent ones included,
    through ``.../cp38/eggs/...``, so a ``none`` egg must answer there too.
    """
    canonical = ingest.canonical_platform(platform)
    tags = ingest.lookup_tags(ingest.url_python_tag(python_tag))
    rows = list(db.scalars(select(Artefact).where(
        Artefact.repository_id == repository.id, Artefact.kind == ingest.EGG, Artefact.platform == canonical,
        Artefact.key.in_(tags), Artefact.name == ingest.egg_key_name(name), Artefact.version == version)))
    if not rows:
        raise ApiError(404, f"No such egg: {name} {version} ({python_tag}) on {canonical}")
    return min(rows, key=lambda artefact: tags.index(artefact.key))


def _runtime_v0(db: Session, repository: Repository, platform: str, python_tag: str, version: str) -> Artefact:
    canonical = ingest.canonical_platform(platform)
    artefact = db.scalar(select(Artefact).where(
        Artefact.repository_id == repository.id, Artefact.kind == ingest.RUNTIME_V0,
        Artefact.platform == canonical, Artefact.key == ingest.url_python_tag(python_tag),
        Artefact.version == version).order_by(Artefact.name))
    if artefact is None:
        raise ApiError(404, f"No such runtime: {python_tag} {version} on {canonical}")
    return artefact


def _runtime_v1(db: Session, repository: Repository, platform: str, implementation: str,
                version: str) -> Artefact:
    canonical = ingest.canonical_platform(platform)
    artefact = service.find_artefact(db, repository.id, ingest.RUNTIME, canonical, implementation, "", version)
    if artefact is None:
        raise ApiError(404, f"No such runtime: {implementation} {version} on {canonical}")
    return artefact


def _app(db: Session, repository: Repository, platform: str, python_tag: str, app_id: str,
         version: str) -> Artefact:
    canonical = ingest.canonical_platform(platform)
    tag = python_tag if python_tag == "none" else ingest.url_python_tag(python_tag)
    artefact = service.find_artefact(db, repository.id, ingest.APP, canonical, tag, app_id, version)
    if artefact is None:
        raise ApiError(404, f"No such app: {app_id} {version} ({python_tag}) on {canonical}")
    return artefact


def _bundle(db: Session, repository: Repository, platform: str, python_tag: str, name: str,
            version: str) -> Artefact:
    canonical = ingest.canonical_platform(platform)
    artefact = service.find_artefact(db, repository.id, ingest.BUNDLE, canonical,
                                     ingest.url_python_tag(python_tag), name, version)
    if artefact is None:
        raise ApiError(404, f"No such bundle: {name} {version} ({python_tag}) on {canonical}")
    return artefact


def _file(request: Request, db: Session, artefact: Artefact) -> Response:
    """Send the artefact's blob (streamed with Range support, or a redirect to a signed URL)."""
    key = db.scalar(select(Blob.key).where(Blob.sha256 == artefact.sha256))
    if key is None:
        raise ApiError(500, "The artefact's file is missing")
    headers = {"Content-Disposition": f'attachment; filename="{artefact.filename}"', "ETag": f'"{artefact.sha256}"'}
    return request.app.state.store.response(key, artefact.size, headers, request.headers)


def uploader(principal: Principal, repository: Repository) -> service.Uploader:
    """Who changes ``repository``, for the audit log."""
    return service.Uploader(principal.email, principal.address, repository.organization.name, repository.full_name)


def _delete(request: Request, principal: Principal, repository: Repository, artefact: Artefact) -> Response:
    service.delete_artefact(request.app.state.services, artefact.id, uploader(principal, repository))
    return Response(status_code=204)


# -- eggs ---------------------------------------------------------------------------------------


def download_egg(request: Request, organization_name: str, repository_name: str, platform: str, python_tag: str,
                 name: str, version: str, principal: Principal = Depends(get_principal),
                 db: Session = Depends(get_db)) -> Response:
    """The egg's bytes (REST §8.3)."""
    repository, _ = repository_for(db, principal, organization_name, repository_name, READ_REPOSITORY)
    return _file(request, db, _egg(db, repository, platform, python_tag, name, version))


def delete_egg(request: Request, organization_name: str, repository_name: str, platform: str, python_tag: str,
               name: str, version: str, force: Optional[str] = None, principal: Principal = Depends(get_principal),
               db: Session = Depends(get_db)) -> Response:
    """Delete an egg (REST §8.4); ``force`` is accepted and ignored."""
    repository, _ = repository_for(db, principal, organization_name, repository_name, UPLOAD_REPOSITORY)
    return _delete(request, principal, repository, _egg(db, repository, platform, python_tag, name, version))


def egg_metadata(organization_name: str, repository_name: str, platform: str, python_tag: str, name: str,
                 version: str, principal: Principal = Depends(get_principal),
                 db: Session = Depends(get_db)) -> Any:
    """The egg's metadata (REST §8.5), also for disabled eggs; 404 when absent."""
    repository, _ = repository_for(db, principal, organization_name, repository_name, READ_INDEX)
    return JSONResponse(documents.egg_metadata(_egg(db, repository, platform, python_tag, name, version),
                                             repository.name))


def _reindex_items(body: Any) -> list[tuple[str, str, str]]:
    if not isinstance(body, dict) or set(body) != {"eggs"}:
        raise ApiError(400, "Invalid re-index request: expected exactly {\"eggs\": [...]}")
    eggs = body["eggs"]
    if not isinstance(eggs, list) or not eggs:
        raise ApiError(400, "Invalid re-index request: 'eggs' must be a non-empty list")
    items: list[tuple[str, str, str]] = []
    seen: set[tuple[str, str, str]] = set()
    for item in eggs:
        if (not isinstance(item, dict) or set(item) != {"name", "version", "python_tag"}
                or not all(isinstance(value, str) for value in item.values())):
            raise ApiError(400, "Invalid re-index request: every egg must have exactly the string keys "
                                f"'name', 'version' and 'python_tag', got {str(item)[:200]}")
        key = (item["name"], item["version"], item["python_tag"])
        if key in seen:
            raise ApiError(400, f"Invalid re-index request: duplicate egg {item}")
        seen.add(key)
        items.append(key)
    return items


#: Eggs looked up (and enabled) per statement: well under every database's parameter limit.
_REINDEX_CHUNK = 500


def _chunks(values: list[Any]) -> Any:
    for start in range(0, len(values), _REINDEX_CHUNK):
        yield values[start:start + _REINDEX_CHUNK]


def _reindex(db: Session, principal: Principal, repository: Repository, platform: Optional[str],
             body: Any) -> Response:
    """Enable the listed eggs: one lookup and one update per 500 eggs, whatever the batch's size."""
    items = _reindex_items(body)
    canonical = ingest.canonical_platform(platform) if platform is not None else None
    wanted = [(ingest.url_python_tag(python_tag), ingest.egg_key_name(name), version)
              for name, version, python_tag in items]
    stored: dict[tuple[str, str, str], list[int]] = {}
    for names in _chunks(sorted({name for _, name, _ in wanted})):
        query = select(Artefact.id, Artefact.key, Artefact.name, Artefact.version).where(
            Artefact.repository_id == repository.id, Artefact.kind == ingest.EGG, Artefact.name.in_(names))
        if canonical is not None:
            query = query.where(Artefact.platform == canonical)
        for row in db.execute(query):
            stored.setdefault((row.key, row.name, row.version), []).append(row.id)
    found: list[int] = []
    for (name, version, python_tag), identity in zip(items, wanted):
        ids = stored.get(identity)
        if not ids:
            where = f" on {canonical}" if canonical else ""
            raise ApiError(404, f"No such egg: {name} {version} ({python_tag}){where}")
        found.extend(ids)
    for ids in _chunks(found):
        db.execute(update(Artefact).where(Artefact.id.in_(ids)).values(enabled=True))
    service.bump_generation(db, repository.id)
    uploader(principal, repository).record(db, ingest.EGG, "reindex", canonical or "*", "eggs", enabled=len(found))
    db.commit()
    return JSONResponse({"enabled": len(found)}, status_code=202)


def reindex_eggs(organization_name: str, repository_name: str, platform: str,
                 principal: Principal = Depends(get_principal), raw: bytes = Depends(body_bytes),
                 db: Session = Depends(get_db)) -> Response:
    """Enable (index) eggs of one platform (REST §8.7)."""
    repository, _ = repository_for(db, principal, organization_name, repository_name, UPLOAD_REPOSITORY)
    return _reindex(db, principal, repository, platform, parse_json(raw))


def reindex_repository(organization_name: str, repository_name: str,
                       principal: Principal = Depends(get_principal), raw: bytes = Depends(body_bytes),
                       db: Session = Depends(get_db)) -> Response:
    """Enable eggs repository-wide, on every platform (the legacy v0 endpoint of hatcher 0.6-0.8)."""
    repository, _ = repository_for(db, principal, organization_name, repository_name, UPLOAD_REPOSITORY)
    return _reindex(db, principal, repository, None, parse_json(raw))


# -- runtimes -----------------------------------------------------------------------------------


def download_runtime_v0(request: Request, organization_name: str, repository_name: str, platform: str,
                        python_tag: str, version: str, principal: Principal = Depends(get_principal),
                        db: Session = Depends(get_db)) -> Response:
    """A v0 runtime's bytes (REST §9.1)."""
    repository, _ = repository_for(db, principal, organization_name, repository_name, READ_REPOSITORY)
    return _file(request, db, _runtime_v0(db, repository, platform, python_tag, version))


def runtime_v0_metadata(organization_name: str, repository_name: str, platform: str, python_tag: str,
                        version: str, principal: Principal = Depends(get_principal),
                        db: Session = Depends(get_db)) -> Any:
    """A v0 runtime's metadata; 404 when absent."""
    repository, _ = repository_for(db, principal, organization_name, repository_name, READ_INDEX)
    return JSONResponse(documents.runtime_metadata(_runtime_v0(db, repository, platform, python_tag, version)))


def download_runtime_v1(request: Request, organization_name: str, repository_name: str, platform: str,
                        implementation: str, version: str, principal: Principal = Depends(get_principal),
                        db: Session = Depends(get_db)) -> Response:
    """A v1 runtime's bytes (REST §9.2)."""
    repository, _ = repository_for(db, principal, organization_name, repository_name, READ_REPOSITORY)
    return _file(request, db, _runtime_v1(db, repository, platform, implementation, version))


def delete_runtime_v1(request: Request, organization_name: str, repository_name: str, platform: str,
                      implementation: str, version: str, force: Optional[str] = None,
                      principal: Principal = Depends(get_principal), db: Session = Depends(get_db)) -> Response:
    """Delete a v1 runtime; ``force`` is accepted and ignored."""
    repository, _ = repository_for(db, principal, organization_name, repository_name, UPLOAD_REPOSITORY)
    return _delete(request, principal, repository, _runtime_v1(db, repository, platform, implementation, version))


def runtime_v1_metadata(organization_name: str, repository_name: str, platform: str, implementation: str,
                        version: str, principal: Principal = Depends(get_principal),
                        db: Session = Depends(get_db)) -> Any:
    """A v1 runtime's metadata (with build_revision and metadata_version); 404 when absent."""
    repository, _ = repository_for(db, principal, organization_name, repository_name, READ_INDEX)
    return JSONResponse(documents.runtime_metadata(_runtime_v1(db, repository, platform, implementation, version)))


# -- apps and bundles -----------------------------------------------------------------------------


def app_metadata(organization_name: str, repository_name: str, platform: str, python_tag: str, app_id: str,
                 version: str, principal: Principal = Depends(get_principal),
                 db: Session = Depends(get_db)) -> Any:
    """An app's stored description plus its identity; 404 when absent."""
    repository, _ = repository_for(db, principal, organization_name, repository_name, READ_INDEX)
    return JSONResponse(documents.app_metadata(_app(db, repository, platform, python_tag, app_id, version)))


def bundle_metadata(organization_name: str, repository_name: str, platform: str, python_tag: str, name: str,
                    version: str, principal: Principal = Depends(get_principal),
                    db: Session = Depends(get_db)) -> Any:
    """A bundle's index entry plus ``data``, the bundle document; 404 when absent."""
    repository, _ = repository_for(db, principal, organization_name, repository_name, READ_INDEX)
    return JSONResponse(documents.bundle_metadata(_bundle(db, repository, platform, python_tag, name, version)))


def delete_bundle(request: Request, organization_name: str, repository_name: str, platform: str, python_tag: str,
                  name: str, version: str, force: Optional[str] = None,
                  principal: Principal = Depends(get_principal), db: Session = Depends(get_db)) -> Response:
    """Delete a bundle (on its metadata path); ``force`` is accepted and ignored."""
    repository, _ = repository_for(db, principal, organization_name, repository_name, UPLOAD_REPOSITORY)
    return _delete(request, principal, repository, _bundle(db, repository, platform, python_tag, name, version))


add_routes(router, lambda urls: urls.data.eggs.download, download_egg, ["GET"])
add_routes(router, lambda urls: urls.data.eggs.delete, delete_egg, ["DELETE"], 204)
add_routes(router, lambda urls: urls.metadata.artefacts.eggs, egg_metadata, ["GET"])
add_routes(router, lambda urls: urls.data.eggs.re_index, reindex_eggs, ["POST"], 202)
add_routes(router, lambda urls: urls.data.eggs.re_index_repository, reindex_repository, ["POST"], 202)
add_routes(router, lambda urls: urls.data.runtimes.download, download_runtime_v0, ["GET"], versions=(0,))
add_routes(router, lambda urls: urls.metadata.artefacts.runtimes, runtime_v0_metadata, ["GET"], versions=(0,))
add_routes(router, lambda urls: urls.data.runtimes.download, download_runtime_v1, ["GET"], versions=(1,))
add_routes(router, lambda urls: urls.data.runtimes.delete, delete_runtime_v1, ["DELETE"], 204, versions=(1,))
add_routes(router, lambda urls: urls.metadata.artefacts.runtimes, runtime_v1_metadata, ["GET"], versions=(1,))
add_routes(router, lambda urls: urls.metadata.artefacts.apps, app_metadata, ["GET"])
add_routes(router, lambda urls: urls.metadata.artefacts.bundles, bundle_metadata, ["GET"], versions=(1,))
add_routes(router, lambda urls: urls.metadata.artefacts.bundles, delete_bundle, ["DELETE"], 204, versions=(1,))
