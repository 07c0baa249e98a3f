"""SinglePlatformRepository: eggs, apps, runtimes (v0 and v1 forms) and the bundle wrappers."""

from __future__ import annotations

import hashlib
import json
import os

import pytest
from model_http import (
    ORG,
    PLATFORM,
    REPO,
    VERIFY_OUTCOMES,
    api,
    check_verified_upload,
    file_sha256,
    platform_of,
    sent,
    upload_parts,
)
from unit_http import json_body

from hatcher.artefacts.builders import build_egg
from hatcher.errors import ChecksumMismatchError, InvalidEgg

BASE = f"{ORG}/{REPO}/{PLATFORM}"
EGG_INDEX = {
    "PyYAML-5.4.1-2.egg": {"name": "pyyaml", "version": "5.4.1", "build": 2, "python_tag": "cp38"},
    "libyaml-0.2.5-1.egg": {"name": "libyaml", "version": "0.2.5", "build": 1, "python_tag": None},
}
APP_INDEX = {
    "cp38": {"plotter.demo": {"1.2.0": {"3": {"name": "Plotter demo", "python_tag": "cp38"}}}},
    "py3": {"hello": {"0.1.0": {"1": {"name": "Hello", "python_tag": "py3"}, "2": {"name": "Hello"}}}},
}
RUNTIME_INDEX_V0 = {"python": {"2.7.3": {
    "1": {"filename": "python_runtime_2.7.3_2.0.0_rh5-64_1.zip", "full_version": "2.7.3-1"},
    "2": {"filename": "python_runtime_2.7.3_2.0.0_rh5-64_2.zip", "full_version": "2.7.3-2"},
}}, "pypy": {"2.7.9": {"1": {"filename": "pypy_runtime_2.7.9_2.0.0_rh5-64_1.zip"}}}}
RUNTIME_INDEX_V1 = {
    "cpython": {"3.8.10+2": {"version": "3.8.10+2"}, "3.11.4+1": {"version": "3.11.4+1"}},
    "pypy": {"2.7.13+1": {"version": "2.7.13+1"}},
}
PAYLOAD = b"artefact bytes " * 100
PAYLOAD_SHA = hashlib.sha256(PAYLOAD).hexdigest()


@pytest.fixture
def platform(client):
    """``enthought/dev/rh5-x86_64`` on a client of each API version."""
    return platform_of(client)


def url_of(platform, path):
    """The absolute URL of ``path`` on the platform's API version."""
    return api(platform._model_registry.api_version, path)


# -- eggs: indices and metadata --------------------------------------------------------


@pytest.mark.parametrize("method, expected", [
    ("egg_index", EGG_INDEX),
    ("list_eggs", [{"name": "PyYAML-5.4.1-2.egg", "python_tag": "cp38"},
                   {"name": "libyaml-0.2.5-1.egg", "python_tag": None}]),
])
def test_egg_index_and_list_eggs_read_the_tag_index(mocked, platform, method, expected):
    # Given
    url = url_of(platform, f"/indices/{BASE}/cp38/eggs")
    mocked.get(url, json=EGG_INDEX)

    # When / Then
    assert getattr(platform, method)("cp38") == expected
    assert sent(mocked) == [f"GET {url}"]


def test_egg_metadata_returns_the_metadata(mocked, platform):
    # Given
    url = url_of(platform, f"/metadata/{BASE}/cp38/eggs/pyyaml/5.4.1-2")
    mocked.get(url, json={"name": "pyyaml", "sha256": "ab" * 32})

    # When / Then
    assert platform.egg_metadata("cp38", "pyyaml", "5.4.1-2") == {"name": "pyyaml", "sha256": "ab" * 32}
    assert sent(mocked) == [f"GET {url}"]


def test_delete_egg_sends_delete_with_force_false(mocked, platform):
    # Given
    url = url_of(platform, f"/data/{BASE}/cp38/eggs/pyyaml/5.4.1-2")
    mocked.delete(url, status=204)

    # When / Then
    assert platform.delete_egg("cp38", "pyyaml", "5.4.1-2") is None
    assert sent(mocked) == [f"DELETE {url}?force=False"]


# -- downloads (eggs and runtimes) -----------------------------------------------------

def egg_download(platform, how, *args, **kwargs):
    """``download_egg`` or ``iter_download_egg`` (per ``how``) of ``cp27/dummy/1.0.1-1``."""
    return getattr(platform, f"{how}_egg")("cp27", "dummy", "1.0.1-1", *args, **kwargs)


def runtime_download(key, version):
    """``download_runtime`` or ``iter_download_runtime`` of the runtime ``key/version``."""
    return lambda platform, how, *args, **kwargs: getattr(platform, f"{how}_runtime")(key, version, *args, **kwargs)


EGG_PATHS = (f"/metadata/{BASE}/cp27/eggs/dummy/1.0.1-1", f"/data/{BASE}/cp27/eggs/dummy/1.0.1-1")
#: id -> (api version, how to download, metadata path, data path)
DOWNLOADS = {
    "egg-v0": (0, egg_download, *EGG_PATHS),
    "egg-v1": (1, egg_download, *EGG_PATHS),
    "runtime-v0": (0, runtime_download("cp27", "2.7.3-1"),
                   f"/metadata/{BASE}/runtimes/cp27/2.7.3-1", f"/data/{BASE}/runtimes/cp27/2.7.3-1"),
    "runtime-v1": (1, runtime_download("cpython", "3.8.10+2"),
                   f"/metadata/{BASE}/runtimes/cpython/3.8.10+2", f"/data/{BASE}/runtimes/cpython/3.8.10+2"),
}


@pytest.fixture(params=sorted(DOWNLOADS))
def download(request, client_v0, client_v1):
    """``(platform, download(platform, "download"|"iter_download", dest, **kw), metadata url, data url)``."""
    version, call, metadata_path, data_path = DOWNLOADS[request.param]
    platform = platform_of(client_v1 if version else client_v0)
    return platform, call, api(version, metadata_path), api(version, data_path)


def serve_file(mocked, url, name="served-name.bin", body=PAYLOAD):
    """Register a data GET answering ``body`` as the file ``name``."""
    mocked.get(url, body=body, headers={"Content-Disposition": f'attachment; filename="{name}"',
                                        "Content-Length": str(len(body))})


def test_download_fetches_the_sha_then_names_the_file_from_the_server(mocked, download, tmp_path):
    # Given
    platform, call, metadata_url, data_url = download
    mocked.get(metadata_url, json={"sha256": PAYLOAD_SHA})
    serve_file(mocked, data_url)

    # When
    result = call(platform, "download", str(tmp_path))

    # Then
    assert result is None
    assert sent(mocked) == [f"GET {metadata_url}", f"GET {data_url}"]
    assert os.listdir(tmp_path) == ["served-name.bin"]
    assert (tmp_path / "served-name.bin").read_bytes() == PAYLOAD


def test_download_with_a_known_sha_skips_the_metadata_request(mocked, download, tmp_path):
    # Given
    platform, call, _, data_url = download
    serve_file(mocked, data_url)

    # When
    call(platform, "download", str(tmp_path), expected_sha256=PAYLOAD_SHA)

    # Then
    assert sent(mocked) == [f"GET {data_url}"]
    assert (tmp_path / "served-name.bin").read_bytes() == PAYLOAD


def test_download_with_a_wrong_sha_raises_and_leaves_no_file(mocked, download, tmp_path):
    # Given the metadata announces another checksum
    platform, call, metadata_url, data_url = download
    mocked.get(metadata_url, json={"sha256": "0" * 64})
    serve_file(mocked, data_url)

    # When / Then
    with pytest.raises(ChecksumMismatchError):
        call(platform, "download", str(tmp_path))
    assert os.listdir(tmp_path) == []


def test_iter_download_writes_only_when_the_iterator_is_exhausted(mocked, download, tmp_path):
    # Given
    platform, call, _, data_url = download
    serve_file(mocked, data_url)

    # When
    length, chunks = call(platform, "iter_download", str(tmp_path), expected_sha256=PAYLOAD_SHA)

    # Then
    assert length == len(PAYLOAD)
    assert not (tmp_path / "served-name.bin").exists()
    assert sum(chunks) == len(PAYLOAD)
    assert (tmp_path / "served-name.bin").read_bytes() == PAYLOAD


@pytest.mark.parametrize("how", ["download", "iter_download"])
def test_egg_download_with_a_filename_uses_that_name(mocked, platform, tmp_path, how):
    # Given the server would name the file differently
    url = url_of(platform, f"/data/{BASE}/cp27/eggs/dummy/1.0.1-1")
    serve_file(mocked, url, name="server-name.egg")

    # When
    result = getattr(platform, f"{how}_egg")("cp27", "dummy", "1.0.1-1", str(tmp_path),
                                              expected_sha256=PAYLOAD_SHA, filename="mine.egg")
    if how == "iter_download":
        list(result[1])

    # Then
    assert sent(mocked) == [f"GET {url}"]
    assert os.listdir(tmp_path) == ["mine.egg"]


# -- eggs: upload and re-index ---------------------------------------------------------


@pytest.mark.parametrize("kwargs, query", [
    ({}, "overwrite=False&enabled=True"),
    ({"overwrite": True, "enabled": False}, "overwrite=True&enabled=False"),
    ({"enabled": False}, "overwrite=False&enabled=False"),
])
def test_upload_egg_sends_the_file_its_sha_and_both_queries(mocked, platform, tmp_path, kwargs, query):
    # Given
    path = build_egg(str(tmp_path))
    url = url_of(platform, f"/data/{BASE}/eggs/upload?{query}")
    mocked.post(url)

    # When
    result = platform.upload_egg(path, **kwargs)

    # Then
    assert result is None
    assert sent(mocked) == [f"POST {url}"]
    filename, content, data = upload_parts(mocked.calls[0])
    assert filename == "dummy-1.0.1-1.egg"
    assert hashlib.sha256(content).hexdigest() == file_sha256(path)
    assert data == {"sha256": file_sha256(path)}


@pytest.mark.parametrize("name, content", [("dummy-1.0.1-1.egg", b"not a zip"), ("dummy.egg", None)])
def test_upload_egg_with_an_invalid_file_fails_before_any_request(mocked, platform, tmp_path, name, content):
    # Given
    path = build_egg(str(tmp_path), filename=name)
    if content is not None:
        with open(path, "wb") as fp:
            fp.write(content)

    # When / Then
    with pytest.raises(InvalidEgg):
        platform.upload_egg(path)
    assert sent(mocked) == []


@pytest.mark.parametrize("outcome", VERIFY_OUTCOMES)
def test_upload_egg_with_verify_looks_up_the_case_preserved_name(mocked, platform, tmp_path, outcome):
    # Given
    path = build_egg(str(tmp_path), name="PyYAML", version="5.4.1", build=2, python_tag="cp38")
    metadata_url = url_of(platform, f"/metadata/{BASE}/cp38/eggs/PyYAML/5.4.1-2")
    upload_url = url_of(platform, f"/data/{BASE}/eggs/upload?overwrite=False&enabled=True")

    # When / Then
    check_verified_upload(mocked, outcome, metadata_url, upload_url, path,
                          lambda: platform.upload_egg(path, verify=True))


def test_reindex_sends_distinct_lower_case_triples(mocked, platform, tmp_path):
    # Given two distinct eggs (one without python), one given twice
    yaml_egg = build_egg(str(tmp_path), name="PyYAML", version="5.4.1", build=2, python_tag="cp38")
    lib_egg = build_egg(str(tmp_path), name="libyaml", version="0.2.5", python_tag=None)
    url = url_of(platform, f"/data/{BASE}/eggs/re-index")
    mocked.post(url, status=202)

    # When
    assert platform.reindex([yaml_egg, lib_egg, yaml_egg]) is None

    # Then
    assert sent(mocked) == [f"POST {url}"]
    assert sorted(json_body(mocked.calls[0])["eggs"], key=lambda egg: egg["name"]) == [
        {"name": "libyaml", "version": "0.2.5-1", "python_tag": "none"},
        {"name": "pyyaml", "version": "5.4.1-2", "python_tag": "cp38"},
    ]


def test_reindex_of_nothing_posts_an_empty_list(mocked, platform):
    # Given
    mocked.post(url_of(platform, f"/data/{BASE}/eggs/re-index"), status=202)

    # When
    platform.reindex([])

    # Then
    assert json_body(mocked.calls[0]) == {"eggs": []}


# -- apps ------------------------------------------------------------------------------


@pytest.mark.parametrize("method, expected", [
    ("app_index", APP_INDEX),
    ("list_apps", [("plotter.demo", "1.2.0-3", "cp38"), ("hello", "0.1.0-1", "py3"), ("hello", "0.1.0-2", "py3")]),
])
def test_app_index_and_list_apps_read_the_app_index(mocked, platform, method, expected):
    # Given
    url = url_of(platform, f"/indices/{BASE}/apps")
    mocked.get(url, json=APP_INDEX)

    # When / Then
    assert getattr(platform, method)() == expected
    assert sent(mocked) == [f"GET {url}"]


def test_app_metadata_returns_the_metadata(mocked, platform):
    # Given
    url = url_of(platform, f"/metadata/{BASE}/cp38/apps/plotter.demo/1.2.0-3")
    mocked.get(url, json={"id": "plotter.demo", "version": "1.2.0"})

    # When / Then
    assert platform.app_metadata("cp38", "plotter.demo", "1.2.0-3") == {"id": "plotter.demo", "version": "1.2.0"}
    assert sent(mocked) == [f"GET {url}"]


# -- runtimes --------------------------------------------------------------------------


@pytest.mark.parametrize("version, index, expected", [
    (0, RUNTIME_INDEX_V0, None),
    (1, RUNTIME_INDEX_V1, [("cpython", "3.8.10+2"), ("cpython", "3.11.4+1"), ("pypy", "2.7.13+1")]),
])
def test_runtime_index_and_list_runtimes(mocked, client_v0, client_v1, version, index, expected):
    # Given
    platform = platform_of(client_v1 if version else client_v0)
    url = api(version, f"/indices/{BASE}/runtimes")
    mocked.get(url, json=index)
    mocked.get(url, json=index)

    # When
    raw, listed = platform.runtime_index(), platform.list_runtimes()

    # Then v0 lists distinct file names (no defined order), v1 (implementation, version) pairs
    assert raw == index
    if version == 0:
        assert sorted(listed) == ["pypy_runtime_2.7.9_2.0.0_rh5-64_1.zip", "python_runtime_2.7.3_2.0.0_rh5-64_1.zip",
                                  "python_runtime_2.7.3_2.0.0_rh5-64_2.zip"]
    else:
        assert listed == expected
    assert sent(mocked) == [f"GET {url}", f"GET {url}"]


@pytest.mark.parametrize("version, key, full_version", [(0, "cp27", "2.7.3-1"), (1, "cpython", "3.8.10+2")])
def test_runtime_metadata_uses_the_version_specific_key(mocked, client_v0, client_v1, version, key, full_version):
    # Given
    platform = platform_of(client_v1 if version else client_v0)
    url = api(version, f"/metadata/{BASE}/runtimes/{key}/{full_version}")
    mocked.get(url, json={"sha256": "ab" * 32})

    # When / Then
    assert platform.runtime_metadata(key, full_version) == {"sha256": "ab" * 32}
    assert sent(mocked) == [f"GET {url}"]


def test_runtime_delete_v1_sends_delete_with_force_false(mocked, client_v1):
    # Given
    url = api(1, f"/data/{BASE}/runtimes/cpython/3.8.10+2")
    mocked.delete(url, status=204)

    # When / Then
    assert platform_of(client_v1).runtime_delete("cpython", "3.8.10+2") is None
    assert sent(mocked) == [f"DELETE {url}?force=False"]


# -- bundles (API version 1 only) ------------------------------------------------------

BUNDLE_ENTRY = {"python_tag": "cp38", "name": "data_science", "full_version": "2.1.0-3", "build": 3}
BUNDLE_METADATA = dict(BUNDLE_ENTRY, data={"runtime": {"version": "3.8.10+2"}, "metadata_version": "2.0"})
BUNDLE_PATH = f"/metadata/{BASE}/bundles/cp38/data_science/2.1.0-3"


@pytest.mark.parametrize("wrapper, method, path, response, expected", [
    (lambda p: p.bundle_index(), "GET", f"/indices/{BASE}/bundles", {"cp38": {"data_science": {"2.1.0": {
        "3": BUNDLE_ENTRY}}}}, {"cp38": {"data_science": {"2.1.0": {"3": BUNDLE_ENTRY}}}}),
    (lambda p: p.bundle_list(), "GET", f"/indices/{BASE}/bundles", {"cp38": {"data_science": {"2.1.0": {
        "3": BUNDLE_ENTRY}}}}, [{"python_tag": "cp38", "name": "data_science", "version": "2.1.0-3"}]),
    (lambda p: p.bundle_metadata("cp38", "data_science", "2.1.0-3"), "GET", BUNDLE_PATH, BUNDLE_METADATA,
     BUNDLE_METADATA),
    (lambda p: p.bundle_delete("cp38", "data_science", "2.1.0-3"), "DELETE", BUNDLE_PATH, None, None),
], ids=["bundle_index", "bundle_list", "bundle_metadata", "bundle_delete"])
def test_bundle_wrappers_call_the_bundle_endpoints(mocked, client_v1, wrapper, method, path, response, expected):
    # Given
    mocked.add(method, api(1, path), json=response)

    # When / Then
    assert wrapper(platform_of(client_v1)) == expected
    assert sent(mocked) == [f"{method} {api(1, path)}" + ("?force=False" if method == "DELETE" else "")]


def test_bundle_save_writes_the_bundle_document_and_returns_its_path(mocked, client_v1, tmp_path):
    # Given
    mocked.get(api(1, BUNDLE_PATH), json=BUNDLE_METADATA)

    # When
    path = platform_of(client_v1).bundle_save("cp38", "data_science", "2.1.0-3", str(tmp_path))

    # Then
    assert path == os.path.join(str(tmp_path), "data_science-2.1.0-3.bundle")
    with open(path, encoding="utf-8") as fp:
        assert fp.read() == json.dumps(BUNDLE_METADATA["data"], indent=2, sort_keys=True)
