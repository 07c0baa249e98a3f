"""Version ordering: Enthought ``upstream-build`` versions (PEP 386 workaround) and PEP 440 runtime versions."""

from __future__ import annotations

import re
from typing import Any, Tuple

import attr

# PEP 386 "rational" version, as okonomiyaki reads it: N(.N)* then an optional pre-release (a, b, c, rc
# or .dev, with a number), then an optional .postN and an optional .devN. Numbers have no leading zero.
_N = r"(?:0|[1-9]\d*)"
_PEP386_RE = re.compile(
    rf"(?P<release>{_N}(?:\.{_N})*)"
    rf"(?:(?P<pre>a|b|c|rc|\.dev)(?P<prenum>{_N}(?:\.{_N})*))?"
    rf"(?:\.post(?P<post>{_N}))?"
    rf"(?:\.dev(?P<dev>{_N}))?\Z"
)
_PRE_RANK = {".dev": 0, "a": 1, "b": 2, "c": 3, "rc": 3}
_FINAL_RANK = 4

_PEP440_RE = re.compile(
    r"v?(?:(?P<epoch>\d+)!)?(?P<release>\d+(?:\.\d+)*)"
    r"(?:[-_.]?(?P<pre>a|alpha|b|beta|c|rc|pre|preview)[-_.]?(?P<prenum>\d+)?)?"
    r"(?P<post_seg>-(?P<post_implicit>\d+)|[-_.]?(?:post|rev|r)[-_.]?(?P<post>\d+)?)?"
    r"(?P<dev_seg>[-_.]?dev[-_.]?(?P<dev>\d+)?)?"
    r"(?:\+(?P<local>[a-z0-9]+(?:[-_.][a-z0-9]+)*))?\Z",
    re.IGNORECASE,
)
_PEP440_PRE = {"a": "a", "alpha": "a", "b": "b", "beta": "b", "c": "rc", "rc": "rc", "pre": "rc", "preview": "rc"}
_PEP440_PRE_RANK = {"a": 0, "b": 1, "rc": 2}

SortKey = Tuple[Any, ...]


def _strip_trailing_zeros(numbers: tuple[int, ...]) -> tuple[int, ...]:
    """Return the tuple without its trailing zero components (``(1, 0, 0)`` -> ``(1,)``)."""
    end = len(numbers)
    while end > 0 and numbers[end - 1] == 0:
        end -= 1
    return numbers[:end]


def _ints(text: str) -> tuple[int, ...]:
    """Return the dot-separated integers of ``text``."""
    return tuple(int(part) for part in text.split("."))


def upstream_sort_key(upstream: str) -> SortKey:
    """Return the sort key of an upstream version, as okonomiyaki's PEP386WorkaroundVersion orders it.

    Rational (PEP 386) versions sort by release numbers (trailing zeros ignored), then the
    pre-release (``.dev`` before ``a`` before ``b`` before ``c``/``rc`` before the final release),
    then ``.postN``, where a trailing ``.devN`` sorts just before the same version without it.
    Any other ("worked-around") version sorts below every rational one, by its dot-separated
    parts compared as strings.
    """
    match = _PEP386_RE.match(upstream)
    if match is None:
        return (0, tuple(upstream.split(".")))
    release = _strip_trailing_zeros(_ints(match.group("release")))
    pre, post, dev = match.group("pre"), match.group("post"), match.group("dev")
    pre_key: tuple[Any, ...] = (_FINAL_RANK,) if pre is None else (_PRE_RANK[pre], _ints(match.group("prenum")))
    if post is None:
        post_dev_key: tuple[Any, ...] = (1,) if dev is None else (0, int(dev))
    else:
        post_dev_key = (1, 1, int(post), (1,) if dev is None else (0, int(dev)))
    return (1, release, pre_key, post_dev_key)


def _upstream_key(version: EnpkgVersion) -> SortKey:
    """attrs default: the full sort key of an EnpkgVersion."""
    return (upstream_sort_key(version.upstream), version.build)


@attr.s(frozen=True, eq=True, order=True, repr=False)
class EnpkgVersion:
    """An Enthought ``<upstream>-<build>`` version, ordered as okonomiyaki orders them.

    Equality and ordering use the sort key (``1.0-1 == 1.0.0-1``, ``1.0rc1 == 1.0c1``),
    while ``str()`` gives the text exactly as it was written.
    """

    upstream: str = attr.ib(eq=False, order=False)
    build: int = attr.ib(eq=False, order=False)
    _text: str = attr.ib(eq=False, order=False)
    _key: SortKey = attr.ib(init=False, eq=True, order=True)

    @_key.default
    def _compute_key(self) -> SortKey:
        return _upstream_key(self)

    @classmethod
    def from_string(cls, text: str) -> EnpkgVersion:
        """Parse ``upstream-build`` (``1.8.0-1``); a string without ``-`` has build 0.

        Raises
        ------
        ValueError
            For more than one ``-``, an empty upstream or a build that is not a non-negative integer.
        """
        if not isinstance(text, str):
            raise TypeError(f"version must be a string, got {text!r}")
        parts = text.split("-")
        if len(parts) > 2:
            raise ValueError(f"Invalid version {text!r}: more than one '-'")
        upstream = parts[0]
        build_text = parts[1] if len(parts) == 2 else "0"
        if not build_text.isdigit() or not build_text.isascii():
            raise ValueError(f"Invalid version {text!r}: the build {build_text!r} is not a non-negative integer")
        return cls.from_upstream_and_build(upstream, int(build_text), _text=text)

    @classmethod
    def from_upstream_and_build(cls, upstream: str, build: int, _text: str | None = None) -> EnpkgVersion:
        """Build a version from its upstream string and its integer build number.

        Raises
        ------
        ValueError
            For an empty upstream, an upstream containing ``-`` or whitespace, or a negative build.
        """
        if not isinstance(upstream, str) or not upstream or "-" in upstream or upstream.split() != [upstream]:
            raise ValueError(f"Invalid upstream version {upstream!r}")
        if isinstance(build, bool) or not isinstance(build, int) or build < 0:
            raise ValueError(f"Invalid build number {build!r}: expected a non-negative integer")
        text = _text if _text is not None else f"{upstream}-{build}"
        return cls(upstream, build, text)

    def __str__(self) -> str:
        return self._text

    def __repr__(self) -> str:
        return f"EnpkgVersion({self._text!r})"


def pep440_sort_key(version: str) -> SortKey:
    """Return a PEP 440 sort key for a v1 runtime version such as ``3.8.10+2``.

    The key orders by epoch, release (trailing zeros ignored), pre-release (``dev`` < ``a`` <
    ``b`` < ``rc`` < final < ``post``), then the local segment (absent < present; numeric parts
    above alphanumeric ones), so ``3.11.4+1`` sorts after ``3.8.10+2``.

    Raises
    ------
    ValueError
        If the string is not a PEP 440 version.
    """
    match = _PEP440_RE.match(version.strip()) if isinstance(version, str) else None
    if match is None:
        raise ValueError(f"Invalid PEP 440 version {version!r}")
    epoch = int(match.group("epoch") or 0)
    release = _strip_trailing_zeros(_ints(match.group("release")))
    pre = match.group("pre")
    post = match.group("post_implicit") or match.group("post")
    has_post = match.group("post_seg") is not None
    dev = match.group("dev")
    has_dev = match.group("dev_seg") is not None
    if pre is not None:
        pre_key: tuple[int, ...] = (_PEP440_PRE_RANK[_PEP440_PRE[pre.lower()]], int(match.group("prenum") or 0))
    elif has_dev and not has_post:
        pre_key = (-1, 0)
    else:
        pre_key = (3, 0)
    post_key = (int(post or 0),) if has_post else (-1,)
    dev_key = (0, int(dev or 0)) if has_dev else (1, 0)
    local = match.group("local")
    local_key: tuple[tuple[int, Any], ...] = ()
    if local is not None:
        local_key = tuple((1, int(part)) if part.isdigit() else (0, part.lower())
                          for part in re.split(r"[-_.]", local))
    return (epoch, release, pre_key, post_key, dev_key, local_key)


@attr.s(frozen=True, eq=True, order=True, repr=False)
class RuntimeVersion:
    """A v1 runtime version (PEP 440, build number as the local segment: ``3.11.2+2``)."""

    _text: str = attr.ib(eq=False, order=False)
    _key: SortKey = attr.ib(init=False, eq=True, order=True)

    @_key.default
    def _compute_key(self) -> SortKey:
        return pep440_sort_key(self._text)

    @classmethod
    def from_string(cls, text: str) -> RuntimeVersion:
        """Parse a PEP 440 version; raise ValueError if it is not one."""
        return cls(text)

    @property
    def release(self) -> tuple[int, ...]:
        """The release numbers as written (``3.11.2+2`` -> ``(3, 11, 2)``)."""
        return _ints(_PEP440_RE.match(self._text.strip()).group("release"))

    @property
    def local(self) -> str | None:
        """The local segment (the build number for runtimes), or None."""
        return _PEP440_RE.match(self._text.strip()).group("local")

    @property
    def major(self) -> int:
        """The first release number."""
        return self.release[0]

    @property
    def minor(self) -> int:
        """The second release number (0 when absent)."""
        release = self.release
        return release[1] if len(release) > 1 else 0

    def __str__(self) -> str:
        return self._text

    def __repr__(self) -> str:
        return f"RuntimeVersion({self._text!r})"
