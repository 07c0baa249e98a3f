"""Pages: bulk enable, disable and delete of a platform's artefacts, and uploads from the browser.

Both need the ``upload_repository`` role on the repository (as the API's uploads and
deletions do); the changes go through :mod:`hatcher.server.artefact_service` and
:mod:`hatcher.server.ingest`, with the API's validation and audit events.
"""

from __future__ import annotations

import json
from typing import Any, Optional

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from hatcher.server import artefact_service as service
from hatcher.server import ingest
from hatcher.server.db import Artefact, Repository
from hatcher.server.deps import find_repository, get_db
from hatcher.server.errors import INSUFFICIENT_STORAGE, ApiError, as_api_error
from hatcher.server.routes.artefacts import uploader
from hatcher.server.routes.uploads import SMALL_UPLOAD_SIZE
from hatcher.server.security import UPLOAD_REPOSITORY, Principal, require_repository_role
from hatcher.server.space import check_room
from hatcher.server.web import urls
from hatcher.server.web.render import render
from hatcher.server.web.session import form_user, page_user
from hatcher.server.web.tokens import see_other

router = APIRouter(include_in_schema=False)

#: The kinds of the manage page (``?kind=``): the artefact kinds each lists, and a label.
KINDS: dict[str, tuple[tuple[str, ...], str]] = {
    "eggs": ((ingest.EGG,), "Eggs"),
    "runtimes": ((ingest.RUNTIME, ingest.RUNTIME_V0), "Runtimes"),
    "apps": ((ingest.APP,), "Apps"),
    "bundles": ((ingest.BUNDLE,), "Bundles"),
}
#: Artefacts per page of the manage page.
PAGE_SIZE = 50
#: Most artefacts one bulk action changes.
MAX_SELECTED = 500
ACTIONS = {"enable": "Enable", "disable": "Disable", "delete": "Delete"}
#: The kinds a browser upload accepts: (artefact kind, label).
UPLOAD_KINDS = {"egg": (ingest.EGG, "Egg"), "runtime": (ingest.RUNTIME, "Runtime"), "app": (ingest.APP, "App"),
                "bundle": (ingest.BUNDLE, "Bundle")}
_CHUNK = 1024 * 1024


def _target(db: Session, principal: Principal, organization: str, repository_name: str,
            platform: str) -> tuple[Repository, str]:
    """The repository (404 when invisible, 403 below ``upload_repository``) and the canonical platform."""
    repository = find_repository(db, organization, repository_name)
    require_repository_role(db, principal, repository, UPLOAD_REPOSITORY)
    return repository, ingest.canonical_platform(platform)


def _kind(kind: Optional[str]) -> str:
    if kind is None:
        return "eggs"
    if kind not in KINDS:
        raise ApiError(400, f"Unknown kind {kind[:40]!r}: expected one of {', '.join(KINDS)}")
    return kind


def label(artefact: Artefact) -> str:
    """How an artefact is named on the pages: ``numpy 1.8.0-1``, ``cpython 3.8.10+2``."""
    return f"{artefact.name or artefact.key} {artefact.version}"


def _crumbs(organization: str, repository: str, platform: str, last: str) -> list[tuple[str, Optional[str]]]:
    return [("Home", urls.HOME),
            (f"{organization}/{repository}", urls.path(urls.REPOSITORY, organization=organization,
                                                       repository=repository)),
            (platform, urls.path(urls.PLATFORM, organization=organization, repository=repository, platform=platform)),
            (last, None)]


def _page_number(value: Optional[str]) -> int:
    try:
        return max(1, int(value or 1))
    except ValueError:
        raise ApiError(400, f"Invalid page number {str(value)[:20]!r}") from None


def manage_page(request: Request, organization: str, repository: str, platform: str, kind: Optional[str] = None,
                page: Optional[str] = None, done: Optional[str] = None, count: Optional[str] = None,
                principal: Principal = Depends(page_user), db: Session = Depends(get_db)) -> Response:
    """A platform's artefacts of one kind, a page at a time, with checkboxes for a bulk action."""
    target, canonical = _target(db, principal, organization, repository, platform)
    kind = _kind(kind)
    number = _page_number(page)
    where = (Artefact.repository_id == target.id, Artefact.platform == canonical,
             Artefact.kind.in_(KINDS[kind][0]))
    total = db.scalar(select(func.count()).select_from(Artefact).where(*where)) or 0
    artefacts = list(db.scalars(select(Artefact).where(*where)
                                .order_by(Artefact.name, Artefact.key, Artefact.version, Artefact.id)
                                .offset((number - 1) * PAGE_SIZE).limit(PAGE_SIZE)))
    pages = max(1, -(-total // PAGE_SIZE))
    message = None
    if done in ACTIONS and count is not None and count.isdigit():
        message = f"{ACTIONS[done].rstrip('e')}ed {count} artefact{'s' if count != '1' else ''}."
    return render(request, "manage.html", title=f"Manage {KINDS[kind][1].lower()} of {target.full_name} "
                  f"{canonical} (page {number})", crumbs=_crumbs(organization, repository, platform, "Manage"),
                  organization=organization, repository=repository, platform=platform, canonical=canonical,
                  kind=kind, kinds=KINDS, artefacts=artefacts, page=number, pages=pages, total=total,
                  label=label, message=message)


def _selected(db: Session, repository: Repository, platform: str, ids: list[str]) -> list[Artefact]:
    """The chosen artefacts of the repository platform (400 when none, too many, or unknown ones)."""
    try:
        wanted = sorted({int(value) for value in ids})
    except ValueError:
        raise ApiError(400, "Invalid artefact selection") from None
    if not wanted:
        raise ApiError(400, "Select at least one artefact")
    if len(wanted) > MAX_SELECTED:
        raise ApiError(400, f"Select at most {MAX_SELECTED} artefacts at once")
    found = list(db.scalars(select(Artefact).where(Artefact.id.in_(wanted), Artefact.repository_id == repository.id,
                                                   Artefact.platform == platform)
                            .order_by(Artefact.name, Artefact.key, Artefact.version)))
    if len(found) != len(wanted):
        raise ApiError(404, "Some of the selected artefacts no longer exist: reload the page")
    return found


def _action(value: Optional[str]) -> str:
    if value not in ACTIONS:
        raise ApiError(400, f"Unknown action {str(value)[:40]!r}: expected one of {', '.join(ACTIONS)}")
    return value


def confirm_page(request: Request, organization: str, repository: str, platform: str,
                 principal: Principal = Depends(page_user), db: Session = Depends(get_db)) -> Response:
    """The confirmation page of a bulk action: names every artefact it will change."""
    target, canonical = _target(db, principal, organization, repository, platform)
    action = _action(request.query_params.get("action"))
    kind = _kind(request.query_params.get("kind"))
    back = urls.path(urls.MANAGE, {"kind": kind}, organization=organization, repository=repository,
                     platform=platform)
    try:
        chosen = _selected(db, target, canonical, request.query_params.getlist("artefact"))
    except ApiError as error:
        if error.status != 400:
            raise
        return render(request, "error.html", 400, title="Nothing selected", status=400,
                      message=f"{error.message}. Go back and tick the artefacts to {action}.")
    verb = ACTIONS[action]
    explanation = {"delete": "Their files are removed from the repository. This cannot be undone.",
                   "disable": "They stay in the repository but leave its index: clients no longer install them.",
                   "enable": "They come back into the repository's index."}[action]
    return render(request, "confirm.html", title=f"{verb} {len(chosen)} artefacts of {target.full_name} {canonical}",
                  crumbs=_crumbs(organization, repository, platform, f"{verb} artefacts"),
                  heading=f"{verb} {len(chosen)} artefact{'s' if len(chosen) != 1 else ''}?",
                  explanation=explanation, items_label=f"These artefacts will be {action}d",
                  items=[f"{artefact.filename} ({label(artefact)}, {artefact.key})" for artefact in chosen],
                  action=urls.path(urls.MANAGE_APPLY, organization=organization, repository=repository,
                                   platform=platform),
                  hidden=[("action", action), ("kind", kind)] + [("artefact", str(a.id)) for a in chosen],
                  button=f"{verb} {len(chosen)} artefact{'s' if len(chosen) != 1 else ''}", cancel=back)


def _apply(request: Request, principal: Principal, repository_id: int, canonical: str, action: str,
           ids: list[str]) -> int:
    """Enable, disable or delete the chosen artefacts (blocking: in a worker thread)."""
    services = request.app.state.services
    with services.sessionmaker() as db:
        repository = db.get(Repository, repository_id)
        if repository is None:
            raise ApiError(404, "The repository was deleted")
        chosen = _selected(db, repository, canonical, ids)
        who = uploader(principal, repository)
        if action == "delete":
            targets = [artefact.id for artefact in chosen]
            db.rollback()
            for artefact_id in targets:
                service.delete_artefact(services, artefact_id, who)
            return len(targets)
        enabled = action == "enable"
        db.execute(update(Artefact).where(Artefact.id.in_([artefact.id for artefact in chosen]))
                   .values(enabled=enabled))
        service.bump_generation(db, repository.id)
        for artefact in chosen:
            who.record(db, artefact.kind, action, artefact.platform, artefact.filename)
        db.commit()
        return len(chosen)


async def apply_action(request: Request, organization: str, repository: str, platform: str,
                       principal: Principal = Depends(form_user), db: Session = Depends(get_db)) -> Response:
    """Carry out a confirmed bulk action, then back to the manage page."""
    target, canonical = _target(db, principal, organization, repository, platform)
    form = await request.form()
    action = _action(str(form.get("action", "")))
    kind = _kind(str(form.get("kind", "eggs")))
    ids = [str(value) for value in form.getlist("artefact")]
    repository_id = target.id
    db.rollback()
    count = await run_in_threadpool(_apply, request, principal, repository_id, canonical, action, ids)
    return see_other(urls.path(urls.MANAGE, {"kind": kind, "done": action, "count": count},
                               organization=organization, repository=repository, platform=platform))


# -- uploads ----------------------------------------------------------------------------------------

def _upload_page(request: Request, organization: str, repository: str, platform: str, canonical: str,
                 status_code: int = 200, errors: Optional[dict[str, str]] = None,
                 values: Optional[dict[str, Any]] = None, stored: Optional[str] = None) -> Response:
    values = values or {"kind": "egg", "overwrite": False, "enabled": True, "bundle_name": "", "bundle_version": "",
                        "bundle_build": ""}
    return render(request, "upload.html", status_code, title=f"Upload to {organization}/{repository} {canonical}",
                  crumbs=_crumbs(organization, repository, platform, "Upload"), organization=organization,
                  repository=repository, platform=platform, canonical=canonical, errors=errors or {},
                  values=values, kinds=[(key, text) for key, (_, text) in UPLOAD_KINDS.items()], stored=stored)


def upload_page(request: Request, organization: str, repository: str, platform: str, stored: Optional[str] = None,
                principal: Principal = Depends(page_user), db: Session = Depends(get_db)) -> Response:
    """The form uploading an egg, runtime, app or bundle to the platform."""
    _, canonical = _target(db, principal, organization, repository, platform)
    return _upload_page(request, organization, repository, platform, canonical, stored=stored)


def _store(request: Request, who: service.Uploader, repository_id: int, canonical: str, kind: str,
           upload: UploadFile, overwrite: bool, enabled: bool, extra: dict[str, Any]) -> ingest.ParsedArtefact:
    """Receive the file into the blob store and store it as the API does (blocking: in a worker thread)."""
    services = request.app.state.services
    filename = ingest.check_identifier(upload.filename or "", "file name")
    upload.file.seek(0, 2)
    length = upload.file.tell()
    upload.file.seek(0)
    store = request.app.state.store
    check_room(store, request.app.state.settings.min_free_space, length)  # 507 when it cannot fit
    # As the API does: a small file in memory (published in one request), a large one streamed to the store.
    incoming = store.memory_writer() if length <= SMALL_UPLOAD_SIZE else store.writer(length)
    try:
        while True:
            chunk = upload.file.read(_CHUNK)
            if not chunk:
                break
            incoming.write(chunk)
        digests = incoming.finish()
        # The API's clients send the sha256 in the 'data' part; here the server computes it.
        raw = json.dumps({"sha256": digests[0], **extra}).encode()
        data = ingest.parse_data(raw, kind)
        parsed = ingest.read_artefact(kind, incoming.source(), filename,
                                      None if kind == ingest.BUNDLE else canonical, data)
        service.store_artefact(services, repository_id, parsed, incoming, digests, overwrite,
                               enabled if kind == ingest.EGG else True, who)
        return parsed
    finally:
        incoming.discard()  # a no-op once the blob was committed


def _bundle_defaults(values: dict[str, Any], filename: str) -> None:
    """Fill the empty bundle fields from a file named ``NAME-VERSION-BUILD.bundle`` (as the client does)."""
    stem = filename[:-len(".bundle")] if filename.endswith(".bundle") else filename
    parts = stem.rsplit("-", 2)
    if len(parts) == 3 and all(parts):
        for key, part in zip(("bundle_name", "bundle_version", "bundle_build"), parts):
            values[key] = values[key] or part


async def upload(request: Request, organization: str, repository: str, platform: str,
                 principal: Principal = Depends(form_user), db: Session = Depends(get_db)) -> Response:
    """Check and store an uploaded file; errors are shown next to the form's fields."""
    target, canonical = _target(db, principal, organization, repository, platform)
    who, repository_id = uploader(principal, target), target.id
    form = await request.form()
    choice = str(form.get("kind", "egg"))
    values: dict[str, Any] = {"kind": choice, "overwrite": form.get("overwrite") == "on",
                              "enabled": form.get("enabled") == "on"}
    for key in ("bundle_name", "bundle_version", "bundle_build"):
        values[key] = str(form.get(key, "")).strip()
    errors: dict[str, str] = {}
    file = form.get("file")
    if choice not in UPLOAD_KINDS:
        errors["kind"] = "Choose the kind of file: egg, runtime, app or bundle."
    if not isinstance(file, UploadFile) or not file.filename:
        errors["file"] = "Choose a file to upload."
    extra: dict[str, Any] = {}
    if choice == "bundle" and isinstance(file, UploadFile) and file.filename:
        _bundle_defaults(values, file.filename)
    if choice == "bundle":
        for key in ("bundle_name", "bundle_version"):
            if not values[key]:
                errors[key] = "Required for a bundle."
        if not values["bundle_build"].isdigit():
            errors["bundle_build"] = "Required for a bundle: a whole number."
        if not errors:
            extra = {"bundle_name": values["bundle_name"], "bundle_version": values["bundle_version"],
                     "bundle_build": int(values["bundle_build"])}
    if errors:
        return _upload_page(request, organization, repository, platform, canonical, 400, errors, values)
    assert isinstance(file, UploadFile)
    db.rollback()
    try:
        parsed = await run_in_threadpool(_store, request, who, repository_id, canonical, UPLOAD_KINDS[choice][0],
                                         file, values["overwrite"], values["enabled"], extra)
    except Exception as exc:  # noqa: BLE001 - what is not shown next to the field is raised again
        error = as_api_error(exc)
        if error is None or error.status not in (400, 409, INSUFFICIENT_STORAGE):
            raise
        errors["file"] = error.message
        return _upload_page(request, organization, repository, platform, canonical, error.status, errors, values)
    return see_other(urls.path(urls.UPLOAD, {"stored": f"{parsed.filename} ({parsed.platform})"},
                               organization=organization, repository=repository, platform=platform))


router.add_api_route(urls.MANAGE, manage_page, methods=["GET"])
router.add_api_route(urls.MANAGE_CONFIRM, confirm_page, methods=["GET"])
router.add_api_route(urls.MANAGE_APPLY, apply_action, methods=["POST"])
router.add_api_route(urls.UPLOAD, upload_page, methods=["GET"])
router.add_api_route(urls.UPLOAD, upload, methods=["POST"])
