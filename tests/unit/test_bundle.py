"""Bundle controllers (API version 1): the collection, one bundle, one local bundle file, the factory."""

from __future__ import annotations

import json
import os

import pytest
from model_http import ORG, REPO, api, file_sha256, platform_of, repository_of, sent, upload_parts

from hatcher.artefacts.builders import OMIT, build_bundle
from hatcher.core.bundle import (
    BundleCollectionController,
    BundleControllerFactory,
    BundleResourceController,
    BundleResourceFileController,
)
from hatcher.core.url_templates import URLS_V1
from hatcher.errors import InvalidBundle, TargetFileExists

PLATFORM = "rh6-x86_64"
BASE = f"{ORG}/{REPO}/{PLATFORM}"
METADATA_URL = api(1, f"/metadata/{BASE}/bundles/cp36/mybundle/1.0.0-1")
UPLOAD_URL = api(1, f"/data/{ORG}/{REPO}/bundles/upload")
RUNTIME = {"implementation": "cpython", "version": "3.8.10+2", "platform": "rh7_x86_64"}
ENTRY_A = {"python_tag": "cp36", "name": "mybundle", "full_version": "1.0.0-1", "build": 1}
ENTRY_B = {"python_tag": "cp38", "name": "data_science", "full_version": "2.1.0-3", "build": "3"}
DOCUMENT = {"runtime": RUNTIME, "requirements": [{"name": "numpy"}], "metadata_version": "2.0"}


@pytest.fixture
def collection(client_v1):
    """The bundles of ``enthought/dev/rh6-x86_64``."""
    return BundleCollectionController(platform_of(client_v1, PLATFORM), URLS_V1)


@pytest.fixture
def bundle(collection):
    """The bundle ``cp36/mybundle/1.0.0-1`` of that collection."""
    return collection.get("cp36", "mybundle", "1.0.0-1")


@pytest.fixture
def bundle_file(tmp_path):
    """A local bundle ``mini-1.0-1.bundle`` for CPython 3.8.10+2 on rh7_x86_64."""
    return build_bundle(str(tmp_path), runtime=RUNTIME)


# -- BundleCollectionController --------------------------------------------------------


def test_collection_repr_str_and_attributes(collection, client_v1):
    # Then
    assert repr(collection) == "<BundleCollectionController organization=enthought repository=dev platform=rh6-x86_64>"
    assert str(collection) == "enthought/dev/rh6-x86_64/bundles"
    assert collection.platform == platform_of(client_v1, PLATFORM)
    assert collection.url_handler is client_v1._url_handler
    assert {key: node.full_template for key, node in collection.urls.items()} == {
        "index": "/api/v1/json/indices/{organization_name}/{repository_name}/{platform}/bundles",
        "metadata": "/api/v1/json/metadata/{organization_name}/{repository_name}/{platform}/bundles/"
                    "{python_tag}/{name}/{version}",
        "upload": "/api/v1/json/data/{organization_name}/{repository_name}/bundles/upload",
    }


def test_collection_paths(collection):
    # Then
    assert collection.index_path == f"/api/v1/json/indices/{BASE}/bundles"
    assert collection.path("index") == collection.index_path
    assert collection.path("metadata", python_tag="cp36", name="mybundle", version="1.0.0-1") == \
        f"/api/v1/json/metadata/{BASE}/bundles/cp36/mybundle/1.0.0-1"
    assert collection.path("upload") == f"/api/v1/json/data/{ORG}/{REPO}/bundles/upload"


def test_collection_index_returns_the_raw_index(mocked, collection):
    # Given
    index = {"cp36": {"mybundle": {"1.0.0": {"1": ENTRY_A}}}}
    mocked.get(api(1, f"/indices/{BASE}/bundles"), json=index)

    # When / Then
    assert collection.index() == index
    assert sent(mocked) == [f"GET {api(1, f'/indices/{BASE}/bundles')}"]


def test_collection_list_walks_to_the_entries_at_any_depth(mocked, collection):
    # Given entries at the usual depth and one level higher
    mocked.get(api(1, f"/indices/{BASE}/bundles"), json={
        "cp36": {"mybundle": {"1.0.0": {"1": ENTRY_A}}},
        "cp38": {"data_science": {"2.1.0-3": ENTRY_B}},
    })

    # When / Then
    assert collection.list() == [
        {"python_tag": "cp36", "name": "mybundle", "version": "1.0.0-1"},
        {"python_tag": "cp38", "name": "data_science", "version": "2.1.0-3"},
    ]


def test_collection_list_of_an_empty_index_is_empty(mocked, collection):
    # Given
    mocked.get(api(1, f"/indices/{BASE}/bundles"), json={})

    # When / Then
    assert collection.list() == []


@pytest.mark.parametrize("missing", ["python_tag", "name", "full_version"])
def test_collection_list_raises_for_an_entry_missing_a_key(mocked, collection, missing):
    # Given
    entry = {key: value for key, value in ENTRY_A.items() if key != missing}
    mocked.get(api(1, f"/indices/{BASE}/bundles"), json={"cp36": {"mybundle": {"1.0.0": {"1": entry}}}})

    # When / Then
    with pytest.raises(InvalidBundle):
        collection.list()


def test_iterating_a_collection_yields_bundle_controllers_after_one_request(mocked, collection):
    # Given
    mocked.get(api(1, f"/indices/{BASE}/bundles"), json={"cp36": {"mybundle": {"1.0.0": {"1": ENTRY_A}}},
                                                           "cp38": {"data_science": {"2.1.0": {"3": ENTRY_B}}}})

    # When
    bundles = list(collection)

    # Then
    assert bundles == [collection.get("cp36", "mybundle", "1.0.0-1"),
                       collection.get("cp38", "data_science", "2.1.0-3")]
    assert len(mocked.calls) == 1


def test_collection_get_builds_a_controller_without_a_request(mocked, collection):
    # When
    bundle = collection.get("cp36", "mybundle", "1.0.0-1")

    # Then
    assert isinstance(bundle, BundleResourceController)
    assert (bundle.collection, bundle.python_tag, bundle.name, bundle.version) == \
        (collection, "cp36", "mybundle", "1.0.0-1")
    assert sent(mocked) == []


@pytest.mark.parametrize("delete", [lambda c, b: c.delete("cp36", "mybundle", "1.0.0-1"), lambda c, b: b.delete()],
                         ids=["collection", "resource"])
def test_delete_sends_delete_to_the_metadata_path(mocked, collection, bundle, delete):
    # Given
    mocked.delete(METADATA_URL, status=204)

    # When / Then
    assert delete(collection, bundle) is None
    assert sent(mocked) == [f"DELETE {METADATA_URL}?force=False"]


def test_collection_from_file_binds_the_file_to_this_platform(mocked, collection, bundle_file):
    # When
    controller = collection.from_file(bundle_file)

    # Then the python tag comes from the runtime, name and version from the file name
    assert controller == BundleResourceFileController(collection.get("cp38", "mini", "1.0-1"), bundle_file)
    assert sent(mocked) == []


def test_collection_from_file_with_a_runtime_does_not_read_the_file(collection, tmp_path):
    # Given a file whose content is not even JSON
    path = tmp_path / "mini-2.0-5.bundle"
    path.write_text("not json")

    # When
    controller = collection.from_file(str(path), runtime={"implementation": "cpython", "version": "3.11.4+1"})

    # Then
    assert controller.bundle == collection.get("cp311", "mini", "2.0-5")


# -- BundleResourceController ----------------------------------------------------------


def test_resource_equality_covers_identity_and_platform(collection, bundle, client_v1):
    # Given
    other_platform = BundleCollectionController(platform_of(client_v1, "rh7-x86_64"), URLS_V1)

    # Then
    assert bundle == collection.get("cp36", "mybundle", "1.0.0-1")
    assert bundle != collection.get("cp36", "mybundle", "1.0.0-2")
    assert bundle != collection.get("cp38", "mybundle", "1.0.0-1")
    assert bundle != other_platform.get("cp36", "mybundle", "1.0.0-1")
    assert bundle != ("cp36", "mybundle", "1.0.0-1")


def test_resource_repr_str_and_derived_names(bundle):
    # Then
    assert repr(bundle) == ("<BundleResourceController organization=enthought repository=dev platform=rh6-x86_64 "
                            "python_tag=cp36 name=mybundle version=1.0.0-1>")
    assert str(bundle) == "enthought/dev/rh6-x86_64/bundles/cp36/mybundle/1.0.0-1"
    assert bundle.canonical_filename == "mybundle-1.0.0-1.bundle"
    assert bundle.lazy_dict == {"python_tag": "cp36", "name": "mybundle", "version": "1.0.0-1"}
    assert bundle.metadata_path == f"/api/v1/json/metadata/{BASE}/bundles/cp36/mybundle/1.0.0-1"
    assert bundle.upload_path == f"/api/v1/json/data/{ORG}/{REPO}/bundles/upload"
    assert BundleResourceController.BUNDLE_EXTENSION == "bundle"
    assert BundleResourceController.BUNDLE_RE.match("mybundle-1.0.0-1.bundle").group("name", "version", "build") \
        == ("mybundle", "1.0.0", "1")


def test_resource_metadata_returns_the_metadata(mocked, bundle):
    # Given
    metadata = dict(ENTRY_A, data=DOCUMENT)
    mocked.get(METADATA_URL, json=metadata)

    # When / Then
    assert bundle.metadata() == metadata
    assert sent(mocked) == [f"GET {METADATA_URL}"]


def test_save_writes_the_data_member_as_sorted_indented_json(mocked, bundle, tmp_path):
    # Given
    mocked.get(METADATA_URL, json=dict(ENTRY_A, data=DOCUMENT))

    # When
    path = bundle.save(str(tmp_path))

    # Then
    assert path == os.path.join(str(tmp_path), "mybundle-1.0.0-1.bundle")
    assert os.listdir(tmp_path) == ["mybundle-1.0.0-1.bundle"]
    with open(path, encoding="utf-8") as fp:
        assert fp.read() == json.dumps(DOCUMENT, indent=2, sort_keys=True)


def test_save_refuses_an_existing_target_before_any_request(mocked, bundle, tmp_path):
    # Given
    target = tmp_path / "mybundle-1.0.0-1.bundle"
    target.write_text("mine")

    # When / Then
    with pytest.raises(TargetFileExists, match="mybundle-1.0.0-1.bundle"):
        bundle.save(str(tmp_path))
    assert sent(mocked) == []
    assert target.read_text() == "mine"


def test_save_with_overwrite_replaces_an_existing_target(mocked, bundle, tmp_path):
    # Given
    target = tmp_path / "mybundle-1.0.0-1.bundle"
    target.write_text("mine")
    mocked.get(METADATA_URL, json=dict(ENTRY_A, data={"b": 1, "a": [2]}))

    # When
    bundle.save(str(tmp_path), overwrite=True)

    # Then
    assert target.read_text() == '{\n  "a": [\n    2\n  ],\n  "b": 1\n}'


# -- BundleResourceFileController ------------------------------------------------------


def test_file_controller_falls_back_to_the_bundle_attributes(bundle):
    # Given
    controller = BundleResourceFileController(bundle, "/tmp/mybundle-1.0.0-1.bundle")

    # Then
    assert (controller.name, controller.version, controller.python_tag) == ("mybundle", "1.0.0-1", "cp36")
    assert controller.upload_path == bundle.upload_path
    assert controller.canonical_filename == "mybundle-1.0.0-1.bundle"
    with pytest.raises(AttributeError):
        controller.no_such_attribute  # noqa: B018


def test_file_controller_equality_and_repr(bundle, collection):
    # Given
    controller = BundleResourceFileController(bundle, "mybundle-1.0.0-1.bundle")

    # Then
    assert controller == BundleResourceFileController(collection.get("cp36", "mybundle", "1.0.0-1"),
                                                      "mybundle-1.0.0-1.bundle")
    assert controller != BundleResourceFileController(bundle, "elsewhere/mybundle-1.0.0-1.bundle")
    assert controller != BundleResourceFileController(collection.get("cp36", "mybundle", "1.0.0-2"),
                                                      "mybundle-1.0.0-1.bundle")
    assert repr(controller) == f"<BundleResourceFileController bundle={bundle!r} filepath=mybundle-1.0.0-1.bundle>"


@pytest.mark.parametrize("overwrite", [False, True])
def test_file_upload_sends_name_version_and_integer_build(mocked, collection, bundle_file, overwrite):
    # Given
    mocked.post(f"{UPLOAD_URL}?overwrite={overwrite}")

    # When
    result = collection.from_file(bundle_file).upload(overwrite=overwrite)

    # Then
    assert result is None
    assert sent(mocked) == [f"POST {UPLOAD_URL}?overwrite={overwrite}"]
    filename, _, data = upload_parts(mocked.calls[0])
    assert filename == "mini-1.0-1.bundle"
    assert data == {"sha256": file_sha256(bundle_file), "bundle_name": "mini", "bundle_version": "1.0",
                    "bundle_build": 1}


def test_repository_upload_bundle_returns_the_uploaded_file_controller(mocked, client_v1, tmp_path):
    # Given
    path = build_bundle(str(tmp_path), name="data_science", version="2.1.0", build=3, runtime=RUNTIME)
    mocked.post(f"{UPLOAD_URL}?overwrite=False")
    repository = repository_of(client_v1)

    # When
    controller = repository.upload_bundle(path)

    # Then
    assert controller == BundleControllerFactory(repository, URLS_V1).from_file(path)
    assert controller.bundle.collection.platform.name == "rh7_x86_64"
    assert (controller.python_tag, controller.name, controller.version) == ("cp38", "data_science", "2.1.0-3")
    assert upload_parts(mocked.calls[0])[2]["bundle_build"] == 3
    assert sent(mocked) == [f"POST {UPLOAD_URL}?overwrite=False"]


# -- BundleControllerFactory and invalid bundles ---------------------------------------


def test_factory_from_file_uses_the_runtime_platform(client_v1, bundle_file):
    # Given
    repository = repository_of(client_v1)
    factory = BundleControllerFactory(repository, URLS_V1)

    # When
    controller = factory.from_file(bundle_file)

    # Then
    assert (factory.repository, factory.url_template) == (repository, URLS_V1)
    assert controller.filepath == bundle_file
    assert controller.bundle == repository.platform("rh7_x86_64").bundles.get("cp38", "mini", "1.0-1")


def test_factory_from_runtime_dict_computes_the_python_tag(client_v1):
    # Given
    repository = repository_of(client_v1)
    runtime = {"implementation": "pypy", "version": "3.11.4+1", "platform": "osx-arm64"}

    # When
    bundle = BundleControllerFactory(repository, URLS_V1).from_runtime_dict(runtime, "tools", "1.0-2")

    # Then
    assert bundle == repository.platform("osx-arm64").bundles.get("pp311", "tools", "1.0-2")


def write_bad_bundle(tmp_path, case):
    """Write one kind of invalid bundle file and return its path."""
    if case == "not-json":
        path = tmp_path / "mini-1.0-1.bundle"
        path.write_text("{not json")
        return str(path)
    if case == "missing":
        return str(tmp_path / "mini-1.0-1.bundle")
    if case == "no-runtime":
        return build_bundle(str(tmp_path), extra={"runtime": OMIT})
    if case == "no-platform":
        return build_bundle(str(tmp_path), runtime={"implementation": "cpython", "version": "3.8.10+2"})
    return build_bundle(str(tmp_path), runtime=RUNTIME, filename=case)


@pytest.mark.parametrize("case", ["not-json", "missing", "no-runtime", "no-platform", "mini.bundle",
                                  "mini-1.0.bundle", "mini-1.0-x.bundle", "mini-1.0-1.json"])
def test_upload_bundle_refuses_an_invalid_bundle_before_any_request(mocked, client_v1, tmp_path, case):
    # Given
    path = write_bad_bundle(tmp_path, case)

    # When / Then
    with pytest.raises(InvalidBundle):
        repository_of(client_v1).upload_bundle(path)
    assert sent(mocked) == []
