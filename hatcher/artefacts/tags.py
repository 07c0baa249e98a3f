"""PEP 425 python tags: computing them from versions and listing which tags an index merges."""

from __future__ import annotations

import re

#: Implementation prefixes of python tags and what they mean.
TAG_PREFIXES = {"cp": "cpython", "pp": "pypy", "ip": "ironpython", "jy": "jython", "py": "any"}

_IMPLEMENTATION_PREFIXES = {"cpython": "cp", "pypy": "pp"}
_MAJOR_MINOR_RE = re.compile(r"(\d+)\.(\d+)")
_V0_VERSION_RE = re.compile(r"(\d+)\.(\d+)\.(\d+)\Z")
_TAG_RE = re.compile(r"(?P<prefix>cp|pp|ip|jy|py)(?P<major>\d)(?:_?(?P<minor>\d{1,2}))?\Z")

#: Concrete tags (one implementation at one major.minor) a server lists by default.
CONCRETE_PYTHON_TAGS = (
    "cp27", "cp34", "cp35", "cp36", "cp38", "cp39", "cp310", "cp311", "cp312", "cp313", "pp27",
)

#: Every tag a server lists by default: the concrete ones, the generic ``py*`` ones and ``none``.
ALL_PYTHON_TAGS = CONCRETE_PYTHON_TAGS + (
    "py2", "py27", "py3", "py34", "py35", "py36", "py38", "py39", "py310", "py311", "py312", "py313",
    "none",
)


def python_tag(implementation: str, version: str) -> str:
    """Return the python tag of an implementation at a version (``cpython``, ``3.11.4+1`` -> ``cp311``).

    Parameters
    ----------
    implementation : str
        ``cpython`` (gives ``cp``) or ``pypy`` (gives ``pp``).
    version : str
        A version starting with ``major.minor`` (``3.6.5+1``, ``2.7``).

    Returns
    -------
    str
        The prefix followed by the major and minor digits.

    Raises
    ------
    TypeError
        If either argument is not a string.
    ValueError
        For another implementation, an unparsable version or a version older than 2.5.
    """
    if not isinstance(implementation, str) or not isinstance(version, str):
        raise TypeError(
            f"implementation and version must be strings, got {implementation!r} and {version!r}")
    prefix = _IMPLEMENTATION_PREFIXES.get(implementation)
    if prefix is None:
        raise ValueError(f"Unsupported implementation {implementation!r} (expected cpython or pypy)")
    match = _MAJOR_MINOR_RE.match(version)
    if match is None:
        raise ValueError(f"Unparsable version {version!r}: expected 'major.minor...'")
    major, minor = int(match.group(1)), int(match.group(2))
    if (major, minor) < (2, 5):
        raise ValueError(f"Unsupported Python version {version!r}: older than 2.5")
    return f"{prefix}{major}{minor}"


def python_tag_name(tag: str | None) -> str:
    """Return the tag as used in URLs and indexes: ``none`` for None, the tag itself otherwise."""
    return "none" if tag is None else tag


def v0_runtime_python_tag(version: str) -> str:
    """Return the python tag of a v0 runtime version (``2.7.3`` -> ``cp27``).

    Parameters
    ----------
    version : str
        Exactly ``X.Y.Z``, with X.Y in 2.5-2.7 or 3.0-3.4 (the table of the reference client).

    Returns
    -------
    str
        ``cpXY``.

    Raises
    ------
    ValueError
        For any other version.
    """
    match = _V0_VERSION_RE.match(version) if isinstance(version, str) else None
    if match is None:
        raise ValueError(f"Invalid v0 runtime version {version!r}: expected 'X.Y.Z'")
    major, minor = int(match.group(1)), int(match.group(2))
    if not ((major == 2 and 5 <= minor <= 7) or (major == 3 and 0 <= minor <= 4)):
        raise ValueError(f"Unsupported v0 runtime version {version!r}: only Python 2.5-2.7 and 3.0-3.4")
    return f"cp{major}{minor}"


def parse_python_tag(tag: str) -> tuple[str, int, int | None]:
    """Split a python tag into (prefix, major, minor or None): ``cp311`` -> ``("cp", 3, 11)``.

    ``cp3_11`` is read as ``cp311``; ``py3`` has no minor.

    Raises
    ------
    ValueError
        If the string is not a python tag (``none`` is not one).
    """
    match = _TAG_RE.match(tag) if isinstance(tag, str) else None
    if match is None:
        raise ValueError(f"Invalid python tag {tag!r}: expected e.g. 'cp27', 'cp311', 'pp27' or 'py3'")
    minor = match.group("minor")
    return match.group("prefix"), int(match.group("major")), int(minor) if minor is not None else None


def normalize_python_tag(tag: str) -> str:
    """Return the tag in its plain form (``cp3_11`` -> ``cp311``); raise ValueError if it is not a tag."""
    prefix, major, minor = parse_python_tag(tag)
    return f"{prefix}{major}" if minor is None else f"{prefix}{major}{minor}"


def compatible_egg_tags(tag: str) -> list[str]:
    """Return the tags whose eggs appear in the egg index of ``tag``, most specific first.

    The rule (the spec's inferred merge, §0.2): the tag itself, then the generic ``py<M><m>``
    and ``py<M>`` tags of its Python version (when different from the tag), then ``none``
    (eggs without Python). ``cp27`` gives ``["cp27", "py27", "py2", "none"]``, ``py3`` gives
    ``["py3", "none"]`` and ``none`` gives ``["none"]``.

    Parameters
    ----------
    tag : str
        A python tag or ``none``.

    Returns
    -------
    list of str

    Raises
    ------
    ValueError
        If ``tag`` is neither a python tag nor ``none``.
    """
    if tag == "none":
        return ["none"]
    prefix, major, minor = parse_python_tag(tag)
    tags = [normalize_python_tag(tag)]
    if minor is not None:
        tags.append(f"py{major}{minor}")
    tags.append(f"py{major}")
    tags.append("none")
    result: list[str] = []
    for candidate in tags:
        if candidate not in result:
            result.append(candidate)
    return result
