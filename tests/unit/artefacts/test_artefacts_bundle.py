"""Tests of hatcher.artefacts.bundle: file-name grammar, runtime extraction and BundleInfo."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hatcher.artefacts.builders import OMIT, build_bundle
from hatcher.artefacts.bundle import (
    BUNDLE_EXTENSION,
    BUNDLE_RE,
    BundleInfo,
    read_bundle_runtime,
    split_bundle_name,
)
from hatcher.errors import InvalidBundle


@pytest.mark.parametrize(("filename", "expected"), [
    ("foo-1.0.0-1.bundle", ("foo", "1.0.0", 1)),
    ("foo-1.0.0rc1-1.bundle", ("foo", "1.0.0rc1", 1)),
    ("up_down-3.1.2-3.bundle", ("up_down", "3.1.2", 3)),
    ("example_bundle-1.0.0-1.bundle", ("example_bundle", "1.0.0", 1)),
    ("/a/b/mini-1.0-1.bundle", ("mini", "1.0", 1)),
])
def test_given_valid_bundle_names_then_split(filename: str, expected: tuple) -> None:
    assert split_bundle_name(filename) == expected
    assert BUNDLE_EXTENSION == "bundle"


@pytest.mark.parametrize("filename", [
    "foo-bar-1.0.0-1.bundle", "foo-1.0.0.bundle", "foo-1.0.0-1-2.bundle", "foo-1.0.0-1.json", "foo-1.0-x.bundle",
])
def test_given_invalid_bundle_names_then_invalid_bundle(filename: str) -> None:
    assert BUNDLE_RE.match(filename) is None
    with pytest.raises(InvalidBundle, match="Invalid bundle file name"):
        split_bundle_name(filename)


def test_given_minimum_bundle_then_runtime_read(tmp_path: Path) -> None:
    path = tmp_path / "mini-1.0-1.bundle"
    path.write_text('{"runtime": {"implementation": "cpython", "version": "3.8.8+1", "platform": "rh7-x86_64"}}')
    assert read_bundle_runtime(str(path)) == {"implementation": "cpython", "version": "3.8.8+1",
                                              "platform": "rh7-x86_64"}
    info = BundleInfo.from_file(str(path))
    assert (info.name, info.version, info.build, info.full_version, info.platform, info.python_tag) == (
        "mini", "1.0", 1, "1.0-1", "rh7-x86_64", "cp38")


def test_given_realistic_bundle_when_round_tripped_then_fields(tmp_path: Path) -> None:
    # Given
    runtime = {"repository": "enthought/free", "implementation": "cpython", "version": "2.7.13+3",
               "platform": "rh5_x86_64", "platform_abi": "gnu", "sha256": "0" * 64}
    path = build_bundle(str(tmp_path), name="example_bundle", version="1.0.0", runtime=runtime,
                        requirements=["numpy 1.24.2-1", {"name": "six", "version": "1.16.0-1"}])
    # When
    info = BundleInfo.from_file(path)
    # Then
    assert Path(path).name == "example_bundle-1.0.0-1.bundle"
    assert (info.name, info.full_version, info.platform, info.runtime_platform, info.python_tag) == (
        "example_bundle", "1.0.0-1", "rh5-x86_64", "rh5_x86_64", "cp27")
    assert info.runtime == runtime
    assert info.document["metadata_version"] == "2.0"
    assert [r["name"] for r in info.document["requirements"]] == ["numpy", "six"]
    assert info.document["requirements"][0]["version"] == "1.24.2-1"
    assert info.document["mark"] == [{"name": "numpy", "state": "manual"}, {"name": "six", "state": "manual"}]


def test_given_bundle_without_runtime_then_invalid_bundle(tmp_path: Path) -> None:
    path = build_bundle(str(tmp_path), extra={"runtime": OMIT})
    with pytest.raises(InvalidBundle, match='Bundle does not have "runtime" key'):
        read_bundle_runtime(path)
    with pytest.raises(InvalidBundle, match='Bundle does not have "runtime" key'):
        BundleInfo.from_file(path)


def test_given_non_json_bundle_then_invalid_bundle(tmp_path: Path) -> None:
    path = tmp_path / "mini-1.0-1.bundle"
    path.write_text("{not json")
    with pytest.raises(InvalidBundle, match="not valid JSON"):
        read_bundle_runtime(str(path))


def test_given_unreadable_bundle_then_invalid_bundle_wrapping_os_error(tmp_path: Path) -> None:
    with pytest.raises(InvalidBundle, match="cannot read") as excinfo:
        read_bundle_runtime(str(tmp_path / "missing-1.0-1.bundle"))
    assert isinstance(excinfo.value.__cause__, OSError)


def test_given_bad_bundle_file_name_then_invalid_bundle(tmp_path: Path) -> None:
    path = build_bundle(str(tmp_path), filename="foo-1.0.0.bundle")
    assert read_bundle_runtime(path)["implementation"] == "cpython"
    with pytest.raises(InvalidBundle, match="Invalid bundle file name 'foo-1.0.0.bundle'"):
        BundleInfo.from_file(path)


@pytest.mark.parametrize(("runtime", "message"), [
    ({"implementation": "julia", "version": "1.9.2+1", "platform": "rh7-x86_64"}, "python tag"),
    ({"implementation": "cpython", "version": "2.4.6+1", "platform": "rh7-x86_64"}, "python tag"),
    ({"implementation": "cpython", "version": "3.8.8+1", "platform": "rh9-x86_64"}, "Invalid platform"),
    ({"implementation": "cpython", "version": "3.8.8+1"}, "no 'platform'"),
    ({"implementation": "cpython", "version": 3.8, "platform": "rh7-x86_64"}, "no 'version'"),
])
def test_given_unusable_runtime_then_invalid_bundle(tmp_path: Path, runtime: dict, message: str) -> None:
    path = build_bundle(str(tmp_path), runtime=runtime)
    with pytest.raises(InvalidBundle, match=message):
        BundleInfo.from_file(path)


def test_given_runtime_that_is_not_an_object_then_invalid_bundle() -> None:
    with pytest.raises(InvalidBundle, match='"runtime" must be an object'):
        BundleInfo.from_bytes(json.dumps({"runtime": "cpython"}), "mini-1.0-1.bundle")
    info = BundleInfo.from_bytes(json.dumps({"runtime": {"implementation": "pypy", "version": "2.7.1",
                                                         "platform": "osx-64"}}).encode(), "p-1-2.bundle")
    assert (info.python_tag, info.platform, info.full_version) == ("pp27", "osx-x86_64", "1-2")
