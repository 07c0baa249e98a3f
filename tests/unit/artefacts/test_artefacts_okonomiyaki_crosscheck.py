"""Cross-checks of our artefact readers against okonomiyaki 3.0.0 (black box; skipped when it is absent)."""

from __future__ import annotations

import random
import warnings
from pathlib import Path

import pytest

from hatcher.artefacts.builders import build_egg, build_runtime_v1
from hatcher.artefacts.egg import EggInfo
from hatcher.artefacts.platforms import normalize_platform
from hatcher.artefacts.runtime import RuntimeV1Info
from hatcher.artefacts.versions import EnpkgVersion
from hatcher.errors import InvalidPlatform

file_formats = pytest.importorskip("okonomiyaki.file_formats")
oko_platforms = pytest.importorskip("okonomiyaki.platforms")
oko_versions = pytest.importorskip("okonomiyaki.versions")
oko_runtimes = pytest.importorskip("okonomiyaki.runtimes")

# okonomiyaki 3.0.0 emits its own DeprecationWarning while parsing runtimes (§5.4.1).
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

EGG_CASES = [
    ("rh5-x86", "cp27", "1.4"), ("rh5-x86_64", "cp27", "1.1"), ("rh7-x86_64", "cp38", "1.4"),
    ("rh7-x86_64", "cp311", "1.4"), ("rh8-arm64", "cp311", "1.4"), ("osx-x86_64", "cp38", "1.4"),
    ("osx-x86_64", "cp27", "1.2"), ("osx-arm64", "cp311", "1.4"), ("win-x86", "cp27", "1.1"),
    ("win-x86_64", "cp36", "1.4"), ("win-x86_64", "cp38", "1.3"), ("win-arm64", "cp311", "1.4"),
    ("rh7-x86_64", "pp27", "1.2"), ("win-x86_64", "py38", "1.2"), ("osx-x86_64", "py27", "1.2"),
    (None, "cp38", "1.4"), (None, None, "1.4"), ("rh7-x86_64", None, "1.4"), ("win-x86_64", None, "1.1"),
]


def oko_platform_name(platform: object) -> str | None:
    """okonomiyaki prints platforms as rh5_x86_64; we report rh5-x86_64."""
    return None if platform is None else normalize_platform(str(platform))


@pytest.mark.parametrize(("platform", "python_tag", "metadata_version"), EGG_CASES)
def test_given_generated_egg_then_okonomiyaki_reads_the_same_metadata(tmp_path: Path, platform: str,
                                                                     python_tag: str,
                                                                     metadata_version: str) -> None:
    # Given
    path = build_egg(str(tmp_path), name="Foo", version="1.2.3", build=4, platform=platform, python_tag=python_tag,
                     metadata_version=metadata_version, packages=["MKL 10.3-1", "six"])
    # When
    ours = EggInfo.from_file(path)
    theirs = file_formats.EggMetadata.from_egg(path)
    # Then
    assert ours.egg_basename == theirs.egg_basename
    assert ours.name == theirs.name
    assert ours.upstream_version == theirs.upstream_version
    assert ours.build == theirs.build
    assert ours.full_version == str(theirs.version)
    assert ours.platform == oko_platform_name(theirs.platform)
    assert ours.python_tag == theirs.python_tag
    assert ours.python_tag_string == theirs.python_tag_string
    assert ours.abi_tag == theirs.abi_tag
    assert ours.platform_tag == theirs.platform_tag
    assert ours.platform_abi == theirs.platform_abi_tag
    assert ours.summary == theirs.summary
    assert ours.metadata_version == str(theirs.metadata_version)
    assert [str(r) for r in ours.requirements] == [str(r) for r in theirs.runtime_dependencies]


@pytest.mark.parametrize(("implementation", "version", "platform", "abi"), [
    ("cpython", "3.8.8+1", "win-x86_64", "msvc2019"), ("cpython", "2.7.10+1", "rh5-x86_64", "gnu"),
    ("cpython", "3.11.2+2", "osx-arm64", "darwin"), ("pypy", "2.6.0+1", "rh5-x86_64", "gnu"),
    ("julia", "1.9.2+1", "rh7-x86_64", "gnu"),
])
def test_given_generated_runtime_then_okonomiyaki_reads_the_same_metadata(tmp_path: Path, implementation: str,
                                                                         version: str, platform: str,
                                                                         abi: str) -> None:
    path = build_runtime_v1(str(tmp_path), implementation, version, platform, abi)
    ours = RuntimeV1Info.from_file(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = oko_runtimes.IRuntimeMetadata.factory_from_path(path)
        their_platform = oko_platforms.EPDPlatform(theirs.platform)
    assert ours.implementation == str(theirs.implementation)
    assert ours.version == str(theirs.version)
    assert ours.language_version == str(theirs.language_version)
    assert ours.abi == str(theirs.abi)
    assert ours.platform == normalize_platform(str(their_platform))
    assert ours.python_tag == getattr(theirs, "python_tag", None)


def test_given_enpkg_versions_then_same_order_as_okonomiyaki() -> None:
    texts = ["0.9-10", "1.0.dev1-1", "1.0a1-1", "1.0b2-1", "1.0rc1-5", "1.0-1", "1.0-2", "1.0.post1-1", "2013b-1",
             "1.0a1.dev1-1", "1.0.post1.dev1-1", "1.0.1-1", "1.10-1", "1.9-1", "1.0c2-1", "0.0.1-3",
             "1.0.dev1.post1-1", "1.0.dev1.dev2-1", "1.0a1.0-1", "1-1", "1.0.0-1", "01.2-1", "1.01-1", "1.0+local-1"]
    shuffled = list(texts)
    random.Random(7).shuffle(shuffled)
    ours = sorted(shuffled, key=EnpkgVersion.from_string)
    theirs = sorted(shuffled, key=oko_versions.EnpkgVersion.from_string)
    assert ours == theirs


@pytest.mark.parametrize("spelling", [
    "rh5-x86_64", "rh5_x86_64", "rh5-64", "rh5-32", "win-32", "osx-amd64", "rh8-aarch64", "osx-arm64",
    "win_ARM64", "rh6-i686", "sol-64", "RH5-x86_64", "rh5-x86-64", "rh9-x86_64", "rh7-arm64", "linux-64",
])
def test_given_platform_spellings_then_same_acceptance_as_okonomiyaki(spelling: str) -> None:
    try:
        ours = normalize_platform(spelling)
    except InvalidPlatform:
        ours = None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            theirs = normalize_platform(str(oko_platforms.EPDPlatform.from_string(spelling)))
    except Exception:  # noqa: BLE001 - any okonomiyaki failure means "rejected"
        theirs = None
    assert ours == theirs
