"""Eggs, runtimes, apps and bundles through the public client API, over real loopback HTTP."""

from __future__ import annotations

import json
import os
from typing import Any, Callable

import pytest
import requests
from artefact_kit import Repo, blob_stored, make_repo, sha256_of
from server_world import World, build_world

from hatcher.artefacts import builders
from hatcher.errors import BroodHTTPError, ChecksumMismatchError
from hatcher.server.runner import EmbeddedBrood


@pytest.fixture
def repo(brood: EmbeddedBrood, unique: Callable[[str], str], api_version: int) -> Repo:
    return make_repo(brood, unique, api_version)


def _status(call: Callable[[], Any]) -> int:
    with pytest.raises(BroodHTTPError) as info:
        call()
    return info.value.status_code


# -- eggs ---------------------------------------------------------------------------------------


def test_egg_upload_index_metadata_download_delete(repo: Repo, tmp_path: Any) -> None:
    platform = repo.platform()
    egg = builders.build_egg(str(tmp_path), name="MKL", version="10.3", python_tag=None)
    platform.upload_egg(egg)

    index = platform.egg_index("cp27")
    assert list(index) == ["MKL-10.3-1.egg"]
    entry = index["MKL-10.3-1.egg"]
    assert entry["name"] == "mkl" and entry["version"] == "10.3" and entry["build"] == 1
    assert entry["available"] is True and entry["type"] == "egg" and entry["sha256"] == sha256_of(egg)
    assert {"full_version", "md5", "mtime", "packages", "platform_abi", "product", "python_tag", "size"} <= set(entry)
    assert platform.list_eggs("none") == [{"name": "MKL-10.3-1.egg", "python_tag": "none"}]

    for spelling in ("MKL", "mkl"):
        metadata = platform.egg_metadata("none", spelling, "10.3-1")
        assert metadata["sha256"] == sha256_of(egg) and metadata["enabled"] is True
        assert metadata["filename"] == "MKL-10.3-1.egg" and metadata["egg_basename"] == "MKL"
    # Other spellings of the platform reach the same place; responses use the hyphen form.
    assert repo.platform("rh5_x86_64").egg_index("cp27") == index
    assert repo.platform("rh5-64").egg_metadata("none", "mkl", "10.3-1")["sha256"] == sha256_of(egg)

    target = tmp_path / "out"
    target.mkdir()
    platform.download_egg("none", "mkl", "10.3-1", str(target))
    assert sha256_of(str(target / "MKL-10.3-1.egg")) == sha256_of(egg)

    platform.delete_egg("none", "MKL", "10.3-1")
    assert platform.egg_index("cp27") == {}
    assert _status(lambda: platform.egg_metadata("none", "mkl", "10.3-1")) == 404
    assert _status(lambda: platform.delete_egg("none", "mkl", "10.3-1")) == 404
    assert not blob_stored(repo.brood, sha256_of(egg))


def test_egg_index_merges_compatible_tags(repo: Repo, tmp_path: Any) -> None:
    platform = repo.platform()
    for name, tag in (("exact", "cp27"), ("generic", "py27"), ("nopython", None), ("other", "cp38")):
        platform.upload_egg(builders.build_egg(str(tmp_path), name=name, python_tag=tag))
    assert sorted(platform.egg_index("cp27")) == ["exact-1.0.1-1.egg", "generic-1.0.1-1.egg",
                                                  "nopython-1.0.1-1.egg"]
    assert sorted(platform.egg_index("cp38")) == ["nopython-1.0.1-1.egg", "other-1.0.1-1.egg"]
    assert sorted(platform.egg_index("pp27")) == ["generic-1.0.1-1.egg", "nopython-1.0.1-1.egg"]
    assert sorted(platform.egg_index("none")) == ["nopython-1.0.1-1.egg"]
    # export fetches each egg of a tag's index through that tag: the most specific stored tag answers
    assert platform.egg_metadata("cp27", "nopython", "1.0.1-1")["python_tag"] == "none"
    assert platform.egg_metadata("cp27", "generic", "1.0.1-1")["python_tag"] == "py27"
    assert _status(lambda: platform.egg_metadata("cp38", "generic", "1.0.1-1")) == 404
    (tmp_path / "out").mkdir()
    platform.download_egg("cp27", "generic", "1.0.1-1", str(tmp_path / "out"))


def test_disabled_egg_and_reindex(repo: Repo, tmp_path: Any) -> None:
    platform = repo.platform()
    egg = builders.build_egg(str(tmp_path), name="PyYAML", version="5.4.1", build=2, python_tag="cp27")
    platform.upload_egg(egg, enabled=False)
    assert platform.egg_index("cp27") == {}
    assert platform.egg_metadata("cp27", "PyYAML", "5.4.1-2")["enabled"] is False
    platform.reindex([egg])
    assert list(platform.egg_index("cp27")) == ["PyYAML-5.4.1-2.egg"]
    assert platform.egg_metadata("cp27", "pyyaml", "5.4.1-2")["enabled"] is True


def test_legacy_repository_wide_reindex(repo: Repo, tmp_path: Any) -> None:
    eggs = []
    for platform_name in ("rh5-x86_64", "win-x86_64"):
        egg_dir = tmp_path / platform_name
        egg_dir.mkdir()
        egg = builders.build_egg(str(egg_dir), name="six", platform=platform_name, python_tag="cp27")
        repo.platform(platform_name).upload_egg(egg, enabled=False)
        eggs.append(egg)
    repo.handle.reindex(eggs[:1])
    for platform_name in ("rh5-x86_64", "win-x86_64"):
        assert list(repo.platform(platform_name).egg_index("cp27")) == ["six-1.0.1-1.egg"]


def test_reindex_unknown_egg_is_404(repo: Repo, tmp_path: Any) -> None:
    egg = builders.build_egg(str(tmp_path), name="ghost")
    platform = repo.platform()
    with pytest.raises(BroodHTTPError) as info:
        platform.reindex([egg])
    assert info.value.status_code == 404 and "ghost" in info.value.error_message


def test_upload_verify_and_overwrite(repo: Repo, tmp_path: Any) -> None:
    platform = repo.platform()
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    egg = builders.build_egg(str(first), name="numpy", version="1.8.0")
    other = builders.build_egg(str(second), name="numpy", version="1.8.0", summary="different bytes")
    platform.upload_egg(egg)
    before = platform.egg_metadata("cp27", "numpy", "1.8.0-1")

    platform.upload_egg(egg, verify=True)  # same file: no upload at all
    assert platform.egg_metadata("cp27", "numpy", "1.8.0-1")["mtime"] == before["mtime"]
    with pytest.raises(ChecksumMismatchError):
        platform.upload_egg(other, verify=True)

    with pytest.raises(BroodHTTPError) as info:
        platform.upload_egg(other)
    assert info.value.status_code == 409 and "overwrite" in info.value.error_message

    platform.upload_egg(other, overwrite=True)
    assert platform.egg_metadata("cp27", "numpy", "1.8.0-1")["sha256"] == sha256_of(other)
    assert not blob_stored(repo.brood, before["sha256"])


def test_index_etag_and_304(repo: Repo, tmp_path: Any) -> None:
    platform = repo.platform()
    platform.upload_egg(builders.build_egg(str(tmp_path)))
    url = repo.brood.url + repo.path(repo.urls.indices.eggs, python_tag="cp27")
    first = requests.get(url, auth=repo.brood.admin_auth, timeout=30)
    etag = first.headers["ETag"]
    again = requests.get(url, auth=repo.brood.admin_auth, headers={"If-None-Match": etag}, timeout=30)
    assert again.status_code == 304 and again.content == b""
    platform.upload_egg(builders.build_egg(str(tmp_path), name="more"))
    changed = requests.get(url, auth=repo.brood.admin_auth, headers={"If-None-Match": etag}, timeout=30)
    assert changed.status_code == 200 and changed.headers["ETag"] != etag and len(changed.json()) == 2


def test_read_index_users_see_unavailable_eggs(brood: EmbeddedBrood, unique: Callable[[str], str],
                                               api_version: int, tmp_path: Any) -> None:
    world: World = build_world(brood, unique)
    admin_platform = brood.client(api_version).organization(world.org).repository(world.other_repo).platform(
        "rh5-x86_64")
    admin_platform.upload_egg(builders.build_egg(str(tmp_path)))
    platform = world.client(world.indexer_email, api_version).organization(world.org).repository(
        world.other_repo).platform("rh5-x86_64")
    assert platform.egg_index("cp27")["dummy-1.0.1-1.egg"]["available"] is False
    assert platform.egg_metadata("cp27", "dummy", "1.0.1-1")["sha256"]
    assert _status(lambda: platform.download_egg("cp27", "dummy", "1.0.1-1", str(tmp_path))) == 403
    reader = world.client(world.reader_email, api_version).organization(world.org).repository(world.repo)
    assert _status(lambda: reader.platform("rh5-x86_64").upload_egg(builders.build_egg(str(tmp_path)))) == 403
    outsider = world.client(world.outsider_email, api_version).organization(world.org).repository(world.repo)
    assert _status(lambda: outsider.platform("rh5-x86_64").egg_index("cp27")) == 404


# -- runtimes -----------------------------------------------------------------------------------


@pytest.mark.parametrize("api_version", [0], ids=["v0"])  # v0 runtimes live on API version 0
def test_runtime_v0(repo: Repo, tmp_path: Any) -> None:
    runtime = builders.build_runtime_v0(str(tmp_path))
    repo.handle.upload_runtime(runtime)
    repo.handle.upload_runtime(runtime, verify=True)
    platform = repo.platform("rh5-64")
    index = platform.runtime_index()
    leaf = index["python"]["2.7.3"]["1"]
    assert leaf["filename"] == os.path.basename(runtime) and leaf["platform"] == "rh5-64"  # as uploaded
    assert leaf["sha256"] == sha256_of(runtime) and leaf["full_version"] == "2.7.3-1"
    assert platform.list_runtimes() == [os.path.basename(runtime)]
    assert platform.runtime_metadata("cp27", "2.7.3-1")["sha256"] == sha256_of(runtime)
    assert repo.platform("rh5_x86_64").runtime_index() == index
    (tmp_path / "out").mkdir()
    platform.download_runtime("cp27", "2.7.3-1", str(tmp_path / "out"))
    assert sha256_of(str(tmp_path / "out" / os.path.basename(runtime))) == sha256_of(runtime)
    assert _status(lambda: platform.runtime_metadata("cp27", "2.7.3-9")) == 404


@pytest.mark.parametrize("api_version", [1], ids=["v1"])  # v1 runtimes live on API version 1
def test_runtime_v1(repo: Repo, tmp_path: Any) -> None:
    runtime = builders.build_runtime_v1(str(tmp_path), version="3.8.10+2")
    repo.handle.upload_runtime(runtime)
    repo.handle.upload_runtime(runtime, verify=True)
    platform = repo.platform("rh7-x86_64")
    leaf = platform.runtime_index()["cpython"]["3.8.10+2"]
    assert leaf["platform"] == "rh7-x86_64" and leaf["sha256"] == sha256_of(runtime)
    assert all(not isinstance(value, (dict, list)) for value in leaf.values())
    assert platform.list_runtimes() == [("cpython", "3.8.10+2")]
    metadata = repo.platform("rh7_x86_64").runtime_metadata("cpython", "3.8.10+2")
    assert metadata["build_revision"] == "" and metadata["metadata_version"] == "1.0"
    assert metadata["filename"] == os.path.basename(runtime)
    (tmp_path / "out").mkdir()
    platform.download_runtime("cpython", "3.8.10+2", str(tmp_path / "out"))
    assert sha256_of(str(tmp_path / "out" / os.path.basename(runtime))) == sha256_of(runtime)
    platform.runtime_delete("cpython", "3.8.10+2")
    assert platform.runtime_index() == {}
    assert _status(lambda: platform.runtime_delete("cpython", "3.8.10+2")) == 404


# -- apps and bundles -------------------------------------------------------------------------------


def test_apps(repo: Repo, tmp_path: Any) -> None:
    app = builders.build_app(str(tmp_path), extra={"description": "A demo"})
    repo.handle.upload_app(app)
    platform = repo.platform("rh7-x86_64")
    index = platform.app_index()
    entry = index["cp38"]["mayavi.demo"]["4.6.0"]["1"]
    assert entry["name"] == "Mayavi demo" and entry["description"] == "A demo" and entry["python_tag"] == "cp38"
    assert platform.list_apps() == [("mayavi.demo", "4.6.0-1", "cp38")]
    metadata = platform.app_metadata("cp38", "mayavi.demo", "4.6.0-1")
    assert metadata["id"] == "mayavi.demo" and metadata["version"] == "4.6.0" and metadata["description"] == "A demo"
    assert _status(lambda: repo.handle.upload_app(app)) == 409
    repo.handle.upload_app(app, verify=True)
    repo.handle.upload_app(app, overwrite=True)
    assert _status(lambda: platform.app_metadata("cp38", "mayavi.demo", "9.9-1")) == 404


@pytest.mark.parametrize("api_version", [1], ids=["v1"])  # bundles exist on API version 1 only
def test_bundles(repo: Repo, tmp_path: Any) -> None:
    runtime = {"implementation": "cpython", "version": "3.8.10+2", "platform": "rh7_x86_64",
               "repository": "enthought/free", "platform_abi": "gnu", "sha256": "0" * 64}
    bundle = builders.build_bundle(str(tmp_path), name="data_science", version="2.1.0", build=3, runtime=runtime,
                                   requirements=["numpy 1.21.2-1"])
    repo.handle.upload_bundle(bundle)
    platform = repo.platform("rh7-x86_64")
    assert platform.bundle_list() == [{"python_tag": "cp38", "name": "data_science", "version": "2.1.0-3"}]
    entry = platform.bundle_index()["cp38"]["data_science"]["2.1.0"]["3"]
    assert entry == {**entry, "full_version": "2.1.0-3", "build": 3, "platform": "rh7-x86_64"}
    metadata = repo.platform("rh7_x86_64").bundle_metadata("cp38", "data_science", "2.1.0-3")
    with open(bundle) as stream:
        assert metadata["data"] == json.load(stream)
    (tmp_path / "saved").mkdir()
    saved = platform.bundle_save("cp38", "data_science", "2.1.0-3", str(tmp_path / "saved"))
    with open(saved) as stream:
        assert json.load(stream) == metadata["data"]
    assert _status(lambda: repo.handle.upload_bundle(bundle)) == 409
    platform.bundle_delete("cp38", "data_science", "2.1.0-3")
    assert platform.bundle_index() == {}
    assert _status(lambda: platform.bundle_delete("cp38", "data_science", "2.1.0-3")) == 404
