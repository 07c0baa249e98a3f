"""Our command line's text against the reference's (hatcher 0.17.0), byte for byte, on one server state.

Both CLIs run as subprocesses with the same environment, arguments and standard input
against our server: the confirmation prompts, export's per-step lines, the empty lines
where the reference ends its progress bars, usage lines and usage errors. Each difference
listed in the "Command line" section of docs/compatibility.rst is asserted exactly as
documented (both sides), so that this test fails if either side changes.
"""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any, Sequence

import click
import pytest
from harness import ADMIN_EMAIL, ADMIN_PASSWORD, unique
from reference import reference_environment, run_reference_cli

from hatcher.artefacts.builders import build_egg, build_runtime_v0, build_runtime_v1

# What is compared is the two clients' text, the same whatever server answers: the run against
# the replica set (tox -e scale) leaves this module out rather than repeat it.
pytestmark = pytest.mark.embedded

PLATFORM = "rh7-x86_64"
LOGIN = ["-U", ADMIN_EMAIL, "-p", ADMIN_PASSWORD]


def run_ours(args: Sequence[Any], input: str = "", cwd: str | None = None,
             env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Our ``hatcher`` (``python -m hatcher``) in the reference's environment (no HATCHER_*, COLUMNS=200, UTC)."""
    return subprocess.run([sys.executable, "-m", "hatcher", *[str(arg) for arg in args]], capture_output=True,
                          text=True, input=input, cwd=cwd, timeout=300, env=reference_environment(env))


def both(args: Sequence[Any], input: str = "", env: dict[str, str] | None = None) -> tuple[Any, Any]:
    """``(ours, reference)`` for the same arguments."""
    return run_ours(args, input=input, env=env), run_reference_cli(list(args), input=input, env=env)


def shown(completed: subprocess.CompletedProcess) -> tuple[int, str, str]:
    return completed.returncode, completed.stdout, completed.stderr


def assert_same(args: Sequence[Any], input: str = "", env: dict[str, str] | None = None) -> tuple[int, str, str]:
    ours, reference = both(args, input=input, env=env)
    assert shown(ours) == shown(reference), f"hatcher {' '.join(map(str, args))}"
    return shown(ours)


class Server:
    """Arguments and set-up steps (through the reference CLI) for one API version."""

    def __init__(self, url: str, api_version: int) -> None:
        self.url = url
        self.api_version = api_version

    def args(self, *args: Any) -> list[str]:
        return ["-u", self.url, *LOGIN, "--api-version", str(self.api_version), *[str(arg) for arg in args]]

    def setup(self, *args: Any) -> None:
        completed = run_reference_cli(self.args(*args))
        assert completed.returncode == 0, (args, completed.stdout, completed.stderr)

    def repository(self) -> tuple[str, str]:
        org, repo = unique("torg"), unique("trepo")
        self.setup("organizations", "create", org, "text")
        self.setup("repositories", "create", org, repo, "text")
        return org, repo


@pytest.fixture(params=[0, 1], ids=["v0", "v1"])
def server(request: pytest.FixtureRequest, brood_server: Any) -> Server:
    return Server(brood_server.url, request.param)


# -- confirmation prompts ---------------------------------------------------------------------------

def test_delete_prompts(server: Server, tmp_path: Any) -> None:
    org, repo = server.repository()
    egg = build_egg(str(tmp_path), name="numpy", version="1.8.0", build=1, platform=PLATFORM, python_tag="cp27")
    server.setup("eggs", "upload", org, repo, PLATFORM, egg)
    email, token = f"{unique('joe')}@example.org", unique("laptop")
    server.setup("users", "create", org, email)
    server.setup("api-tokens", "create", token)
    commands = {
        "eggs": (["eggs", "delete", org, repo, PLATFORM, "cp27", "numpy", "1.8.0-1"],
                 f"numpy-1.8.0-1 (cp27) will be deleted from {org}/{repo}. Proceed? [y/N]: "),
        "users": (["users", "delete", org, email], f"{email} will be deleted. Proceed? [y/N]: "),
        "api-tokens": (["api-tokens", "delete", token], f"API token '{token}' will be deleted. Proceed? [y/N]: "),
        "repositories": (["repositories", "delete", org, repo], f"{org}/{repo} will be deleted. Proceed? [y/N]: "),
    }
    if server.api_version == 1:
        runtime = build_runtime_v1(str(tmp_path), implementation="cpython", version="3.8.8+1", platform=PLATFORM)
        server.setup("runtimes", "upload", org, repo, runtime)
        commands["runtimes"] = (
            ["runtimes", "delete", org, repo, PLATFORM, "cpython", "3.8.8+1"],
            "Runtime with platform='rh7-x86_64', implementation='cpython', version='3.8.8+1' will be deleted "
            f"from the repository '{org}/{repo}'. Proceed? [y/N]: ")
    for name, (args, prompt) in commands.items():
        # declined: the prompt alone, exit 0; end of input: "Aborted!" on stderr, exit 1
        assert assert_same(server.args(*args), input="n\n") == (0, prompt, ""), name
        assert assert_same(server.args(*args), input="") == (1, prompt, "Aborted!\n"), name
    # nothing was deleted by either client
    listed = run_reference_cli(server.args("eggs", "list", org, repo, PLATFORM, "cp27"))
    assert "numpy-1.8.0-1.egg" in listed.stdout


def test_a_quoted_token_name_in_the_prompt(brood_server: Any) -> None:
    server = Server(brood_server.url, 1)
    assert assert_same(server.args("api-tokens", "delete", "it's"), input="n\n")[1] == (
        "API token 'it's' will be deleted. Proceed? [y/N]: ")


# -- export, downloads, batch uploads ---------------------------------------------------------------

def files_below(directory: str) -> list[str]:
    return sorted(os.path.relpath(os.path.join(parent, name), directory)
                  for parent, _, names in os.walk(directory) for name in names)


def test_export_lines(server: Server, tmp_path: Any) -> None:
    org, repo = server.repository()
    src = tmp_path / "src"
    src.mkdir()
    server.setup("eggs", "upload", org, repo, PLATFORM,
                 build_egg(str(src), name="Foo", version="1.0", build=1, platform=PLATFORM, python_tag="cp38"))
    server.setup("eggs", "upload", org, repo, PLATFORM,
                 build_egg(str(src), name="nopy", version="2.0", build=1, platform=PLATFORM, python_tag=None))
    if server.api_version == 1:
        server.setup("runtimes", "upload", org, repo,
                     build_runtime_v1(str(src), implementation="cpython", version="3.8.8+1", platform=PLATFORM))
    where = f"{org}/{repo} for {PLATFORM}"
    runtimes = server.api_version == 1
    note = "" if runtimes else "Exporting runtimes is not supported for api version 0\n"
    cases = [
        ((), f"Exporting eggs from {where}\n\n" + (f"Exporting runtimes from {where}\n\n" if runtimes else ""), note),
        (("-p", PLATFORM, "-t", "cp38"),
         f"Exporting eggs from {where} and python-tags: cp38\n\n"
         + (f"Exporting runtimes from {where} and python-tags: cp38\n\n" if runtimes else ""), note),
        # no runtime fits cp27, and the line is printed all the same
        (("-t", "cp27", "-t", "cp38"),
         f"Exporting eggs from {where} and python-tags: cp27, cp38\n\n"
         + (f"Exporting runtimes from {where} and python-tags: cp27, cp38\n\n" if runtimes else ""), note),
        (("-a", "runtimes", "-t", "cp36"),
         f"Exporting runtimes from {where} and python-tags: cp36\n\n" if runtimes else "", note),
        (("-a", "eggs",), f"Exporting eggs from {where}\n\n", ""),
    ]
    for index, (options, stdout, stderr) in enumerate(cases):
        ours_dir, reference_dir = str(tmp_path / f"ours{index}"), str(tmp_path / f"reference{index}")
        ours = run_ours(server.args("export", "-r", f"{org}/{repo}", *options, ours_dir))
        reference = run_reference_cli(server.args("export", "-r", f"{org}/{repo}", *options, reference_dir))
        assert shown(ours) == shown(reference) == (0, stdout, stderr), options
        assert files_below(ours_dir) == files_below(reference_dir), options
        if index == 0:  # resumed: the same lines again
            again = run_ours(server.args("export", "-r", f"{org}/{repo}", *options, ours_dir))
            assert shown(again) == shown(run_reference_cli(server.args("export", "-r", f"{org}/{repo}", *options,
                                                                       reference_dir)))
    # a repository with nothing to export: no line at all
    empty_org, empty_repo = server.repository()
    assert assert_same(server.args("export", "-r", f"{empty_org}/{empty_repo}", "-a", "eggs",
                                   str(tmp_path / "empty"))) == (0, "", "")


def without_time(text: str) -> str:
    return "".join(line for line in text.splitlines(keepends=True) if not line.startswith("Time "))


def test_downloads_and_batch_uploads_end_the_bar_line(server: Server, tmp_path: Any) -> None:
    org, repo = server.repository()
    egg = build_egg(str(tmp_path), name="Foo", version="1.0", build=1, platform=PLATFORM, python_tag="cp38")
    server.setup("eggs", "upload", org, repo, PLATFORM, egg)
    for name in ("ours", "reference"):
        (tmp_path / name).mkdir()
    download = ("eggs", "download", org, repo, PLATFORM, "cp38", "foo", "1.0-1")
    ours, reference = run_ours(server.args(*download, tmp_path / "ours")), \
        run_reference_cli(server.args(*download, tmp_path / "reference"))
    assert shown(ours) == shown(reference) == (0, "\n", "")
    if server.api_version == 1:
        runtime = build_runtime_v1(str(tmp_path), implementation="cpython", version="3.8.8+1", platform=PLATFORM)
        args = ("runtimes", "download", org, repo, PLATFORM, "cpython", "3.8.8+1")
    else:
        runtime = build_runtime_v0(str(tmp_path), language="python", version="2.7.9", platform="rh5-64", build=1)
        args = ("runtimes", "download", org, repo, "rh5-64", "cp27", "2.7.9-1")
    server.setup("runtimes", "upload", org, repo, runtime)
    ours, reference = run_ours(server.args(*args, tmp_path / "ours")), \
        run_reference_cli(server.args(*args, tmp_path / "reference"))
    assert shown(ours) == shown(reference) == (0, "\n", "")

    eggs = [build_egg(str(tmp_path), name=name, version="2.0", build=1, platform=PLATFORM, python_tag="cp38")
            for name in ("alpha", "beta")]
    for options in ((), ("--no-index",)):
        ours_repo, reference_repo = unique("ours"), unique("reference")
        server.setup("repositories", "create", org, ours_repo, "text")
        server.setup("repositories", "create", org, reference_repo, "text")
        ours = run_ours(server.args("eggs", "batch-upload", *options, org, ours_repo, PLATFORM, *eggs))
        reference = run_reference_cli(server.args("eggs", "batch-upload", *options, org, reference_repo, PLATFORM,
                                                  *eggs))
        assert ours.returncode == reference.returncode == 0
        assert without_time(ours.stdout).replace(ours_repo, "REPO") == \
            without_time(reference.stdout).replace(reference_repo, "REPO")
        assert ours.stderr == reference.stderr == ""


# -- usage lines and usage errors -------------------------------------------------------------------

def reference_tree(api_version: int) -> dict[tuple[str, ...], str]:
    """``{command path: usage pieces}`` from the reference's ``--command-tree``."""
    completed = run_reference_cli(["-u", "http://127.0.0.1:1", "--api-version", str(api_version), "--command-tree"])
    assert completed.returncode == 0, completed.stderr
    tree: dict[tuple[str, ...], str] = {}
    stack: list[str] = []
    for line in completed.stdout.splitlines()[1:]:
        depth = (len(line) - len(line.lstrip())) // 4
        name, _, pieces = line.strip().partition(" ")
        stack[depth - 1:] = [name]
        tree[tuple(stack)] = pieces.strip()
    return tree


@pytest.mark.parametrize("api_version", [0, 1])
def test_usage_pieces_of_every_reference_command(api_version: int, reference_venv: str) -> None:
    from hatcher.cli.context import GlobalOptions
    from hatcher.cli.main import hatcher

    tree = reference_tree(api_version)
    assert len(tree) > 25
    ours = {}
    for path in tree:
        ctx = click.Context(hatcher, info_name="hatcher", obj=GlobalOptions(api_version=api_version))
        command: Any = hatcher
        for name in path:
            command = command.get_command(ctx, name)
            assert command is not None, path
            ctx = click.Context(command, info_name=name, parent=ctx)
        ours[path] = " ".join(command.collect_usage_pieces(ctx)) if not isinstance(command, click.Group) else ""
    assert ours == tree


USAGE_HELP = [(), ("eggs",), ("eggs", "upload"), ("eggs", "batch-upload"), ("runtimes",), ("runtimes", "download"),
              ("users", "delete"), ("api-tokens",), ("export",), ("repositories", "create")]


@pytest.mark.parametrize("api_version", [0, 1])
@pytest.mark.parametrize("columns", ["200", "80"])
def test_usage_lines_of_help(api_version: int, columns: str, reference_venv: str) -> None:
    for path in USAGE_HELP:
        args = ["--api-version", str(api_version), *path, "--help"]
        ours, reference = both(args, env={"COLUMNS": columns})
        assert ours.returncode == reference.returncode == 0
        # the usage block: up to the first empty line (the descriptions are each project's own words)
        assert ours.stdout.split("\n\n")[0] == reference.stdout.split("\n\n")[0], path
        assert ours.stdout.startswith("Usage: hatcher")


USAGE_ERRORS = [
    ["eggs", "upload"],
    ["eggs", "nosuch"],
    ["nosuch"],
    ["eggs", "list", "--bogus"],
    ["eggs", "upload", "--verif", "a", "b", "c", "d"],
    ["--insecur"],
    ["--api-version", "2", "eggs"],
    ["eggs", "upload", "a", "b", "c", "d", "e"],
    ["export", "-a", "nosuch", "x"],
    ["runtimes", "list", "a"],
    ["--api-version", "0", "bundles", "list"],
]


@pytest.mark.parametrize("args", USAGE_ERRORS, ids=[" ".join(args) for args in USAGE_ERRORS])
def test_usage_errors(args: list[str], reference_venv: str) -> None:
    status, stdout, stderr = assert_same(["-u", "http://127.0.0.1:1", *args])
    assert status == 2 and stdout == "" and stderr.startswith("Usage: hatcher")


def test_missing_url_is_the_same_usage_error(reference_venv: str) -> None:
    status, _, stderr = assert_same(["eggs", "list", "a", "b", "c", "d"])
    assert (status, stderr.splitlines()[-1]) == (2, "Error: Missing option '-u' / '--url'.")


# -- the differences listed in docs/compatibility.rst ("Command line", "Text of the command line") -----

def test_password_without_username(reference_venv: str) -> None:
    status, stdout, stderr = assert_same(["-u", "http://127.0.0.1:1", "-p", "secret", "eggs", "list", "a", "b", "c",
                                          "d"])
    head = "Usage: hatcher [OPTIONS] COMMAND [ARGS]...\nTry 'hatcher -h' for help.\n\n"
    assert (status, stdout, stderr) == (2, "", head + "Error: Password provided with no username\n")


def test_documented_difference_batch_upload_jobs(brood_server: Any, tmp_path: Any) -> None:
    server = Server(brood_server.url, 1)
    org, repo = server.repository()
    egg = build_egg(str(tmp_path), name="Foo", version="1.0", build=1, platform=PLATFORM, python_tag="cp38")
    ours, reference = both(server.args("eggs", "batch-upload", "-j", "2", "--no-index", org, repo, PLATFORM, egg))
    assert shown(reference) == (2, "", (
        "Usage: hatcher eggs batch-upload [OPTIONS] ORGANIZATION REPOSITORY PLATFORM\n"
        "                                 [EGGS]...\n"
        "Try 'hatcher eggs batch-upload -h' for help.\n\nError: No such option: -j\n"))
    assert (ours.returncode, ours.stderr) == (0, "")


def test_documented_difference_invalid_egg_name(tmp_path: Any) -> None:
    """Refused before any request: the context lines are the same, the error line says more here."""
    bad = tmp_path / "bad.egg"
    bad.write_bytes(b"x")
    ours, reference = both(["-u", "http://127.0.0.1:1", "-t", "x", "eggs", "upload", "acme", "dev", PLATFORM,
                            str(bad)])
    assert ours.stdout.splitlines()[:4] == reference.stdout.splitlines()[:4]
    assert (reference.returncode, reference.stderr) == (255, "Invalid egg name: 'bad.egg'\n")
    assert (ours.returncode, ours.stderr) == (
        1, "Invalid egg name 'bad.egg': expected '<name>-<version>-<build>.egg'\n")
