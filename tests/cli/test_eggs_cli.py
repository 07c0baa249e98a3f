"""``hatcher eggs ...`` against the embedded Brood: exact output, JSON, exit statuses, error paths."""

from __future__ import annotations

import json
import os
import re

import pytest

from hatcher.artefacts.builders import build_egg
from hatcher.testing import set_user_password

PLATFORM = "rh7-x86_64"
TIME_LINE = re.compile(r"Time +\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \S+ \([+-]\d{4}\)\Z")
DOWN = "http://127.0.0.1:1"


def make_egg(directory, name="numpy", version="1.8.0", build=1, python_tag="cp38", **kwargs) -> str:
    """An egg for PLATFORM in ``directory`` (created as needed)."""
    os.makedirs(directory, exist_ok=True)
    return build_egg(str(directory), name=name, version=version, build=build, platform=PLATFORM,
                     python_tag=python_tag, **kwargs)


def context_lines(result, rows: list[tuple[str, str]]) -> None:
    """The upload context table: ``rows`` exactly (label column padded), then a Time line."""
    width = max(len(label) for label, _ in rows + [("Time", "")])
    lines = result.stdout.splitlines()
    assert lines[:len(rows)] == [f"{label.ljust(width)}  {value}" for label, value in rows]
    assert TIME_LINE.match(lines[len(rows)]), lines[len(rows)]


@pytest.fixture(autouse=True)
def no_wait(monkeypatch):
    """Verification rounds without the one-second sleeps."""
    monkeypatch.setattr("hatcher.batch.sleep", lambda seconds: None)


@pytest.fixture
def platform(brood, repository):
    org, repo = repository
    return brood.client(api_version=1).organization(org).repository(repo).platform(PLATFORM)


@pytest.fixture
def three_eggs(tmp_path):
    return [make_egg(tmp_path / "eggs", "numpy", "1.10.0"), make_egg(tmp_path / "eggs", "numpy", "1.8.0"),
            make_egg(tmp_path / "eggs", "MKL", "2019.5", python_tag=None)]


@pytest.fixture
def wrong_password(brood):
    return ("-U", brood.admin_auth[0], "-p", "not-the-password")


# -- list ---------------------------------------------------------------------------------

def test_list_is_sorted_by_name_then_version(cli, repository, platform, three_eggs):
    for egg in three_eggs:
        platform.upload_egg(egg)
    result = cli("eggs", "list", *repository, PLATFORM, "cp38")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == (
        "Egg Name            Python Tag\n"
        "------------------  ------------\n"
        "MKL-2019.5-1.egg    none\n"
        "numpy-1.8.0-1.egg   cp38\n"
        "numpy-1.10.0-1.egg  cp38\n"
    )
    as_json = cli("eggs", "list", *repository, PLATFORM, "cp38", "--json")
    assert json.loads(as_json.stdout) == {"eggs": [
        {"name": "MKL-2019.5-1.egg", "python_tag": "none"},
        {"name": "numpy-1.8.0-1.egg", "python_tag": "cp38"},
        {"name": "numpy-1.10.0-1.egg", "python_tag": "cp38"},
    ]}


def test_list_empty(cli, repository):
    result = cli("eggs", "list", *repository, PLATFORM, "cp38")
    assert (result.exit_code, result.stdout) == (0, "Egg Name    Python Tag\n----------  ------------\n")


def test_list_errors(cli, brood, repository, wrong_password, failed):
    org, _ = repository
    failed(cli("eggs", "list", org, "missing", PLATFORM, "cp38"), f"No such repository: '{org}/missing'")
    failed(cli("eggs", "list", *repository, PLATFORM, "cp38", auth=wrong_password),
           "Invalid user name or password")
    result = cli("eggs", "list", *repository, PLATFORM, "cp38", url=DOWN)
    failed(result)
    assert result.stderr.startswith(f"Cannot connect to {DOWN}")


# -- metadata -----------------------------------------------------------------------------

def test_metadata_is_sorted_indented_json(cli, repository, platform, tmp_path):
    platform.upload_egg(make_egg(tmp_path))
    expected = platform.egg_metadata("cp38", "numpy", "1.8.0-1")
    result = cli("eggs", "metadata", *repository, PLATFORM, "cp38", "numpy", "1.8.0-1")
    assert result.exit_code == 0
    assert result.stdout == json.dumps(expected, indent=2, sort_keys=True) + "\n"
    assert cli("eggs", "metadata", *repository, PLATFORM, "cp38", "numpy", "1.8.0-1", "--json").stdout == \
        result.stdout


def test_metadata_errors(cli, repository, wrong_password, failed):
    args = ("eggs", "metadata", *repository, PLATFORM, "cp38", "numpy", "9.9-1")
    failed(cli(*args))
    failed(cli(*args, auth=wrong_password), "Invalid user name or password")
    failed(cli("eggs", "metadata", repository[0], "missing", PLATFORM, "cp38", "numpy", "9.9-1"))
    assert cli(*args, url=DOWN).stderr.startswith("Cannot connect to")


# -- download -----------------------------------------------------------------------------

def test_download_into_directory_and_default(cli, repository, platform, tmp_path, monkeypatch):
    egg = make_egg(tmp_path / "src")
    platform.upload_egg(egg)
    target = tmp_path / "out"
    target.mkdir()
    args = ("eggs", "download", *repository, PLATFORM, "cp38", "numpy", "1.8.0-1")
    result = cli(*args, str(target))
    # an empty line where the reference ends its progress bar's line
    assert (result.exit_code, result.stdout, result.stderr) == (0, "\n", "")
    with open(egg, "rb") as original:
        assert (target / "numpy-1.8.0-1.egg").read_bytes() == original.read()
    assert cli(*args, str(target)).exit_code == 0  # already there: not downloaded again
    monkeypatch.chdir(target)
    (target / "numpy-1.8.0-1.egg").unlink()
    assert cli(*args).exit_code == 0
    assert (target / "numpy-1.8.0-1.egg").exists()


def test_download_errors(cli, repository, wrong_password, tmp_path, failed):
    args = ("eggs", "download", *repository, PLATFORM, "cp38", "numpy", "9.9-1")
    failed(cli(*args, str(tmp_path)))
    failed(cli(*args, str(tmp_path), auth=wrong_password), "Invalid user name or password")
    assert cli(*args, str(tmp_path / "missing")).exit_code == 2
    assert cli(*args, str(tmp_path), url=DOWN).stderr.startswith("Cannot connect to")
    assert os.listdir(tmp_path) == []


# -- upload -------------------------------------------------------------------------------

def test_upload_prints_context_and_enables_the_egg(cli, brood, repository, platform, tmp_path):
    egg = make_egg(tmp_path)
    result = cli("eggs", "upload", *repository, PLATFORM, egg)
    assert result.exit_code == 0, result.stderr
    context_lines(result, [("Egg upload", egg), ("Server", brood.url), ("Repository", "/".join(repository)),
                           ("Platform", PLATFORM)])
    assert len(result.stdout.splitlines()) == 5
    assert platform.list_eggs("cp38") == [{"name": "numpy-1.8.0-1.egg", "python_tag": "cp38"}]


def test_upload_json(cli, brood, repository, tmp_path):
    egg = make_egg(tmp_path)
    document = json.loads(cli("eggs", "upload", *repository, PLATFORM, egg, "--json").stdout)
    assert document.pop("time")
    assert document == {"upload": "egg", "file": egg, "server": brood.url, "repository": "/".join(repository),
                        "platform": PLATFORM}


def test_upload_duplicate_verify_and_force(cli, repository, platform, tmp_path, failed):
    egg = make_egg(tmp_path / "a")
    assert cli("eggs", "upload", *repository, PLATFORM, egg).exit_code == 0
    failed(cli("eggs", "upload", *repository, PLATFORM, egg))
    assert cli("eggs", "upload", *repository, PLATFORM, egg, "--verify").exit_code == 0
    changed = make_egg(tmp_path / "b", summary="Different content")
    result = cli("eggs", "upload", *repository, PLATFORM, changed, "--verify")
    failed(result)
    assert "different content" in result.stderr
    assert cli("eggs", "upload", *repository, PLATFORM, changed, "--force", "--verify").exit_code == 0
    assert platform.egg_metadata("cp38", "numpy", "1.8.0-1")["summary"] == "Different content"


def test_upload_errors(cli, repository, wrong_password, tmp_path, failed):
    egg = make_egg(tmp_path)
    bad = tmp_path / "bad-1.0-1.egg"
    bad.write_text("not a zip")
    result = cli("eggs", "upload", *repository, PLATFORM, str(bad))
    failed(result)
    assert "not an Enthought egg" in result.stderr
    failed(cli("eggs", "upload", *repository, PLATFORM, str(tmp_path / "nothing-1.0-1.egg")))
    failed(cli("eggs", "upload", repository[0], "missing", PLATFORM, egg),
           f"No such repository: '{repository[0]}/missing'")
    failed(cli("eggs", "upload", *repository, PLATFORM, egg, auth=wrong_password), "Authentication failed")
    assert cli("eggs", "upload", *repository, PLATFORM, egg, url=DOWN).stderr.startswith("Cannot connect to")


# -- batch-upload -------------------------------------------------------------------------

def test_batch_upload_verifies_and_indexes(cli, brood, repository, platform, three_eggs):
    result = cli("eggs", "batch-upload", *repository, PLATFORM, *three_eggs)
    assert result.exit_code == 0, result.stderr
    context_lines(result, [("Batch egg upload", "3 eggs to upload"), ("Server", brood.url),
                           ("Repository", "/".join(repository)), ("Platform", PLATFORM)])
    assert result.stdout.splitlines()[5:] == [
        "", "Verified uploaded eggs for indexing after 1 of 10 attempts.", "Updating the index..."]
    assert len(platform.list_eggs("cp38")) == 3
    again = cli("eggs", "batch-upload", *repository, PLATFORM, three_eggs[0], "--json")
    assert json.loads(again.stdout) == {
        "uploaded": [], "skipped": [three_eggs[0]], "failed": [], "verified_after": 1, "index_timeout": 10,
        "timed_out": False, "indexed": True}


def test_batch_upload_one_egg_and_no_index_then_update_index(cli, repository, platform, tmp_path):
    egg = make_egg(tmp_path)
    result = cli("eggs", "batch-upload", *repository, PLATFORM, egg, "--no-index", "--jobs", "1")
    assert result.exit_code == 0
    assert result.stdout.splitlines()[0] == "Batch egg upload  1 egg to upload"
    assert result.stdout.splitlines()[5:] == [""]  # where the reference ends its progress bar's line
    assert platform.list_eggs("cp38") == []
    assert platform.egg_metadata("cp38", "numpy", "1.8.0-1")["sha256"]
    result = cli("eggs", "update-index", *repository, PLATFORM, egg)
    assert (result.exit_code, result.stdout) == (0, "")
    assert platform.list_eggs("cp38") == [{"name": "numpy-1.8.0-1.egg", "python_tag": "cp38"}]


def test_batch_upload_reports_every_failure_and_does_not_index(cli, repository, platform, three_eggs, tmp_path):
    bad = tmp_path / "broken-1.0-1.egg"
    bad.write_text("not a zip")
    clash = make_egg(tmp_path / "clash", "numpy", "1.8.0", summary="Different content")
    platform.upload_egg(three_eggs[1])
    result = cli("eggs", "batch-upload", *repository, PLATFORM, three_eggs[0], str(bad), clash, three_eggs[2])
    assert result.exit_code == 1
    assert "Verified" not in result.stdout
    lines = result.stderr.splitlines()
    assert len(lines) == 3 and "Traceback" not in result.stderr
    assert lines[0].startswith(f"Error uploading {bad}: ")
    assert lines[1].startswith(f"Error uploading {clash}: ") and "different content" in lines[1]
    assert lines[2] == "2 of 4 eggs failed to upload; the index was not updated"
    # The good eggs arrived (not indexed); the index still only holds the egg uploaded before.
    assert platform.egg_metadata("none", "MKL", "2019.5-1")["enabled"] is False
    assert platform.egg_metadata("cp38", "numpy", "1.10.0-1")["enabled"] is False
    assert [entry["name"] for entry in platform.list_eggs("cp38")] == ["numpy-1.8.0-1.egg"]
    document = json.loads(cli("eggs", "batch-upload", *repository, PLATFORM, str(bad), "--json").stdout)
    assert document["indexed"] is False and [item["file"] for item in document["failed"]] == [str(bad)]


def test_batch_upload_index_timeout_zero_times_out(cli, repository, platform, tmp_path, failed):
    result = cli("eggs", "batch-upload", *repository, PLATFORM, make_egg(tmp_path), "--index_timeout", "0")
    failed(result)
    assert result.stderr.startswith("Timed out")
    assert platform.list_eggs("cp38") == []


def test_batch_upload_without_eggs_reindexes_nothing(cli, repository):
    result = cli("eggs", "batch-upload", *repository, PLATFORM)
    assert result.exit_code == 0
    assert result.stdout.splitlines()[0] == "Batch egg upload  0 eggs to upload"
    assert result.stdout.splitlines()[-1] == "Verified uploaded eggs for indexing after 0 of 10 attempts."
    assert cli("eggs", "update-index", *repository, PLATFORM).exit_code == 0


def test_batch_upload_errors(cli, repository, three_eggs, wrong_password, tmp_path, failed):
    args = ("eggs", "batch-upload", *repository, PLATFORM, *three_eggs)
    failed(cli(*args, auth=wrong_password), "Authentication failed")
    failed(cli("eggs", "batch-upload", repository[0], "missing", PLATFORM, *three_eggs),
           f"No such repository: '{repository[0]}/missing'")
    assert cli(*args, str(tmp_path / "missing-1.0-1.egg")).exit_code == 2
    assert cli(*args, "--jobs", "0").exit_code == 2
    result = cli(*args, url=DOWN)
    failed(result)
    assert result.stderr.startswith("Cannot connect to")


def test_batch_upload_index_timeout_from_environment(cli_env, repository, platform, tmp_path):
    result = cli_env("eggs", "batch-upload", *repository, PLATFORM, make_egg(tmp_path),
                     env={"HATCHER_EGGS_BATCH_UPLOAD_INDEX_TIMEOUT": "3"})
    assert result.exit_code == 0
    assert "after 1 of 3 attempts." in result.stdout


# -- update-index and delete --------------------------------------------------------------

def test_update_index_errors(cli, repository, platform, tmp_path, wrong_password, failed):
    egg = make_egg(tmp_path)
    failed(cli("eggs", "update-index", *repository, PLATFORM, egg, auth=wrong_password))
    failed(cli("eggs", "update-index", repository[0], "missing", PLATFORM, egg))
    assert cli("eggs", "update-index", *repository, PLATFORM, str(tmp_path / "none.egg")).exit_code == 2
    assert cli("eggs", "update-index", *repository, PLATFORM, egg, url=DOWN).stderr.startswith("Cannot connect")


def test_delete_asks_for_confirmation(cli, repository, platform, tmp_path):
    platform.upload_egg(make_egg(tmp_path))
    args = ("eggs", "delete", *repository, PLATFORM, "cp38", "numpy", "1.8.0-1")
    declined = cli(*args, input="n\n")
    assert declined.exit_code == 0
    assert declined.stdout == (f"numpy-1.8.0-1 (cp38) will be deleted from {'/'.join(repository)}. "
                               "Proceed? [y/N]: n\n")
    assert len(platform.list_eggs("cp38")) == 1
    assert cli(*args, input="").exit_code == 1  # end of input: Aborted!
    assert cli(*args, input="y\n").exit_code == 0
    assert platform.list_eggs("cp38") == []


def test_delete_errors(cli, repository, wrong_password, failed):
    args = ("eggs", "delete", "-y", *repository, PLATFORM, "cp38", "numpy", "9.9-1")
    failed(cli(*args))
    failed(cli(*args, auth=wrong_password), "Invalid user name or password")
    failed(cli("eggs", "delete", "-y", repository[0], "missing", PLATFORM, "cp38", "numpy", "9.9-1"))
    assert cli(*args, url=DOWN).stderr.startswith("Cannot connect to")


def test_a_member_without_rights_is_refused(cli, brood, repository, tmp_path, failed):
    org, _ = repository
    brood.client(api_version=1).organization(org).create_user("reader@example.com")
    set_user_password(brood, "reader@example.com", "reader-password")
    result = cli("eggs", "upload", *repository, PLATFORM, make_egg(tmp_path),
                 auth=("-U", "reader@example.com", "-p", "reader-password"))
    failed(result)


# -- progress bars --------------------------------------------------------------------------

def test_progress_bars_go_to_stderr_only_on_a_terminal(cli, repository, platform, tmp_path, monkeypatch):
    egg = make_egg(tmp_path / "src")
    download = ("eggs", "download", *repository, PLATFORM, "cp38", "numpy", "1.8.0-1", str(tmp_path))
    quiet = cli("eggs", "upload", *repository, PLATFORM, egg)
    assert quiet.stderr == ""  # stderr is not a terminal
    monkeypatch.setattr("hatcher.cli.progress.stderr_is_tty", lambda: True)
    assert cli("--no-progress", *download).stderr == ""
    result = cli(*download)
    assert result.exit_code == 0 and result.stderr != "" and result.stdout == ""  # the bar ends its own line
    batch = cli("eggs", "batch-upload", *repository, PLATFORM, egg)
    assert batch.exit_code == 0 and batch.stderr != ""
    assert cli("--no-progress", "eggs", "batch-upload", *repository, PLATFORM, egg).stderr == ""
