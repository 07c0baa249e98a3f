"""Tests of hatcher.artefacts.builders: byte-stable output and the archive layout written."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import pytest

from hatcher.artefacts import builders
from hatcher.artefacts.builders import (
    FILE_PERMISSIONS,
    FIXED_DATE_TIME,
    RUNTIME_V1_METADATA_TEMPLATE,
    build_app,
    build_bundle,
    build_egg,
    build_runtime_v0,
    build_runtime_v1,
    egg_spec_values,
)


def sha256(path: str) -> str:
    with open(path, "rb") as stream:
        return hashlib.sha256(stream.read()).hexdigest()


@pytest.mark.parametrize(("builder", "kwargs"), [
    (build_egg, {"packages": ["six"], "extra_members": {"dummy/__init__.py": b"x = 1\n"}, "payload_size": 5000}),
    (build_runtime_v1, {"extra_members": {"bin/python": b"#!"}}),
    (build_runtime_v0, {}),
    (build_app, {"extra": {"description": "d"}}),
    (build_bundle, {"requirements": ["six 1.16.0-1"]}),
])
def test_given_same_input_twice_then_same_sha256(tmp_path: Path, builder, kwargs: dict) -> None:
    # Given
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    # When
    path_a, path_b = builder(str(first), **kwargs), builder(str(second), **kwargs)
    # Then
    assert Path(path_a).name == Path(path_b).name
    assert sha256(path_a) == sha256(path_b)


def test_given_different_input_then_different_sha256(tmp_path: Path) -> None:
    a = build_egg(str(tmp_path), build=1)
    b = build_egg(str(tmp_path), build=2)
    assert sha256(a) != sha256(b)


def test_given_egg_then_fixed_member_order_dates_permissions_and_compression(tmp_path: Path) -> None:
    # Given
    path = build_egg(str(tmp_path), extra_members={"dummy/__init__.py": ""}, payload_size=10)
    # When
    with zipfile.ZipFile(path) as archive:
        infos = archive.infolist()
        depend = archive.read("EGG-INFO/spec/depend").decode()
    # Then
    assert [info.filename for info in infos] == [
        "EGG-INFO/spec/depend", "EGG-INFO/spec/summary", "EGG-INFO/PKG-INFO", "dummy/__init__.py", "dummy/payload.bin"]
    assert FIXED_DATE_TIME == (1980, 1, 1, 0, 0, 0) and FILE_PERMISSIONS == 0o644 << 16
    assert {info.date_time for info in infos} == {(1980, 1, 1, 0, 0, 0)}
    assert {info.external_attr for info in infos} == {0o644 << 16}
    assert {info.create_system for info in infos} == {3}
    assert [info.compress_type for info in infos] == [zipfile.ZIP_DEFLATED] * 4 + [zipfile.ZIP_STORED]
    assert depend.splitlines()[:4] == ["metadata_version = '1.4'", "name = 'dummy'", "version = '1.0.1'", "build = 1"]


def test_given_minimum_egg_of_the_spec_then_thirteen_keys(tmp_path: Path) -> None:
    values = egg_spec_values(name="foo", version="1.2.3", platform=None, python_tag=None)
    assert list(values) == ["metadata_version", "name", "version", "build", "arch", "platform", "osdist", "python",
                            "python_tag", "abi_tag", "platform_tag", "platform_abi", "packages"]
    assert [values[key] for key in list(values)[4:12]] == [None] * 8


@pytest.mark.parametrize(("platform", "python_tag", "expected"), [
    ("rh7-x86_64", "cp311", ("amd64", "linux2", "RedHat_7", "linux_x86_64", "gnu")),
    ("rh5-x86", "cp27", ("x86", "linux2", "RedHat_5", "linux_i686", "gnu")),
    ("rh8-arm64", "cp311", ("arm64", "linux2", "RedHat_8", "linux_aarch64", "gnu")),
    ("osx-x86_64", "cp38", ("amd64", "darwin", None, "macosx_10_14_x86_64", "darwin")),
    ("osx-x86_64", "cp311", ("amd64", "darwin", None, "macosx_12_0_x86_64", "darwin")),
    ("osx-arm64", "cp311", ("arm64", "darwin", None, "macosx_12_0_arm64", "darwin")),
    ("win-x86", "cp27", ("x86", "win32", None, "win32", "msvc2008")),
    ("win-x86_64", "cp38", ("amd64", "win32", None, "win_amd64", "msvc2019")),
    ("win-arm64", "cp311", ("arm64", "win32", None, "win_arm64", "msvc2022")),
])
def test_given_platform_then_spec_values_of_table_6_1(platform: str, python_tag: str, expected: tuple) -> None:
    values = egg_spec_values(platform=platform, python_tag=python_tag)
    assert tuple(values[k] for k in ("arch", "platform", "osdist", "platform_tag", "platform_abi")) == expected


def test_given_legacy_version_then_nine_keys_only() -> None:
    assert len(egg_spec_values(metadata_version="1.1")) == 9
    assert len(egg_spec_values(metadata_version="1.3")) == 12


def test_given_runtime_template_then_spec_minimum_keys() -> None:
    assert sorted(RUNTIME_V1_METADATA_TEMPLATE) == sorted([
        "metadata_version", "implementation", "version", "language_version", "platform", "abi", "build_revision",
        "executable", "paths", "post_install", "scriptsdir", "site_packages", "python_tag"])
    assert RUNTIME_V1_METADATA_TEMPLATE["platform"] == "rh7_x86_64"
    windows = builders.runtime_v1_metadata(platform="win-x86_64", abi="msvc2019")
    assert windows["executable"] == "${prefix}\\python.exe"
    assert windows["paths"] == ["${prefix}", "${prefix}\\Scripts"]
