"""Tests of hatcher.artefacts.platforms: normalisation of every accepted spelling and derived values."""

from __future__ import annotations

import pytest

from hatcher.artefacts.platforms import (
    KNOWN_PLATFORMS,
    default_platform_abi,
    normalize_platform,
    platform_arch,
    platform_os,
    platform_tag,
    underscore_platform,
)
from hatcher.errors import InvalidPlatform


@pytest.mark.parametrize(("spelling", "canonical"), [
    ("rh5-x86_64", "rh5-x86_64"),
    ("rh5_x86_64", "rh5-x86_64"),
    ("rh5-64", "rh5-x86_64"),
    ("rh5_64", "rh5-x86_64"),
    ("rh5-32", "rh5-x86"),
    ("rh5-x86", "rh5-x86"),
    ("rh5-i386", "rh5-x86"),
    ("rh6-i686", "rh6-x86"),
    ("rh7-amd64", "rh7-x86_64"),
    ("rh7-AMD64", "rh7-x86_64"),
    ("rh8-aarch64", "rh8-arm64"),
    ("rh8_AArch64", "rh8-arm64"),
    ("rh8-armv8", "rh8-arm64"),
    ("rh8-ARM64", "rh8-arm64"),
    ("osx-amd64", "osx-x86_64"),
    ("osx-64", "osx-x86_64"),
    ("osx-32", "osx-x86"),
    ("osx-armv9", "osx-arm64"),
    ("win-32", "win-x86"),
    ("win-64", "win-x86_64"),
    ("win_arm64", "win-arm64"),
    ("sol-64", "sol-x86_64"),
    ("rh3-32", "rh3-x86"),
])
def test_given_accepted_spelling_when_normalized_then_canonical_hyphen_name(spelling: str, canonical: str) -> None:
    # When
    result = normalize_platform(spelling)
    # Then
    assert result == canonical


@pytest.mark.parametrize("bad", [
    "", "..", "/", "rh5/x86_64", "../rh5-x86_64", "rh5-x86_64\x00", "rh5\x00-x86_64", "rh5-x86_64/..",
    "RH5-x86_64", "rh5-x86-64", "rh9-x86_64", "linux-x86_64", "rh7-arm64", "rh5-aarch64", "sol-arm64",
    "rh5", "rh5-", "-x86_64", "rh5 x86_64", "rh5-x86_64 ", "rh5--x86_64", "rh5-sparc", "rh5-" + "6" * 40,
    "rh5-X86_64",
])
def test_given_rejected_spelling_when_normalized_then_invalid_platform(bad: str) -> None:
    # When / Then
    with pytest.raises(InvalidPlatform, match="Invalid platform"):
        normalize_platform(bad)


def test_given_non_string_when_normalized_then_invalid_platform_which_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="must be a string"):
        normalize_platform(None)  # type: ignore[arg-type]


def test_given_unknown_os_then_message_names_it() -> None:
    with pytest.raises(InvalidPlatform, match="unknown OS 'rh9'"):
        normalize_platform("rh9-x86_64")


def test_given_known_platforms_then_all_canonical_and_fixed_point() -> None:
    # Then: the table of §0.1 without the legacy bit-width aliases
    assert len(KNOWN_PLATFORMS) == 19
    assert len(set(KNOWN_PLATFORMS)) == 19
    assert "rh8-arm64" in KNOWN_PLATFORMS and "rh5-64" not in KNOWN_PLATFORMS
    assert all(normalize_platform(name) == name for name in KNOWN_PLATFORMS)


def test_given_hyphen_name_when_underscored_then_okonomiyaki_form() -> None:
    assert underscore_platform("rh7-x86_64") == "rh7_x86_64"
    assert underscore_platform("rh5-64") == "rh5_x86_64"
    assert underscore_platform("win-32") == "win_x86"
    assert platform_os("osx-arm64") == "osx"
    assert platform_arch("rh5-64") == "x86_64"


@pytest.mark.parametrize(("platform", "python_tag", "expected"), [
    ("rh5-x86", "cp27", "linux_i686"),
    ("rh7-x86_64", "cp311", "linux_x86_64"),
    ("rh8-arm64", "cp311", "linux_aarch64"),
    ("osx-x86_64", "cp27", "macosx_10_6_x86_64"),
    ("osx-x86_64", None, "macosx_10_6_x86_64"),
    ("osx-x86_64", "cp38", "macosx_10_14_x86_64"),
    ("osx-x86_64", "cp310", "macosx_10_14_x86_64"),
    ("osx-x86_64", "cp311", "macosx_12_0_x86_64"),
    ("osx-x86", "cp27", "macosx_10_6_i386"),
    ("osx-arm64", "cp311", "macosx_12_0_arm64"),
    ("win-x86", "cp27", "win32"),
    ("win-x86_64", "cp38", "win_amd64"),
    ("win-arm64", "cp311", "win_arm64"),
    ("sol-x86_64", "cp27", None),
    (None, "cp27", None),
])
def test_given_platform_when_pep425_tag_then_table_value(platform: str, python_tag: str, expected: str) -> None:
    assert platform_tag(platform, python_tag) == expected


@pytest.mark.parametrize(("platform", "python_tag", "expected"), [
    ("rh5-x86_64", "cp27", "gnu"),
    ("rh5-x86_64", None, "gnu"),
    ("osx-x86_64", "cp38", "darwin"),
    ("win-x86", "cp27", "msvc2008"),
    ("win-x86", None, "msvc2008"),
    ("win-x86", "cp32", "msvc2008"),
    ("win-x86_64", "cp33", "msvc2010"),
    ("win-x86_64", "cp34", "msvc2010"),
    ("win-x86_64", "cp35", "msvc2015"),
    ("win-x86_64", "cp36", "msvc2015"),
    ("win-x86_64", "cp37", "msvc2019"),
    ("win-x86_64", "cp38", "msvc2019"),
    ("win-x86_64", "cp39", "msvc2022"),
    ("win-x86_64", "cp311", "msvc2022"),
    ("win-arm64", "cp311", "msvc2022"),
    ("win-x86", "pp27", "msvc2008"),
    ("rh7-x86_64", "pp27", "gnu"),
    ("rh7-x86_64", "py38", None),
    ("sol-x86", "cp27", None),
    (None, "cp38", None),
])
def test_given_platform_and_tag_when_default_abi_then_table_value(platform: str, python_tag: str,
                                                                   expected: str) -> None:
    assert default_platform_abi(platform, python_tag) == expected
