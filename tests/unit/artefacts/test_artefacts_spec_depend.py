"""Tests of the spec/depend parser: literal-only reading, required keys, type checks and fill-ins."""

from __future__ import annotations

import pytest

from hatcher.artefacts.builders import OMIT, egg_spec_values, spec_depend_text
from hatcher.artefacts.egg import parse_spec_depend
from hatcher.artefacts.spec_depend import Requirement, parse_requirement
from hatcher.errors import InvalidEgg

MINIMUM_1_4 = """\
metadata_version = '1.4'
name = 'foo'
version = '1.2.3'
build = 1
arch = None
platform = None
osdist = None
python = None
python_tag = None
abi_tag = None
platform_tag = None
platform_abi = None
packages = []
"""

LEGACY_1_1 = """\
metadata_version = '1.1'
name = 'dummy'
version = '1.0.1'
build = 1

arch = 'x86'
platform = 'linux2'
osdist = 'RedHat_5'
python = '2.7'
packages = []
"""


def spec(**overrides: object) -> str:
    """spec/depend text of a default 1.4 egg with overrides (OMIT removes a key)."""
    return spec_depend_text(egg_spec_values(spec_overrides=overrides))


def test_given_minimum_spec_of_the_spec_then_cross_platform_no_python() -> None:
    # When
    result = parse_spec_depend(MINIMUM_1_4)
    # Then
    assert result["name"] == "foo" and result["version"] == "1.2.3" and result["build"] == 1
    assert result["epd_platform"] is None
    assert result["python_tag"] is None and result["platform_abi"] is None and result["packages"] == []


def test_given_legacy_1_1_spec_then_fill_ins_of_the_worked_example() -> None:
    # When
    result = parse_spec_depend(LEGACY_1_1)
    # Then: §1.5 worked example
    assert result["epd_platform"] == "rh5-x86"
    assert result["python_tag"] == "cp27"
    assert result["abi_tag"] == "cp27m"
    assert result["platform_tag"] == "linux_i686"
    assert result["platform_abi"] == "gnu"
    assert result["metadata_version"] == "1.1"


def test_given_legacy_spec_with_python_311_then_filled_in_without_failing() -> None:
    # Given: okonomiyaki 3.0.0 fails here; we do not
    text = LEGACY_1_1.replace("'2.7'", "'3.11'").replace("'x86'", "'amd64'").replace("RedHat_5", "RedHat_7")
    # When
    result = parse_spec_depend(text)
    # Then
    assert (result["python_tag"], result["abi_tag"], result["platform_tag"], result["platform_abi"]) == (
        "cp311", "cp311", "linux_x86_64", "gnu")


def test_given_comments_blank_lines_and_crlf_then_parsed() -> None:
    text = "# generated\r\n\r\n" + MINIMUM_1_4.replace("\n", "\r\n") + "extra_key = {'ignored': 1}\r\n"
    assert parse_spec_depend(text)["name"] == "foo"


@pytest.mark.parametrize(("text", "message"), [
    ("import os\n" + MINIMUM_1_4, "not a 'key = <literal>' assignment"),
    (MINIMUM_1_4 + "print('hi')\n", "not a 'key = <literal>' assignment"),
    (MINIMUM_1_4 + "x = y = 1\n", "not a 'key = <literal>' assignment"),
    (MINIMUM_1_4 + "a.b = 1\n", "not a 'key = <literal>' assignment"),
    (MINIMUM_1_4 + "x = __import__('os').system('true')\n", "'x' is not a literal"),
    (MINIMUM_1_4 + "x = [\n", "not valid Python syntax"),
    (MINIMUM_1_4.replace("name = 'foo'", "name = 'foo'.upper()"), "'name' is not a literal"),
])
def test_given_non_literal_statements_then_invalid_egg_without_execution(text: str, message: str) -> None:
    with pytest.raises(InvalidEgg, match=message):
        parse_spec_depend(text)


@pytest.mark.parametrize(("overrides", "message"), [
    ({"metadata_version": OMIT}, "Missing metadata field 'metadata_version'"),
    ({"metadata_version": "2.0"}, "supports only eggs up to 1.4"),
    ({"metadata_version": "1.5"}, "supports only eggs up to 1.4"),
    ({"metadata_version": "3.1"}, "supports only eggs up to 1.4"),
    ({"metadata_version": 1.4}, "expected 'MAJOR.MINOR'"),
    ({"metadata_version": "1"}, "expected 'MAJOR.MINOR'"),
    ({"arch": OMIT}, "Missing metadata field 'arch'"),
    ({"platform_abi": OMIT}, "Missing metadata field 'platform_abi'"),
    ({"packages": OMIT}, "Missing metadata field 'packages'"),
    ({"build": "1"}, "'build': expected a non-negative integer"),
    ({"build": -1}, "'build'"),
    ({"build": True}, "'build'"),
    ({"version": 1}, "'version': expected a string"),
    ({"version": "1.0-1"}, "'version'"),
    ({"name": 3}, "'name': expected a string"),
    ({"name": ""}, "'name'"),
    ({"osdist": "RedHat_9"}, "'osdist': unsupported value 'RedHat_9'"),
    ({"osdist": "Ubuntu_22"}, "'osdist'"),
    ({"platform": "sunos4"}, "'platform': unsupported value"),
    ({"arch": "sparc"}, "'arch': unsupported value"),
    ({"arch": None}, "'arch': None is not valid"),
    ({"arch": "arm64"}, "arm64 is supported only"),
    ({"python": 2.7}, "'python': expected a string or None"),
    ({"metadata_version": "1.1", "python": "27"}, "'python': expected 'M.N' or None"),
    ({"python_tag": "none"}, "'python_tag'"),
    ({"python_tag": 27}, "'python_tag'"),
    ({"packages": "numpy"}, "'packages': expected a list"),
    ({"packages": ["numpy >= 1.8"]}, "comparison operators are not supported"),
    ({"packages": ["a b c"]}, "Invalid requirement 'a b c'"),
    ({"packages": ["foo-bar"]}, "use whitespace, not a hyphen"),
    ({"packages": [3]}, "expected a string"),
    ({"packages": ["numpy 1.0-1-2"]}, "bad version"),
    ({"packages": ["numpy 1.0-x"]}, "is not an integer"),
])
def test_given_invalid_metadata_then_invalid_egg_with_clear_message(overrides: dict, message: str) -> None:
    with pytest.raises(InvalidEgg, match=message):
        parse_spec_depend(spec(**overrides))


def test_given_osdist_without_platform_then_invalid_egg() -> None:
    with pytest.raises(InvalidEgg, match="osdist 'RedHat_5' given without a platform"):
        parse_spec_depend(spec(platform=None, arch=None))


def test_given_arch_aliases_and_osdist_outside_linux_then_accepted_like_okonomiyaki() -> None:
    assert parse_spec_depend(spec(arch="i386"))["epd_platform"] == "rh5-x86"
    assert parse_spec_depend(spec(arch="x86_64"))["epd_platform"] == "rh5-x86_64"
    assert parse_spec_depend(spec(platform="darwin", osdist="RedHat_5"))["epd_platform"] == "osx-x86_64"
    assert parse_spec_depend(spec(platform="linux", osdist=None))["epd_platform"] == "rh5-x86_64"
    assert parse_spec_depend(spec(platform="sunos5", osdist=None))["epd_platform"] == "sol-x86_64"


def test_given_metadata_1_0_then_read_with_the_keys_of_1_4() -> None:
    # Given: a 1.x version not in the table needs the 1.4 keys
    text = MINIMUM_1_4.replace("'1.4'", "'1.0'")
    assert parse_spec_depend(text)["metadata_version"] == "1.0"
    with pytest.raises(InvalidEgg, match="Missing metadata field 'platform_abi'"):
        parse_spec_depend(text.replace("platform_abi = None\n", ""))


def test_given_1_3_spec_with_platform_and_no_platform_tag_then_accepted() -> None:
    # okonomiyaki crashes with AttributeError here; we read it as "any"
    result = parse_spec_depend(spec(metadata_version="1.3", platform_abi=OMIT, platform_tag=None))
    assert result["platform_tag"] is None and result["epd_platform"] == "rh5-x86_64"


def test_given_generic_single_digit_tag_then_accepted() -> None:
    assert parse_spec_depend(spec(python_tag="py3"))["python_tag"] == "py3"
    assert parse_spec_depend(spec(python_tag="cp3_11"))["python_tag"] == "cp311"


@pytest.mark.parametrize(("text", "expected", "strictness"), [
    ("six", Requirement("six"), 1),
    ("numpy 1.24.2", Requirement("numpy", "1.24.2"), 2),
    ("MKL 10.3-1", Requirement("MKL", "10.3", 1), 3),
    ("numpy-1.8.0", Requirement("numpy", "1.8.0"), 2),
])
def test_given_requirement_strings_then_parsed_with_strictness(text: str, expected: Requirement,
                                                               strictness: int) -> None:
    requirement = parse_requirement(text)
    assert requirement == expected
    assert requirement.strictness == strictness


def test_given_requirement_with_tuple_packages_then_list_returned() -> None:
    text = MINIMUM_1_4.replace("packages = []", "packages = ('MKL 10.3-1', 'six', 'numpy 1.24.2')")
    assert parse_spec_depend(text)["packages"] == ["MKL 10.3-1", "six", "numpy 1.24.2"]
    assert str(parse_requirement("MKL 10.3-1")) == "MKL 10.3-1"


# -- the fast path of the spec/depend reader ------------------------------------------------------

_AST_ONLY = [  # valid spec/depend the fast path leaves to ast (None), which reads them all
    "name = 'a'  # a comment\n",
    "# a comment\nname = 'a'\n",
    "name='a'\n",
    "name = u'a'\n",
    "name = 'a\\'b'\n",
    "build = 0x10\n",
    "build = True\n",
    "packages = ['a 1.0', 'b']\n",
    "packages = [\n'at column zero',\n]\n",
    "packages = [\n  'a',\n\n  'b',\n]\n",
    "packages = [\n  'a' 'b',\n]\n",
    "packages = [\n  'a 1.0-1'\n  'b 2.0-1'\n]\n",  # no comma: one joined string, as Python reads it
    "packages = [\n  'a'\n  'b',\n  'c'\n]\n",
    "packages = (\n  'a',\n)\n",
    "name = 'a'; version = '1'\n",
    "n\u00e4me = 'a'\n",
    "name = ('a')\n",
]
_FAST = [
    "",
    "name = 'numpy'\nbuild = 12\nplatform = None\npackages = []\n",
    'name = "with \'quote\'"\nversion = \'1.0 "x"\'\n',
    "packages = [\n  'MKL 10.3-1',\n  \"libgfortran 3.0.0\"\n]\n",
    "packages = [\n\t'a',   \n]   \nname = 'again'\nname = 'twice'\n",
    "build = 0\nbuild2 = -3\nname = 'caf\u00e9 # not a comment'\n",
]


@pytest.mark.parametrize("text", _FAST + _AST_ONLY)
def test_the_fast_spec_depend_reader_agrees_with_ast_or_steps_aside(text: str) -> None:
    import ast

    from hatcher.artefacts.spec_depend import _fast_literal_assignments, _literal_assignments

    expected = {node.targets[0].id: ast.literal_eval(node.value) for node in ast.parse(text).body}
    fast = _fast_literal_assignments(text)
    assert (fast is not None) == (text in _FAST)
    if fast is not None:
        assert fast == expected and [type(v) for v in fast.values()] == [type(v) for v in expected.values()]
    assert _literal_assignments(text) == expected


@pytest.mark.parametrize("text", [
    "name = 'a\n",              # unterminated string
    "name = [\n  'a',\n",      # unterminated list
    "build = 012\n",            # leading zero: a syntax error in Python 3
    "  name = 'a'\n",           # indented statement
    "class = 'a'\n",            # a keyword
    "None = 1\n",
    "name = [\n  'a',\n  x,\n]\n",
    "name = 'nul \x00 inside'\n",
    "build = 1" + "0" * 5000 + "\n",          # beyond the digit limit of int()
])
def test_text_the_fast_reader_refuses_is_judged_by_ast(text: str) -> None:
    from hatcher.artefacts.spec_depend import _fast_literal_assignments, _literal_assignments

    assert _fast_literal_assignments(text) is None
    with pytest.raises(InvalidEgg):
        _literal_assignments(text)


def test_every_builder_layout_takes_the_fast_path() -> None:
    from hatcher.artefacts.spec_depend import _fast_literal_assignments, _literal_assignments

    for version in ("1.1", "1.2", "1.3", "1.4"):
        text = spec_depend_text(egg_spec_values(name="numpy", version="1.8.0", build=1, metadata_version=version,
                                                packages=["MKL 10.3-1", "libgfortran 3.0.0-2"]))
        fast = _fast_literal_assignments(text)
        assert fast is not None and fast == _literal_assignments(text + "# via ast\n")
