"""Artefacts on the server: reading uploads, storing them, and building metadata and indices.

Nothing here knows about HTTP requests; the route modules call these functions (in a
worker thread) and turn :class:`~hatcher.server.errors.ApiError` into JSON answers.

Stored identity (see :class:`~hatcher.server.db.Artefact`): eggs are keyed by their
python tag (``none`` without Python) and their normalised (lower-case) name, so the
case-preserving spelling the client uses for verification finds the same row.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import re
import secrets
import threading
import time
from collections import OrderedDict
from typing import Any, Callable, Optional

import attr
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from hatcher.artefacts.app import AppInfo
from hatcher.artefacts.bundle import BundleInfo
from hatcher.artefacts.egg import EggInfo, split_egg_name
from hatcher.artefacts.platforms import normalize_platform
from hatcher.artefacts.runtime import RuntimeV0Info, RuntimeV1Info
from hatcher.artefacts.tags import compatible_egg_tags, normalize_python_tag
from hatcher.artefacts.versions import EnpkgVersion, pep440_sort_key
from hatcher.errors import HatcherException
from hatcher.server.db import MAX_NAME_LENGTH, Artefact, Repository
from hatcher.server.errors import ApiError
from hatcher.server.store import BlobStore, IncomingBlob

EGG, RUNTIME_V0, RUNTIME, APP, BUNDLE = "egg", "runtime_v0", "runtime", "app", "bundle"

#: Largest ``data`` part accepted (it holds a few short fields).
MAX_DATA_SIZE = 1024 * 1024
#: Largest app description or bundle file read into memory for parsing.
MAX_DOCUMENT_SIZE = 64 * 1024 * 1024

_SHA256_RE = re.compile(r"[0-9a-fA-F]{64}\Z")
#: Stored file names: printable ASCII without blanks, quotes, slashes, backslashes or ``;``.
_SAFE_FILENAME_RE = re.compile(r"[A-Za-z0-9_.+\-~!@#$%&'()=,\[\]{}^]{1,255}\Z")

_SHA256_ONLY = {"sha256": str}
#: The exact keys (and types) of the ``data`` part, per kind.
DATA_KEYS: dict[str, dict[str, Any]] = {
    EGG: _SHA256_ONLY,
    RUNTIME: _SHA256_ONLY,
    APP: _SHA256_ONLY,
    RUNTIME_V0: {"language": str, "filename": str, "build_system_version": str, "version": str,
                 "file_format": str, "build": int, "sha256": str},
    BUNDLE: {"sha256": str, "bundle_name": str, "bundle_version": str, "bundle_build": int},
}
_OPTIONAL_DATA_KEYS = {RUNTIME_V0: {"upstream_version": str}}


# -- small helpers ------------------------------------------------------------------


def canonical_platform(name: str) -> str:
    """The canonical hyphen platform of a URL segment; 400 for an unknown platform."""
    try:
        return normalize_platform(name)
    except HatcherException as exc:
        raise ApiError(400, str(exc)) from None


def url_python_tag(tag: str) -> str:
    """A python tag from a URL (``none`` or a PEP 425 tag, ``cp3_11`` read as ``cp311``); 400 otherwise."""
    if tag == "none":
        return tag
    try:
        return normalize_python_tag(tag)
    except ValueError as exc:
        raise ApiError(400, str(exc)) from None


def lookup_tags(tag: str) -> list[str]:
    """The tags an egg requested under ``tag`` may be stored under, most specific first; 400 for junk."""
    try:
        return compatible_egg_tags(tag)
    except ValueError as exc:
        raise ApiError(400, str(exc)) from None


def egg_key_name(name: str) -> str:
    """The stored (normalised) egg name of any spelling: ``MKL`` -> ``mkl``."""
    return name.lower().replace("-", "_")


def check_identifier(value: Any, what: str) -> str:
    """400 unless ``value`` is a short string without ``/``, ``\\``, ``..`` or control characters."""
    if (not isinstance(value, str) or not value.strip() or len(value) > MAX_NAME_LENGTH or ".." in value
            or any(c in value for c in "/\\") or any(ord(c) < 32 or ord(c) == 127 for c in value)):
        shown = value[:80] if isinstance(value, str) else value
        raise ApiError(400, f"Invalid {what}: {shown!r}")
    return value


def check_filename(value: Any) -> str:
    """400 unless ``value`` is a plain file name that is safe in ``Content-Disposition``."""
    check_identifier(value, "file name")
    if not _SAFE_FILENAME_RE.match(value):
        raise ApiError(400, f"Invalid file name {value[:80]!r}: only ASCII letters, digits and "
                            "'_.+-' (no blanks, quotes or slashes) are accepted")
    return value


def _json_safe(document: Any) -> Any:
    """A plain-JSON copy of a parsed document (YAML dates become strings); 400 for NaN/Infinity."""
    try:
        return json.loads(json.dumps(document, default=str, allow_nan=False))
    except ValueError as exc:
        raise ApiError(400, f"The artefact holds values JSON cannot carry: {exc}") from None


def _iso(mtime: float) -> str:
    return datetime.datetime.fromtimestamp(mtime, datetime.timezone.utc).replace(tzinfo=None).isoformat()


def _safe_key(function: Callable[[str], Any], text: str) -> tuple[int, Any, str]:
    """Sort key: parsed versions first (in their order), unparsable ones after, by text."""
    try:
        return (0, function(text), text)
    except (TypeError, ValueError):
        return (1, (), text)


def enpkg_key(text: str) -> tuple[int, Any, str]:
    """Sort key of an ``upstream-build`` version."""
    return _safe_key(EnpkgVersion.from_string, text)


def pep440_key(text: str) -> tuple[int, Any, str]:
    """Sort key of a PEP 440 version."""
    return _safe_key(pep440_sort_key, text)


# -- the data part ------------------------------------------------------------------


def parse_data(raw: Optional[bytes], kind: str) -> dict[str, Any]:
    """Check the ``data`` part of an upload: JSON, an object with exactly the kind's keys and types."""
    if raw is None:
        raise ApiError(400, "The upload has no 'data' part")
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ApiError(400, f"The 'data' part is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ApiError(400, "The 'data' part must be a JSON object")
    required = DATA_KEYS[kind]
    optional = _OPTIONAL_DATA_KEYS.get(kind, {})
    missing = sorted(set(required) - set(data))
    extra = sorted(set(data) - set(required) - set(optional))
    if missing or extra:
        parts = []
        if missing:
            parts.append("missing " + ", ".join(repr(k) for k in missing))
        if extra:
            parts.append("unexpected " + ", ".join(repr(k) for k in extra))
        raise ApiError(400, f"Invalid 'data' part: {'; '.join(parts)} (expected exactly "
                            f"{', '.join(repr(k) for k in required)})")
    for key, expected in {**required, **optional}.items():
        if key not in data:
            continue
        value = data[key]
        if key == "bundle_build" and isinstance(value, str) and value.isdigit() and value.isascii():
            data[key] = value = int(value)  # hatcher 0.11.x sent the build as a string
        if isinstance(value, bool) or not isinstance(value, expected):
            kind_name = "a string" if expected is str else "an integer"
            raise ApiError(400, f"Invalid 'data' part: {key!r} must be {kind_name}, got {value!r}")
    if not _SHA256_RE.match(data["sha256"]):
        raise ApiError(400, f"Invalid 'data' part: 'sha256' is not a hex SHA-256: {data['sha256'][:80]!r}")
    data["sha256"] = data["sha256"].lower()
    return data


# -- reading the received file --------------------------------------------------------


@attr.s(frozen=True)
class ParsedArtefact:
    """What the server learnt from an uploaded file: identity, file name and reported metadata."""

    kind: str = attr.ib()
    platform: str = attr.ib()
    key: str = attr.ib()
    name: str = attr.ib()
    version: str = attr.ib()
    filename: str = attr.ib()
    document: dict[str, Any] = attr.ib(eq=False, repr=False)


def _read_limited(path: str, label: str) -> bytes:
    with open(path, "rb") as stream:
        data = stream.read(MAX_DOCUMENT_SIZE + 1)
    if len(data) > MAX_DOCUMENT_SIZE:
        raise ApiError(400, f"{label}: the file is too large")
    return data


def _read_egg(path: str, filename: str, url_platform: Optional[str], data: dict[str, Any]) -> ParsedArtefact:
    info = EggInfo.from_file(path, filename=filename)
    file_name, upstream, build = split_egg_name(filename)
    if (file_name.lower() != info.egg_basename.lower() or upstream != info.upstream_version
            or build != info.build):
        raise ApiError(400, f"The file name {filename!r} does not match the egg's metadata "
                            f"({info.filename!r})")
    if info.platform is not None and info.platform != url_platform:
        raise ApiError(400, f"{filename} is built for {info.platform}, not for {url_platform}")
    check_identifier(info.upstream_version, "egg version")
    document = info.to_dict()
    document["platform"] = info.platform
    return ParsedArtefact(EGG, url_platform or "", info.python_tag_string, check_identifier(info.name, "egg name"),
                          info.full_version, check_filename(info.filename), document)


def _read_runtime_v0(path: str, filename: str, url_platform: Optional[str],
                     data: dict[str, Any]) -> ParsedArtefact:
    if data["filename"] != filename:
        raise ApiError(400, f"The 'data' file name {data['filename'][:80]!r} differs from the uploaded "
                            f"file's name {filename!r}")
    info = RuntimeV0Info.from_filename(filename)
    for key in ("language", "version", "build_system_version", "file_format", "build"):
        if data[key] != getattr(info, key):
            raise ApiError(400, f"The 'data' field {key!r} ({data[key]!r}) does not match the file name "
                                f"{filename!r} ({getattr(info, key)!r})")
    platform = canonical_platform(info.platform)
    if platform != url_platform:
        raise ApiError(400, f"{filename} is a runtime for {platform}, not for {url_platform}")
    try:
        tag = info.python_tag
    except ValueError as exc:
        raise ApiError(400, f"{filename}: {exc}") from None
    document = {
        "language": info.language, "version": info.version, "build": info.build,
        "full_version": info.full_version, "filename": filename, "file_format": info.file_format,
        "build_system_version": info.build_system_version, "platform": platform, "python_tag": tag,
    }
    check_identifier(info.version, "runtime version")
    return ParsedArtefact(RUNTIME_V0, platform, tag, check_identifier(info.language, "runtime language"),
                          info.full_version, check_filename(filename), document)


def _read_runtime_v1(path: str, filename: str, url_platform: Optional[str],
                     data: dict[str, Any]) -> ParsedArtefact:
    info = RuntimeV1Info.from_file(path, filename=filename)
    if info.platform != url_platform:
        raise ApiError(400, f"{filename} is a runtime for {info.platform}, not for {url_platform}")
    document = {
        "implementation": info.implementation, "version": info.version,
        "language_version": info.language_version, "platform": info.platform, "abi": info.abi,
        "filename": filename, "build_revision": info.build_revision,
        "metadata_version": info.metadata_version, "python_tag": info.python_tag,
    }
    check_identifier(info.abi, "runtime abi")
    return ParsedArtefact(RUNTIME, info.platform, check_identifier(info.implementation, "runtime implementation"),
                          "", check_identifier(info.version, "runtime version"), check_filename(filename), document)


def _read_app(path: str, filename: str, url_platform: Optional[str], data: dict[str, Any]) -> ParsedArtefact:
    info = AppInfo.from_bytes(_read_limited(path, filename), filename=filename, strict=True)
    platform = info.canonical_platform
    if platform != url_platform:
        raise ApiError(400, f"{filename} describes an app for {platform}, not for {url_platform}")
    tag = info.python_tag if info.python_tag == "none" else url_python_tag(info.python_tag)
    check_identifier(info.version, "app version")
    document = _json_safe(info.metadata)
    return ParsedArtefact(APP, platform, tag, check_identifier(info.id, "app id"),
                          check_identifier(info.full_version, "app version"), check_filename(filename), document)


def _read_bundle(path: str, filename: str, url_platform: Optional[str], data: dict[str, Any]) -> ParsedArtefact:
    info = BundleInfo.from_bytes(_read_limited(path, filename), filename)
    expected = {"bundle_name": info.name, "bundle_version": info.version, "bundle_build": info.build}
    for key, value in expected.items():
        if data[key] != value:
            raise ApiError(400, f"The 'data' field {key!r} ({data[key]!r}) does not match the bundle "
                                f"file name {filename!r} ({value!r})")
    document = _json_safe(info.document)
    check_identifier(info.version, "bundle version")
    return ParsedArtefact(BUNDLE, info.platform, info.python_tag, check_identifier(info.name, "bundle name"),
                          info.full_version, check_filename(filename), document)


_READERS = {EGG: _read_egg, RUNTIME_V0: _read_runtime_v0, RUNTIME: _read_runtime_v1, APP: _read_app,
            BUNDLE: _read_bundle}


def read_artefact(kind: str, path: str, filename: str, url_platform: Optional[str],
                  data: dict[str, Any]) -> ParsedArtefact:
    """Read the received file with the artefact readers; 400 with the reader's message on any problem."""
    try:
        return _READERS[kind](path, filename, url_platform, data)
    except HatcherException as exc:
        raise ApiError(400, str(exc)) from None
    except (OSError, ValueError, TypeError, KeyError) as exc:
        raise ApiError(400, f"{filename}: cannot read the artefact: {exc}") from None


# -- storing ----------------------------------------------------------------------------

_BLOB_LOCKS: dict[str, threading.Lock] = {}
_BLOB_LOCKS_GUARD = threading.Lock()


def blob_lock(store: BlobStore) -> threading.Lock:
    """The lock serialising blob commits and blob removals of one store (one per blob directory).

    Committing a blob and the row that refers to it happen under it, and so does the
    "is this blob still referenced?" check before a removal, so a removal never races
    with a new reference to the same content.
    """
    root = os.path.realpath(store.root)
    with _BLOB_LOCKS_GUARD:
        return _BLOB_LOCKS.setdefault(root, threading.Lock())


def bump_generation(db: Session, repository_id: int) -> None:
    """Give the repository a new generation (an opaque change stamp, never reused in practice).

    A random value rather than ``+1``: a repository deleted and re-created under the same
    row id starts at 0 again, and an incremented counter would meet its old values in the
    index cache.
    """
    repository = db.get(Repository, repository_id)
    if repository is None:
        raise ApiError(404, "The repository was deleted")
    new = repository.generation
    while new == repository.generation:
        new = secrets.randbelow(2 ** 31 - 2) + 1
    repository.generation = new


def collect_blob(db: Session, store: BlobStore, sha256: str) -> None:
    """Remove the blob ``sha256`` unless an artefact still refers to it (call under :func:`blob_lock`)."""
    if not db.scalar(select(func.count()).select_from(Artefact).where(Artefact.sha256 == sha256)):
        store.remove(sha256)


def collect_blobs(make_session: sessionmaker[Session], store: BlobStore, sha256s: Any) -> None:
    """Remove each of these blobs that no artefact refers to any more (e.g. after deleting a repository)."""
    with blob_lock(store), make_session() as db:
        for sha256 in set(sha256s):
            collect_blob(db, store, sha256)


def _identity(repository_id: int, parsed: ParsedArtefact) -> Any:
    return (Artefact.repository_id == repository_id, Artefact.kind == parsed.kind,
            Artefact.platform == parsed.platform, Artefact.key == parsed.key,
            Artefact.name == parsed.name, Artefact.version == parsed.version)


def _describe(parsed: ParsedArtefact) -> str:
    what = {EGG: "egg", RUNTIME_V0: "runtime", RUNTIME: "runtime", APP: "app", BUNDLE: "bundle"}[parsed.kind]
    label = parsed.filename if parsed.kind in (EGG, RUNTIME, RUNTIME_V0) else f"{parsed.name} {parsed.version}"
    return f"The {what} {label} ({parsed.key}) already exists on {parsed.platform}; use overwrite to replace it"


def store_artefact(make_session: sessionmaker[Session], store: BlobStore, repository_id: int,
                   parsed: ParsedArtefact, incoming: IncomingBlob, digests: tuple[str, str, int],
                   overwrite: bool, enabled: bool) -> None:
    """Commit the blob, then the row (insert, or update with ``overwrite``); 409 for a duplicate.

    The database's unique constraint decides between concurrent uploads of one identity:
    the loser gets 409 and its blob is removed unless something else refers to it.
    """
    sha256, md5, size = digests
    fields = {"filename": parsed.filename, "sha256": sha256, "md5": md5, "size": size, "enabled": enabled,
              "mtime": time.time(), "document": parsed.document}
    with blob_lock(store), make_session() as db:
        existing = db.scalar(select(Artefact).where(*_identity(repository_id, parsed))) if overwrite else None
        store.commit(incoming, sha256)
        old_sha256 = None
        if existing is not None:
            old_sha256 = existing.sha256
            for name, value in fields.items():
                setattr(existing, name, value)
        else:
            db.add(Artefact(repository_id=repository_id, kind=parsed.kind, platform=parsed.platform,
                            key=parsed.key, name=parsed.name, version=parsed.version, **fields))
        try:
            bump_generation(db, repository_id)
            db.commit()
        except IntegrityError:
            db.rollback()
            collect_blob(db, store, sha256)
            db.commit()
            raise ApiError(409, _describe(parsed)) from None
        except BaseException:
            db.rollback()
            collect_blob(db, store, sha256)
            db.commit()
            raise
        if old_sha256 is not None and old_sha256 != sha256:
            collect_blob(db, store, old_sha256)


def delete_artefact(make_session: sessionmaker[Session], store: BlobStore, artefact_id: int) -> None:
    """Delete one artefact row and its blob when nothing else refers to it."""
    with blob_lock(store), make_session() as db:
        artefact = db.get(Artefact, artefact_id)
        if artefact is None:
            raise ApiError(404, "Not Found")
        sha256 = artefact.sha256
        repository_id = artefact.repository_id
        db.delete(artefact)
        bump_generation(db, repository_id)
        db.commit()
        collect_blob(db, store, sha256)


def find_artefact(db: Session, repository_id: int, kind: str, platform: str, key: str, name: str,
                  version: str) -> Optional[Artefact]:
    """The artefact with this identity, or None."""
    return db.scalar(select(Artefact).where(
        Artefact.repository_id == repository_id, Artefact.kind == kind, Artefact.platform == platform,
        Artefact.key == key, Artefact.name == name, Artefact.version == version))


# -- metadata and index entries ---------------------------------------------------------------


def egg_entry(artefact: Artefact, available: bool, product: Optional[str]) -> dict[str, Any]:
    """The egg index entry (REST §8.6)."""
    d = artefact.document
    return {
        "available": available, "build": d["build"], "egg_basename": d["egg_basename"],
        "filename": artefact.filename, "full_version": d["full_version"], "md5": artefact.md5,
        "mtime": artefact.mtime, "name": d["name"], "packages": list(d["packages"]),
        "platform_abi": d["platform_abi"], "product": product, "python": d["python"],
        "python_tag": artefact.key, "sha256": artefact.sha256, "size": artefact.size, "type": "egg",
        "version": d["version"],
    }


def egg_metadata(artefact: Artefact, product: Optional[str]) -> dict[str, Any]:
    """The egg metadata object (REST §8.5), reported for disabled eggs too."""
    d = artefact.document
    entry = egg_entry(artefact, True, product)
    del entry["available"]
    entry.update({
        "enabled": artefact.enabled, "change_date": _iso(artefact.mtime), "abi_tag": d.get("abi_tag"),
        "platform_tag": d.get("platform_tag"), "metadata_version": d.get("metadata_version"),
        "summary": d.get("summary", ""),
    })
    return entry


_RUNTIME_V0_INDEX_KEYS = ("build", "build_system_version", "file_format", "filename", "full_version", "language",
                          "platform", "python_tag", "version")
_RUNTIME_V1_INDEX_KEYS = ("abi", "filename", "implementation", "language_version", "platform", "python_tag",
                          "version")


def runtime_entry(artefact: Artefact) -> dict[str, Any]:
    """A runtime index leaf (flat object): v0 (REST §9.1) or v1 (§9.2)."""
    keys = _RUNTIME_V0_INDEX_KEYS if artefact.kind == RUNTIME_V0 else _RUNTIME_V1_INDEX_KEYS
    entry = {key: artefact.document.get(key) for key in keys}
    entry.update({"sha256": artefact.sha256, "md5": artefact.md5, "size": artefact.size})
    return entry


def runtime_metadata(artefact: Artefact) -> dict[str, Any]:
    """The runtime metadata object; v1 adds ``build_revision`` and ``metadata_version``."""
    entry = runtime_entry(artefact)
    if artefact.kind == RUNTIME:
        entry["build_revision"] = artefact.document.get("build_revision")
        entry["metadata_version"] = artefact.document.get("metadata_version")
    entry["mtime"] = artefact.mtime
    return entry


def app_entry(artefact: Artefact) -> dict[str, Any]:
    """An app index leaf: name, description, python tag and the identity."""
    d = artefact.document
    return {"name": d.get("name"), "description": d.get("description", ""), "python_tag": artefact.key,
            "id": artefact.name, "version": d.get("version"), "build": d.get("build"),
            "platform": artefact.platform, "sha256": artefact.sha256}


def app_metadata(artefact: Artefact) -> dict[str, Any]:
    """The stored app description plus id, version, build, python_tag and sha256."""
    document = dict(artefact.document)
    document.update({"id": artefact.name, "version": document.get("version"), "build": document.get("build"),
                     "python_tag": artefact.key, "sha256": artefact.sha256})
    return document


def bundle_entry(artefact: Artefact) -> dict[str, Any]:
    """A bundle index entry (REST §11)."""
    version, _, build = artefact.version.rpartition("-")
    return {"python_tag": artefact.key, "name": artefact.name, "full_version": artefact.version,
            "version": version, "build": int(build), "platform": artefact.platform, "sha256": artefact.sha256}


def bundle_metadata(artefact: Artefact) -> dict[str, Any]:
    """The bundle index entry plus ``data``, the stored bundle document."""
    entry = bundle_entry(artefact)
    entry["data"] = artefact.document
    return entry


# -- indices --------------------------------------------------------------------------------------


def _rows(db: Session, repository_id: int, kind: str, platform: str, *conditions: Any) -> list[Artefact]:
    return list(db.scalars(select(Artefact).where(
        Artefact.repository_id == repository_id, Artefact.kind == kind, Artefact.platform == platform,
        *conditions)))


def build_egg_index(db: Session, repository_id: int, platform: str, tag: str, available: bool,
                    product: Optional[str]) -> dict[str, Any]:
    """The egg index of ``tag``: enabled eggs of the tag, its generic ``py`` tags and ``none``.

    Keyed by file name; when two tags hold the same file name, the most specific tag wins.
    """
    tags = lookup_tags(tag)
    rows = _rows(db, repository_id, EGG, platform, Artefact.key.in_(tags), Artefact.enabled.is_(True))
    rank = {t: i for i, t in enumerate(tags)}
    rows.sort(key=lambda a: (a.name, enpkg_key(a.version), rank[a.key]))
    index: dict[str, Any] = {}
    for artefact in rows:
        index.setdefault(artefact.filename, egg_entry(artefact, available, product))
    return index


def build_runtime_index(db: Session, repository_id: int, platform: str, kind: str) -> dict[str, Any]:
    """v0: ``language -> version -> build -> runtime``; v1: ``implementation -> version -> runtime``."""
    rows = _rows(db, repository_id, kind, platform)
    index: dict[str, Any] = {}
    if kind == RUNTIME_V0:
        rows.sort(key=lambda a: (a.name, enpkg_key(a.version), a.key))
        for artefact in rows:
            d = artefact.document
            index.setdefault(d["language"], {}).setdefault(d["version"], {})[str(d["build"])] = runtime_entry(artefact)
    else:
        rows.sort(key=lambda a: (a.key, pep440_key(a.version)))
        for artefact in rows:
            index.setdefault(artefact.key, {})[artefact.version] = runtime_entry(artefact)
    return index


def build_app_index(db: Session, repository_id: int, platform: str) -> dict[str, Any]:
    """``python_tag -> app_id -> version -> build -> entry``."""
    rows = _rows(db, repository_id, APP, platform)
    rows.sort(key=lambda a: (a.key, a.name, enpkg_key(a.version)))
    index: dict[str, Any] = {}
    for artefact in rows:
        d = artefact.document
        (index.setdefault(artefact.key, {}).setdefault(artefact.name, {})
         .setdefault(str(d["version"]), {})[str(d["build"])]) = app_entry(artefact)
    return index


def build_bundle_index(db: Session, repository_id: int, platform: str) -> dict[str, Any]:
    """``python_tag -> name -> version -> build -> entry``."""
    rows = _rows(db, repository_id, BUNDLE, platform)
    rows.sort(key=lambda a: (a.key, a.name, enpkg_key(a.version)))
    index: dict[str, Any] = {}
    for artefact in rows:
        entry = bundle_entry(artefact)
        (index.setdefault(artefact.key, {}).setdefault(artefact.name, {})
         .setdefault(entry["version"], {})[str(entry["build"])]) = entry
    return index


class IndexCache:
    """A small thread-safe LRU of serialised indices: key -> (body, etag).

    Keys include the repository's generation, so a change to the repository makes its
    old entries unreachable (they age out).
    """

    def __init__(self, size: int = 256) -> None:
        self.size = size
        self._items: OrderedDict[Any, tuple[bytes, str]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Any) -> Optional[tuple[bytes, str]]:
        with self._lock:
            item = self._items.get(key)
            if item is not None:
                self._items.move_to_end(key)
            return item

    def put(self, key: Any, body: bytes) -> tuple[bytes, str]:
        item = (body, '"' + hashlib.sha256(body).hexdigest()[:32] + '"')
        with self._lock:
            self._items[key] = item
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return item


def serialise(document: Any) -> bytes:
    """Compact UTF-8 JSON."""
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
