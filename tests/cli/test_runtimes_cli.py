"""``hatcher runtimes ...`` (API versions 0 and 1) against the embedded Brood."""

from __future__ import annotations

import json
import os

import pytest

from hatcher.artefacts.builders import build_runtime_v0, build_runtime_v1

PLATFORM = "rh7-x86_64"
V0_PLATFORM = "rh5-64"
DOWN = "http://127.0.0.1:1"


@pytest.fixture
def wrong_password(brood):
    return ("-U", brood.admin_auth[0], "-p", "not-the-password")


@pytest.fixture
def repo_v1(brood, repository):
    return brood.client(api_version=1).organization(repository[0]).repository(repository[1])


@pytest.fixture
def repo_v0(brood, repository):
    return brood.client(api_version=0).organization(repository[0]).repository(repository[1])


def runtime_v1(directory, implementation="cpython", version="3.8.10+2") -> str:
    os.makedirs(directory, exist_ok=True)
    return build_runtime_v1(str(directory), implementation=implementation, version=version, platform=PLATFORM)


def runtime_v0(directory, version="2.7.3") -> str:
    os.makedirs(directory, exist_ok=True)
    return build_runtime_v0(str(directory), version=version, platform=V0_PLATFORM)


# -- API version 1 ------------------------------------------------------------------------

def test_v1_list_is_sorted_by_name_then_pep440_version(cli_v1, repository, repo_v1, tmp_path):
    for implementation, version in [("pypy", "2.7.13+1"), ("cpython", "3.8.10+2"), ("cpython", "3.6.0+2")]:
        repo_v1.upload_runtime(runtime_v1(tmp_path, implementation, version))
    result = cli_v1("runtimes", "list", *repository, PLATFORM)
    assert (result.exit_code, result.stdout) == (0, (
        "Runtime    Version\n"
        "---------  ---------\n"
        "cpython    3.6.0+2\n"
        "cpython    3.8.10+2\n"
        "pypy       2.7.13+1\n"))
    document = json.loads(cli_v1("runtimes", "list", *repository, PLATFORM, "--json").stdout)
    assert document == {"runtimes": [{"implementation": "cpython", "version": "3.6.0+2"},
                                     {"implementation": "cpython", "version": "3.8.10+2"},
                                     {"implementation": "pypy", "version": "2.7.13+1"}]}


def test_v1_upload_context_and_json(cli_v1, brood, repository, repo_v1, tmp_path):
    path = runtime_v1(tmp_path)
    result = cli_v1("runtimes", "upload", *repository, path)
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[:3] == [f"Runtime upload  {path}", f"Server          {brood.url}",
                         f"Repository      {'/'.join(repository)}"]
    assert lines[3].startswith("Time            ") and len(lines) == 4
    assert repo_v1.platform(PLATFORM).list_runtimes() == [("cpython", "3.8.10+2")]
    document = json.loads(cli_v1("runtimes", "upload", *repository, path, "--verify", "--json").stdout)
    assert document.pop("time")
    assert document == {"upload": "runtime", "file": path, "server": brood.url,
                        "repository": "/".join(repository)}


def test_upload_errors(cli, repository, tmp_path, wrong_password, failed):
    path = runtime_v1(tmp_path) if cli.api_version == 1 else runtime_v0(tmp_path)
    assert cli("runtimes", "upload", *repository, path).exit_code == 0
    failed(cli("runtimes", "upload", *repository, path))  # duplicate
    assert cli("runtimes", "upload", *repository, path, "--verify").exit_code == 0
    assert cli("runtimes", "upload", *repository, path, "--force").exit_code == 0
    bad = tmp_path / "bad.runtime"
    bad.write_text("not a runtime")
    result = cli("runtimes", "upload", *repository, str(bad))
    failed(result)
    assert "runtime" in result.stderr.lower()
    failed(cli("runtimes", "upload", repository[0], "missing", path),
           f"No such repository: '{repository[0]}/missing'")
    failed(cli("runtimes", "upload", *repository, path, auth=wrong_password), "Authentication failed")
    assert cli("runtimes", "upload", *repository, path, url=DOWN).stderr.startswith("Cannot connect to")


def test_v1_metadata_and_download(cli_v1, repository, repo_v1, tmp_path, monkeypatch):
    path = runtime_v1(tmp_path / "src")
    repo_v1.upload_runtime(path)
    expected = repo_v1.platform(PLATFORM).runtime_metadata("cpython", "3.8.10+2")
    args = (*repository, PLATFORM, "cpython", "3.8.10+2")
    result = cli_v1("runtimes", "metadata", *args)
    assert result.stdout == json.dumps(expected, indent=2, sort_keys=True) + "\n"
    assert cli_v1("runtimes", "metadata", *args, "--json").stdout == result.stdout
    out = tmp_path / "out"
    out.mkdir()
    result = cli_v1("runtimes", "download", *args, str(out))
    assert (result.exit_code, result.stdout) == (0, "\n")  # where the reference ends its bar's line
    with open(path, "rb") as original:
        assert (out / os.path.basename(path)).read_bytes() == original.read()
    monkeypatch.chdir(tmp_path)
    assert cli_v1("runtimes", "download", *args).exit_code == 0
    assert (tmp_path / os.path.basename(path)).exists()


def test_v1_delete_confirmation_and_success_line(cli_v1, repository, repo_v1, tmp_path):
    repo_v1.upload_runtime(runtime_v1(tmp_path))
    args = ("runtimes", "delete", *repository, PLATFORM, "cpython", "3.8.10+2")
    declined = cli_v1(*args, input="n\n")
    assert declined.exit_code == 0
    assert declined.stdout == ("Runtime with platform='rh7-x86_64', implementation='cpython', version='3.8.10+2' "
                               f"will be deleted from the repository '{'/'.join(repository)}'. Proceed? [y/N]: n\n")
    assert repo_v1.platform(PLATFORM).list_runtimes() == [("cpython", "3.8.10+2")]
    result = cli_v1(*args, "-y")
    assert (result.exit_code, result.stdout) == (0, (
        "Successfully deleted runtime; platform='rh7-x86_64', implementation='cpython', version='3.8.10+2'; "
        f"from the repository '{'/'.join(repository)}'\n"))
    assert repo_v1.platform(PLATFORM).list_runtimes() == []


@pytest.mark.parametrize("command", ["metadata", "download", "delete"])
def test_v1_errors(cli_v1, repository, wrong_password, tmp_path, failed, command):
    extra = {"download": (str(tmp_path),), "delete": ("-y",)}.get(command, ())
    args = ("runtimes", command, *repository, PLATFORM, "cpython", "9.9.9+1", *extra)
    failed(cli_v1(*args))
    failed(cli_v1(*args, auth=wrong_password), "Invalid user name or password")
    failed(cli_v1("runtimes", command, repository[0], "missing", PLATFORM, "cpython", "9.9.9+1", *extra))
    assert cli_v1(*args, url=DOWN).stderr.startswith("Cannot connect to")


def test_v1_list_errors(cli_v1, repository, wrong_password, failed):
    failed(cli_v1("runtimes", "list", repository[0], "missing", PLATFORM))
    failed(cli_v1("runtimes", "list", *repository, PLATFORM, auth=wrong_password))
    assert cli_v1("runtimes", "list", *repository, PLATFORM, url=DOWN).stderr.startswith("Cannot connect to")


# -- API version 0 ------------------------------------------------------------------------

def test_v0_list_parses_file_names(cli_v0, repository, repo_v0, tmp_path):
    for version in ["2.7.10", "2.7.3"]:
        repo_v0.upload_runtime(runtime_v0(tmp_path, version))
    result = cli_v0("runtimes", "list", *repository, V0_PLATFORM)
    assert (result.exit_code, result.stdout) == (0, (
        "Runtime    Version    Python Tag\n"
        "---------  ---------  ------------\n"
        "python     2.7.3-1    cp27\n"
        "python     2.7.10-1   cp27\n"))
    document = json.loads(cli_v0("runtimes", "list", *repository, V0_PLATFORM, "--json").stdout)
    assert [row["version"] for row in document["runtimes"]] == ["2.7.3-1", "2.7.10-1"]
    assert document["runtimes"][0] == {"runtime": "python", "version": "2.7.3-1", "python_tag": "cp27",
                                       "filename": "python_runtime_2.7.3_2.0.0.dev1-abc1234_rh5-64_1.zip"}


def test_v0_metadata_and_download(cli_v0, repository, repo_v0, tmp_path, failed):
    path = runtime_v0(tmp_path / "src")
    repo_v0.upload_runtime(path)
    args = (*repository, V0_PLATFORM, "cp27", "2.7.3-1")
    expected = repo_v0.platform(V0_PLATFORM).runtime_metadata("cp27", "2.7.3-1")
    assert cli_v0("runtimes", "metadata", *args).stdout == json.dumps(expected, indent=2, sort_keys=True) + "\n"
    result = cli_v0("runtimes", "download", *args, str(tmp_path))
    assert (result.exit_code, result.stdout) == (0, "\n")
    assert (tmp_path / os.path.basename(path)).exists()
    failed(cli_v0("runtimes", "metadata", *repository, V0_PLATFORM, "cp27", "9.9.9-1"))


def test_v0_has_no_delete_and_other_arguments(cli_v0):
    assert cli_v0("runtimes", "delete", "a", "b", "c", "d", "e").exit_code == 2
    assert "PYTHON_TAG VERSION" in cli_v0("runtimes", "metadata", "-h").stdout
