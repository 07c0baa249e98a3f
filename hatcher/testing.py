"""Test helpers for users of hatcher: fake eggs and runtimes, built in code with the standard library."""

from __future__ import annotations

import copy
import hashlib
import json
import os
import unittest
from typing import Any, Mapping

from hatcher.artefacts import builders
from hatcher.artefacts.platforms import normalize_platform
from hatcher.core.utils import compute_md5, compute_sha256

__all__ = [
    "NotGiven", "RUNTIME_CPYTHON_2_7_10_RH5_X86_64_METADATA", "TestingEgg", "build_egg",
    "legacy_index_entry_from_egg_metadata", "make_testing_egg", "make_testing_egg_metadata",
    "python_tag_from_metadata", "runtime_from_metadata", "unittest",
]


class _NotGivenType:
    def __repr__(self) -> str:
        return "NotGiven"


#: Sentinel for "argument not given" (``None`` is a meaningful value).
NotGiven = _NotGivenType()

_EGG_METADATA_KEYS = frozenset({
    "name", "version", "build", "md5", "sha256", "mtime", "packages", "size", "platform", "product",
    "python", "python_tag", "abi_tag", "metadata_version",
})

#: v1 runtime metadata of CPython 2.7.10+1 on rh5-x86_64.
RUNTIME_CPYTHON_2_7_10_RH5_X86_64_METADATA = builders.runtime_v1_metadata(
    implementation="cpython", version="2.7.10+1", platform="rh5-x86_64", abi="gnu")


def python_tag_from_metadata(metadata: Mapping[str, Any]) -> str | None:
    """The metadata's ``python_tag``, else one derived from ``python`` (``"2.7"`` gives ``cp27``)."""
    if "python_tag" in metadata:
        return metadata["python_tag"]
    python = metadata.get("python")
    if python is None:
        return None
    return "cp" + python.replace(".", "")


def legacy_index_entry_from_egg_metadata(metadata: Mapping[str, Any], available: bool = True,
                                         python: Any = NotGiven) -> dict[str, Any]:
    """An old-style egg index entry for ``metadata`` (see :func:`make_testing_egg_metadata`)."""
    entry = copy.deepcopy(dict(metadata))
    if python is not NotGiven:
        entry["python"] = python
        entry.pop("python_tag", None)
    entry["full_version"] = f"{entry['version']}-{entry['build']}"
    entry["python_tag"] = python_tag_from_metadata(entry)
    entry["available"] = available
    entry["type"] = "egg"
    if "mtime" in entry:
        entry["mtime"] = round(entry["mtime"])
    entry.pop("platform", None)
    entry.pop("sha256", None)
    entry.setdefault("product", None)
    return entry


def make_testing_egg_metadata(**kwargs: Any) -> dict[str, Any]:
    """The metadata dict of a fake egg.

    Defaults: name ``dummy``, version ``1.0.1``, build 1, python ``2.7`` (dropped when
    ``python_tag`` is given), platform ``rh5-64``, no packages, and the size and mtime of
    this module's file. ``md5`` and ``sha256`` default to digests of the other fields.

    Raises
    ------
    RuntimeError
        An unknown key, or both ``python`` and ``python_tag``.
    """
    unknown = set(kwargs) - _EGG_METADATA_KEYS
    if unknown:
        raise RuntimeError(f"Unknown egg metadata keys: {', '.join(sorted(unknown))}")
    if "python" in kwargs and "python_tag" in kwargs:
        raise RuntimeError("Give python or python_tag, not both")
    stat = os.stat(__file__)
    metadata: dict[str, Any] = {
        "name": "dummy", "version": "1.0.1", "build": 1, "python": "2.7", "platform": "rh5-64",
        "packages": [], "mtime": stat.st_mtime, "size": stat.st_size,
    }
    if "python_tag" in kwargs:
        del metadata["python"]
    metadata.update({k: v for k, v in kwargs.items() if k not in ("md5", "sha256")})
    serialized = json.dumps(metadata, sort_keys=True).encode("utf-8")
    metadata["md5"] = kwargs.get("md5", hashlib.md5(serialized).hexdigest())
    metadata["sha256"] = kwargs.get("sha256", hashlib.sha256(serialized).hexdigest())
    return metadata


class TestingEgg:
    """A fake egg: its path, file name, digests and metadata (unknown attributes read the metadata)."""

    __test__ = False  # not a pytest test class

    def __init__(self, path: str, filename: str, md5: str, sha256: str, metadata: dict[str, Any]) -> None:
        self.path = path
        self.filename = filename
        self.md5 = md5
        self.sha256 = sha256
        self.metadata = metadata

    def __getattr__(self, name: str) -> Any:
        metadata = self.__dict__.get("metadata", {})
        try:
            return metadata[name]
        except KeyError:
            raise AttributeError(name) from None

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TestingEgg) and other.metadata == self.metadata

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"<TestingEgg {self.filename!r}>"

    @property
    def index_entry(self) -> dict[str, Any]:
        """The egg as an old-style index entry."""
        return legacy_index_entry_from_egg_metadata(self.metadata)

    @property
    def packages(self) -> list[str]:
        """A copy of the egg's requirements."""
        return list(self.metadata.get("packages", []))

    @property
    def python(self) -> str | None:
        """The Python version (``"2.7"``) or None."""
        return self.metadata.get("python")

    @property
    def python_tag(self) -> str | None:
        """The python tag, given or derived from ``python``."""
        return python_tag_from_metadata(self.metadata)

    @property
    def key(self) -> str:
        """The egg's key in an index: its file name."""
        return self.filename

    @property
    def full_version(self) -> str:
        """``<version>-<build>``."""
        return f"{self.metadata['version']}-{self.metadata['build']}"

    @property
    def egg_basename(self) -> str:
        """The name part of the file name."""
        return self.filename.split("-", 1)[0]


def build_egg(metadata: Mapping[str, Any], content: Mapping[str, bytes] | None, dest_dir: str) -> str:
    """Write a real, valid egg for ``metadata`` with the extra members ``content``; return its path."""
    python_tag = python_tag_from_metadata(metadata)
    platform = metadata.get("platform")
    return builders.build_egg(
        dest_dir, name=metadata["name"], version=metadata["version"], build=metadata["build"],
        platform=normalize_platform(platform) if platform else None, python_tag=python_tag,
        packages=metadata.get("packages", ()), metadata_version=metadata.get("metadata_version", "1.4"),
        extra_members=dict(content or {}),
    )


def make_testing_egg(dest_dir: str, egg_basename: str | None = None, **kwargs: Any) -> TestingEgg:
    """Build a fake egg in ``dest_dir``; ``egg_basename`` renames the name part of its file."""
    metadata = make_testing_egg_metadata(**kwargs)
    path = build_egg(metadata, None, dest_dir)
    if egg_basename is not None:
        renamed = os.path.join(dest_dir, f"{egg_basename}-{metadata['version']}-{metadata['build']}.egg")
        os.replace(path, renamed)
        path = renamed
    stat = os.stat(path)
    metadata.update(md5=compute_md5(path), sha256=compute_sha256(path), size=stat.st_size, mtime=stat.st_mtime)
    return TestingEgg(path, os.path.basename(path), metadata["md5"], metadata["sha256"], metadata)


def runtime_from_metadata(tempdir: str, metadata_dict: Mapping[str, Any]) -> str:
    """Write a minimal v1 runtime archive for ``metadata_dict`` into ``tempdir``; return its path."""
    metadata = dict(metadata_dict)
    omit = {key: builders.OMIT for key in builders.RUNTIME_V1_METADATA_TEMPLATE if key not in metadata}
    return builders.build_runtime_v1(
        tempdir, implementation=metadata["implementation"], version=metadata["version"],
        platform=normalize_platform(metadata["platform"]), abi=metadata.get("abi", "none"),
        metadata_overrides={**omit, **metadata},
    )


# --- The ``brood_server`` pytest fixtures ------------------------------------------------------------
# They live in hatcher.pytest_plugin, the module the ``pytest11`` entry point registers, which
# imports nothing at load time; they are importable from here too.

from hatcher import pytest_plugin as _plugin  # noqa: E402
from hatcher.pytest_plugin import BROOD_SERVER_ADMIN, set_user_password, start_brood_server  # noqa: E402

__all__ += ["BROOD_SERVER_ADMIN", "set_user_password", "start_brood_server"]

if hasattr(_plugin, "brood_server"):  # defined when pytest is installed
    brood_server = _plugin.brood_server
    brood_server_session = _plugin.brood_server_session
    __all__ += ["brood_server", "brood_server_session"]
