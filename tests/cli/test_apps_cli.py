"""The restored ``apps`` group: list, upload (context table, upload error wording) and metadata."""

from __future__ import annotations

import json
import re

import pytest

from hatcher.artefacts.builders import OMIT, build_app

DOWN = "http://127.0.0.1:1"
PLATFORM = "rh7-x86_64"
TIME_ROW = re.compile(r"Time        \d{4}-\d\d-\d\d \d\d:\d\d:\d\d \S+ \([+-]\d{4}\)")


def context_lines(path: str, server: str, repository: str) -> list[str]:
    """The first three rows of the ``App upload`` context table, written out by hand."""
    return [f"App upload  {path}", f"Server      {server}", f"Repository  {repository}"]


def assert_context(result, path: str, server: str, repository: str) -> None:
    lines = result.stdout.splitlines()
    assert lines[:3] == context_lines(path, server, repository)
    assert TIME_ROW.fullmatch(lines[3]), lines[3]
    assert len(lines) == 4


def test_upload_prints_the_context_then_lists(cli, brood, repository, tmp_path):
    org, repo = repository
    path = build_app(str(tmp_path))

    result = cli("apps", "upload", org, repo, path)

    assert (result.exit_code, result.stderr) == (0, "")
    assert_context(result, path, brood.url, f"{org}/{repo}")
    assert brood.client().organization(org).repository(repo).platform(PLATFORM).list_apps() == [
        ("mayavi.demo", "4.6.0-1", "cp38")]


def test_upload_json(cli, brood, repository, tmp_path):
    org, repo = repository
    path = build_app(str(tmp_path))

    result = cli("apps", "upload", org, repo, path, "--json")

    assert result.exit_code == 0
    document = json.loads(result.stdout)
    assert document.pop("time")
    assert document == {"upload": "app", "file": path, "server": brood.url, "repository": f"{org}/{repo}"}


def test_upload_duplicate_force_and_verify(cli, repository, tmp_path, failed):
    org, repo = repository
    path = build_app(str(tmp_path))
    assert cli("apps", "upload", org, repo, path).exit_code == 0

    # A second upload is refused; --verify skips an identical file; --force replaces it
    result = cli("apps", "upload", org, repo, path)
    failed(result)
    assert "already exists" in result.stderr
    assert cli("apps", "upload", org, repo, path, "--verify").exit_code == 0
    assert cli("apps", "upload", org, repo, path, "--force").exit_code == 0

    # Different content under the same identity: --verify reports the mismatch
    changed = build_app(str(tmp_path), extra={"description": "changed"}, filename="changed.yaml")
    result = cli("apps", "upload", org, repo, changed, "--verify")
    failed(result)
    assert "different content" in result.stderr


def test_upload_errors(cli, brood, repository, tmp_path, failed):
    org, repo = repository
    path = build_app(str(tmp_path))

    failed(cli("apps", "upload", org, "missing", path), f"No such repository: '{org}/missing'")
    failed(cli("apps", "upload", "no-such-org", repo, path), f"No such repository: 'no-such-org/{repo}'")
    failed(cli("apps", "upload", org, repo, path, auth=("-t", "not-a-token")), "Authentication failed")
    failed(cli("apps", "upload", org, repo, path, auth=("-U", brood.admin_auth[0], "-p", "wrong")),
           "Authentication failed")
    failed(cli("apps", "upload", org, repo, path, url=DOWN), "Cannot connect to http://127.0.0.1:1: connection refused")

    no_platform = build_app(str(tmp_path), platform=OMIT, filename="no-platform.yaml")
    failed(cli("apps", "upload", org, repo, no_platform))
    failed(cli("apps", "upload", org, repo, str(tmp_path / "missing.yaml")))
    bad_version = build_app(str(tmp_path), version=1.0, filename="bad-version.yaml")
    failed(cli("apps", "upload", org, repo, bad_version))
    assert brood.client().organization(org).repository(repo).platform(PLATFORM).list_apps() == []


def test_list_sorted_by_name_version_tag(cli, brood, repository, tmp_path, failed):
    # Given apps whose plain string order differs from the version order
    org, repo = repository
    target = brood.client().organization(org).repository(repo)
    for app_id, version, build, tag in (("zeta", "1.10.0", 1, "cp38"), ("zeta", "1.8.0", 2, "cp38"),
                                        ("Alpha", "2.0", 1, "cp311"), ("Alpha", "2.0", 1, "cp38")):
        target.upload_app(build_app(str(tmp_path), id=app_id, version=version, build=build, python_tag=tag,
                                    filename=f"{app_id}-{version}-{tag}.yaml"))

    result = cli("apps", "list", org, repo, PLATFORM)

    assert result.exit_code == 0
    assert result.stdout == (
        "App Name    Version    Python Tag\n"
        "----------  ---------  ------------\n"
        "Alpha       2.0-1      cp311\n"
        "Alpha       2.0-1      cp38\n"
        "zeta        1.8.0-2    cp38\n"
        "zeta        1.10.0-1   cp38\n"
    )
    document = json.loads(cli("apps", "list", org, repo, PLATFORM, "--json").stdout)
    assert [app["version"] for app in document["apps"]] == ["2.0-1", "2.0-1", "1.8.0-2", "1.10.0-1"]
    assert document["apps"][0] == {"name": "Alpha", "version": "2.0-1", "python_tag": "cp311"}

    empty = cli("apps", "list", org, repo, "win-x86_64")
    assert (empty.exit_code, empty.stdout) == (0, "App Name    Version    Python Tag\n"
                                                   "----------  ---------  ------------\n")
    failed(cli("apps", "list", org, "missing", PLATFORM))


def test_metadata_is_json(cli, brood, repository, tmp_path, failed):
    org, repo = repository
    brood.client().organization(org).repository(repo).upload_app(build_app(str(tmp_path)))
    args = ("apps", "metadata", org, repo, PLATFORM, "cp38", "mayavi.demo", "4.6.0-1")

    result = cli(*args)

    assert result.exit_code == 0
    document = json.loads(result.stdout)
    assert {key: document[key] for key in ("id", "version", "build", "python_tag")} == {
        "id": "mayavi.demo", "version": "4.6.0", "build": 1, "python_tag": "cp38"}
    assert result.stdout == json.dumps(document, indent=2, sort_keys=True) + "\n"
    assert cli(*args, "--json").stdout == result.stdout
    failed(cli("apps", "metadata", org, repo, PLATFORM, "cp38", "mayavi.demo", "9.9-1"))
    failed(cli("apps", "metadata", org, "missing", PLATFORM, "cp38", "mayavi.demo", "4.6.0-1"))


@pytest.mark.parametrize("command", [
    ("list", "{org}", "dev", PLATFORM),
    ("metadata", "{org}", "dev", PLATFORM, "cp38", "mayavi.demo", "4.6.0-1"),
], ids=["list", "metadata"])
def test_wrong_password_and_server_down(cli, brood, repository, command, failed):
    args = ["apps", *[arg.format(org=repository[0]) for arg in command]]
    failed(cli(*args, auth=("-U", brood.admin_auth[0], "-p", "wrong")), "Invalid user name or password")
    failed(cli(*args, url=DOWN), "Cannot connect to http://127.0.0.1:1: connection refused")
