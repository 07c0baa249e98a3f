"""Tests of hatcher.artefacts.tags: python tags from versions, v0 runtime tags and index merging."""

from __future__ import annotations

import pytest

from hatcher.artefacts.tags import (
    ALL_PYTHON_TAGS,
    CONCRETE_PYTHON_TAGS,
    compatible_egg_tags,
    normalize_python_tag,
    parse_python_tag,
    python_tag,
    python_tag_name,
    v0_runtime_python_tag,
)


@pytest.mark.parametrize(("implementation", "version", "expected"), [
    ("cpython", "3.6.5+1", "cp36"),
    ("cpython", "3.11.4+1", "cp311"),
    ("cpython", "2.7.13+3", "cp27"),
    ("cpython", "2.5", "cp25"),
    ("pypy", "2.7.9", "pp27"),
    ("cpython", "3.13.0", "cp313"),
])
def test_given_implementation_and_version_when_tagged_then_prefix_and_major_minor(
        implementation: str, version: str, expected: str) -> None:
    assert python_tag(implementation, version) == expected


@pytest.mark.parametrize(("implementation", "version"), [(None, "3.8"), ("cpython", 3.8), ("cpython", None)])
def test_given_non_strings_when_tagged_then_type_error(implementation: object, version: object) -> None:
    with pytest.raises(TypeError):
        python_tag(implementation, version)  # type: ignore[arg-type]


@pytest.mark.parametrize(("implementation", "version", "message"), [
    ("julia", "1.0.0", "Unsupported implementation"),
    ("ironpython", "2.7", "Unsupported implementation"),
    ("cpython", "three", "Unparsable"),
    ("cpython", "3", "Unparsable"),
    ("cpython", "2.4.6", "older than 2.5"),
    ("cpython", "1.5", "older than 2.5"),
])
def test_given_unsupported_input_when_tagged_then_value_error(implementation: str, version: str,
                                                              message: str) -> None:
    with pytest.raises(ValueError, match=message):
        python_tag(implementation, version)


def test_given_none_tag_then_name_is_none_string() -> None:
    assert python_tag_name(None) == "none"
    assert python_tag_name("cp27") == "cp27"


@pytest.mark.parametrize(("version", "expected"), [
    ("2.5.6", "cp25"), ("2.7.3", "cp27"), ("3.0.1", "cp30"), ("3.4.3", "cp34"),
])
def test_given_v0_runtime_version_then_tag(version: str, expected: str) -> None:
    assert v0_runtime_python_tag(version) == expected


@pytest.mark.parametrize("version", ["2.4.6", "3.5.2", "3.8.10", "2.7", "2.7.3.1", "2.7.3+1", "x"])
def test_given_v0_runtime_version_outside_table_then_value_error(version: str) -> None:
    with pytest.raises(ValueError):
        v0_runtime_python_tag(version)


@pytest.mark.parametrize(("tag", "expected"), [
    ("cp27", ["cp27", "py27", "py2", "none"]),
    ("cp311", ["cp311", "py311", "py3", "none"]),
    ("pp27", ["pp27", "py27", "py2", "none"]),
    ("py27", ["py27", "py2", "none"]),
    ("py3", ["py3", "none"]),
    ("none", ["none"]),
])
def test_given_tag_when_compatible_egg_tags_then_merged_list(tag: str, expected: list[str]) -> None:
    assert compatible_egg_tags(tag) == expected


def test_given_underscore_tag_then_normalised() -> None:
    assert normalize_python_tag("cp3_11") == "cp311"
    assert parse_python_tag("cp311") == ("cp", 3, 11)
    assert parse_python_tag("py3") == ("py", 3, None)
    with pytest.raises(ValueError):
        parse_python_tag("none")
    with pytest.raises(ValueError):
        compatible_egg_tags("xx27")


def test_given_default_listings_then_concrete_subset_of_all() -> None:
    assert {"cp27", "cp34", "cp35", "cp36", "cp38", "cp311", "cp313", "pp27"} <= set(CONCRETE_PYTHON_TAGS)
    assert not any(tag.startswith("py") or tag == "none" for tag in CONCRETE_PYTHON_TAGS)
    assert ALL_PYTHON_TAGS[:len(CONCRETE_PYTHON_TAGS)] == CONCRETE_PYTHON_TAGS
    assert {"py2", "py3", "py27", "py38", "none"} <= set(ALL_PYTHON_TAGS)
    assert len(set(ALL_PYTHON_TAGS)) == len(ALL_PYTHON_TAGS)
