"""Helpers of the object model and the CLI: local artefact metadata, checksums, sorters, retries."""

from __future__ import annotations

import functools
import os
import time
import warnings
from typing import Any, Callable, TypeVar

import attr
import requests

from hatcher import __version__
from hatcher.artefacts import egg as _egg
from hatcher.artefacts import runtime as _runtime
from hatcher.artefacts.platforms import underscore_platform
from hatcher.artefacts.tags import python_tag, python_tag_name, v0_runtime_python_tag
from hatcher.artefacts.versions import EnpkgVersion, pep440_sort_key
from hatcher.core.download import file_digest, replace_file
from hatcher.errors import BroodHTTPError, ChecksumMismatchError

__all__ = [
    "AppSorter", "EggMetadata", "EggNameSorter", "LocalFile", "NameVersionPairSorter", "RuntimeMetadata",
    "RuntimeMetadataV0", "RuntimeMetadataV1", "RuntimeV0Sorter", "compute_md5", "compute_sha256",
    "hatcher_user_agent", "is_str_or_unicode", "python_tag", "python_tag_name", "reliable_rename",
    "retry_on_exception", "upload_verify",
]

F = TypeVar("F", bound=Callable[..., Any])


def compute_sha256(filename: str | os.PathLike[str], block_size: int = 1 << 20) -> str:
    """The hex sha256 of a file, read ``block_size`` bytes at a time."""
    return file_digest(filename, "sha256", block_size)


def compute_md5(filename: str | os.PathLike[str], block_size: int = 1 << 20) -> str:
    """The hex md5 of a file, read ``block_size`` bytes at a time."""
    return file_digest(filename, "md5", block_size)


def hatcher_user_agent() -> str:
    """``hatcher/<version> python-requests/<version>``."""
    return f"hatcher/{__version__} {requests.utils.default_user_agent()}"


def is_str_or_unicode(value: Any) -> bool:
    """True for a text string."""
    return isinstance(value, str)


class _LazySha256:
    """Mixin: a ``sha256`` property computed once from ``path``."""

    path: str

    @functools.cached_property
    def sha256(self) -> str:
        """The hex sha256 of the file (computed on first use)."""
        return compute_sha256(self.path)

    @property
    def known_sha256(self) -> str | None:
        """The sha256 if it was already computed, else None (an upload then hashes as it streams)."""
        return self.__dict__.get("sha256")


@attr.s(frozen=True)
class LocalFile(_LazySha256):
    """A local file and its sha256 (computed on first use)."""

    path: str = attr.ib()


@attr.s(frozen=True)
class EggMetadata(_LazySha256):
    """What the client needs to know of a local egg before uploading it."""

    #: The highest egg metadata version hatcher reads.
    MAX_METADATA_VERSION = "1.4"

    path: str = attr.ib()
    info: Any = attr.ib(repr=False, eq=False)

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> EggMetadata:
        """Read and validate a local egg.

        Raises
        ------
        InvalidEgg
            Bad file name, not a zip, no or bad ``EGG-INFO/spec/depend``, metadata above 1.4.
        """
        path = os.fspath(path)
        return cls(path, _egg.EggInfo.from_file(path))

    @property
    def name(self) -> str:
        """The egg's raw name (case preserved, as in its file name)."""
        return self.info.egg_basename

    @property
    def full_version(self) -> str:
        """``<upstream>-<build>``."""
        return self.info.full_version

    @property
    def python_tag(self) -> str:
        """The python tag, or ``"none"`` for an egg without Python."""
        return self.info.python_tag_string

    @property
    def reindex_entry(self) -> dict[str, str]:
        """The egg as one item of a re-index request (normalised name)."""
        return {"name": self.info.name, "version": self.full_version, "python_tag": self.python_tag}


@attr.s(frozen=True)
class RuntimeMetadataV0(_LazySha256):
    """A v0 runtime, described by its file name alone."""

    language: str = attr.ib()
    version: str = attr.ib()
    build: int = attr.ib()
    platform: str = attr.ib()
    build_system_version: str = attr.ib()
    file_format: str = attr.ib()
    path: str = attr.ib()

    @classmethod
    def from_file(cls, path: str | os.PathLike[str], platform: str | None = None) -> RuntimeMetadataV0:
        """Parse ``<language>_runtime_<version>_<bsv>_<platform>_<build>.<ext>``.

        Raises
        ------
        InvalidRuntime
            The file name does not follow that pattern.
        """
        path = os.fspath(path)
        info = _runtime.RuntimeV0Info.from_filename(path)
        return cls(info.language, info.version, info.build, platform or info.platform,
                   info.build_system_version, info.file_format, path)

    @property
    def full_version(self) -> str:
        """``<version>-<build>``."""
        return f"{self.version}-{self.build}"

    @property
    def python_tag(self) -> str:
        """``cp25`` ... ``cp34`` from the version's major.minor."""
        return v0_runtime_python_tag(self.version)

    @property
    def filename(self) -> str:
        """The file's base name."""
        return os.path.basename(self.path)

    def upload_data(self) -> dict[str, Any]:
        """The ``data`` part of a v0 runtime upload (seven fields)."""
        return {
            "language": self.language, "filename": self.filename,
            "build_system_version": self.build_system_version, "version": self.version,
            "file_format": self.file_format, "build": self.build, "sha256": self.known_sha256,
        }


@attr.s(frozen=True)
class RuntimeMetadata(RuntimeMetadataV0):
    """Deprecated alias of :class:`RuntimeMetadataV0`."""

    def __attrs_post_init__(self) -> None:
        warnings.warn("RuntimeMetadata is deprecated; use RuntimeMetadataV0", DeprecationWarning, stacklevel=3)


@attr.s(frozen=True)
class RuntimeMetadataV1(_LazySha256):
    """A v1 runtime, described by the ``enthought/runtime.json`` inside its archive."""

    path: str = attr.ib()
    info: Any = attr.ib(repr=False, eq=False)

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> RuntimeMetadataV1:
        """Read a v1 runtime archive.

        Raises
        ------
        InvalidRuntime
            Not a zip, or its metadata is missing, invalid or unsupported.
        """
        path = os.fspath(path)
        return cls(path, _runtime.RuntimeV1Info.from_file(path))

    @property
    def implementation(self) -> str:
        """``cpython``, ``pypy``, ``julia``."""
        return self.info.implementation

    @property
    def version(self) -> str:
        """The version with its build, e.g. ``3.8.10+2``."""
        return self.info.version

    @property
    def platform(self) -> str:
        """The platform as sent in the upload URL (underscore form, e.g. ``rh7_x86_64``)."""
        return underscore_platform(self.info.platform)


def upload_verify(filename: str, local_metadata: Any, get_remote_metadata: Callable[[], dict[str, Any]],
                  do_upload: Callable[[], None], verify: bool, overwrite: bool) -> bool:
    """Upload unless the server already has the same file; return True if it uploaded.

    Without ``verify``, or with ``overwrite``, it uploads unconditionally. Otherwise it
    asks the server for the artefact's metadata first: 404 uploads, the same sha256
    skips the upload, a different sha256 raises.

    Raises
    ------
    ChecksumMismatchError
        The server holds this artefact with different content.
    """
    if verify and not overwrite:
        try:
            remote = get_remote_metadata()
        except BroodHTTPError as exc:
            if exc.status_code != 404:
                raise
        else:
            if remote.get("sha256") == local_metadata.sha256:
                return False
            raise ChecksumMismatchError(
                f"{os.path.basename(filename)} was already uploaded with different content "
                f"(server sha256 {remote.get('sha256')}, local {local_metadata.sha256}); "
                "use overwrite to replace it"
            )
    do_upload()
    return True


@functools.total_ordering
class _Sorter:
    """Rich comparison on ``_key``; comparing with another type raises TypeError."""

    _key: tuple[Any, ...]

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self._key == other._key  # type: ignore[attr-defined]

    def __lt__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self._key < other._key  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash(self._key)


class EggNameSorter(_Sorter):
    """Sort key of an egg file name: (lower-case name, enpkg version, extension)."""

    def __init__(self, egg_file_name: str) -> None:
        stem, _, extension = egg_file_name.rpartition(".")
        try:
            name, upstream, build = _egg.split_egg_name(egg_file_name)
            version: Any = EnpkgVersion.from_string(f"{upstream}-{build}")
            self._key = (name.lower(), (0, version), extension)
        except Exception:
            self._key = (stem.lower(), (-1, stem.lower()), extension)


class AppSorter(_Sorter):
    """Sort key of an app: (lower-case name, enpkg version, python tag)."""

    def __init__(self, name: str, version: str, python_tag: str) -> None:
        self._key = (name.lower(), EnpkgVersion.from_string(version), python_tag)


class RuntimeV0Sorter(_Sorter):
    """Sort key of a v0 runtime file name: (language, version, build)."""

    def __init__(self, filename: str) -> None:
        info = _runtime.RuntimeV0Info.from_filename(filename)
        self._key = (info.language, pep440_sort_key(info.version), info.build)


class NameVersionPairSorter(_Sorter):
    """Sort key of a ``(name, version)`` pair, versions compared by ``version_parser``."""

    def __init__(self, name: str, version: str, version_parser: Callable[[str], Any] = pep440_sort_key) -> None:
        self._key = (name, version_parser(version))


def retry_on_exception(exception: type[BaseException] | tuple[type[BaseException], ...],
                       max_retries: int = 0, backoff_factor: float = 0.1) -> Callable[[F], F]:
    """Retry the decorated function up to ``max_retries`` times on ``exception``.

    It waits ``backoff_factor * 2 ** (n - 1)`` seconds before the n-th retry, at most 1 s.
    """
    def decorator(func: F) -> F:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            for attempt in range(max_retries + 1):
                try:
                    return func(*args, **kwargs)
                except exception:
                    if attempt == max_retries:
                        raise
                    time.sleep(min(backoff_factor * 2 ** attempt, 1.0))
            raise AssertionError("unreachable")  # pragma: no cover

        return wrapper  # type: ignore[return-value]

    return decorator


def reliable_rename(source: str, target: str) -> None:
    """Rename ``source`` onto ``target`` atomically (retried on Windows file locks)."""
    replace_file(source, target)
