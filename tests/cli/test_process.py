"""The real programs: the ``hatcher`` console script and ``python -m hatcher``, in subprocesses.

Exit statuses (0 success, 1 failure, 2 usage error), which stream gets what, tracebacks
only with ``--debug``, ``--version`` and ``--command-tree``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from typing import Any

import pytest

import hatcher
from hatcher.artefacts.builders import build_egg
from hatcher.core.utils import compute_sha256
from hatcher.server.runner import EmbeddedBrood

#: ``hatcher --command-tree`` for the default API version, as the specification gives it, except
#: that group lines lose their trailing padding here (restored by :func:`padded`).
SPEC_TREE_LINES = """\
hatcher
    api-tokens
        create         [OPTIONS] NAME
        delete         [OPTIONS] NAME
        list           [OPTIONS]
    bundles
        delete         [OPTIONS] ORGANIZATION REPOSITORY PLATFORM PYTHON_TAG NAME VERSION
        download       [OPTIONS] ORGANIZATION REPOSITORY PLATFORM PYTHON_TAG NAME VERSION DIRECTORY
        index          [OPTIONS] ORGANIZATION REPOSITORY PLATFORM
        list           [OPTIONS] ORGANIZATION REPOSITORY PLATFORM
        metadata       [OPTIONS] ORGANIZATION REPOSITORY PLATFORM PYTHON_TAG NAME VERSION
        upload         [OPTIONS] ORGANIZATION REPOSITORY FILENAME
    eggs
        batch-upload   [OPTIONS] ORGANIZATION REPOSITORY PLATFORM [EGGS]...
        delete         [OPTIONS] ORGANIZATION REPOSITORY PLATFORM PYTHON_TAG NAME VERSION
        download       [OPTIONS] ORGANIZATION REPOSITORY PLATFORM PYTHON_TAG NAME VERSION [DESTINATION]
        list           [OPTIONS] ORGANIZATION REPOSITORY PLATFORM PYTHON_TAG
        metadata       [OPTIONS] ORGANIZATION REPOSITORY PLATFORM PYTHON_TAG NAME VERSION
        update-index   [OPTIONS] ORGANIZATION REPOSITORY PLATFORM [EGGS]...
        upload         [OPTIONS] ORGANIZATION REPOSITORY PLATFORM FILENAME
    export             [OPTIONS] TARGET_DIR
    import             [OPTIONS] ROOT_DIR
    organizations
        create         [OPTIONS] NAME DESCRIPTION
        list           [OPTIONS]
    platforms
        list           [OPTIONS]
    python-tags
        list           [OPTIONS]
    repositories
        create         [OPTIONS] ORGANIZATION REPOSITORY DESCRIPTION
        delete         [OPTIONS] ORGANIZATION REPOSITORY
        list           [OPTIONS] ORGANIZATION
    runtimes
        delete         [OPTIONS] ORGANIZATION REPOSITORY PLATFORM IMPLEMENTATION VERSION
        download       [OPTIONS] ORGANIZATION REPOSITORY PLATFORM IMPLEMENTATION VERSION [DESTINATION]
        list           [OPTIONS] ORGANIZATION REPOSITORY PLATFORM
        metadata       [OPTIONS] ORGANIZATION REPOSITORY PLATFORM IMPLEMENTATION VERSION
        upload         [OPTIONS] ORGANIZATION REPOSITORY FILENAME
    user
        repositories   [OPTIONS]
    users
        create         [OPTIONS] ORGANIZATION EMAIL
        delete         [OPTIONS] ORGANIZATION EMAIL
"""



def padded(tree: str, width: int = len("        batch-upload   ")) -> str:
    """Pad the lines without usage (groups) to the name column's width, as the command prints them."""
    return "".join((line if "[" in line else line.ljust(width)) + "\n" for line in tree.splitlines())


SPEC_TREE = padded(SPEC_TREE_LINES)

#: The platform of the eggs these tests transfer.
PLATFORM = "rh7-x86_64"

#: Top-level entries that are not in the reference's tree: restored groups, the embedded server, the audit log,
#: profiles' login and logout.
ADDED = {"apps", "audit", "teams", "serve", "server", "login", "logout"}


def without_added(tree: str) -> str:
    """The tree without the ADDED top-level entries and their children."""
    kept, skipping = [], False
    for line in tree.splitlines(keepends=True):
        if line.startswith("    ") and not line.startswith("        "):
            skipping = line.split()[0] in ADDED
        if not skipping:
            kept.append(line)
    return "".join(kept)


def spec_tree_v0() -> str:
    """The specification's tree changed as it describes for ``--api-version 0``."""
    lines = without_added(SPEC_TREE).splitlines(keepends=True)
    group, kept = "", []
    for line in lines:
        if line.startswith("    ") and not line.startswith("        "):
            group = line.split()[0]
        if group in ("bundles", "import") or (group == "runtimes" and line.split()[0] == "delete"):
            continue
        kept.append(line.replace("IMPLEMENTATION VERSION", "PYTHON_TAG VERSION") if group == "runtimes" else line)
    return "".join(kept)


def clean_environment() -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("HATCHER_")}
    env.update({"NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost", "PYTHONIOENCODING": "utf-8"})
    return env


def console_script() -> str:
    path = os.path.join(os.path.dirname(sys.executable), "hatcher.exe" if os.name == "nt" else "hatcher")
    if not os.path.exists(path):
        pytest.skip(f"no hatcher console script beside {sys.executable}")
    return path


@pytest.fixture(params=["script", "module"])
def program(request: pytest.FixtureRequest) -> list[str]:
    """The ``hatcher`` console script, or ``python -m hatcher``."""
    return [console_script()] if request.param == "script" else [sys.executable, "-m", "hatcher"]


def run(program: list[str], *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*program, *args], capture_output=True, text=True, input="", timeout=120,
                          env={**clean_environment(), **(env or {})})


def test_version(program: list[str]) -> None:
    completed = run(program, "--version")
    assert (completed.returncode, completed.stdout, completed.stderr) == (
        0, f"hatcher, version {hatcher.__version__}\n", "")


def test_command_tree_matches_the_specification(program: list[str]) -> None:
    completed = run(program, "--command-tree")
    assert completed.returncode == 0
    assert completed.stderr == ""
    assert without_added(completed.stdout) == SPEC_TREE


def test_command_tree_of_api_version_0() -> None:
    completed = run([sys.executable, "-m", "hatcher"], "--api-version", "0", "--command-tree")
    assert completed.returncode == 0
    assert without_added(completed.stdout) == spec_tree_v0()
    assert "    teams" in completed.stdout


def test_help_without_a_command(program: list[str]) -> None:
    completed = run(program, "eggs")
    assert completed.returncode == 0
    assert completed.stdout.startswith("Usage: hatcher eggs [OPTIONS]")
    assert "  batch-upload  " in completed.stdout
    assert completed.stderr == ""


@pytest.mark.parametrize("args, message", [
    (("organizations", "list"), "Error: Missing option '-u' / '--url'."),
    (("-u", "http://127.0.0.1:1", "no-such-group"), "Error: No such command 'no-such-group'."),
    (("-u", "http://127.0.0.1:1", "--api-version", "0", "bundles", "list", "a", "b", "c"),
     "Error: No such command 'bundles'."),
    (("-u", "http://127.0.0.1:1", "-p", "secret", "organizations", "list"),
     "Error: Password provided with no username"),
])
def test_usage_errors_exit_2(program: list[str], args: tuple[str, ...], message: str) -> None:
    completed = run(program, *args)
    assert completed.returncode == 2
    assert completed.stdout == ""
    assert completed.stderr.splitlines()[0].startswith("Usage: hatcher")
    assert completed.stderr.splitlines()[-1] == message


def test_connection_refused_is_one_line_on_stderr(program: list[str]) -> None:
    completed = run(program, "-u", "http://127.0.0.1:1", "organizations", "list")
    assert completed.returncode == 1
    assert completed.stdout == ""
    assert completed.stderr == "Cannot connect to http://127.0.0.1:1: connection refused\n"


def test_debug_shows_the_traceback(program: list[str]) -> None:
    completed = run(program, "-u", "http://127.0.0.1:1", "--debug", "organizations", "list")
    assert completed.returncode == 1
    assert completed.stdout == ""
    assert "Traceback (most recent call last)" in completed.stderr
    assert "ConnectionError" in completed.stderr


@pytest.fixture(scope="module")
def server() -> Any:
    with EmbeddedBrood() as brood:
        brood.client().create_organization("acme", "process tests")
        yield brood


def test_data_goes_to_stdout_only(program: list[str], server: Any) -> None:
    email, password = server.admin_auth
    completed = run(program, "-u", server.url, "-U", email, "-p", password, "organizations", "list")
    assert (completed.returncode, completed.stdout, completed.stderr) == (0, "acme\n", "")
    completed = run(program, "-U", email, "organizations", "list", "--json",
                    env={"HATCHER_URL": server.url, "HATCHER_PASSWORD": password})
    assert completed.returncode == 0, completed.stderr
    assert json.loads(completed.stdout) == {"organizations": ["acme"]}
    assert completed.stderr == ""


def test_server_error_is_one_line_on_stderr(program: list[str], server: Any) -> None:
    email, _ = server.admin_auth
    completed = run(program, "-u", server.url, "-U", email, "-p", "wrong", "organizations", "list")
    assert completed.returncode == 1
    assert completed.stdout == ""
    assert len(completed.stderr.splitlines()) == 1
    assert "Traceback" not in completed.stderr


def test_no_progress_bar_when_stderr_is_not_a_terminal(program: list[str], server: Any, tmp_path: Any) -> None:
    # Given a repository and a 2 MiB egg: transfers that show a bar on a terminal
    email, password = server.admin_auth
    repository = f"progress-{uuid.uuid4().hex[:8]}"
    server.client().organization("acme").create_repository(repository, "process tests")
    egg = build_egg(str(tmp_path), name="bar", version="1.0", build=1, platform=PLATFORM, python_tag="cp38",
                    payload_size=2 << 20)
    (tmp_path / "download").mkdir()
    login = ("-u", server.url, "-U", email, "-p", password)
    # When it is uploaded, downloaded and exported with stderr a pipe
    uploaded = run(program, *login, "eggs", "upload", "acme", repository, PLATFORM, egg)
    downloaded = run(program, *login, "eggs", "download", "acme", repository, PLATFORM, "cp38", "bar", "1.0-1",
                     str(tmp_path / "download"))
    exported = run(program, *login, "export", "-a", "eggs", "-r", f"acme/{repository}", "-p", PLATFORM,
                   str(tmp_path / "export"))
    # Then each transfer happened, and stderr got nothing at all: no bar, not even a bar's label line
    for completed in (uploaded, downloaded, exported):
        assert (completed.returncode, completed.stderr) == (0, ""), completed.args
    assert uploaded.stdout.startswith(f"Egg upload  {egg}\n")
    digest = compute_sha256(egg)
    assert compute_sha256(tmp_path / "download" / "bar-1.0-1.egg") == digest
    exported_egg = tmp_path / "export" / "v1" / "acme" / repository / PLATFORM / "eggs" / "cp38" / "bar-1.0-1.egg"
    assert compute_sha256(exported_egg) == digest
