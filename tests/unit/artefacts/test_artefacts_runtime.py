"""Tests of hatcher.artefacts.runtime: v0 file names and v1 archives built by the builders."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest

from hatcher.artefacts.builders import OMIT, build_runtime_v0, build_runtime_v1, runtime_v1_metadata
from hatcher.artefacts.runtime import RUNTIME_V0_RE, RuntimeV0Info, RuntimeV1Info, split_runtime_v1_name
from hatcher.artefacts.versions import RuntimeVersion
from hatcher.errors import InvalidRuntime


def test_given_spec_v0_name_when_parsed_then_all_fields() -> None:
    # When
    info = RuntimeV0Info.from_filename("/tmp/x/python_runtime_2.7.3_2.0.0.dev1-c9fa3fa_rh5-64_1.zip")
    # Then
    assert (info.language, info.version, info.build_system_version, info.platform, info.build,
            info.file_format) == ("python", "2.7.3", "2.0.0.dev1-c9fa3fa", "rh5-64", 1, "zip")
    assert info.filename == "python_runtime_2.7.3_2.0.0.dev1-c9fa3fa_rh5-64_1.zip"
    assert info.full_version == "2.7.3-1"
    assert info.python_tag == "cp27"
    assert info.canonical_platform == "rh5-x86_64"


def test_given_built_v0_runtime_then_round_trip(tmp_path: Path) -> None:
    path = build_runtime_v0(str(tmp_path), version="3.4.3", platform="win-32", build=2, file_format="tar.gz")
    info = RuntimeV0Info.from_filename(path)
    assert os.path.basename(path) == "python_runtime_3.4.3_2.0.0.dev1-abc1234_win-32_2.tar.gz"
    assert (info.version, info.platform, info.build, info.file_format, info.python_tag) == (
        "3.4.3", "win-32", 2, "tar.gz", "cp34")


@pytest.mark.parametrize("filename", [
    "python_runtime_2.7.3_2.0.0_rh5-64.zip",
    "python_runtime_2.7.3_2.0.0_rh5_x86_64_1.zip",
    "python-2.7.3_2.0.0_rh5-64_1.zip",
    "python_runtime_2.7.3_2.0.0_rh5-64_1",
    "python_runtime_2.7.3_2.0.0_rh5-64_x.zip",
    "python_runtime_2.7.3_2.0.0_rh9-64_1.zip",
])
def test_given_bad_v0_names_then_invalid_runtime(filename: str) -> None:
    with pytest.raises(InvalidRuntime, match="Invalid runtime file name"):
        RuntimeV0Info.from_filename(filename)


def test_given_v0_version_outside_table_then_python_tag_value_error() -> None:
    info = RuntimeV0Info.from_filename("python_runtime_3.8.10_2.0.0_rh5-64_1.zip")
    assert RUNTIME_V0_RE.match(info.filename) is not None
    with pytest.raises(ValueError, match="only Python 2.5-2.7 and 3.0-3.4"):
        _ = info.python_tag


def test_given_default_v1_runtime_when_read_then_fields(tmp_path: Path) -> None:
    # Given
    path = build_runtime_v1(str(tmp_path), extra_members={"bin/python": b"#!"})
    # When
    info = RuntimeV1Info.from_file(path)
    # Then
    assert os.path.basename(path) == "cpython-3.8.8+1-rh7_x86_64-gnu.runtime"
    assert (info.implementation, info.version, info.language_version, info.platform, info.abi) == (
        "cpython", "3.8.8+1", "3.8.8", "rh7-x86_64", "gnu")
    assert (info.build_revision, info.python_tag, info.metadata_version) == ("", "cp38", "1.0")
    assert info.metadata["site_packages"] == "${prefix}/lib/python3.8/site-packages"
    assert info.filename_platform == "rh7_x86_64"
    assert info.canonical_filename == "cpython-3.8.8+1-rh7_x86_64-gnu.runtime"
    assert info.filename == "cpython-3.8.8+1-rh7_x86_64-gnu.runtime"
    assert info.runtime_version == RuntimeVersion("3.8.8+1")


@pytest.mark.parametrize(("implementation", "version", "platform", "abi", "tag", "filename"), [
    ("cpython", "3.8.8+1", "win-x86_64", "msvc2019", "cp38", "cpython-3.8.8+1-win_x86_64-msvc2019.runtime"),
    ("cpython", "3.11.2+2", "osx-arm64", "darwin", "cp311", "cpython-3.11.2+2-osx_arm64-darwin.runtime"),
    ("cpython", "2.7.10+1", "rh5_x86_64", "gnu", "cp27", "cpython-2.7.10+1-rh5_x86_64-gnu.runtime"),
    ("pypy", "2.6.0+1", "rh5-x86_64", "gnu", "pp27", "pypy-2.6.0+1-rh5_x86_64-gnu.runtime"),
    ("julia", "1.9.2+1", "win-x86_64", "mingw", None, "julia-1.9.2+1-win_x86_64-mingw.runtime"),
])
def test_given_runtime_variants_when_round_tripped_then_values(tmp_path: Path, implementation: str, version: str,
                                                               platform: str, abi: str, tag: str,
                                                               filename: str) -> None:
    path = build_runtime_v1(str(tmp_path), implementation, version, platform, abi)
    info = RuntimeV1Info.from_file(path)
    assert os.path.basename(path) == filename
    assert (info.implementation, info.version, info.abi, info.python_tag) == (implementation, version, abi, tag)
    assert info.canonical_filename == filename


def test_given_julia_metadata_then_only_ten_keys() -> None:
    assert len(runtime_v1_metadata("julia", "1.9.2+1")) == 10
    assert len(runtime_v1_metadata()) == 13


def test_given_runtime_renamed_then_content_wins(tmp_path: Path) -> None:
    # §2.2: the name is only sanity-checked, never compared with the JSON
    path = build_runtime_v1(str(tmp_path), version="3.11.2+2", filename="cpython-3.8.8+1-win_x86_64-msvc2019.runtime")
    info = RuntimeV1Info.from_file(path)
    assert (info.version, info.platform) == ("3.11.2+2", "rh7-x86_64")


def test_given_file_object_then_no_name_check(tmp_path: Path) -> None:
    data = Path(build_runtime_v1(str(tmp_path))).read_bytes()
    info = RuntimeV1Info.from_file(io.BytesIO(data))
    assert (info.filename, info.python_tag) == (None, "cp38")


def test_given_not_a_zip_then_not_an_enthought_runtime_package(tmp_path: Path) -> None:
    path = tmp_path / "cpython-3.8.8+1-rh7_x86_64-gnu.runtime"
    path.write_text("python")
    with pytest.raises(InvalidRuntime, match=r"^cpython-3\.8\.8\+1-rh7_x86_64-gnu\.runtime is not an Enthought"):
        RuntimeV1Info.from_file(str(path))


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"implementation": "r", "version": "4.3.1+1"}, "unsupported runtime implementation 'r'"),
    ({"metadata_overrides": {"python_tag": OMIT}}, "'python_tag' is a required property"),
    ({"metadata_overrides": {"site_packages": OMIT}}, "'site_packages' is a required property"),
    ({"metadata_overrides": {"metadata_version": "2.0"}}, "unsupported runtime metadata_version '2.0'"),
    ({"metadata_overrides": {"paths": "${prefix}/bin"}}, "'paths' must be a list of strings"),
    ({"metadata_overrides": {"abi": None}}, "'abi' must be a string"),
    ({"metadata_overrides": {"platform": "rh9_x86_64"}}, "Invalid platform 'rh9_x86_64'"),
    ({"metadata_overrides": {"version": "not a version"}}, "Invalid PEP 440 version"),
    ({"metadata_overrides": {"language_version": "x"}}, "Invalid PEP 440 version 'x'"),
    ({"metadata_overrides": {"python_tag": "none"}}, "Invalid python tag"),
    ({"extra_members": {"enthought/runtime.json": b"{not json"}}, "invalid runtime metadata"),
    ({"extra_members": {"enthought/runtime.json": b"[1, 2]"}}, "expected a JSON object"),
    ({"extra_members": {"enthought/runtime.json": None, "bin/python": b""}}, "has no enthought/runtime.json"),
])
def test_given_invalid_runtime_then_invalid_runtime_starting_with_base_name(tmp_path: Path, kwargs: dict,
                                                                              message: str) -> None:
    kwargs.setdefault("filename", "cpython-3.8.8+1-rh7_x86_64-gnu.runtime")
    path = build_runtime_v1(str(tmp_path), **kwargs)
    with pytest.raises(InvalidRuntime, match=message) as excinfo:
        RuntimeV1Info.from_file(path)
    assert str(excinfo.value).startswith("cpython-3.8.8+1-rh7_x86_64-gnu.runtime")


def test_given_julia_without_python_keys_then_valid() -> None:
    metadata = runtime_v1_metadata("julia", "1.9.2+1", "rh8-x86_64")
    info = RuntimeV1Info.from_metadata(json.loads(json.dumps(metadata)), "julia-1.9.2+1-rh8_x86_64-gnu.runtime")
    assert (info.python_tag, info.platform) == (None, "rh8-x86_64")


@pytest.mark.parametrize("filename", [
    "cpython-3.8.8+1-rh7_x86_64-gnu.zip", "cpython-3.8.8+1-rh7_x86_64.runtime",
    "cpython-3.8.8+1-rh9_x86_64-gnu.runtime",
    "cpython-not_a_version-rh7_x86_64-gnu.runtime", "cpython.runtime",
])
def test_given_badly_named_runtime_then_invalid_runtime(tmp_path: Path, filename: str) -> None:
    path = build_runtime_v1(str(tmp_path), filename=filename)
    with pytest.raises(InvalidRuntime, match="Invalid runtime file name"):
        RuntimeV1Info.from_file(path)
    assert RuntimeV1Info.from_file(path, check_filename=False).version == "3.8.8+1"


def test_given_runtime_name_then_split_with_canonical_platform() -> None:
    assert split_runtime_v1_name("cpython-3.11.2+2-win_x86_64-msvc2022.runtime") == (
        "cpython", "3.11.2+2", "win-x86_64", "msvc2022")
