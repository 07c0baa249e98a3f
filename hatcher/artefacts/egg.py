"""Enthought eggs: the file-name grammar and a reader of the metadata inside the zip archive."""

from __future__ import annotations

import os
import re
import zipfile
import zlib
from typing import IO, Any, Union

import attr

from hatcher.artefacts.spec_depend import (
    MAX_METADATA_VERSION,
    Requirement,
    parse_requirement,
    parse_spec_depend,
)
from hatcher.artefacts.tags import python_tag_name
from hatcher.artefacts.versions import EnpkgVersion
from hatcher.errors import InvalidEgg

__all__ = [
    "EGG_NAME_RE", "EggInfo", "MAX_METADATA_VERSION", "Requirement", "egg_name", "is_egg_name_valid",
    "parse_requirement", "parse_spec_depend", "split_egg_name",
]

#: ``<name>-<upstream>-<build>.egg``: name of word characters and dots, upstream without ``-``, digits.
EGG_NAME_RE = re.compile(r"^(?P<name>[\w.]+)-(?P<upstream>[^-]+)-(?P<build>\d+)\.egg\Z")

SPEC_DEPEND_MEMBER = "EGG-INFO/spec/depend"
SUMMARY_MEMBER = "EGG-INFO/spec/summary"
_MAX_MEMBER_SIZE = 1024 * 1024

PathOrFile = Union[str, "os.PathLike[str]", IO[bytes]]


def is_egg_name_valid(filename: str) -> bool:
    """Return whether a file's base name follows the egg grammar (``numpy-1.8.0-1.egg``)."""
    return EGG_NAME_RE.match(os.path.basename(filename)) is not None


def split_egg_name(filename: str) -> tuple[str, str, int]:
    """Split an egg file name into (name, upstream, build).

    Parameters
    ----------
    filename : str
        A path or base name such as ``numpy-1.8.0-1.egg``.

    Returns
    -------
    tuple of (str, str, int)

    Raises
    ------
    InvalidEgg
        If the base name does not follow ``<name>-<upstream>-<build>.egg``.
    """
    basename = os.path.basename(filename)
    match = EGG_NAME_RE.match(basename)
    if match is None:
        raise InvalidEgg(f"Invalid egg name {basename!r}: expected '<name>-<version>-<build>.egg'")
    return match.group("name"), match.group("upstream"), int(match.group("build"))


def egg_name(name: str, upstream: str, build: int) -> str:
    """Return the canonical egg file name ``<name>-<upstream>-<build>.egg``."""
    return f"{name}-{upstream}-{build}.egg"


def _read_member(archive: zipfile.ZipFile, member: str, label: str) -> bytes | None:
    """Return a small archive member's bytes, or None when it is absent."""
    try:
        info = archive.getinfo(member)
    except KeyError:
        return None
    if info.file_size > _MAX_MEMBER_SIZE:
        raise InvalidEgg(f"{label}: {member} is too large ({info.file_size} bytes)")
    with archive.open(info) as stream:
        data = stream.read(_MAX_MEMBER_SIZE + 1)
    if len(data) > _MAX_MEMBER_SIZE:
        raise InvalidEgg(f"{label}: {member} is too large")
    return data


def _source_basename(source: PathOrFile, filename: str | None) -> str | None:
    """Return the base name to check and report: the explicit one, the path's or the file object's."""
    if filename is not None:
        return os.path.basename(filename)
    if isinstance(source, (str, os.PathLike)):
        return os.path.basename(os.fspath(source))
    name = getattr(source, "name", None)
    return os.path.basename(name) if isinstance(name, str) else None


@attr.s(frozen=True)
class EggInfo:
    """The metadata of an Enthought egg, as read from its ``EGG-INFO/spec/depend`` (and summary)."""

    egg_basename: str = attr.ib()
    upstream_version: str = attr.ib()
    build: int = attr.ib()
    python: str | None = attr.ib()
    python_tag: str | None = attr.ib()
    abi_tag: str | None = attr.ib()
    platform_tag: str | None = attr.ib()
    platform_abi: str | None = attr.ib()
    platform: str | None = attr.ib()
    packages: list[str] = attr.ib(hash=False)
    metadata_version: str = attr.ib()
    summary: str = attr.ib(default="")
    arch: str | None = attr.ib(default=None)
    spec_platform: str | None = attr.ib(default=None)
    osdist: str | None = attr.ib(default=None)

    @classmethod
    def from_spec_depend(cls, text: str, summary: str = "") -> EggInfo:
        """Build the info from the text of spec/depend (and the summary).

        Raises
        ------
        InvalidEgg
            If the metadata is invalid (see :func:`parse_spec_depend`).
        """
        spec = parse_spec_depend(text)
        return cls(
            egg_basename=spec["name"], upstream_version=spec["version"], build=spec["build"],
            python=spec["python"], python_tag=spec["python_tag"], abi_tag=spec["abi_tag"],
            platform_tag=spec["platform_tag"], platform_abi=spec["platform_abi"],
            platform=spec["epd_platform"], packages=spec["packages"],
            metadata_version=spec["metadata_version"], summary=summary,
            arch=spec["arch"], spec_platform=spec["platform"], osdist=spec["osdist"],
        )

    @classmethod
    def from_file(cls, path_or_fileobj: PathOrFile, filename: str | None = None) -> EggInfo:
        """Read an egg's metadata, touching only ``EGG-INFO/spec/depend`` and ``EGG-INFO/spec/summary``.

        Parameters
        ----------
        path_or_fileobj : str, path-like or binary file object
            The egg; a file object must be seekable. The payload is never read.
        filename : str, optional
            The name to check against the egg grammar and to report in errors; defaults to the
            path's (or the file object's) base name. Without any name the grammar is not checked.

        Returns
        -------
        EggInfo

        Raises
        ------
        InvalidEgg
            For a bad file name, a file that is not a zip or has no spec/depend, or invalid metadata.
            The message starts with the file's base name.
        """
        basename = _source_basename(path_or_fileobj, filename)
        label = basename or "<egg>"
        if basename is not None:
            split_egg_name(basename)
        try:
            with zipfile.ZipFile(path_or_fileobj) as archive:
                depend = _read_member(archive, SPEC_DEPEND_MEMBER, label)
                if depend is None:
                    raise InvalidEgg(f"{label} is not an Enthought egg: it has no {SPEC_DEPEND_MEMBER}")
                summary = _read_member(archive, SUMMARY_MEMBER, label) or b""
        except zipfile.BadZipFile as exc:
            raise InvalidEgg(f"{label} is not an Enthought egg: not a zip file ({exc})") from exc
        except (OSError, EOFError, ValueError, zlib.error, NotImplementedError, RuntimeError) as exc:
            raise InvalidEgg(f"{label}: cannot read the archive: {exc}") from exc
        try:
            text = depend.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidEgg(f"{label}: {SPEC_DEPEND_MEMBER} is not UTF-8 text") from exc
        try:
            return cls.from_spec_depend(text, summary.decode("utf-8", errors="replace"))
        except InvalidEgg as exc:
            raise InvalidEgg(f"{label}: {exc}") from exc

    @property
    def name(self) -> str:
        """The normalised name: the raw name lower-cased, with ``-`` replaced by ``_``."""
        return self.egg_basename.lower().replace("-", "_")

    @property
    def full_version(self) -> str:
        """``<upstream>-<build>``, e.g. ``1.8.0-1``."""
        return f"{self.upstream_version}-{self.build}"

    @property
    def version(self) -> EnpkgVersion:
        """The full version as an ordered :class:`EnpkgVersion`."""
        return EnpkgVersion.from_upstream_and_build(self.upstream_version, self.build)

    @property
    def python_tag_string(self) -> str:
        """The python tag, or ``none`` for an egg without Python."""
        return python_tag_name(self.python_tag)

    @property
    def filename(self) -> str:
        """The canonical file name ``<raw name>-<upstream>-<build>.egg``."""
        return egg_name(self.egg_basename, self.upstream_version, self.build)

    @property
    def requirements(self) -> list[Requirement]:
        """``packages`` parsed into :class:`Requirement` objects."""
        return [parse_requirement(text) for text in self.packages]

    def to_dict(self) -> dict[str, Any]:
        """Return the metadata fields the server derives from the file (§1.9), JSON-ready."""
        return {
            "name": self.name,
            "egg_basename": self.egg_basename,
            "version": self.upstream_version,
            "build": self.build,
            "full_version": self.full_version,
            "python": self.python,
            "python_tag": self.python_tag_string,
            "abi_tag": self.abi_tag,
            "platform_tag": self.platform_tag,
            "platform_abi": self.platform_abi,
            "platform": self.platform,
            "packages": list(self.packages),
            "metadata_version": self.metadata_version,
            "summary": self.summary,
            "filename": self.filename,
        }
