"""Repository: deletion, app and runtime uploads (v0 and v1 forms), and the legacy re-index."""

from __future__ import annotations

import os

import pytest
from model_http import (
    ORG,
    REPO,
    VERIFY_OUTCOMES,
    api,
    check_verified_upload,
    file_sha256,
    repository_of,
    sent,
    upload_parts,
)
from unit_http import json_body

from hatcher.artefacts.builders import OMIT, build_app, build_egg, build_runtime_v0, build_runtime_v1
from hatcher.errors import InvalidRuntime, MissingPlatformError

DATA = f"/data/{ORG}/{REPO}"
V0_RUNTIME = "python_runtime_2.7.3_2.0.0.dev1-abc1234_rh5-64_1.zip"
V1_RUNTIME = "cpython-3.8.10+2-rh7_x86_64-gnu.runtime"


@pytest.fixture
def repository(client):
    """``enthought/dev`` on a client of each API version."""
    return repository_of(client)


def version_of(repository):
    """The API version a model object was built for."""
    return repository._model_registry.api_version


# -- delete and stubs ------------------------------------------------------------------


@pytest.mark.parametrize("kwargs, query", [({}, "force=False"), ({"force": False}, "force=False"),
                                           ({"force": True}, "force=True")])
def test_delete_sends_the_force_query(mocked, repository, kwargs, query):
    # Given
    url = api(version_of(repository), f"/admin/repositories/{ORG}/{REPO}")
    mocked.delete(url)

    # When / Then
    assert repository.delete(**kwargs) is None
    assert sent(mocked) == [f"DELETE {url}?{query}"]


@pytest.mark.parametrize("method", ["metadata", "list_platforms"])
def test_unsupported_operations_raise_not_implemented_without_a_request(mocked, repository, method):
    # When / Then
    with pytest.raises(NotImplementedError):
        getattr(repository, method)()
    assert sent(mocked) == []


# -- apps ------------------------------------------------------------------------------


@pytest.mark.parametrize("overwrite", [False, True])
def test_upload_app_posts_to_the_platform_named_in_the_yaml(mocked, repository, tmp_path, overwrite):
    # Given an app description for rh7-x86_64
    path = build_app(str(tmp_path), platform="rh7-x86_64")
    url = api(version_of(repository), f"{DATA}/rh7-x86_64/apps/upload?overwrite={overwrite}")
    mocked.post(url)

    # When
    result = repository.upload_app(path, overwrite=overwrite)

    # Then the file and its sha256 are sent
    assert result is None
    assert sent(mocked) == [f"POST {url}"]
    filename, content, data = upload_parts(mocked.calls[0])
    assert filename == "mayavi.demo-4.6.0-1.yaml"
    with open(path, "rb") as fp:
        assert content == fp.read()
    assert data == {"sha256": file_sha256(path)}


@pytest.mark.parametrize("platform", [OMIT, None], ids=["missing", "null"])
def test_upload_app_without_platform_fails_before_any_request(mocked, repository, tmp_path, platform):
    # Given
    path = build_app(str(tmp_path), platform=platform)

    # When / Then
    with pytest.raises(MissingPlatformError):
        repository.upload_app(path)
    assert sent(mocked) == []


@pytest.mark.parametrize("outcome", VERIFY_OUTCOMES)
def test_upload_app_with_verify_checks_the_remote_metadata_first(mocked, repository, tmp_path, outcome):
    # Given
    path = build_app(str(tmp_path), platform="rh7-x86_64", python_tag="cp38")
    version = version_of(repository)
    metadata_url = api(version, f"/metadata/{ORG}/{REPO}/rh7-x86_64/cp38/apps/mayavi.demo/4.6.0-1")
    upload_url = api(version, f"{DATA}/rh7-x86_64/apps/upload?overwrite=False")

    # When / Then
    check_verified_upload(mocked, outcome, metadata_url, upload_url, path,
                          lambda: repository.upload_app(path, verify=True))


# -- runtimes --------------------------------------------------------------------------


def v0_data(path):
    """The seven-field data part of the default v0 runtime at ``path``."""
    return {"language": "python", "filename": V0_RUNTIME, "build_system_version": "2.0.0.dev1-abc1234",
            "version": "2.7.3", "file_format": "zip", "build": 1, "sha256": file_sha256(path)}


#: API version -> (build the runtime, URL platform, file name, expected data part, metadata path tail)
RUNTIMES = {
    0: (build_runtime_v0, "rh5-64", V0_RUNTIME, v0_data, "runtimes/cp27/2.7.3-1"),
    1: (lambda d: build_runtime_v1(d, version="3.8.10+2", platform="rh7-x86_64"), "rh7_x86_64", V1_RUNTIME,
        lambda path: {"sha256": file_sha256(path)}, "runtimes/cpython/3.8.10+2"),
}


@pytest.mark.parametrize("overwrite", [False, True])
def test_upload_runtime_sends_the_version_specific_data_part(mocked, repository, tmp_path, overwrite):
    # Given a runtime: v0 parsed from its name (rh5-64), v1 read from its archive (rh7-x86_64)
    version = version_of(repository)
    build, platform, name, expected_data, _ = RUNTIMES[version]
    path = build(str(tmp_path))
    url = api(version, f"{DATA}/{platform}/runtimes/upload?overwrite={overwrite}")
    mocked.post(url)

    # When
    result = repository.upload_runtime(path, overwrite=overwrite)

    # Then v0 sends seven fields, v1 only the sha256 (and the underscore platform in the URL)
    assert result is None
    assert sent(mocked) == [f"POST {url}"]
    filename, _, data = upload_parts(mocked.calls[0])
    assert filename == name
    assert data == expected_data(path)


@pytest.mark.parametrize("outcome", VERIFY_OUTCOMES)
def test_upload_runtime_with_verify_looks_up_the_runtime_identity(mocked, repository, tmp_path, outcome):
    # Given
    version = version_of(repository)
    build, platform, _, _, tail = RUNTIMES[version]
    path = build(str(tmp_path))
    metadata_url = api(version, f"/metadata/{ORG}/{REPO}/{platform}/{tail}")
    upload_url = api(version, f"{DATA}/{platform}/runtimes/upload?overwrite=False")

    # When / Then
    check_verified_upload(mocked, outcome, metadata_url, upload_url, path,
                          lambda: repository.upload_runtime(path, verify=True))


def test_upload_runtime_with_verify_and_overwrite_skips_the_lookup(mocked, repository, tmp_path):
    # Given
    version = version_of(repository)
    build, platform, _, _, _ = RUNTIMES[version]
    path = build(str(tmp_path))
    url = api(version, f"{DATA}/{platform}/runtimes/upload?overwrite=True")
    mocked.post(url)

    # When
    repository.upload_runtime(path, overwrite=True, verify=True)

    # Then
    assert sent(mocked) == [f"POST {url}"]


@pytest.mark.parametrize("name", ["runtime.zip", "python_runtime_2.7.3_rh5-64_1.zip",
                                  "python_runtime_2.7.3_2.0.0_rh5-64_x.zip"])
def test_upload_runtime_v0_with_a_bad_file_name_fails_before_any_request(mocked, client_v0, tmp_path, name):
    # Given
    path = tmp_path / name
    path.write_bytes(b"PK")

    # When / Then
    with pytest.raises(InvalidRuntime):
        repository_of(client_v0).upload_runtime(str(path))
    assert sent(mocked) == []


@pytest.mark.parametrize("content", [b"not a zip", None], ids=["not-zip", "no-metadata"])
def test_upload_runtime_v1_with_an_invalid_archive_fails_before_any_request(mocked, client_v1, tmp_path, content):
    # Given a file that is not a zip, or a zip without enthought/runtime.json
    if content is None:
        path = build_runtime_v1(str(tmp_path), extra_members={"enthought/runtime.json": OMIT,
                                                              "other.txt": "x"})
    else:
        path = str(tmp_path / V1_RUNTIME)
        with open(path, "wb") as fp:
            fp.write(content)

    # When / Then
    with pytest.raises(InvalidRuntime, match=os.path.basename(path).replace("+", r"\+")):
        repository_of(client_v1).upload_runtime(path)
    assert sent(mocked) == []


# -- legacy re-index -------------------------------------------------------------------


def test_reindex_on_repository_posts_to_the_platform_less_path(mocked, repository, tmp_path):
    # Given two distinct eggs, one of them given twice
    yaml_egg = build_egg(str(tmp_path), name="PyYAML", version="5.4.1", build=2, python_tag="cp38")
    lib_egg = build_egg(str(tmp_path), name="libyaml", version="0.2.5", python_tag=None)
    url = api(version_of(repository), f"{DATA}/eggs/re-index")
    mocked.post(url, status=202)

    # When
    result = repository.reindex([yaml_egg, lib_egg, yaml_egg])

    # Then
    assert result is None
    assert sent(mocked) == [f"POST {url}"]
    eggs = json_body(mocked.calls[0])["eggs"]
    assert sorted(eggs, key=lambda egg: egg["name"]) == [
        {"name": "libyaml", "version": "0.2.5-1", "python_tag": "none"},
        {"name": "pyyaml", "version": "5.4.1-2", "python_tag": "cp38"},
    ]
