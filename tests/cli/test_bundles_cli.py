"""``hatcher bundles ...`` (API version 1 only) against the embedded Brood."""

from __future__ import annotations

import json
import os

import pytest

from hatcher.artefacts.builders import build_bundle

PLATFORM = "rh7-x86_64"
DOWN = "http://127.0.0.1:1"


@pytest.fixture
def wrong_password(brood):
    return ("-U", brood.admin_auth[0], "-p", "not-the-password")


@pytest.fixture
def repo(brood, repository):
    return brood.client(api_version=1).organization(repository[0]).repository(repository[1])


def bundle(directory, name="data_science", version="2.1.0", build=3, **kwargs) -> str:
    os.makedirs(directory, exist_ok=True)
    return build_bundle(str(directory), name=name, version=version, build=build, **kwargs)


def test_list_sorted_and_json(cli_v1, repository, repo, tmp_path):
    for name, version in [("gui_tools", "1.0.0"), ("data_science", "2.1.0")]:
        repo.upload_bundle(bundle(tmp_path, name, version))
    result = cli_v1("bundles", "list", *repository, PLATFORM)
    assert (result.exit_code, result.stdout) == (0, (
        "Bundle Name    Bundle Version    Python Tag\n"
        "-------------  ----------------  ------------\n"
        "data_science   2.1.0-3           cp38\n"
        "gui_tools      1.0.0-3           cp38\n"))
    assert json.loads(cli_v1("bundles", "list", *repository, PLATFORM, "--json").stdout) == {"bundles": [
        {"name": "data_science", "version": "2.1.0-3", "python_tag": "cp38"},
        {"name": "gui_tools", "version": "1.0.0-3", "python_tag": "cp38"}]}


def test_index_and_metadata_are_json(cli_v1, repository, repo, tmp_path):
    repo.upload_bundle(bundle(tmp_path))
    platform = repo.platform(PLATFORM)
    index = cli_v1("bundles", "index", *repository, PLATFORM)
    assert index.stdout == json.dumps(platform.bundle_index(), indent=2, sort_keys=True) + "\n"
    assert cli_v1("bundles", "index", *repository, PLATFORM, "--json").stdout == index.stdout
    args = ("bundles", "metadata", *repository, PLATFORM, "cp38", "data_science", "2.1.0-3")
    expected = platform.bundle_metadata("cp38", "data_science", "2.1.0-3")
    assert cli_v1(*args).stdout == json.dumps(expected, indent=2, sort_keys=True) + "\n"
    assert json.loads(cli_v1(*args, "--json").stdout) == expected


def test_upload_prints_context_with_the_server_url_after_uploading(cli_v1, brood, repository, repo, tmp_path):
    path = bundle(tmp_path)
    result = cli_v1("bundles", "upload", *repository, path)
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[:3] == [f"Bundle upload  {path}", f"Server         {brood.url}",
                         f"Repository     {'/'.join(repository)}"]
    assert lines[3].startswith("Time           ")
    assert lines[4:] == [f"Successfully uploaded {path}"]
    assert repo.platform(PLATFORM).bundle_list() == [
        {"python_tag": "cp38", "name": "data_science", "version": "2.1.0-3"}]
    document = json.loads(cli_v1("bundles", "upload", *repository, path, "--force", "--json").stdout)
    assert document.pop("time")
    assert document == {"upload": "bundle", "file": path, "server": brood.url, "repository": "/".join(repository)}


def test_upload_errors(cli_v1, repository, tmp_path, wrong_password, failed):
    path = bundle(tmp_path)
    assert cli_v1("bundles", "upload", *repository, path).exit_code == 0
    failed(cli_v1("bundles", "upload", *repository, path))  # duplicate
    not_json = tmp_path / "broken-1.0-1.bundle"
    not_json.write_text("{not json")
    failed(cli_v1("bundles", "upload", *repository, str(not_json)))
    badly_named = tmp_path / "badly_named.bundle"
    with open(path) as source:
        badly_named.write_text(source.read())
    failed(cli_v1("bundles", "upload", *repository, str(badly_named)))
    failed(cli_v1("bundles", "upload", *repository, str(tmp_path / "absent-1.0-1.bundle")))
    failed(cli_v1("bundles", "upload", repository[0], "missing", path),
           f"No such repository: '{repository[0]}/missing'")
    failed(cli_v1("bundles", "upload", *repository, path, auth=wrong_password), "Authentication failed")
    assert cli_v1("bundles", "upload", *repository, path, url=DOWN).stderr.startswith("Cannot connect to")


def test_download_writes_the_bundle_and_refuses_to_overwrite(cli_v1, repository, repo, tmp_path, failed):
    repo.upload_bundle(bundle(tmp_path / "src"))
    out = tmp_path / "out"
    out.mkdir()
    args = ("bundles", "download", *repository, PLATFORM, "cp38", "data_science", "2.1.0-3", str(out))
    result = cli_v1(*args)
    target = out / "data_science-2.1.0-3.bundle"
    assert (result.exit_code, result.stdout) == (0, f"Bundle saved to {target}\n")
    expected = repo.platform(PLATFORM).bundle_metadata("cp38", "data_science", "2.1.0-3")["data"]
    assert json.loads(target.read_text()) == expected
    target.write_text("local")
    # The target exists: one line, exit 1, and no request (the server is not even reachable).
    result = cli_v1(*args, url=DOWN)
    failed(result, f"The bundle data_science 2.1.0-3 already exists in {out}; use --force to overwrite it")
    assert target.read_text() == "local"
    assert json.loads(cli_v1(*args, "--force", "--json").stdout) == {"path": str(target)}
    assert json.loads(target.read_text()) == expected


@pytest.mark.parametrize("command", ["metadata", "download", "delete"])
def test_errors_of_one_bundle(cli_v1, repository, tmp_path, wrong_password, failed, command):
    extra = (str(tmp_path),) if command == "download" else ()
    args = ("bundles", command, *repository, PLATFORM, "cp38", "nothing", "1.0-1", *extra)
    failed(cli_v1(*args))
    failed(cli_v1(*args, auth=wrong_password), "Invalid user name or password")
    failed(cli_v1("bundles", command, repository[0], "missing", PLATFORM, "cp38", "nothing", "1.0-1", *extra))
    assert cli_v1(*args, url=DOWN).stderr.startswith("Cannot connect to")
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("command", ["list", "index"])
def test_errors_of_a_platform(cli_v1, repository, wrong_password, failed, command):
    failed(cli_v1("bundles", command, repository[0], "missing", PLATFORM))
    failed(cli_v1("bundles", command, *repository, PLATFORM, auth=wrong_password))
    assert cli_v1("bundles", command, *repository, PLATFORM, url=DOWN).stderr.startswith("Cannot connect to")


def test_delete_prints_a_success_line(cli_v1, repository, repo, tmp_path):
    repo.upload_bundle(bundle(tmp_path))
    result = cli_v1("bundles", "delete", *repository, PLATFORM, "cp38", "data_science", "2.1.0-3")
    assert (result.exit_code, result.stdout) == (0, "Successfully deleted bundle: data_science\n")
    assert repo.platform(PLATFORM).bundle_list() == []


def test_bundles_do_not_exist_in_api_version_0(cli_v0, repository):
    assert cli_v0("bundles", "list", *repository, PLATFORM).exit_code == 2
    assert "bundles" not in cli_v0("--command-tree").stdout
