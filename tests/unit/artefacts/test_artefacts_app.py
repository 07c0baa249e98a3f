"""Tests of hatcher.artefacts.app: YAML loading (with and without PyYAML), platform_only and validation."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from hatcher.artefacts.app import AppInfo, load_app_document, platform_only
from hatcher.artefacts.builders import OMIT, build_app
from hatcher.errors import InvalidApp, MissingPlatformError


@pytest.fixture(params=["pyyaml", "fallback"])
def yaml_mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a test with PyYAML, then again with ``import yaml`` failing."""
    if request.param == "fallback":
        monkeypatch.setitem(sys.modules, "yaml", None)
    else:
        pytest.importorskip("yaml")
    return request.param


def test_given_minimum_app_when_read_strictly_then_fields(tmp_path: Path, yaml_mode: str) -> None:
    # Given
    path = build_app(str(tmp_path), extra={"description": "A demo: with colon # and hash"})
    # When
    info = AppInfo.from_file(path, strict=True)
    # Then
    assert (info.id, info.name, info.platform, info.version, info.build, info.python_tag) == (
        "mayavi.demo", "Mayavi demo", "rh7-x86_64", "4.6.0", 1, "cp38")
    assert info.full_version == "4.6.0-1"
    assert info.canonical_platform == "rh7-x86_64"
    assert info.metadata["description"] == "A demo: with colon # and hash"
    assert Path(path).name == "mayavi.demo-4.6.0-1.yaml"


def test_given_app_when_platform_only_then_platform(tmp_path: Path, yaml_mode: str) -> None:
    path = build_app(str(tmp_path), platform="rh5_x86_64")
    assert platform_only(path) == "rh5_x86_64"


@pytest.mark.parametrize("platform", [OMIT, None])
def test_given_no_platform_when_platform_only_then_missing_platform_error(tmp_path: Path, yaml_mode: str,
                                                                          platform: object) -> None:
    path = build_app(str(tmp_path), platform=platform)
    with pytest.raises(MissingPlatformError, match="App yaml does not contain a platform specification"):
        platform_only(path)


def test_given_unquoted_numeric_version_then_schema_error_at_validation(tmp_path: Path, yaml_mode: str) -> None:
    # Given
    path = build_app(str(tmp_path), version=1.0)
    # When
    info = AppInfo.from_file(path)
    # Then: lenient reading works, strict validation refuses the float
    assert info.version == 1.0 and isinstance(info.version, float)
    with pytest.raises(InvalidApp, match="'version' must be a string, got 1.0"):
        info.validate()


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"id": OMIT}, "'id' is a required property"),
    ({"name": OMIT}, "'name' is a required property"),
    ({"python_tag": OMIT}, "'python_tag' is a required property"),
    ({"build": "1"}, "'build' must be an integer"),
    ({"build": True}, "'build' must be an integer"),
    ({"platform": "rh9-x86_64"}, "Invalid platform 'rh9-x86_64'"),
])
def test_given_invalid_app_when_strict_then_invalid_app(tmp_path: Path, kwargs: dict, message: str) -> None:
    path = build_app(str(tmp_path), filename="app.yaml", **kwargs)
    with pytest.raises(InvalidApp, match=message) as excinfo:
        AppInfo.from_file(path, strict=True)
    assert str(excinfo.value).startswith("app.yaml")


def test_given_json_app_then_read_like_yaml(tmp_path: Path, yaml_mode: str) -> None:
    path = tmp_path / "demo.app"
    path.write_text('{"id": "a", "name": "A", "platform": "win-x86", "version": "1.0", "build": 2,'
                    ' "python_tag": "cp27"}')
    info = AppInfo.from_file(path, strict=True)
    assert (info.platform, info.full_version) == ("win-x86", "1.0-2")


def test_given_hand_written_yaml_then_scanner_and_pyyaml_agree(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given
    text = ("# an app\n---\nid: demo  # trailing comment\nname: 'It''s a demo'\nplatform: rh7-x86_64\n"
            "version: '4.6.0'\nbuild: 3\npython_tag: ~\nextra:\n  nested: 1\n")
    with_yaml = load_app_document(text) if _has_yaml() else None
    # When
    monkeypatch.setitem(sys.modules, "yaml", None)
    scanned = load_app_document(text.encode("utf-8"))
    # Then
    expected = {"id": "demo", "name": "It's a demo", "platform": "rh7-x86_64", "version": "4.6.0", "build": 3,
                "python_tag": None, "extra": None}
    assert scanned == expected
    if with_yaml is not None:
        assert {key: with_yaml[key] for key in expected if key != "extra"} == {
            key: value for key, value in expected.items() if key != "extra"}


def _has_yaml() -> bool:
    try:
        import yaml  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.mark.parametrize("data", [b"- a\n- b\n", b"just text", b"\xff\xfe"])
def test_given_non_mapping_or_non_utf8_then_invalid_app(data: bytes, yaml_mode: str) -> None:
    with pytest.raises(InvalidApp):
        AppInfo.from_bytes(data, "x.yaml")


def test_given_invalid_yaml_with_pyyaml_then_invalid_app() -> None:
    pytest.importorskip("yaml")
    with pytest.raises(InvalidApp, match="invalid YAML"):
        AppInfo.from_bytes(b"id: [unclosed\n", "x.yaml")


def test_given_missing_file_then_invalid_app(tmp_path: Path) -> None:
    with pytest.raises(InvalidApp, match="cannot read"):
        AppInfo.from_file(tmp_path / "nope.yaml")
