"""Helpers of hatcher.core.utils: checksums, tags, sorters, retries, upload verification, metadata."""

from __future__ import annotations

import hashlib
from types import SimpleNamespace

import pytest
import requests

from hatcher import __version__
from hatcher.artefacts.builders import build_egg, build_runtime_v0, build_runtime_v1
from hatcher.core import utils
from hatcher.core.utils import (
    AppSorter,
    EggMetadata,
    EggNameSorter,
    LocalFile,
    NameVersionPairSorter,
    RuntimeMetadata,
    RuntimeMetadataV0,
    RuntimeMetadataV1,
    RuntimeV0Sorter,
    compute_md5,
    compute_sha256,
    hatcher_user_agent,
    is_str_or_unicode,
    python_tag,
    python_tag_name,
    reliable_rename,
    retry_on_exception,
    upload_verify,
)
from hatcher.errors import BroodHTTPError, ChecksumMismatchError, InvalidEgg, InvalidRuntime

CONTENT = bytes(range(256)) * 300


@pytest.fixture
def data_file(tmp_path):
    path = tmp_path / "data.bin"
    path.write_bytes(CONTENT)
    return str(path)


def http_error(status: int) -> BroodHTTPError:
    response = requests.Response()
    response.status_code = status
    return BroodHTTPError(f"{status} error", response=response)


# -- checksums and small helpers ------------------------------------------------------


@pytest.mark.parametrize("block_size", [7, 16384, 1 << 20])
def test_digests_match_hashlib(data_file, block_size):
    assert compute_sha256(data_file, block_size) == hashlib.sha256(CONTENT).hexdigest()
    assert compute_md5(data_file, block_size) == hashlib.md5(CONTENT).hexdigest()


def test_local_file_sha256(data_file):
    assert LocalFile(data_file).sha256 == hashlib.sha256(CONTENT).hexdigest()


def test_user_agent():
    assert hatcher_user_agent() == f"hatcher/{__version__} python-requests/{requests.__version__}"


def test_is_str_or_unicode():
    assert is_str_or_unicode("x") is True
    assert is_str_or_unicode(b"x") is False
    assert is_str_or_unicode(None) is False


@pytest.mark.parametrize(("implementation", "version", "expected"), [
    ("cpython", "3.6.5+1", "cp36"),
    ("cpython", "3.11.4+1", "cp311"),
    ("cpython", "2.7", "cp27"),
    ("cpython", "2.5.0", "cp25"),
    ("pypy", "2.7.9", "pp27"),
])
def test_python_tag(implementation, version, expected):
    assert python_tag(implementation, version) == expected


@pytest.mark.parametrize(("implementation", "version", "error"), [
    (None, "3.6.5", TypeError),
    ("cpython", 3.6, TypeError),
    ("jython", "2.7.0", ValueError),
    ("cpython", "three", ValueError),
    ("cpython", "2.4.6", ValueError),
])
def test_python_tag_errors(implementation, version, error):
    with pytest.raises(error):
        python_tag(implementation, version)


def test_python_tag_name():
    assert python_tag_name(None) == "none"
    assert python_tag_name("cp38") == "cp38"


# -- sorters --------------------------------------------------------------------------


def test_egg_name_sorter_orders_versions_numerically():
    names = ["numpy-1.10.0-1.egg", "numpy-1.8.0-2.egg", "numpy-1.8.0-1.egg", "abc-2.0-1.egg"]
    assert sorted(names, key=EggNameSorter) == [
        "abc-2.0-1.egg", "numpy-1.8.0-1.egg", "numpy-1.8.0-2.egg", "numpy-1.10.0-1.egg"]
    assert EggNameSorter("numpy-1.10.0-1.egg") > EggNameSorter("numpy-1.8.0-1.egg")


def test_egg_name_sorter_ignores_name_case():
    assert EggNameSorter("NumPy-1.8.0-1.egg") == EggNameSorter("numpy-1.8.0-1.egg")
    assert EggNameSorter("Zlib-1.0-1.egg") > EggNameSorter("numpy-1.8.0-1.egg")
    assert sorted(["Zlib-1.0-1.egg", "numpy-1.0-1.egg"], key=EggNameSorter) == ["numpy-1.0-1.egg", "Zlib-1.0-1.egg"]


@pytest.mark.parametrize("sorter", [
    EggNameSorter("numpy-1.8.0-1.egg"),
    AppSorter("mayavi.demo", "1.0-1", "cp27"),
    NameVersionPairSorter("cpython", "3.8.10+2"),
    RuntimeV0Sorter("python_runtime_2.7.3_2.0.0_rh5-64_1.zip"),
])
def test_comparing_a_sorter_with_another_type_raises_type_error(sorter):
    with pytest.raises(TypeError):
        sorter < "numpy-1.8.0-1.egg"  # noqa: B015
    with pytest.raises(TypeError):
        sorter > 1  # noqa: B015
    assert (sorter == "numpy-1.8.0-1.egg") is False


def test_app_sorter():
    apps = [("mayavi.demo", "1.10-1", "cp27"), ("Mayavi.demo", "1.8-1", "cp27"), ("abc", "2.0-1", "cp38"),
            ("mayavi.demo", "1.8-1", "cp26")]
    assert sorted(apps, key=lambda app: AppSorter(*app)) == [
        ("abc", "2.0-1", "cp38"), ("mayavi.demo", "1.8-1", "cp26"), ("Mayavi.demo", "1.8-1", "cp27"),
        ("mayavi.demo", "1.10-1", "cp27")]


def test_name_version_pair_sorter_uses_pep440_by_default():
    pairs = [("cpython", "3.11.4+1"), ("cpython", "3.8.10+2"), ("cpython", "3.8.10+1"), ("pypy", "2.7.9+1")]
    assert sorted(pairs, key=lambda pair: NameVersionPairSorter(*pair)) == [
        ("cpython", "3.8.10+1"), ("cpython", "3.8.10+2"), ("cpython", "3.11.4+1"), ("pypy", "2.7.9+1")]


def test_name_version_pair_sorter_with_a_custom_parser():
    assert NameVersionPairSorter("x", "b", version_parser=len) < NameVersionPairSorter("x", "aa", version_parser=len)


def test_runtime_v0_sorter():
    names = ["python_runtime_2.7.10_2.0.0_rh5-64_1.zip", "python_runtime_2.7.3_2.0.0_rh5-64_2.zip",
             "python_runtime_2.7.3_2.0.0_rh5-64_1.zip"]
    assert sorted(names, key=RuntimeV0Sorter) == [names[2], names[1], names[0]]


# -- retries and renames --------------------------------------------------------------


@pytest.fixture
def sleeps(monkeypatch):
    waited: list[float] = []
    monkeypatch.setattr(utils, "time", SimpleNamespace(sleep=waited.append))
    return waited


def flaky(failures: int, error: type[BaseException] = OSError):
    calls = []

    def func(value):
        calls.append(value)
        if len(calls) <= failures:
            raise error("boom")
        return value * 2

    return func, calls


def test_retry_on_exception_retries_then_succeeds(sleeps):
    func, calls = flaky(failures=2)
    assert retry_on_exception(OSError, max_retries=3, backoff_factor=0.1)(func)(21) == 42
    assert calls == [21, 21, 21]
    assert sleeps == pytest.approx([0.1, 0.2])


def test_retry_on_exception_reraises_after_max_retries(sleeps):
    func, calls = flaky(failures=10)
    with pytest.raises(OSError, match="boom"):
        retry_on_exception(OSError, max_retries=4, backoff_factor=0.4)(func)(1)
    assert len(calls) == 5
    assert sleeps == pytest.approx([0.4, 0.8, 1.0, 1.0])


def test_retry_on_exception_does_not_retry_other_exceptions(sleeps):
    func, calls = flaky(failures=1, error=KeyError)
    with pytest.raises(KeyError):
        retry_on_exception(OSError, max_retries=3)(func)(1)
    assert (len(calls), sleeps) == (1, [])


def test_retry_on_exception_defaults_to_no_retry(sleeps):
    func, calls = flaky(failures=1)
    with pytest.raises(OSError):
        retry_on_exception((OSError, ValueError))(func)(1)
    assert len(calls) == 1


def test_reliable_rename_replaces_the_target(tmp_path):
    source, target = tmp_path / "new", tmp_path / "old"
    source.write_bytes(b"new")
    target.write_bytes(b"old")
    reliable_rename(str(source), str(target))
    assert target.read_bytes() == b"new"
    assert not source.exists()


# -- upload verification --------------------------------------------------------------


class Uploads:
    """Records what upload_verify asked for."""

    def __init__(self, remote=None, error=None):
        self.remote, self.error = remote, error
        self.lookups = self.uploads = 0

    def get_remote(self):
        self.lookups += 1
        if self.error is not None:
            raise self.error
        return self.remote

    def upload(self):
        self.uploads += 1

    def run(self, verify=True, overwrite=False):
        local = SimpleNamespace(sha256="a" * 64)
        return upload_verify("pkg-1.0-1.egg", local, self.get_remote, self.upload, verify, overwrite)


@pytest.mark.parametrize(("verify", "overwrite"), [(False, False), (False, True), (True, True)])
def test_upload_verify_uploads_without_lookup(verify, overwrite):
    uploads = Uploads(remote={"sha256": "a" * 64})
    assert uploads.run(verify, overwrite) is True
    assert (uploads.lookups, uploads.uploads) == (0, 1)


def test_upload_verify_uploads_when_the_server_answers_404():
    uploads = Uploads(error=http_error(404))
    assert uploads.run() is True
    assert (uploads.lookups, uploads.uploads) == (1, 1)


def test_upload_verify_skips_the_same_file():
    uploads = Uploads(remote={"sha256": "a" * 64, "name": "pkg"})
    assert uploads.run() is False
    assert (uploads.lookups, uploads.uploads) == (1, 0)


def test_upload_verify_refuses_different_content():
    uploads = Uploads(remote={"sha256": "b" * 64})
    with pytest.raises(ChecksumMismatchError, match="pkg-1.0-1.egg"):
        uploads.run()
    assert uploads.uploads == 0


@pytest.mark.parametrize("status", [401, 403, 500])
def test_upload_verify_reraises_other_http_errors(status):
    uploads = Uploads(error=http_error(status))
    with pytest.raises(BroodHTTPError) as info:
        uploads.run()
    assert info.value.status_code == status
    assert uploads.uploads == 0


# -- local artefact metadata ----------------------------------------------------------


def test_egg_metadata(tmp_path):
    path = build_egg(str(tmp_path), name="PyYAML", version="5.4.1", build=2, platform="rh7-x86_64",
                     python_tag="cp38")
    metadata = EggMetadata.from_file(path)
    assert (metadata.path, metadata.name, metadata.full_version, metadata.python_tag) == (
        path, "PyYAML", "5.4.1-2", "cp38")
    assert metadata.sha256 == compute_sha256(path)
    assert metadata.reindex_entry == {"name": "pyyaml", "version": "5.4.1-2", "python_tag": "cp38"}
    assert EggMetadata.MAX_METADATA_VERSION == "1.4"


def test_egg_metadata_without_python(tmp_path):
    path = build_egg(str(tmp_path), name="zlib", python_tag=None, platform=None)
    assert EggMetadata.from_file(path).python_tag == "none"


def test_egg_metadata_rejects_a_bad_name(tmp_path):
    path = build_egg(str(tmp_path), filename="not-an-egg.zip")
    with pytest.raises(InvalidEgg):
        EggMetadata.from_file(path)


RUNTIME_V0_NAME = "python_runtime_2.7.3_2.0.0.dev1-abc1234_rh5-64_1.zip"


def test_runtime_metadata_v0(tmp_path):
    path = build_runtime_v0(str(tmp_path))
    metadata = RuntimeMetadataV0.from_file(path)
    assert (metadata.language, metadata.version, metadata.build, metadata.platform,
            metadata.build_system_version, metadata.file_format, metadata.path) == (
        "python", "2.7.3", 1, "rh5-64", "2.0.0.dev1-abc1234", "zip", path)
    assert (metadata.full_version, metadata.python_tag, metadata.filename) == ("2.7.3-1", "cp27", RUNTIME_V0_NAME)
    assert metadata.upload_data()["sha256"] is None  # not computed yet: the upload hashes as it streams
    metadata.sha256  # noqa: B018 - computes and caches it
    assert metadata.upload_data() == {
        "language": "python", "filename": RUNTIME_V0_NAME, "build_system_version": "2.0.0.dev1-abc1234",
        "version": "2.7.3", "file_format": "zip", "build": 1, "sha256": compute_sha256(path),
    }


def test_runtime_metadata_v0_platform_override(tmp_path):
    path = build_runtime_v0(str(tmp_path))
    assert RuntimeMetadataV0.from_file(path, platform="rh5-x86_64").platform == "rh5-x86_64"


def test_runtime_metadata_v0_rejects_a_bad_name(tmp_path):
    path = tmp_path / "python-2.7.3.zip"
    path.write_bytes(b"")
    with pytest.raises(InvalidRuntime):
        RuntimeMetadataV0.from_file(str(path))


def test_runtime_metadata_alias_warns(tmp_path):
    path = build_runtime_v0(str(tmp_path))
    with pytest.warns(DeprecationWarning, match="RuntimeMetadataV0"):
        metadata = RuntimeMetadata.from_file(path)
    assert isinstance(metadata, RuntimeMetadataV0)
    assert metadata.full_version == "2.7.3-1"


def test_runtime_metadata_alias_warns_at_the_caller():
    with pytest.warns(DeprecationWarning) as record:
        RuntimeMetadata("python", "2.7.3", 1, "rh5-64", "2.0", "zip", RUNTIME_V0_NAME)
    assert record[0].filename == __file__


@pytest.mark.parametrize(("implementation", "version", "platform", "expected_platform"), [
    ("cpython", "3.8.8+1", "rh7-x86_64", "rh7_x86_64"),
    ("pypy", "2.6.1+1", "osx-x86_64", "osx_x86_64"),
])
def test_runtime_metadata_v1(tmp_path, implementation, version, platform, expected_platform):
    path = build_runtime_v1(str(tmp_path), implementation=implementation, version=version, platform=platform)
    metadata = RuntimeMetadataV1.from_file(path)
    assert (metadata.path, metadata.implementation, metadata.version, metadata.platform) == (
        path, implementation, version, expected_platform)
    assert metadata.sha256 == compute_sha256(path)


def test_runtime_metadata_v1_rejects_an_archive_without_metadata(tmp_path):
    path = build_runtime_v1(str(tmp_path), extra_members={"enthought/runtime.json": None})
    with pytest.raises(InvalidRuntime):
        RuntimeMetadataV1.from_file(path)
