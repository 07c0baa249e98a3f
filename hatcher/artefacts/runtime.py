"""Runtimes: the v0 file-name grammar and the v1 archive reader (``enthought/runtime.json``)."""

from __future__ import annotations

import json
import os
import re
import zipfile
import zlib
from typing import IO, Any, Union

import attr

from hatcher.artefacts.platforms import normalize_platform, underscore_platform
from hatcher.artefacts.tags import normalize_python_tag, v0_runtime_python_tag
from hatcher.artefacts.versions import RuntimeVersion, pep440_sort_key
from hatcher.errors import InvalidPlatform, InvalidRuntime

#: ``<language>_runtime_<version>_<build_system_version>_<platform>_<build>.<file_format>``.
RUNTIME_V0_RE = re.compile(
    r"^(?P<language>\w+)_runtime_(?P<version>[^_]+)_(?P<build_system_version>[^_]+)"
    r"_(?P<platform>[^_]+)_(?P<build>\d+)\.(?P<file_format>[^_/\\]+)\Z"
)

#: The archive member holding a v1 runtime's metadata.
RUNTIME_V1_METADATA_MEMBER = "enthought/runtime.json"
RUNTIME_V1_EXTENSION = ".runtime"

_COMMON_KEYS = (
    "metadata_version", "implementation", "version", "language_version", "platform", "abi",
    "build_revision", "executable", "paths", "post_install",
)
_PYTHON_KEYS = _COMMON_KEYS + ("scriptsdir", "site_packages", "python_tag")
#: Keys runtime.json must have, per implementation.
RUNTIME_V1_REQUIRED_KEYS = {"cpython": _PYTHON_KEYS, "pypy": _PYTHON_KEYS, "julia": _COMMON_KEYS}
_LIST_KEYS = ("paths", "post_install")
_MAX_METADATA_SIZE = 1024 * 1024

PathOrFile = Union[str, "os.PathLike[str]", IO[bytes]]


@attr.s(frozen=True)
class RuntimeV0Info:
    """A legacy (API v0) runtime, described entirely by its file name."""

    language: str = attr.ib()
    version: str = attr.ib()
    build_system_version: str = attr.ib()
    platform: str = attr.ib()
    build: int = attr.ib()
    file_format: str = attr.ib()
    filename: str = attr.ib()

    @classmethod
    def from_filename(cls, path: str) -> RuntimeV0Info:
        """Parse a v0 runtime's base name, e.g. ``python_runtime_2.7.3_2.0.0.dev1-abc1234_rh5-64_1.zip``.

        Raises
        ------
        InvalidRuntime
            If the name does not follow the grammar or its platform is not an EPD platform.
        """
        basename = os.path.basename(os.fspath(path))
        match = RUNTIME_V0_RE.match(basename)
        if match is None:
            raise InvalidRuntime(
                f"Invalid runtime file name {basename!r}: expected "
                "'<language>_runtime_<version>_<build_system_version>_<platform>_<build>.<format>'")
        try:
            normalize_platform(match.group("platform"))
        except InvalidPlatform as exc:
            raise InvalidRuntime(f"Invalid runtime file name {basename!r}: {exc}") from exc
        return cls(
            language=match.group("language"), version=match.group("version"),
            build_system_version=match.group("build_system_version"), platform=match.group("platform"),
            build=int(match.group("build")), file_format=match.group("file_format"), filename=basename,
        )

    @property
    def full_version(self) -> str:
        """``<version>-<build>``, e.g. ``2.7.3-1``."""
        return f"{self.version}-{self.build}"

    @property
    def python_tag(self) -> str:
        """The python tag of the version (``2.7.3`` -> ``cp27``); ValueError outside 2.5-2.7 and 3.0-3.4."""
        return v0_runtime_python_tag(self.version)

    @property
    def canonical_platform(self) -> str:
        """The canonical Brood platform (``rh5-64`` -> ``rh5-x86_64``)."""
        return normalize_platform(self.platform)


def split_runtime_v1_name(filename: str) -> tuple[str, str, str, str]:
    """Split a v1 runtime file name into (implementation, version, canonical platform, abi).

    ``cpython-3.8.8+1-win_x86_64-msvc2019.runtime`` gives
    ``("cpython", "3.8.8+1", "win-x86_64", "msvc2019")``.

    Raises
    ------
    InvalidRuntime
        If the base name is not ``<implementation>-<version>-<platform>-<abi>.runtime`` with a
        PEP 440 version and an EPD platform.
    """
    basename = os.path.basename(filename)
    stem = basename[:-len(RUNTIME_V1_EXTENSION)] if basename.endswith(RUNTIME_V1_EXTENSION) else None
    head, _, implementation_rest = (stem or "").partition("-")
    parts = implementation_rest.rsplit("-", 2)
    if stem is None or not head or len(parts) != 3 or not all(parts):
        raise InvalidRuntime(
            f"Invalid runtime file name {basename!r}: expected '<implementation>-<version>-<platform>-<abi>.runtime'")
    version, platform, abi = parts
    try:
        pep440_sort_key(version)
        canonical = normalize_platform(platform)
    except ValueError as exc:
        raise InvalidRuntime(f"Invalid runtime file name {basename!r}: {exc}") from exc
    return head, version, canonical, abi


def _check_runtime_metadata(metadata: Any, label: str) -> None:
    """Raise InvalidRuntime unless ``metadata`` is valid v1 runtime.json content."""
    if not isinstance(metadata, dict):
        raise InvalidRuntime(f"{label}: invalid runtime metadata: expected a JSON object")
    if metadata.get("metadata_version") != "1.0":
        raise InvalidRuntime(f"{label}: unsupported runtime metadata_version "
                             f"{metadata.get('metadata_version')!r} (only '1.0' is supported)")
    implementation = metadata.get("implementation")
    required = RUNTIME_V1_REQUIRED_KEYS.get(implementation) if isinstance(implementation, str) else None
    if required is None:
        raise InvalidRuntime(f"{label}: unsupported runtime implementation {implementation!r}")
    for key in required:
        if key not in metadata:
            raise InvalidRuntime(f"{label}: invalid runtime metadata: {key!r} is a required property")
        value = metadata[key]
        if key in _LIST_KEYS:
            if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
                raise InvalidRuntime(f"{label}: invalid runtime metadata: {key!r} must be a list of strings")
        elif not isinstance(value, str):
            raise InvalidRuntime(f"{label}: invalid runtime metadata: {key!r} must be a string, got {value!r}")


@attr.s(frozen=True)
class RuntimeV1Info:
    """An API v1 runtime, described by the ``enthought/runtime.json`` inside its zip archive."""

    implementation: str = attr.ib()
    version: str = attr.ib()
    language_version: str = attr.ib()
    platform: str = attr.ib()
    abi: str = attr.ib()
    build_revision: str = attr.ib()
    python_tag: str | None = attr.ib()
    metadata_version: str = attr.ib()
    metadata: dict[str, Any] = attr.ib(eq=False, hash=False, repr=False)
    filename: str | None = attr.ib(default=None)

    @classmethod
    def from_metadata(cls, metadata: Any, filename: str | None = None) -> RuntimeV1Info:
        """Check a runtime.json document and build the info from it.

        Raises
        ------
        InvalidRuntime
            For a wrong metadata_version, an unsupported implementation, a missing or mistyped
            key, a non-PEP 440 version or an unknown platform. The message starts with the file name.
        """
        label = filename or "<runtime>"
        _check_runtime_metadata(metadata, label)
        try:
            pep440_sort_key(metadata["version"])
            pep440_sort_key(metadata["language_version"])
        except ValueError as exc:
            raise InvalidRuntime(f"{label}: invalid runtime metadata: {exc}") from exc
        try:
            platform = normalize_platform(metadata["platform"])
        except InvalidPlatform as exc:
            raise InvalidRuntime(f"{label}: invalid runtime metadata: {exc}") from exc
        python_tag = None
        if "python_tag" in RUNTIME_V1_REQUIRED_KEYS[metadata["implementation"]]:
            try:
                python_tag = normalize_python_tag(metadata["python_tag"])
            except ValueError as exc:
                raise InvalidRuntime(f"{label}: invalid runtime metadata: {exc}") from exc
        return cls(
            implementation=metadata["implementation"], version=metadata["version"],
            language_version=metadata["language_version"], platform=platform, abi=metadata["abi"],
            build_revision=metadata["build_revision"], python_tag=python_tag,
            metadata_version=metadata["metadata_version"], metadata=metadata, filename=filename,
        )

    @classmethod
    def from_file(cls, path_or_fileobj: PathOrFile, filename: str | None = None,
                  check_filename: bool = True) -> RuntimeV1Info:
        """Read a v1 runtime archive's ``enthought/runtime.json``, without reading the rest.

        Parameters
        ----------
        path_or_fileobj : str, path-like or seekable binary file object
        filename : str, optional
            The name used in messages and checked when ``check_filename``; defaults to the
            path's (or file object's) base name.
        check_filename : bool
            Sanity-check the name against ``<implementation>-<version>-<platform>-<abi>.runtime``
            (not against the content), as the reference client does.

        Raises
        ------
        InvalidRuntime
            If the file is not a zip ("is not an Enthought runtime package"), has no runtime.json,
            holds invalid JSON or metadata, or (when checked) is badly named.
        """
        if filename is None:
            source = path_or_fileobj if isinstance(path_or_fileobj, (str, os.PathLike)) else getattr(
                path_or_fileobj, "name", None)
            filename = os.fspath(source) if isinstance(source, (str, os.PathLike)) else None
        basename = os.path.basename(filename) if filename is not None else None
        label = basename or "<runtime>"
        if check_filename and basename is not None:
            split_runtime_v1_name(basename)
        try:
            with zipfile.ZipFile(path_or_fileobj) as archive:
                try:
                    info = archive.getinfo(RUNTIME_V1_METADATA_MEMBER)
                except KeyError:
                    raise InvalidRuntime(f"{label} is not an Enthought runtime package: "
                                         f"it has no {RUNTIME_V1_METADATA_MEMBER}") from None
                if info.file_size > _MAX_METADATA_SIZE:
                    raise InvalidRuntime(f"{label}: {RUNTIME_V1_METADATA_MEMBER} is too large")
                with archive.open(info) as stream:
                    data = stream.read(_MAX_METADATA_SIZE + 1)
        except zipfile.BadZipFile as exc:
            raise InvalidRuntime(f"{label} is not an Enthought runtime package") from exc
        except (OSError, EOFError, ValueError, zlib.error, NotImplementedError, RuntimeError) as exc:
            raise InvalidRuntime(f"{label}: cannot read the archive: {exc}") from exc
        try:
            metadata = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise InvalidRuntime(f"{label}: invalid runtime metadata: {exc}") from exc
        return cls.from_metadata(metadata, basename)

    @property
    def runtime_version(self) -> RuntimeVersion:
        """The version as an ordered PEP 440 :class:`RuntimeVersion`."""
        return RuntimeVersion(self.version)

    @property
    def filename_platform(self) -> str:
        """The platform in underscore form, as used in file names and upload URLs (``rh7_x86_64``)."""
        return underscore_platform(self.platform)

    @property
    def canonical_filename(self) -> str:
        """``<implementation>-<version>-<underscore platform>-<abi>.runtime``."""
        return f"{self.implementation}-{self.version}-{self.filename_platform}-{self.abi}{RUNTIME_V1_EXTENSION}"
