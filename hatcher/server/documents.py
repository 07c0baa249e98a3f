"""What the server answers about artefacts: metadata documents, indices, and the index cache."""

from __future__ import annotations

import datetime
import functools
import gzip
import hashlib
import json
import threading
from collections import OrderedDict
from typing import Any, Callable, Optional

import attr
from sqlalchemy import String, select, type_coerce
from sqlalchemy.orm import Session

from hatcher.artefacts.runtime import RuntimeV0Info
from hatcher.artefacts.versions import EnpkgVersion, pep440_sort_key
from hatcher.errors import HatcherException
from hatcher.server.db import Artefact
from hatcher.server.ingest import APP, BUNDLE, EGG, RUNTIME, RUNTIME_V0, lookup_tags


def _iso(mtime: float) -> str:
    return datetime.datetime.fromtimestamp(mtime, datetime.timezone.utc).replace(tzinfo=None).isoformat()


def _safe_key(function: Callable[[str], Any], text: str) -> tuple[int, Any, str]:
    """Sort key: parsed versions first (in their order), unparsable ones after, by text."""
    try:
        return (0, function(text), text)
    except (TypeError, ValueError):
        return (1, (), text)


@functools.lru_cache(maxsize=65536)
def enpkg_key(text: str) -> tuple[int, Any, str]:
    """Sort key of an ``upstream-build`` version (memoised: indices share few distinct versions)."""
    return _safe_key(EnpkgVersion.from_string, text)


@functools.lru_cache(maxsize=65536)
def pep440_key(text: str) -> tuple[int, Any, str]:
    """Sort key of a PEP 440 version."""
    return _safe_key(pep440_sort_key, text)




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


def uploaded_platform(artefact: Artefact) -> str:
    """The platform as the uploaded artefact spells it (``rh5-64``), what API v0 shows for it.

    A v0 runtime's is the platform segment of its file name, an app's the ``platform`` of its
    description; any other artefact (and a description without a usable one) gives the
    canonical name the artefact is stored under (``rh5-x86_64``).
    """
    if artefact.kind == RUNTIME_V0:
        try:
            return RuntimeV0Info.from_filename(artefact.filename).platform
        except HatcherException:  # pragma: no cover - the name was checked on upload
            return artefact.platform
    if artefact.kind == APP:
        spelled = artefact.document.get("platform")
        return spelled if isinstance(spelled, str) and spelled else artefact.platform
    return artefact.platform


def runtime_entry(artefact: Artefact) -> dict[str, Any]:
    """A runtime index leaf (flat object): v0 (REST §9.1, the platform as uploaded) or v1 (§9.2)."""
    keys = _RUNTIME_V0_INDEX_KEYS if artefact.kind == RUNTIME_V0 else _RUNTIME_V1_INDEX_KEYS
    entry = {key: artefact.document.get(key) for key in keys}
    if artefact.kind == RUNTIME_V0:
        entry["platform"] = uploaded_platform(artefact)
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


def app_entry(artefact: Artefact, as_uploaded: bool = False) -> dict[str, Any]:
    """An app index leaf: name, description, python tag and the identity.

    ``platform`` is the canonical name (API v1), or with ``as_uploaded`` (API v0) the
    description's own spelling, as the v0 app metadata shows it.
    """
    d = artefact.document
    return {"name": d.get("name"), "description": d.get("description", ""), "python_tag": artefact.key,
            "id": artefact.name, "version": d.get("version"), "build": d.get("build"),
            "platform": uploaded_platform(artefact) if as_uploaded else artefact.platform,
            "sha256": artefact.sha256}


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


def _documents(rows: list[Any]) -> list[Any]:
    """The last column of ``rows``, JSON text read as one document (far cheaper than one parse per row).

    Drivers that decode JSON themselves (psycopg) hand over objects, used as they are.
    """
    texts = [row[-1] for row in rows]
    if all(isinstance(text, str) for text in texts):
        return json.loads("[" + ",".join(texts) + "]") if texts else []
    return [json.loads(text) if isinstance(text, str) else text for text in texts]


def build_egg_index(db: Session, repository_id: int, platform: str, tag: str, available: bool,
                    product: Optional[str]) -> dict[str, Any]:
    """The egg index of ``tag``: enabled eggs of the tag, its generic ``py`` tags and ``none``.

    Keyed by file name; when two tags hold the same file name, the most specific tag wins.
    One query of plain columns (no ORM objects), entries built straight from the rows.
    """
    tags = lookup_tags(tag)
    rows = db.execute(select(
        Artefact.name, Artefact.version, Artefact.key, Artefact.filename, Artefact.md5, Artefact.mtime,
        Artefact.sha256, Artefact.size, type_coerce(Artefact.document, String),
    ).where(Artefact.repository_id == repository_id, Artefact.kind == EGG, Artefact.platform == platform,
            Artefact.key.in_(tags), Artefact.enabled.is_(True))).all()
    rank = {t: i for i, t in enumerate(tags)}
    rows.sort(key=lambda r: (r[0], enpkg_key(r[1]), rank[r[2]]))
    index: dict[str, Any] = {}
    for (_name, _version, key, filename, md5, mtime, sha256, size, _), d in zip(rows, _documents(rows)):
        if filename in index:
            continue
        index[filename] = {
            "available": available, "build": d["build"], "egg_basename": d["egg_basename"],
            "filename": filename, "full_version": d["full_version"], "md5": md5, "mtime": mtime,
            "name": d["name"], "packages": list(d["packages"]), "platform_abi": d["platform_abi"],
            "product": product, "python": d["python"], "python_tag": key, "sha256": sha256, "size": size,
            "type": "egg", "version": d["version"],
        }
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


def _nested_index(rows: list[Artefact], entry_of: Any) -> dict[str, Any]:
    """``python_tag -> name -> version -> build -> entry`` of the rows, in version order."""
    rows.sort(key=lambda a: (a.key, a.name, enpkg_key(a.version)))
    index: dict[str, Any] = {}
    for artefact in rows:
        entry = entry_of(artefact)
        (index.setdefault(artefact.key, {}).setdefault(artefact.name, {})
         .setdefault(str(entry["version"]), {})[str(entry["build"])]) = entry
    return index


def build_app_index(db: Session, repository_id: int, platform: str, as_uploaded: bool = False) -> dict[str, Any]:
    """``python_tag -> app_id -> version -> build -> entry`` (platforms as uploaded: see :func:`app_entry`)."""
    return _nested_index(_rows(db, repository_id, APP, platform),
                         functools.partial(app_entry, as_uploaded=as_uploaded))


def build_bundle_index(db: Session, repository_id: int, platform: str) -> dict[str, Any]:
    """``python_tag -> name -> version -> build -> entry``."""
    return _nested_index(_rows(db, repository_id, BUNDLE, platform), bundle_entry)


@attr.s(frozen=True, slots=True)
class CachedIndex:
    """A serialised index: the JSON body, its gzip-compressed copy and their entity tags."""

    body: bytes = attr.ib()
    gzipped: bytes = attr.ib()
    etag: str = attr.ib()

    @property
    def gzip_etag(self) -> str:
        """The entity tag of the gzip representation (a different representation, a different tag)."""
        return self.etag[:-1] + '-gzip"'


#: gzip level of cached indices: compressed once per index generation, sent many times.
GZIP_LEVEL = 6


class IndexCache:
    """A small thread-safe LRU of serialised indices: key -> :class:`CachedIndex`.

    Keys include the repository's generation, so a change to the repository makes its
    old entries unreachable (they age out).
    """

    def __init__(self, size: int = 256) -> None:
        self.size = size
        self._items: OrderedDict[Any, CachedIndex] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Any) -> Optional[CachedIndex]:
        with self._lock:
            item = self._items.get(key)
            if item is not None:
                self._items.move_to_end(key)
            return item

    def put(self, key: Any, body: bytes) -> CachedIndex:
        """Keep ``body`` (and a gzip copy of it) under ``key``."""
        item = CachedIndex(body, gzip.compress(body, GZIP_LEVEL, mtime=0),
                           '"' + hashlib.sha256(body).hexdigest()[:32] + '"')
        with self._lock:
            self._items[key] = item
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return item

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def clear(self) -> None:
        """Forget every index."""
        with self._lock:
            self._items.clear()


def serialise(document: Any) -> bytes:
    """Compact UTF-8 JSON."""
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
