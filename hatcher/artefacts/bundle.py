"""EDM bundles: JSON environment descriptions named ``<name>-<version>-<build>.bundle``."""

from __future__ import annotations

import json
import os
import re
from typing import Any

import attr

from hatcher.artefacts.platforms import normalize_platform
from hatcher.artefacts.tags import python_tag
from hatcher.errors import InvalidBundle, InvalidPlatform

BUNDLE_EXTENSION = "bundle"

#: ``<name>-<version>-<build>.bundle``: name of word characters and dots, version without ``-``, digits.
BUNDLE_RE = re.compile(r"^(?P<name>[\w.]+)-(?P<version>[^-]+)-(?P<build>\d+)\.bundle\Z")

_MAX_BUNDLE_SIZE = 64 * 1024 * 1024
_NO_RUNTIME = 'Bundle does not have "runtime" key'


def split_bundle_name(filename: str) -> tuple[str, str, int]:
    """Split a bundle file name into (name, version, build): ``foo-1.0.0-1.bundle`` -> ``("foo", "1.0.0", 1)``.

    Raises
    ------
    InvalidBundle
        If the base name does not follow ``<name>-<version>-<build>.bundle``.
    """
    basename = os.path.basename(filename)
    match = BUNDLE_RE.match(basename)
    if match is None:
        raise InvalidBundle(f"Invalid bundle file name {basename!r}: expected '<name>-<version>-<build>.bundle'")
    return match.group("name"), match.group("version"), int(match.group("build"))


def parse_bundle_document(data: bytes | str, filename: str = "<bundle>") -> dict[str, Any]:
    """Parse a bundle's JSON text into a dict that has a ``runtime`` object.

    Raises
    ------
    InvalidBundle
        If the text is not JSON, not an object, or lacks a ``runtime`` object.
    """
    try:
        document = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidBundle(f"{filename}: the bundle is not valid JSON: {exc}") from exc
    if not isinstance(document, dict) or "runtime" not in document:
        raise InvalidBundle(_NO_RUNTIME)
    if not isinstance(document["runtime"], dict):
        raise InvalidBundle(f"{filename}: the bundle's \"runtime\" must be an object")
    return document


def read_bundle_document(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read and parse a bundle file (see :func:`parse_bundle_document`).

    Raises
    ------
    InvalidBundle
        If the file cannot be read (wrapping the OSError), or its content is not a valid bundle.
    """
    basename = os.path.basename(os.fspath(path))
    try:
        with open(path, "rb") as stream:
            data = stream.read(_MAX_BUNDLE_SIZE + 1)
    except OSError as exc:
        raise InvalidBundle(f"{basename}: cannot read the bundle: {exc}") from exc
    if len(data) > _MAX_BUNDLE_SIZE:
        raise InvalidBundle(f"{basename}: the bundle is too large")
    return parse_bundle_document(data, basename)


def read_bundle_runtime(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Return the ``runtime`` object of a bundle file.

    Raises
    ------
    InvalidBundle
        If the file cannot be read, is not JSON, or has no ``runtime`` key.
    """
    return read_bundle_document(path)["runtime"]


@attr.s(frozen=True)
class BundleInfo:
    """A bundle: name and version from its file name, platform and python tag from its ``runtime``."""

    name: str = attr.ib()
    version: str = attr.ib()
    build: int = attr.ib()
    runtime: dict[str, Any] = attr.ib(eq=False, hash=False, repr=False)
    platform: str = attr.ib()
    python_tag: str = attr.ib()
    document: dict[str, Any] = attr.ib(eq=False, hash=False, repr=False)

    @classmethod
    def from_document(cls, document: dict[str, Any], filename: str) -> BundleInfo:
        """Build the info from a parsed bundle document and its file name.

        Raises
        ------
        InvalidBundle
            For a bad file name, or a runtime without a valid implementation, version or platform.
        """
        basename = os.path.basename(filename)
        name, version, build = split_bundle_name(basename)
        if not isinstance(document, dict) or not isinstance(document.get("runtime"), dict):
            raise InvalidBundle(_NO_RUNTIME)
        runtime = document["runtime"]
        for key in ("implementation", "version", "platform"):
            if not isinstance(runtime.get(key), str):
                raise InvalidBundle(f"{basename}: the bundle's runtime has no {key!r} string")
        try:
            platform = normalize_platform(runtime["platform"])
        except InvalidPlatform as exc:
            raise InvalidBundle(f"{basename}: {exc}") from exc
        try:
            tag = python_tag(runtime["implementation"], runtime["version"])
        except (TypeError, ValueError) as exc:
            raise InvalidBundle(f"{basename}: cannot compute the python tag of the runtime: {exc}") from exc
        return cls(name=name, version=version, build=build, runtime=runtime, platform=platform,
                   python_tag=tag, document=document)

    @classmethod
    def from_bytes(cls, data: bytes | str, filename: str) -> BundleInfo:
        """Parse a bundle held in memory; ``filename`` gives its name and version.

        Raises
        ------
        InvalidBundle
            See :meth:`from_document` and :func:`parse_bundle_document`.
        """
        basename = os.path.basename(filename)
        split_bundle_name(basename)
        return cls.from_document(parse_bundle_document(data, basename), basename)

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> BundleInfo:
        """Read a bundle file.

        Raises
        ------
        InvalidBundle
            If the file is unreadable, not JSON, lacks ``runtime``, or is badly named.
        """
        basename = os.path.basename(os.fspath(path))
        split_bundle_name(basename)
        return cls.from_document(read_bundle_document(path), basename)

    @property
    def full_version(self) -> str:
        """``<version>-<build>``, e.g. ``1.0.0-1``."""
        return f"{self.version}-{self.build}"

    @property
    def runtime_platform(self) -> str:
        """The runtime's platform exactly as written in the bundle (e.g. ``rh5_x86_64``)."""
        return self.runtime["platform"]
