"""App descriptions: YAML (or JSON) documents naming an application, its platform and its python tag."""

from __future__ import annotations

import json
import os
import re
from typing import Any

import attr

from hatcher.artefacts.platforms import normalize_platform
from hatcher.errors import InvalidApp, InvalidPlatform, MissingPlatformError

#: Keys the server requires, with the type each must have (``app_yaml.json``).
APP_REQUIRED_KEYS = {"id": str, "name": str, "platform": str, "version": str, "build": int, "python_tag": str}

_MAX_APP_SIZE = 1024 * 1024
_TOP_LEVEL_LINE_RE = re.compile(r"(?P<key>[A-Za-z_][\w.-]*)\s*:(?:\s+(?P<value>.*))?\s*\Z")
_SINGLE_QUOTED_RE = re.compile(r"'((?:[^']|'')*)'\s*(?:#.*)?\Z")
_DOUBLE_QUOTED_RE = re.compile(r'"((?:[^"\\]|\\.)*)"\s*(?:#.*)?\Z')
_INT_RE = re.compile(r"[-+]?\d+\Z")
_FLOAT_RE = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?\Z")


def _scalar(text: str) -> Any:
    """Return the value of one plain YAML scalar, typed as YAML 1.1 would type it (roughly)."""
    text = text.strip()
    single = _SINGLE_QUOTED_RE.match(text)
    if single is not None:
        return single.group(1).replace("''", "'")
    double = _DOUBLE_QUOTED_RE.match(text)
    if double is not None:
        try:
            return json.loads(f'"{double.group(1)}"')
        except ValueError:
            return double.group(1)
    text = re.split(r"\s#", " " + text, maxsplit=1)[0].strip()
    if text in ("", "~", "null", "Null", "NULL"):
        return None
    if text in ("true", "True", "TRUE", "yes", "Yes", "on", "On"):
        return True
    if text in ("false", "False", "FALSE", "no", "No", "off", "Off"):
        return False
    if _INT_RE.match(text):
        return int(text)
    if _FLOAT_RE.match(text):
        return float(text)
    return text


def _scan_top_level(text: str) -> dict[str, Any] | None:
    """Read the top-level ``key: value`` lines of a YAML document (the fallback without PyYAML).

    Returns None when a top-level line is not ``key: value`` (a sequence or a bare scalar).
    """
    document: dict[str, Any] = {}
    for line in text.splitlines():
        stripped = line.rstrip()
        if not stripped or stripped[0] in " \t#" or stripped in ("---", "..."):
            continue
        match = _TOP_LEVEL_LINE_RE.match(stripped)
        if match is None:
            return None
        value = match.group("value")
        document[match.group("key")] = _scalar(value) if value is not None else None
    return document


def load_app_document(data: bytes | str, filename: str = "<app>") -> dict[str, Any]:
    """Parse an app description: PyYAML's safe loader, else JSON, else a top-level ``key: value`` scanner.

    Raises
    ------
    InvalidApp
        If the text is not UTF-8, not YAML, or not a mapping.
    """
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidApp(f"{filename}: not UTF-8 text") from exc
    try:
        import yaml
    except ImportError:
        yaml = None
    if yaml is not None:
        try:
            document = yaml.safe_load(data)
        except yaml.YAMLError as exc:
            raise InvalidApp(f"{filename}: invalid YAML: {exc}") from exc
    else:
        try:
            document = json.loads(data)
        except ValueError:
            document = _scan_top_level(data)
    if not isinstance(document, dict):
        raise InvalidApp(f"{filename}: an app description must be a mapping, got {type(document).__name__}")
    return document


@attr.s(frozen=True)
class AppInfo:
    """An app description. Any field may be None until :meth:`validate` has checked the document."""

    id: Any = attr.ib()
    name: Any = attr.ib()
    platform: Any = attr.ib()
    version: Any = attr.ib()
    build: Any = attr.ib()
    python_tag: Any = attr.ib()
    metadata: dict[str, Any] = attr.ib(eq=False, hash=False, repr=False)
    filename: str = attr.ib(default="<app>")

    @classmethod
    def from_document(cls, document: dict[str, Any], filename: str = "<app>", strict: bool = False) -> AppInfo:
        """Build the info from a parsed document; with ``strict``, :meth:`validate` it too."""
        info = cls(
            id=document.get("id"), name=document.get("name"), platform=document.get("platform"),
            version=document.get("version"), build=document.get("build"),
            python_tag=document.get("python_tag"), metadata=document, filename=filename,
        )
        return info.validate() if strict else info

    @classmethod
    def from_bytes(cls, data: bytes | str, filename: str = "<app>", strict: bool = False) -> AppInfo:
        """Parse an app description held in memory.

        Raises
        ------
        InvalidApp
            If it cannot be parsed, or (with ``strict``) fails :meth:`validate`.
        """
        basename = os.path.basename(filename)
        return cls.from_document(load_app_document(data, basename), basename, strict)

    @classmethod
    def from_file(cls, path: str | os.PathLike[str], strict: bool = False) -> AppInfo:
        """Read an app description file (``.yaml``, ``.yml`` or JSON).

        Raises
        ------
        InvalidApp
            If the file cannot be read or parsed, or (with ``strict``) fails :meth:`validate`.
        """
        basename = os.path.basename(os.fspath(path))
        try:
            with open(path, "rb") as stream:
                data = stream.read(_MAX_APP_SIZE + 1)
        except OSError as exc:
            raise InvalidApp(f"{basename}: cannot read the app description: {exc}") from exc
        if len(data) > _MAX_APP_SIZE:
            raise InvalidApp(f"{basename}: the app description is too large")
        return cls.from_bytes(data, basename, strict)

    def validate(self) -> AppInfo:
        """Check the keys the server requires (id, name, platform, version: str, build: int, python_tag: str).

        Returns
        -------
        AppInfo
            ``self``, for chaining.

        Raises
        ------
        InvalidApp
            For a missing or mistyped key (e.g. an unquoted ``version: 1.0``) or an unknown platform.
        """
        for key, expected in APP_REQUIRED_KEYS.items():
            if key not in self.metadata:
                raise InvalidApp(f"{self.filename}: invalid app description: {key!r} is a required property")
            value = self.metadata[key]
            if isinstance(value, bool) or not isinstance(value, expected):
                raise InvalidApp(f"{self.filename}: invalid app description: {key!r} must be "
                                 f"{'a string' if expected is str else 'an integer'}, got {value!r}")
        try:
            normalize_platform(self.platform)
        except InvalidPlatform as exc:
            raise InvalidApp(f"{self.filename}: invalid app description: {exc}") from exc
        return self

    @property
    def full_version(self) -> str:
        """``<version>-<build>``, e.g. ``4.6.0-1``."""
        return f"{self.version}-{self.build}"

    @property
    def canonical_platform(self) -> str:
        """The canonical Brood platform of ``platform``; InvalidPlatform if it is not one."""
        return normalize_platform(self.platform)


def platform_only(path: str | os.PathLike[str]) -> str:
    """Return an app description's ``platform``, the only key the client reads.

    Raises
    ------
    MissingPlatformError
        If the key is missing or null.
    InvalidApp
        If the file cannot be read or parsed, or the platform is not a string.
    """
    info = AppInfo.from_file(path)
    if info.platform is None:
        raise MissingPlatformError("App yaml does not contain a platform specification")
    if not isinstance(info.platform, str):
        raise InvalidApp(f"{info.filename}: the platform must be a string, got {info.platform!r}")
    return info.platform
