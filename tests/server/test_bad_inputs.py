"""Bad uploads get a clear 4xx JSON error, leave the indices unchanged and leave no file behind."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from typing import Any, Callable

import pytest
import requests
from artefact_kit import Repo, data_files, make_repo, multipart, raw_upload

from hatcher.artefacts import builders
from hatcher.core.url_templates import URLS_V1
from hatcher.server.runner import EmbeddedBrood


@pytest.fixture
def repo(brood: EmbeddedBrood, unique: Callable[[str], str]) -> Repo:
    repo = make_repo(brood, unique, 1)
    return repo


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def _read(path: str) -> bytes:
    with open(path, "rb") as stream:
        return stream.read()


def _indices(repo: Repo) -> list[Any]:
    auth = repo.brood.admin_auth
    urls = [repo.path(URLS_V1.indices.eggs, python_tag="cp27", platform=p) for p in ("rh5-x86_64", "win-x86_64")]
    urls += [repo.path(node, platform="rh7-x86_64")
             for node in (URLS_V1.indices.runtimes, URLS_V1.indices.apps, URLS_V1.indices.bundles)]
    return [requests.get(repo.brood.url + url, auth=auth, timeout=30).json() for url in urls]


def _assert_refused(repo: Repo, send: Callable[[], requests.Response], status: int = 400,
                    text: str = "") -> dict[str, Any]:
    before_files, before_indices = data_files(repo.brood), _indices(repo)
    response = send()
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"] == "application/json"
    error = response.json()["error"]
    assert isinstance(error, str) and error and text.lower() in error.lower(), error
    assert data_files(repo.brood) == before_files
    assert _indices(repo) == before_indices
    return response.json()


def _egg_upload(repo: Repo, content: bytes, filename: str, platform: str = "rh5-x86_64", **kwargs: Any) -> Any:
    path = repo.path(URLS_V1.data.eggs.upload, platform=platform)
    return lambda: raw_upload(repo, path, content, filename, params="?overwrite=False&enabled=True", **kwargs)


@pytest.fixture
def egg(tmp_path: Any) -> bytes:
    return _read(builders.build_egg(str(tmp_path)))


def test_not_a_zip(repo: Repo) -> None:
    _assert_refused(repo, _egg_upload(repo, b"this is not a zip file", "dummy-1.0.1-1.egg"), text="not a zip")


def test_no_spec_depend(repo: Repo) -> None:
    content = _zip({"EGG-INFO/PKG-INFO": b"Name: dummy\n"})
    _assert_refused(repo, _egg_upload(repo, content, "dummy-1.0.1-1.egg"), text="spec/depend")


@pytest.mark.parametrize("spec", [b"import os\n", b"metadata_version = '2.0'\nname = 'dummy'\n",
                                  b"name = 'dummy'\n", b"\xff\xfe junk", b"build = '1'\n" * 3])
def test_junk_spec_depend(repo: Repo, spec: bytes) -> None:
    content = _zip({"EGG-INFO/spec/depend": spec})
    _assert_refused(repo, _egg_upload(repo, content, "dummy-1.0.1-1.egg"))


def test_mismatched_file_name(repo: Repo, egg: bytes) -> None:
    _assert_refused(repo, _egg_upload(repo, egg, "other-1.0.1-1.egg"), text="does not match")
    _assert_refused(repo, _egg_upload(repo, egg, "dummy-2.0-1.egg"), text="does not match")


@pytest.mark.parametrize("filename", ["dummy.zip", "dummy-1.0.1.egg", "foo-bar-1.0-1.egg", ""])
def test_invalid_file_name(repo: Repo, egg: bytes, filename: str) -> None:
    _assert_refused(repo, _egg_upload(repo, egg, filename))


@pytest.mark.parametrize("filename", ["../dummy-1.0.1-1.egg", "a/dummy-1.0.1-1.egg", "dummy..x-1.0.1-1.egg",
                                      "dum\x00my-1.0.1-1.egg", "d" * 10_000 + "-1.0.1-1.egg",
                                      "a\\dummy-1.0.1-1.egg"])
def test_hostile_file_names(repo: Repo, egg: bytes, filename: str) -> None:
    _assert_refused(repo, _egg_upload(repo, egg, filename))


def test_hostile_names_in_paths(repo: Repo) -> None:
    for name in ("d" * 10_000, "a%00b", "..%2F..%2Fetc"):
        url = repo.brood.url + repo.path(URLS_V1.metadata.artefacts.eggs, python_tag="cp27", name=name,
                                         version="1.0-1")
        response = requests.get(url, auth=repo.brood.admin_auth, timeout=30)
        assert response.status_code in (400, 404), (name[:20], response.status_code, response.text[:300])
        assert response.headers.get("Content-Type") == "application/json", (name[:20], response.text[:300])
        assert response.json()["error"]


def test_wrong_sha256(repo: Repo, egg: bytes) -> None:
    _assert_refused(repo, _egg_upload(repo, egg, "dummy-1.0.1-1.egg", data={"sha256": "0" * 64}), text="checksum")
    _assert_refused(repo, _egg_upload(repo, egg, "dummy-1.0.1-1.egg", data={"sha256": "xyz"}), text="sha256")


def test_unknown_platform(repo: Repo, egg: bytes) -> None:
    for platform in ("rh9-x86_64", "linux", "rh7-arm64", "RH7-x86_64"):
        _assert_refused(repo, _egg_upload(repo, egg, "dummy-1.0.1-1.egg", platform=platform), text="platform")


def test_egg_for_another_platform(repo: Repo, egg: bytes) -> None:
    _assert_refused(repo, _egg_upload(repo, egg, "dummy-1.0.1-1.egg", platform="win-x86_64"), text="rh5-x86_64")


def test_invalid_json_in_data(repo: Repo, egg: bytes) -> None:
    for data in (b"{not json", b"[1, 2]", b"\xff\xfe"):
        _assert_refused(repo, _egg_upload(repo, egg, "dummy-1.0.1-1.egg", data=data), text="data")


def test_missing_data_part(repo: Repo, egg: bytes) -> None:
    _assert_refused(repo, _egg_upload(repo, egg, "dummy-1.0.1-1.egg", data_part=False), text="data")


def test_missing_file_part(repo: Repo) -> None:
    body, content_type = multipart([("data", "", json.dumps({"sha256": "0" * 64}).encode(), "application/json")])
    url = repo.brood.url + repo.path(URLS_V1.data.eggs.upload) + "?overwrite=False"
    _assert_refused(repo, lambda: requests.post(url, data=body, headers={"Content-Type": content_type},
                                                auth=repo.brood.admin_auth, timeout=30), text="file")


def test_wrong_data_keys(repo: Repo, egg: bytes) -> None:
    sha256 = hashlib.sha256(egg).hexdigest()
    for data in ({"sha256": sha256, "extra": 1}, {"checksum": sha256}, {}, {"sha256": 12}):
        _assert_refused(repo, _egg_upload(repo, egg, "dummy-1.0.1-1.egg", data=data), text="data")


def test_not_multipart_and_truncated(repo: Repo, egg: bytes) -> None:
    url = repo.brood.url + repo.path(URLS_V1.data.eggs.upload) + "?overwrite=False"
    auth = repo.brood.admin_auth
    _assert_refused(repo, lambda: requests.post(url, json={"sha256": "0"}, auth=auth, timeout=30),
                    text="multipart")
    body, content_type = multipart([("file", "dummy-1.0.1-1.egg", egg, None)])
    truncated = body[:-len(b"--\r\n") - 40]
    _assert_refused(repo, lambda: requests.post(url, data=truncated, headers={"Content-Type": content_type},
                                                auth=auth, timeout=30), text="multipart")


def test_bad_query_boolean(repo: Repo, egg: bytes) -> None:
    path = repo.path(URLS_V1.data.eggs.upload)
    _assert_refused(repo, lambda: raw_upload(repo, path, egg, "dummy-1.0.1-1.egg", params="?overwrite=maybe"),
                    text="overwrite")


def test_unauthenticated_upload_is_401(repo: Repo, egg: bytes) -> None:
    path = repo.path(URLS_V1.data.eggs.upload)
    _assert_refused(repo, lambda: raw_upload(repo, path, egg, "dummy-1.0.1-1.egg", auth=("nobody@x", "bad")),
                    status=401)
    missing = repo.path(URLS_V1.data.eggs.upload).replace(f"/{repo.name}/", "/nope/")
    _assert_refused(repo, lambda: raw_upload(repo, missing, egg, "dummy-1.0.1-1.egg"), status=404)


def test_bad_runtimes(repo: Repo, tmp_path: Any) -> None:
    path = repo.path(URLS_V1.data.runtimes.upload, platform="rh7_x86_64")
    name = "cpython-3.8.8+1-rh7_x86_64-gnu.runtime"
    _assert_refused(repo, lambda: raw_upload(repo, path, b"not a zip", name), text="runtime")
    no_tag = _read(builders.build_runtime_v1(str(tmp_path), metadata_overrides={"python_tag": builders.OMIT}))
    _assert_refused(repo, lambda: raw_upload(repo, path, no_tag, name), text="python_tag")
    good = _read(builders.build_runtime_v1(str(tmp_path)))
    other = repo.path(URLS_V1.data.runtimes.upload, platform="win_x86_64")
    _assert_refused(repo, lambda: raw_upload(repo, other, good, name), text="rh7-x86_64")
    _assert_refused(repo, lambda: raw_upload(repo, path, good, "bad name.runtime"))


def test_bad_apps(repo: Repo, tmp_path: Any) -> None:
    path = repo.path(URLS_V1.data.apps.upload, platform="rh7-x86_64")
    unquoted = _read(builders.build_app(str(tmp_path), version=1.0, filename="a.yaml"))
    _assert_refused(repo, lambda: raw_upload(repo, path, unquoted, "a.yaml"), text="version")
    not_mapping = b"- just\n- a list\n"
    _assert_refused(repo, lambda: raw_upload(repo, path, not_mapping, "b.yaml"), text="mapping")
    elsewhere = _read(builders.build_app(str(tmp_path), platform="win-x86_64", filename="c.yaml"))
    _assert_refused(repo, lambda: raw_upload(repo, path, elsewhere, "c.yaml"), text="win-x86_64")
    traversal = _read(builders.build_app(str(tmp_path), id="../../etc", filename="d.yaml"))
    _assert_refused(repo, lambda: raw_upload(repo, path, traversal, "d.yaml"), text="app id")


def test_bad_bundles(repo: Repo, tmp_path: Any) -> None:
    path = repo.path(URLS_V1.data.bundles.upload)
    good = _read(builders.build_bundle(str(tmp_path)))
    sha256 = hashlib.sha256(good).hexdigest()
    data = {"sha256": sha256, "bundle_name": "mini", "bundle_version": "1.0", "bundle_build": 1}
    no_runtime = _read(builders.build_bundle(str(tmp_path), extra={"runtime": builders.OMIT},
                                             filename="x-1.0-1.bundle"))
    _assert_refused(repo, lambda: raw_upload(repo, path, no_runtime, "mini-1.0-1.bundle",
                                             data={**data, "sha256": hashlib.sha256(no_runtime).hexdigest()}),
                    text="runtime")
    _assert_refused(repo, lambda: raw_upload(repo, path, good, "mini-1.0-1.bundle", data={**data, "bundle_build": 2}),
                    text="bundle_build")
    _assert_refused(repo, lambda: raw_upload(repo, path, good, "mini-1.0.bundle", data=data), text="bundle")
    _assert_refused(repo, lambda: raw_upload(repo, path, good, "mini-1.0-1.bundle", data={"sha256": sha256}),
                    text="bundle_name")
    _assert_refused(repo, lambda: raw_upload(repo, path, b"{not json", "mini-1.0-1.bundle",
                                             data={**data, "sha256": hashlib.sha256(b"{not json").hexdigest()}),
                    text="json")
