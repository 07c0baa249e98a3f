"""Tests of hatcher.artefacts.egg: the file-name grammar and EggInfo read from generated eggs."""

from __future__ import annotations

import io
import os
import tracemalloc
import zipfile
from pathlib import Path

import pytest

from hatcher.artefacts.builders import OMIT, build_egg
from hatcher.artefacts.egg import EGG_NAME_RE, EggInfo, egg_name, is_egg_name_valid, split_egg_name
from hatcher.artefacts.versions import EnpkgVersion
from hatcher.errors import InvalidEgg


@pytest.mark.parametrize(("filename", "expected"), [
    ("numpy-1.8.0-1.egg", ("numpy", "1.8.0", 1)),
    ("Qt-4.8.5-2.egg", ("Qt", "4.8.5", 2)),
    ("zope.interface-4.1.0-1.egg", ("zope.interface", "4.1.0", 1)),
    ("foo_bar-1.0-1.egg", ("foo_bar", "1.0", 1)),
    ("pytz-2013b-1.egg", ("pytz", "2013b", 1)),
    ("x-1.0+local-1.egg", ("x", "1.0+local", 1)),
    ("numpy-1.8.0-01.egg", ("numpy", "1.8.0", 1)),
    ("/some/dir/numpy-1.8.0-1.egg", ("numpy", "1.8.0", 1)),
])
def test_given_valid_egg_names_then_split(filename: str, expected: tuple) -> None:
    assert is_egg_name_valid(filename)
    assert split_egg_name(filename) == expected


@pytest.mark.parametrize("filename", [
    "foo-bar-1.0-1.egg", "numpy-1.8.0.egg", "foo-1.0.egg", "numpy-1.8.0-1a.egg", "numpy-1.8.0-1.zip",
    "pip-7.0.3-py3.4.egg", "numpy-1.8.0-1.egg\n", "-1.0-1.egg", "numpy--1.egg",
])
def test_given_invalid_egg_names_then_rejected(filename: str) -> None:
    assert not is_egg_name_valid(filename)
    assert EGG_NAME_RE.match(filename) is None
    with pytest.raises(InvalidEgg, match="Invalid egg name"):
        split_egg_name(filename)


def test_given_default_egg_when_read_then_every_field(tmp_path: Path) -> None:
    # Given
    path = build_egg(str(tmp_path), name="Dummy", packages=["MKL 10.3-1", "six", "numpy 1.24.2"])
    # When
    info = EggInfo.from_file(path)
    # Then
    assert os.path.basename(path) == "Dummy-1.0.1-1.egg"
    assert (info.egg_basename, info.name, info.upstream_version, info.build) == ("Dummy", "dummy", "1.0.1", 1)
    assert info.full_version == "1.0.1-1"
    assert info.version == EnpkgVersion.from_string("1.0.1-1")
    assert (info.python, info.python_tag, info.python_tag_string) == ("2.7", "cp27", "cp27")
    assert (info.abi_tag, info.platform_tag, info.platform_abi) == ("cp27m", "linux_x86_64", "gnu")
    assert info.platform == "rh5-x86_64"
    assert info.packages == ["MKL 10.3-1", "six", "numpy 1.24.2"]
    assert [r.strictness for r in info.requirements] == [3, 1, 2]
    assert info.metadata_version == "1.4"
    assert info.summary == "Dummy package"
    assert info.filename == "Dummy-1.0.1-1.egg"
    assert info.to_dict()["python_tag"] == "cp27" and info.to_dict()["name"] == "dummy"


@pytest.mark.parametrize(("platform", "python_tag", "expected"), [
    ("rh7-x86_64", "cp311", ("rh7-x86_64", "cp311", "cp311", "linux_x86_64", "gnu", "3.11")),
    ("rh8-arm64", "cp311", ("rh8-arm64", "cp311", "cp311", "linux_aarch64", "gnu", "3.11")),
    ("rh6-x86", "cp27", ("rh6-x86", "cp27", "cp27m", "linux_i686", "gnu", "2.7")),
    ("osx-x86_64", "cp38", ("osx-x86_64", "cp38", "cp38", "macosx_10_14_x86_64", "darwin", "3.8")),
    ("osx-arm64", "cp311", ("osx-arm64", "cp311", "cp311", "macosx_12_0_arm64", "darwin", "3.11")),
    ("win-x86", "cp27", ("win-x86", "cp27", "cp27m", "win32", "msvc2008", "2.7")),
    ("win-x86_64", "cp36", ("win-x86_64", "cp36", "cp36m", "win_amd64", "msvc2015", "3.6")),
    ("win-arm64", "cp311", ("win-arm64", "cp311", "cp311", "win_arm64", "msvc2022", "3.11")),
    ("rh5-64", "cp27", ("rh5-x86_64", "cp27", "cp27m", "linux_x86_64", "gnu", "2.7")),
    (None, "py38", (None, "py38", None, None, None, "3.8")),
    (None, "cp38", (None, "cp38", None, None, None, "3.8")),
    ("rh7-x86_64", None, ("rh7-x86_64", None, None, "linux_x86_64", "gnu", None)),
    (None, None, (None, None, None, None, None, None)),
])
def test_given_platform_variants_when_round_tripped_then_table_values(tmp_path: Path, platform: str,
                                                                       python_tag: str, expected: tuple) -> None:
    # Given
    path = build_egg(str(tmp_path), name="foo", platform=platform, python_tag=python_tag)
    # When
    info = EggInfo.from_file(path)
    # Then
    assert (info.platform, info.python_tag, info.abi_tag, info.platform_tag, info.platform_abi,
            info.python) == expected
    assert info.python_tag_string == (python_tag or "none")


@pytest.mark.parametrize("platform", ["rh5-x86", "rh7-x86_64", "osx-x86_64", "win-x86", "win-x86_64"])
@pytest.mark.parametrize("python_tag", ["cp27", "cp38", "cp311", None])
def test_given_legacy_1_1_egg_then_fill_ins_equal_a_1_4_egg(tmp_path: Path, platform: str, python_tag: str) -> None:
    # Given
    legacy = build_egg(str(tmp_path), name="old", platform=platform, python_tag=python_tag, metadata_version="1.1")
    modern = build_egg(str(tmp_path), name="new", platform=platform, python_tag=python_tag)
    # When
    old_info, new_info = EggInfo.from_file(legacy), EggInfo.from_file(modern)
    # Then
    fields = ("platform", "python", "python_tag", "abi_tag", "platform_tag", "platform_abi")
    assert [getattr(old_info, f) for f in fields] == [getattr(new_info, f) for f in fields]
    assert old_info.metadata_version == "1.1"


def test_given_mkl_style_binary_egg_then_raw_and_normalised_names(tmp_path: Path) -> None:
    path = build_egg(str(tmp_path), name="MKL", version="10.3", build=1, platform="rh5-x86_64", python_tag=None)
    info = EggInfo.from_file(path)
    assert (info.egg_basename, info.name, info.python_tag_string, info.python) == ("MKL", "mkl", "none", None)


def test_given_file_name_differs_from_spec_then_spec_wins(tmp_path: Path) -> None:
    # §1.1: a file Other-1.0-1.egg whose spec says Foo 2.0-3 parses as Foo 2.0-3
    path = build_egg(str(tmp_path), name="Foo", version="2.0", build=3, filename="Other-1.0-1.egg")
    info = EggInfo.from_file(path)
    assert (info.egg_basename, info.full_version, info.filename) == ("Foo", "2.0-3", "Foo-2.0-3.egg")


def test_given_file_object_then_read_and_name_checked_only_when_known(tmp_path: Path) -> None:
    data = Path(build_egg(str(tmp_path))).read_bytes()
    assert EggInfo.from_file(io.BytesIO(data)).full_version == "1.0.1-1"
    assert EggInfo.from_file(io.BytesIO(data), filename="dummy-1.0.1-1.egg").name == "dummy"
    with pytest.raises(InvalidEgg, match="Invalid egg name 'dummy.zip'"):
        EggInfo.from_file(io.BytesIO(data), filename="dummy.zip")


def test_given_spec_without_summary_member_then_empty_summary(tmp_path: Path) -> None:
    path = build_egg(str(tmp_path), extra_members={"EGG-INFO/spec/summary": OMIT})
    assert EggInfo.from_file(path).summary == ""


def test_given_not_a_zip_then_invalid_egg_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "foo-1.0-1.egg"
    path.write_bytes(b"this is not a zip file")
    with pytest.raises(InvalidEgg, match=r"^foo-1\.0-1\.egg is not an Enthought egg: not a zip file"):
        EggInfo.from_file(str(path))


def test_given_missing_file_then_invalid_egg(tmp_path: Path) -> None:
    with pytest.raises(InvalidEgg, match="foo-1.0-1.egg: cannot read"):
        EggInfo.from_file(str(tmp_path / "foo-1.0-1.egg"))


def test_given_zip_without_spec_depend_then_not_an_enthought_egg(tmp_path: Path) -> None:
    path = build_egg(str(tmp_path), extra_members={"EGG-INFO/spec/depend": None, "foo/__init__.py": b""})
    with pytest.raises(InvalidEgg, match="dummy-1.0.1-1.egg is not an Enthought egg: it has no EGG-INFO/spec/depend"):
        EggInfo.from_file(path)


@pytest.mark.parametrize("filename", ["foo-bar-1.0-1.egg", "foo-1.0.egg"])
def test_given_bad_file_name_then_invalid_egg(tmp_path: Path, filename: str) -> None:
    path = build_egg(str(tmp_path), filename=filename)
    with pytest.raises(InvalidEgg, match=f"Invalid egg name '{filename}'"):
        EggInfo.from_file(path)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"metadata_version": "2.0"}, "supports only eggs up to 1.4"),
    ({"spec_overrides": {"metadata_version": OMIT}}, "Missing metadata field 'metadata_version'"),
    ({"spec_overrides": {"python_tag": OMIT}}, "Missing metadata field 'python_tag'"),
    ({"spec_overrides": {"build": "1"}}, "'build'"),
    ({"extra_members": {"EGG-INFO/spec/depend": b"import os\n"}}, "is not a 'key = <literal>' assignment"),
    ({"packages": ["numpy >= 1.8"]}, "Invalid requirement 'numpy >= 1.8'"),
    ({"platform": "rh7-x86_64", "spec_overrides": {"osdist": "RedHat_9"}}, "'RedHat_9'"),
    ({"extra_members": {"EGG-INFO/spec/depend": b"name = '\xff'\n"}}, "is not UTF-8"),
])
def test_given_invalid_metadata_in_egg_then_invalid_egg_starting_with_the_name(tmp_path: Path, kwargs: dict,
                                                                                message: str) -> None:
    path = build_egg(str(tmp_path), **kwargs)
    with pytest.raises(InvalidEgg, match=message) as excinfo:
        EggInfo.from_file(path)
    assert str(excinfo.value).startswith("dummy-1.0.1-1.egg")


def test_given_oversized_spec_depend_then_refused(tmp_path: Path) -> None:
    path = build_egg(str(tmp_path), extra_members={"EGG-INFO/spec/depend": b"#" * (2 * 1024 * 1024)})
    with pytest.raises(InvalidEgg, match="too large"):
        EggInfo.from_file(path)


def test_given_20_mb_payload_when_read_then_payload_not_loaded(tmp_path: Path) -> None:
    # Given
    size = 20 * 1024 * 1024
    path = build_egg(str(tmp_path), name="big", payload_size=size)
    assert os.path.getsize(path) > size
    with zipfile.ZipFile(path) as archive:
        assert archive.getinfo("big/payload.bin").file_size == size
    # When
    tracemalloc.start()
    try:
        info = EggInfo.from_file(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # Then
    assert info.full_version == "1.0.1-1"
    assert peak < 5 * 1024 * 1024


def test_given_name_parts_then_canonical_egg_name() -> None:
    assert egg_name("MKL", "10.3", 1) == "MKL-10.3-1.egg"
