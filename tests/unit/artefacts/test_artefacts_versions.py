"""Tests of hatcher.artefacts.versions: enpkg (PEP 386 workaround) and PEP 440 runtime ordering."""

from __future__ import annotations

import random

import pytest

from hatcher.artefacts.versions import EnpkgVersion, RuntimeVersion, pep440_sort_key, upstream_sort_key

SPEC_ORDER = ["0.9-10", "1.0.dev1-1", "1.0a1-1", "1.0b2-1", "1.0rc1-5", "1.0-1", "1.0-2", "1.0.post1-1"]


def test_given_spec_example_when_shuffled_and_sorted_then_ascending_order_of_the_spec() -> None:
    # Given
    versions = [EnpkgVersion.from_string(text) for text in SPEC_ORDER]
    random.Random(4).shuffle(versions)
    # When
    result = [str(version) for version in sorted(versions)]
    # Then
    assert result == SPEC_ORDER


def test_given_version_when_parsed_then_parts_and_original_text() -> None:
    version = EnpkgVersion.from_string("1.8.0-1")
    assert version.upstream == "1.8.0"
    assert version.build == 1
    assert str(version) == "1.8.0-1"
    assert repr(version) == "EnpkgVersion('1.8.0-1')"


def test_given_text_without_build_then_build_zero() -> None:
    version = EnpkgVersion.from_string("2013b")
    assert (version.upstream, version.build) == ("2013b", 0)


@pytest.mark.parametrize("bad", ["1.0-1-2", "a-b-c", "1.0-x", "-1", "1.0-", "1.0--1", "1.0 -1"])
def test_given_malformed_text_then_value_error(bad: str) -> None:
    with pytest.raises(ValueError):
        EnpkgVersion.from_string(bad)


def test_given_trailing_zeros_or_rc_alias_then_equal_but_printed_as_written() -> None:
    assert EnpkgVersion.from_string("1.0-1") == EnpkgVersion.from_string("1.0.0-1")
    assert hash(EnpkgVersion.from_string("1.0-1")) == hash(EnpkgVersion.from_string("1.0.0-1"))
    assert EnpkgVersion.from_string("1.0rc1-1") == EnpkgVersion.from_string("1.0c1-1")
    assert str(EnpkgVersion.from_string("1.0.0-1")) == "1.0.0-1"
    assert EnpkgVersion.from_string("1.0-1") != EnpkgVersion.from_string("1.0-2")


def test_given_worked_around_versions_then_below_every_rational_one() -> None:
    # Given
    worked_around = ["2013b-1", "1.0+local-1", "01.2-1", "1.0.0dev1-1"]
    # When / Then
    for text in worked_around:
        assert upstream_sort_key(text.split("-")[0])[0] == 0
        assert EnpkgVersion.from_string(text) < EnpkgVersion.from_string("0.0.1-1")
    assert EnpkgVersion.from_string("2013b-1") < EnpkgVersion.from_string("2013c-1")


def test_given_same_upstream_then_build_decides_numerically() -> None:
    assert EnpkgVersion.from_string("1.0-2") < EnpkgVersion.from_string("1.0-10")
    assert max(EnpkgVersion.from_string(t) for t in ["1.10-1", "1.9-3", "1.2-7"]).upstream == "1.10"


def test_given_post_and_dev_segments_then_pep386_order() -> None:
    ordered = ["1.0a1.dev1-1", "1.0a1-1", "1.0a1.post1-1", "1.0a2-1", "1.0-1", "1.0.post1.dev1-1", "1.0.post1-1",
               "1.0.1-1"]
    shuffled = list(reversed(ordered))
    assert [str(v) for v in sorted(EnpkgVersion.from_string(t) for t in shuffled)] == ordered


def test_given_dev_pre_release_with_post_and_dev_then_okonomiyaki_order() -> None:
    # ".devN" is a pre-release kind of its own, which may itself carry .postN and .devN
    ordered = ["1.0.dev1.dev2-1", "1.0.dev1-1", "1.0.dev1.post1.dev1-1", "1.0.dev1.post1-1", "1.0.dev2-1",
               "1.0a1-1", "1.0a1.0-1", "1.0a1.1-1"]
    assert [str(v) for v in sorted(EnpkgVersion.from_string(t) for t in reversed(ordered))] == ordered
    assert upstream_sort_key("1.0.dev1.post1")[0] == 1
    assert EnpkgVersion.from_string("1.0.dev1-1") == EnpkgVersion.from_string("1.0.0.dev1-1")
    assert EnpkgVersion.from_string("1.0a1-1") != EnpkgVersion.from_string("1.0a1.0-1")


def test_given_upstream_and_build_then_text_is_joined() -> None:
    version = EnpkgVersion.from_upstream_and_build("2.0", 3)
    assert str(version) == "2.0-3"
    with pytest.raises(ValueError):
        EnpkgVersion.from_upstream_and_build("2.0", -1)
    with pytest.raises(ValueError):
        EnpkgVersion.from_upstream_and_build("2-0", 1)


def test_given_runtime_versions_then_pep440_order_with_local_build() -> None:
    # Given
    texts = ["3.11.4+1", "3.8.10+2", "2.7.10+1", "3.8.10+10", "3.8.10", "3.11.2+2", "3.11.0rc1+1"]
    # When
    result = sorted(texts, key=pep440_sort_key)
    # Then
    assert result == ["2.7.10+1", "3.8.10", "3.8.10+2", "3.8.10+10", "3.11.0rc1+1", "3.11.2+2", "3.11.4+1"]


def test_given_runtime_version_object_then_parts_and_ordering() -> None:
    version = RuntimeVersion.from_string("3.11.2+2")
    assert str(version) == "3.11.2+2"
    assert version.release == (3, 11, 2)
    assert version.local == "2"
    assert (version.major, version.minor) == (3, 11)
    assert RuntimeVersion("3.8.10+2") < RuntimeVersion("3.11.4+1")
    assert RuntimeVersion("3.8.0+1") == RuntimeVersion("3.8+1")


@pytest.mark.parametrize("bad", ["", "abc", "3.8.10+", "3.8..1", "3.8.10+a b"])
def test_given_non_pep440_text_then_value_error(bad: str) -> None:
    with pytest.raises(ValueError):
        pep440_sort_key(bad)


def test_given_packaging_is_available_then_pep440_key_agrees_with_it() -> None:
    version_module = pytest.importorskip("packaging.version")
    texts = ["1.0.dev1", "1.0a1.dev2", "1.0a1", "1.0b1", "1.0rc1", "1.0rc1.post2", "1.0", "1.0+abc", "1.0+1",
             "1.0+1.a", "1.0.post1.dev1", "1.0.post1", "2.7.10+1", "3.8.10+2", "3.11.4+1", "1!0.1", "0.9"]
    shuffled = list(texts)
    random.Random(1).shuffle(shuffled)
    assert sorted(shuffled, key=pep440_sort_key) == sorted(shuffled, key=version_module.Version)
