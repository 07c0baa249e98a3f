"""Reading uploads on the server: the ``data`` part, the artefact readers, names and platforms from URLs."""

from __future__ import annotations

import json
import re
from typing import Any, BinaryIO, Optional, Union

import attr

from hatcher.artefacts.app import AppInfo
from hatcher.artefacts.bundle import BundleInfo
from hatcher.artefacts.egg import EggInfo, split_egg_name
from hatcher.artefacts.platforms import normalize_platform
from hatcher.artefacts.runtime import RuntimeV0Info, RuntimeV1Info
from hatcher.artefacts.tags import compatible_egg_tags, normalize_python_tag
from hatcher.errors import HatcherException
from hatcher.server.db import MAX_NAME_LENGTH
from hatcher.server.deps import check_fields
from hatcher.server.errors import ApiError

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


# -- the data part ------------------------------------------------------------------


def parse_data(raw: Optional[bytes], kind: str) -> dict[str, Any]:
    """Check the ``data`` part of an upload: JSON, an object with exactly the kind's keys and types."""
    if raw is None:
        raise ApiError(400, "The upload has no 'data' part")
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ApiError(400, f"The 'data' part is not valid JSON: {exc}") from None
    build = data.get("bundle_build") if kind == BUNDLE and isinstance(data, dict) else None
    if isinstance(build, str) and build.isdigit() and build.isascii():
        data["bundle_build"] = int(build)  # hatcher 0.11.x sent the build as a string
    check_fields(data, DATA_KEYS[kind], _OPTIONAL_DATA_KEYS.get(kind), what="'data' part")
    if not _SHA256_RE.match(data["sha256"]):
        raise ApiError(400, f"Invalid 'data' part: 'sha256' is not a hex SHA-256: {data['sha256'][:80]!r}")
    data["sha256"] = data["sha256"].lower()
    return data


# -- reading the received file --------------------------------------------------------


#: A received file: its path, or (small uploads) a file object over its bytes.
Source = Union[str, BinaryIO]


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


def _read_limited(source: Source, label: str) -> bytes:
    if isinstance(source, str):
        with open(source, "rb") as stream:
            data = stream.read(MAX_DOCUMENT_SIZE + 1)
    else:
        data = source.read(MAX_DOCUMENT_SIZE + 1)
    if len(data) > MAX_DOCUMENT_SIZE:
        raise ApiError(400, f"{label}: the file is too large")
    return data


def _read_egg(source: Source, filename: str, url_platform: Optional[str], data: dict[str, Any]) -> ParsedArtefact:
    info = EggInfo.from_file(source, filename=filename)
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


def _read_runtime_v0(source: Source, filename: str, url_platform: Optional[str],
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


def _read_runtime_v1(source: Source, filename: str, url_platform: Optional[str],
                     data: dict[str, Any]) -> ParsedArtefact:
    info = RuntimeV1Info.from_file(source, filename=filename)
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


def _read_app(source: Source, filename: str, url_platform: Optional[str], data: dict[str, Any]) -> ParsedArtefact:
    info = AppInfo.from_bytes(_read_limited(source, filename), filename=filename, strict=True)
    platform = info.canonical_platform
    if platform != url_platform:
        raise ApiError(400, f"{filename} describes an app for {platform}, not for {url_platform}")
    tag = info.python_tag if info.python_tag == "none" else url_python_tag(info.python_tag)
    check_identifier(info.version, "app version")
    document = _json_safe(info.metadata)
    return ParsedArtefact(APP, platform, tag, check_identifier(info.id, "app id"),
                          check_identifier(info.full_version, "app version"), check_filename(filename), document)


def _read_bundle(source: Source, filename: str, url_platform: Optional[str], data: dict[str, Any]) -> ParsedArtefact:
    info = BundleInfo.from_bytes(_read_limited(source, filename), filename)
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


def read_artefact(kind: str, source: Source, filename: str, url_platform: Optional[str],
                  data: dict[str, Any]) -> ParsedArtefact:
    """Read the received file with the artefact readers; 400 with the reader's message on any problem."""
    try:
        return _READERS[kind](source, filename, url_platform, data)
    except HatcherException as exc:
        raise ApiError(400, str(exc)) from None
    except (OSError, ValueError, TypeError, KeyError) as exc:
        raise ApiError(400, f"{filename}: cannot read the artefact: {exc}") from None
