"""The ``EGG-INFO/spec/depend`` format: a literal-only parser, its checks and the fill-ins of old versions."""

from __future__ import annotations

import ast
import keyword
import re
from typing import Any

import attr

from hatcher.artefacts.platforms import ARCH_ALIASES, default_platform_abi, normalize_platform, platform_tag
from hatcher.artefacts.tags import normalize_python_tag, parse_python_tag
from hatcher.errors import InvalidEgg, InvalidPlatform

#: Keys required by each known metadata_version (each version adds to the previous one).
METADATA_KEYS = {
    "1.1": ("metadata_version", "name", "version", "build", "arch", "platform", "osdist", "python", "packages"),
}
METADATA_KEYS["1.2"] = METADATA_KEYS["1.1"] + ("python_tag",)
METADATA_KEYS["1.3"] = METADATA_KEYS["1.2"] + ("abi_tag", "platform_tag")
METADATA_KEYS["1.4"] = METADATA_KEYS["1.3"] + ("platform_abi",)

#: The newest metadata version this package reads.
MAX_METADATA_VERSION = (1, 4)


_METADATA_VERSION_RE = re.compile(r"(\d+)\.(\d+)\Z")
_OSDIST_RE = re.compile(r"RedHat_([35678])\Z")
_PYTHON_RE = re.compile(r"(\d)\.(\d{1,2})\Z")
_HISTORICAL_TYPO = "numpy-1.8.0"


@attr.s(frozen=True)
class Requirement:
    """One entry of ``packages``: ``name``, ``name upstream`` or ``name upstream-build``."""

    name: str = attr.ib()
    version: str | None = attr.ib(default=None)
    build: int | None = attr.ib(default=None)

    @property
    def strictness(self) -> int:
        """1 for any version, 2 for any build of an upstream version, 3 for an exact build."""
        if self.version is None:
            return 1
        return 2 if self.build is None else 3

    def __str__(self) -> str:
        if self.version is None:
            return self.name
        if self.build is None:
            return f"{self.name} {self.version}"
        return f"{self.name} {self.version}-{self.build}"


def parse_requirement(text: str) -> Requirement:
    """Parse one requirement string of spec/depend's ``packages`` (§1.6).

    Raises
    ------
    InvalidEgg
        For a non-string, an empty string, three or more words, a hyphenated name without a
        version, or a version with more than one ``-`` or a non-integer build.
    """
    if not isinstance(text, str):
        raise InvalidEgg(f"Invalid requirement {text!r}: expected a string")
    words = text.split()
    if text.strip() == _HISTORICAL_TYPO:
        words = ["numpy", "1.8.0"]
    if not words:
        raise InvalidEgg(f"Invalid requirement {text!r}: empty")
    if len(words) > 2:
        raise InvalidEgg(
            f"Invalid requirement {text!r}: expected 'name', 'name version' or 'name version-build' "
            "(comparison operators are not supported)")
    name = words[0]
    if len(words) == 1:
        if "-" in name:
            raise InvalidEgg(f"Invalid requirement {text!r}: use whitespace, not a hyphen, before the version")
        return Requirement(name)
    version_parts = words[1].split("-")
    if len(version_parts) > 2 or not version_parts[0]:
        raise InvalidEgg(f"Invalid requirement {text!r}: bad version {words[1]!r}")
    if len(version_parts) == 1:
        return Requirement(name, version_parts[0])
    build = version_parts[1]
    if not (build.isascii() and build.isdigit()):
        raise InvalidEgg(f"Invalid requirement {text!r}: the build {build!r} is not an integer")
    return Requirement(name, version_parts[0], int(build))


_STRING = r"'[^'\\\n]*'" + "|" + r'"[^"\\\n]*"'
_SIMPLE_STATEMENT_RE = re.compile(
    rf"([A-Za-z_][A-Za-z0-9_]*) = (?:({_STRING})|(0|-?[1-9][0-9]*)|(None)|(\[\]))\Z")
_LIST_START_RE = re.compile(r"([A-Za-z_][A-Za-z0-9_]*) = \[\Z")
_LIST_ITEM_RE = re.compile(rf"[ \t]+({_STRING}),?[ \t]*\Z")


def _fast_literal_assignments(text: str) -> dict[str, Any] | None:
    """The assignments of spec/depend in its usual layout, without the ``ast`` module; None otherwise.

    It reads ``key = 'text'`` (or ``"text"``, no backslashes), ``key = 12``, ``key = None``,
    ``key = []`` and ``key = [`` followed by one string per indented line and ``]``: what
    egg builders write. For anything else it returns None and the caller parses with
    ``ast``, so both give the same result.
    """
    if "\x00" in text:
        return None  # Python refuses NUL characters in source
    values: dict[str, Any] = {}
    key: str | None = None
    items: list[str] = []
    comma = True
    for line in text.split("\n"):
        line = line.rstrip(" \t")
        if key is not None:
            if line == "]":
                values[key], key = items, None
                continue
            item = _LIST_ITEM_RE.match(line)
            if item is None or not comma:  # without a comma, Python would join two strings
                return None
            items.append(item.group(1)[1:-1])
            comma = line.endswith(",")
            continue
        if not line:
            continue
        match = _SIMPLE_STATEMENT_RE.match(line)
        if match is not None:
            name, string, integer, none, _ = match.groups()
            if keyword.iskeyword(name):
                return None
            try:
                values[name] = string[1:-1] if string is not None else int(integer) if integer is not None else (
                    None if none is not None else [])
            except ValueError:  # an integer beyond Python's digit limit: ast says how to report it
                return None
            continue
        start = _LIST_START_RE.match(line)
        if start is None or keyword.iskeyword(start.group(1)):
            return None
        key, items, comma = start.group(1), [], True
    return None if key is not None else values


def _literal_assignments(text: str) -> dict[str, Any]:
    """Return the ``key = literal`` assignments of spec/depend text, never executing it."""
    fast = _fast_literal_assignments(text.replace("\r", ""))
    if fast is not None:
        return fast
    try:
        tree = ast.parse(text.replace("\r", ""), filename="spec/depend", mode="exec")
    except (SyntaxError, ValueError) as exc:
        raise InvalidEgg(f"Invalid spec/depend: not valid Python syntax ({exc})") from exc
    values: dict[str, Any] = {}
    for statement in tree.body:
        if (not isinstance(statement, ast.Assign) or len(statement.targets) != 1
                or not isinstance(statement.targets[0], ast.Name)):
            raise InvalidEgg(
                f"Invalid spec/depend: line {statement.lineno} is not a 'key = <literal>' assignment")
        key = statement.targets[0].id
        try:
            values[key] = ast.literal_eval(statement.value)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError) as exc:
            raise InvalidEgg(f"Invalid spec/depend: the value of {key!r} is not a literal") from exc
    return values


def _check_type(values: dict[str, Any], key: str, allow_none: bool) -> None:
    """Raise InvalidEgg unless ``values[key]`` is a string (or None when allowed)."""
    value = values.get(key)
    if value is None and allow_none:
        return
    if not isinstance(value, str):
        expected = "a string or None" if allow_none else "a string"
        raise InvalidEgg(f"Invalid metadata field {key!r}: expected {expected}, got {value!r}")


def metadata_version_tuple(value: Any) -> tuple[int, int]:
    """Return (major, minor) of a spec/depend metadata_version, checking it is a supported one.

    Raises
    ------
    InvalidEgg
        If it is not a ``'MAJOR.MINOR'`` string or is newer than 1.4.
    """
    match = _METADATA_VERSION_RE.match(value) if isinstance(value, str) else None
    if match is None:
        raise InvalidEgg(f"Invalid metadata field 'metadata_version': expected 'MAJOR.MINOR', got {value!r}")
    version = (int(match.group(1)), int(match.group(2)))
    if version > MAX_METADATA_VERSION:
        raise InvalidEgg(
            f"Unsupported metadata_version {value!r}: hatcher supports only eggs up to 1.4")
    return version


def spec_platform(arch: str | None, platform: str | None, osdist: str | None) -> str | None:
    """Return the canonical Brood platform of spec/depend's ``arch``, ``platform`` and ``osdist`` (§1.4).

    ``darwin`` gives osx, ``win32`` gives win, ``linux*`` gives ``rhN`` from ``RedHat_N`` (rh5 when
    osdist is None) and ``sunos5`` gives sol. Both ``platform`` and ``osdist`` None give None.

    Raises
    ------
    InvalidEgg
        For an unknown platform, osdist or arch, or an impossible combination.
    """
    if platform is None:
        if osdist is None:
            return None
        raise InvalidEgg(f"Invalid metadata: osdist {osdist!r} given without a platform")
    if platform.startswith("linux"):
        if osdist is None:
            os_name = "rh5"
        else:
            match = _OSDIST_RE.match(osdist)
            if match is None:
                raise InvalidEgg(f"Invalid metadata field 'osdist': unsupported value {osdist!r} "
                                 "(expected RedHat_3, RedHat_5, ..., RedHat_8)")
            os_name = f"rh{match.group(1)}"
    elif platform in ("darwin", "win32", "sunos5"):
        # osdist only means something on Linux; okonomiyaki ignores it elsewhere.
        os_name = {"darwin": "osx", "win32": "win", "sunos5": "sol"}[platform]
    else:
        raise InvalidEgg(f"Invalid metadata field 'platform': unsupported value {platform!r}")
    if arch is None:
        raise InvalidEgg(f"Invalid metadata field 'arch': None is not valid with platform {platform!r}")
    canonical_arch = ARCH_ALIASES.get(arch) if arch not in ("32", "64") else None
    if canonical_arch is None:
        raise InvalidEgg(f"Invalid metadata field 'arch': unsupported value {arch!r}")
    try:
        return normalize_platform(f"{os_name}-{canonical_arch}")
    except InvalidPlatform as exc:
        raise InvalidEgg(f"Invalid metadata: {exc}") from exc


def _check_python_tag(value: str | None) -> str | None:
    """Return the normalised python tag of spec/depend, or raise InvalidEgg."""
    if value is None:
        return None
    try:
        return normalize_python_tag(value)
    except ValueError as exc:
        raise InvalidEgg(f"Invalid metadata field 'python_tag': {value!r} is not a python tag "
                         "(write None, not 'none', for eggs without Python)") from exc


def _default_abi_tag(python_tag: str | None, platform: str | None) -> str | None:
    """Return the abi_tag okonomiyaki fills in for metadata before 1.3 (a CPython ABI, whatever the prefix)."""
    if python_tag is None or platform is None:
        return None
    _, major, minor = parse_python_tag(python_tag)
    if minor is None:
        return None
    return f"cp{major}{minor}" if (major, minor) >= (3, 8) else f"cp{major}{minor}m"


def parse_spec_depend(text: str) -> dict[str, Any]:
    """Parse and check the text of ``EGG-INFO/spec/depend`` (§1.3-§1.6) without executing it.

    Parameters
    ----------
    text : str
        The file's text: ``key = <literal>`` assignments only.

    Returns
    -------
    dict
        The thirteen metadata-1.4 keys, filled in as okonomiyaki does for older versions
        (``metadata_version`` is kept as written; ``packages`` is a list of strings), plus
        ``epd_platform``: the canonical Brood platform or None.

    Raises
    ------
    InvalidEgg
        For any statement that is not a literal assignment, a missing or newer than 1.4
        metadata_version, a missing required key, a value of the wrong type or an invalid
        requirement, osdist or platform.
    """
    values = _literal_assignments(text)
    if "metadata_version" not in values:
        raise InvalidEgg("Missing metadata field 'metadata_version'")
    metadata_version_tuple(values["metadata_version"])
    # A 1.x version not in the table (1.0, ...) is read with the key set of 1.4.
    key_set = values["metadata_version"] if values["metadata_version"] in METADATA_KEYS else "1.4"
    required = METADATA_KEYS[key_set]
    version = metadata_version_tuple(key_set)
    for key in required:
        if key not in values:
            raise InvalidEgg(f"Missing metadata field {key!r}")
    for key in ("name", "version"):
        _check_type(values, key, allow_none=False)
    if not values["name"] or values["name"].split() != [values["name"]]:
        raise InvalidEgg(f"Invalid metadata field 'name': {values['name']!r}")
    upstream = values["version"]
    if not upstream or "-" in upstream or upstream.split() != [upstream]:
        raise InvalidEgg(f"Invalid metadata field 'version': {upstream!r} (it may not be empty or contain '-')")
    build = values["build"]
    if isinstance(build, bool) or not isinstance(build, int) or build < 0:
        raise InvalidEgg(f"Invalid metadata field 'build': expected a non-negative integer, got {build!r}")
    for key in required[4:]:
        if key == "packages":
            continue
        _check_type(values, key, allow_none=True)
    python = values["python"]
    packages = values["packages"]
    if not isinstance(packages, (list, tuple)):
        raise InvalidEgg(f"Invalid metadata field 'packages': expected a list, got {packages!r}")
    for requirement in packages:
        parse_requirement(requirement)
    epd_platform = spec_platform(values["arch"], values["platform"], values["osdist"])

    if version < (1, 2):
        if python and not _PYTHON_RE.match(python):
            raise InvalidEgg(f"Invalid metadata field 'python': expected 'M.N' or None, got {python!r}")
        python_tag = f"cp{python.replace('.', '')}" if python else None
    else:
        python_tag = _check_python_tag(values["python_tag"])
    if version < (1, 3):
        abi_tag = _default_abi_tag(python_tag, epd_platform)
        pep425_platform = platform_tag(epd_platform, python_tag)
    else:
        abi_tag, pep425_platform = values["abi_tag"], values["platform_tag"]
    if version < (1, 4):
        platform_abi = default_platform_abi(epd_platform, python_tag)
    else:
        platform_abi = values["platform_abi"]
    return {
        "metadata_version": values["metadata_version"],
        "name": values["name"],
        "version": upstream,
        "build": build,
        "arch": values["arch"],
        "platform": values["platform"],
        "osdist": values["osdist"],
        "python": python or None,
        "python_tag": python_tag,
        "abi_tag": abi_tag,
        "platform_tag": pep425_platform,
        "platform_abi": platform_abi,
        "packages": list(packages),
        "epd_platform": epd_platform,
    }
