"""The reference command line (hatcher 0.17.0, in its own venv) against our server.

Password auth is ``-U EMAIL -p PASSWORD``, token auth ``-t TOKEN`` (an API token made with
``api-tokens create``); both API versions via ``--api-version``. Outputs are checked against
hatcher-cli.md ("CLI §") and the wire behaviour of brood-rest-api.md ("REST §").
"""

from __future__ import annotations

import json
import os
import re
import shutil

import pytest
from harness import ADMIN_EMAIL, ADMIN_PASSWORD, Cli, sha256_file, table_header, table_rows, that, unique

from hatcher.artefacts.builders import build_bundle, build_egg, build_runtime_v0, build_runtime_v1

PLATFORM = "rh7-x86_64"
PASSWORD_ARGS = ["-U", ADMIN_EMAIL, "-p", ADMIN_PASSWORD]


def out(*texts):
    return that(f"stdout contains {texts!r}", lambda cp: all(text in cp.stdout for text in texts))


def err(*texts):
    return that(f"stderr contains {texts!r}", lambda cp: all(text in cp.stderr for text in texts))


def table(header, *rows, exact=False):
    """stdout is a tabulate table with this header and (at least / exactly) these rows."""
    def check(cp):
        assert table_header(cp.stdout) == list(header), f"header {table_header(cp.stdout)!r}"
        actual = table_rows(cp.stdout)
        if exact:
            assert actual == [list(row) for row in rows], f"rows {actual!r}"
        else:
            missing = [row for row in rows if list(row) not in actual]
            assert not missing, f"rows {missing!r} missing from {actual!r}"
        return True
    return that(f"table {header!r} with rows {rows!r}", check)


def lines(*expected, exact=False):
    def check(cp):
        actual = cp.stdout.splitlines()
        if exact:
            assert actual == list(expected), f"lines {actual!r}"
        else:
            assert all(line in actual for line in expected), f"lines {actual!r}"
        return True
    return that(f"lines {expected!r}", check)


def context_row(label, value):
    """A row of the upload context table (CLI §3, tabulate "plain")."""
    pattern = re.compile(rf"^{re.escape(label)}\s+{re.escape(value)}\s*$", re.M)
    return that(f"context row {label!r} = {value!r}", lambda cp: pattern.search(cp.stdout) is not None)


def json_out(predicate, description):
    def check(cp):
        document = json.loads(cp.stdout)
        assert predicate(document), f"{description}: {document!r}"
        return True
    return that(f"JSON on stdout: {description}", check)


def files_in(directory, expected):
    """After the command: ``directory`` holds files with these sha256 digests."""
    def check(cp):
        for name, digest in expected.items():
            path = os.path.join(directory, name)
            assert os.path.isfile(path), f"{path} missing; directory holds {os.listdir(directory)}"
            assert sha256_file(path) == digest, f"{path} has the wrong sha256"
        return True
    return that(f"files {sorted(expected)} in {directory}", check)


def all_checks(*checks):
    return that(" and ".join(check.description for check in checks), lambda cp: all(check(cp) for check in checks))


@pytest.fixture(params=[(0, "password"), (0, "token"), (1, "password"), (1, "token")],
                ids=["v0-password", "v0-token", "v1-password", "v1-token"])
def cli(request, brood_server, failures):
    """A reference CLI runner for one API version and one credential mode."""
    api_version, mode = request.param
    label = f"cli v{api_version} {mode}"
    if mode == "password":
        return Cli(brood_server.url, PASSWORD_ARGS, api_version=api_version, failures=failures, label=label)
    admin = Cli(brood_server.url, PASSWORD_ARGS, api_version=api_version, failures=failures, label=label)
    name = unique("clitok")
    completed = admin("api-tokens create (setup)", "api-tokens", "create", name,
                      check=table(["New Token Name", "New Token"]))
    rows = table_rows(completed.stdout)
    if completed.returncode != 0 or not rows:
        failures.raise_if_any()
    return Cli(brood_server.url, ["-t", rows[0][1]], api_version=api_version, failures=failures, label=label)



def make_org_repo(cli):
    org, repo = unique("corg"), unique("crepo")
    cli("organizations create", "organizations", "create", org, "CLI org", check=that("no output", lambda cp:
                                                                                   cp.stdout.strip() == ""))
    cli("repositories create", "repositories", "create", org, repo, "CLI repo")
    return org, repo


# --- listings and administration -------------------------------------------------------------------

def test_cli_administration_and_listings(cli):
    org, repo = make_org_repo(cli)
    other = unique("crepo")
    email = f"{unique('joe')}@example.org"
    token = unique("tokname")
    cli("organizations list", "organizations", "list",
        check=all_checks(lines(org), that("sorted, one per line", lambda cp: cp.stdout.split() == sorted(
            cp.stdout.split()))))
    cli("repositories create (second)", "repositories", "create", org, other, "another")
    cli("repositories list", "repositories", "list", org, check=lines(*sorted([repo, other]), exact=True))
    cli("users create", "users", "create", org, email)
    cli("users delete -y", "users", "delete", "-y", org, email)
    cli("platforms list", "platforms", "list", check=table(["Platforms"], [PLATFORM]))
    cli("python-tags list", "python-tags", "list",
        check=all_checks(table(["Python Tag"], ["cp38"], ["cp27"]),
                         that("sorted as strings, no generic tags", lambda cp: [r[0] for r in table_rows(cp.stdout)]
                              == sorted(r[0] for r in table_rows(cp.stdout)) and ["py3"] not in table_rows(cp.stdout))))
    cli("python-tags list --all", "python-tags", "list", "--all", check=table(["Python Tag"], ["py3"], ["cp38"]))
    created = cli("api-tokens create", "api-tokens", "create", token, check=table(["New Token Name", "New Token"]))
    rows = table_rows(created.stdout)
    if rows:
        assert rows[0][0] == token
    cli("api-tokens list", "api-tokens", "list",
        check=all_checks(that("header Name/Created/Last Used", lambda cp: table_header(cp.stdout)
                              == ["Name", "Created", "Last Used"]),
                         that("lists the token", lambda cp: any(row[0] == token for row in table_rows(cp.stdout)))))
    cli("api-tokens delete -y", "api-tokens", "delete", "-y", token)
    cli("api-tokens list after delete", "api-tokens", "list",
        check=that("token gone", lambda cp: all(row[0] != token for row in table_rows(cp.stdout))))
    cli("user repositories", "user", "repositories", check=table(["Repository"], [f"{org}/{repo}"]))
    cli("user repositories --include-indexable", "user", "repositories", "--include-indexable",
        check=table(["Repository"], [f"{org}/{repo}"], [f"{org}/{other}"]))
    cli("repositories delete -y", "repositories", "delete", "-y", org, other)
    cli("repositories list after delete", "repositories", "list", org, check=lines(repo, exact=True))
    cli("repositories delete declined", "repositories", "delete", org, repo, input="n\n")
    cli("repositories list after declined delete", "repositories", "list", org, check=lines(repo, exact=True))
    cli("--command-tree", "--command-tree", check=out("organizations", "python-tags"))


# --- eggs -----------------------------------------------------------------------------------------

def test_cli_eggs(cli, tmp_path):
    org, repo = make_org_repo(cli)
    src, other, down = tmp_path / "src", tmp_path / "other", tmp_path / "down"
    for directory in (src, other, down):
        directory.mkdir()
    foo = build_egg(str(src), name="Foo", version="1.0", build=1, platform=PLATFORM, python_tag="cp38",
                    payload_size=100_000)
    changed = build_egg(str(other), name="Foo", version="1.0", build=1, platform=PLATFORM, python_tag="cp38",
                        summary="changed")
    batch = [build_egg(str(src), name=name, version="2.0", build=1, platform=PLATFORM, python_tag="cp38")
             for name in ("alpha", "beta")]
    later = [build_egg(str(src), name=name, version="3.0", build=2, platform=PLATFORM, python_tag="cp38")
             for name in ("gamma", "delta")]
    digest = sha256_file(foo)

    cli("eggs upload", "eggs", "upload", org, repo, PLATFORM, foo,
        check=all_checks(context_row("Egg upload", foo), context_row("Server", cli.url),
                         context_row("Repository", f"{org}/{repo}"), context_row("Platform", PLATFORM)))
    cli("eggs upload --verify identical", "eggs", "upload", "--verify", org, repo, PLATFORM, foo)
    cli("eggs upload --verify different content", "eggs", "upload", "--verify", org, repo, PLATFORM, changed,
        rc=255, check=that("checksum mismatch message on stderr", lambda cp: "Foo-1.0-1.egg" in cp.stderr))
    cli("eggs list", "eggs", "list", org, repo, PLATFORM, "cp38",
        check=table(["Egg Name", "Python Tag"], ["Foo-1.0-1.egg", "cp38"], exact=True))
    cli("eggs metadata", "eggs", "metadata", org, repo, PLATFORM, "cp38", "foo", "1.0-1",
        check=json_out(lambda m: m["sha256"] == digest and m["full_version"] == "1.0-1", "sha256 and full_version"))
    cli("eggs download", "eggs", "download", org, repo, PLATFORM, "cp38", "foo", "1.0-1", str(down),
        check=files_in(str(down), {"Foo-1.0-1.egg": digest}))
    cli("eggs download again (already present)", "eggs", "download", org, repo, PLATFORM, "cp38", "foo", "1.0-1",
        str(down), check=files_in(str(down), {"Foo-1.0-1.egg": digest}))
    cli("eggs batch-upload", "eggs", "batch-upload", org, repo, PLATFORM, *batch,
        check=all_checks(context_row("Batch egg upload", "2 eggs to upload"),
                         out("Verified uploaded eggs for indexing after 1 of 10 attempts.")))
    cli("eggs list after batch-upload", "eggs", "list", org, repo, PLATFORM, "cp38",
        check=table(["Egg Name", "Python Tag"], ["alpha-2.0-1.egg", "cp38"], ["beta-2.0-1.egg", "cp38"],
                    ["Foo-1.0-1.egg", "cp38"], exact=True))
    cli("eggs batch-upload --no-index", "eggs", "batch-upload", "--no-index", org, repo, PLATFORM, *later,
        check=context_row("Batch egg upload", "2 eggs to upload"))
    cli("eggs list after --no-index", "eggs", "list", org, repo, PLATFORM, "cp38",
        check=that("gamma/delta not indexed yet", lambda cp: all(row[0] not in ("gamma-3.0-2.egg", "delta-3.0-2.egg")
                                                               for row in table_rows(cp.stdout))))
    cli("eggs update-index", "eggs", "update-index", org, repo, PLATFORM, *later)
    cli("eggs list after update-index", "eggs", "list", org, repo, PLATFORM, "cp38",
        check=table(["Egg Name", "Python Tag"], ["gamma-3.0-2.egg", "cp38"], ["delta-3.0-2.egg", "cp38"]))
    cli("eggs batch-upload again (identical, skipped)", "eggs", "batch-upload", org, repo, PLATFORM, *batch)
    cli("eggs delete -y", "eggs", "delete", "-y", org, repo, PLATFORM, "cp38", "foo", "1.0-1")
    cli("eggs list after delete", "eggs", "list", org, repo, PLATFORM, "cp38",
        check=that("Foo gone", lambda cp: all(row[0] != "Foo-1.0-1.egg" for row in table_rows(cp.stdout))))
    missing = unique("nope")
    cli("eggs upload to a missing repository", "eggs", "upload", org, missing, PLATFORM, foo, rc=255,
        check=err(f"No such repository: '{org}/{missing}'"), note="REST §13.2: 404 for a missing repository")


# --- runtimes ---------------------------------------------------------------------------------------

@pytest.mark.api_version(1)
def test_cli_runtimes_v1(cli, tmp_path):
    org, repo = make_org_repo(cli)
    down = tmp_path / "down"
    down.mkdir()
    runtime = build_runtime_v1(str(tmp_path), implementation="cpython", version="3.8.8+1", platform=PLATFORM)
    filename, digest = os.path.basename(runtime), sha256_file(runtime)
    cli("runtimes upload", "runtimes", "upload", org, repo, runtime,
        check=all_checks(context_row("Runtime upload", runtime), context_row("Repository", f"{org}/{repo}")))
    cli("runtimes upload --verify identical", "runtimes", "upload", "--verify", org, repo, runtime)
    cli("runtimes list", "runtimes", "list", org, repo, PLATFORM,
        check=table(["Runtime", "Version"], ["cpython", "3.8.8+1"], exact=True))
    cli("runtimes metadata", "runtimes", "metadata", org, repo, PLATFORM, "cpython", "3.8.8+1",
        check=json_out(lambda m: m["sha256"] == digest and m["version"] == "3.8.8+1", "sha256 and version"))
    cli("runtimes download", "runtimes", "download", org, repo, PLATFORM, "cpython", "3.8.8+1", str(down),
        check=files_in(str(down), {filename: digest}))
    cli("runtimes delete -y", "runtimes", "delete", "-y", org, repo, PLATFORM, "cpython", "3.8.8+1",
        check=out("Successfully deleted runtime"))
    cli("runtimes list after delete", "runtimes", "list", org, repo, PLATFORM,
        check=that("no rows", lambda cp: table_rows(cp.stdout) == []))


@pytest.mark.api_version(0)
def test_cli_runtimes_v0(cli, tmp_path):
    org, repo = make_org_repo(cli)
    down = tmp_path / "down"
    down.mkdir()
    runtime = build_runtime_v0(str(tmp_path), language="python", version="2.7.9", platform="rh5-64", build=1)
    filename, digest = os.path.basename(runtime), sha256_file(runtime)
    cli("runtimes upload (v0)", "runtimes", "upload", org, repo, runtime, check=context_row("Runtime upload", runtime))
    cli("runtimes upload --verify identical (v0)", "runtimes", "upload", "--verify", org, repo, runtime)
    cli("runtimes list (v0)", "runtimes", "list", org, repo, "rh5-64",
        check=table(["Runtime", "Version", "Python Tag"], ["python", "2.7.9-1", "cp27"], exact=True))
    cli("runtimes metadata (v0)", "runtimes", "metadata", org, repo, "rh5-64", "cp27", "2.7.9-1",
        check=json_out(lambda m: m["sha256"] == digest and m["filename"] == filename, "sha256 and filename"))
    cli("runtimes download (v0)", "runtimes", "download", org, repo, "rh5-64", "cp27", "2.7.9-1", str(down),
        check=files_in(str(down), {filename: digest}))


# --- bundles ----------------------------------------------------------------------------------------

@pytest.mark.api_version(1)
def test_cli_bundles_v1(cli, tmp_path):
    org, repo = make_org_repo(cli)
    save = tmp_path / "save"
    save.mkdir()
    runtime = {"repository": "enthought/free", "implementation": "cpython", "version": "3.8.8+1",
               "platform": "rh7_x86_64", "platform_abi": "gnu", "sha256": "0" * 64}
    bundle = build_bundle(str(tmp_path), name="data_science", version="2.1.0", build=3, runtime=runtime,
                          requirements=["numpy 1.21.2-1"])
    with open(bundle, encoding="utf-8") as stream:
        document = json.load(stream)
    cli("bundles upload", "bundles", "upload", org, repo, bundle,
        check=all_checks(context_row("Bundle upload", bundle), out(f"Successfully uploaded {bundle}")))
    cli("bundles list", "bundles", "list", org, repo, PLATFORM,
        check=table(["Bundle Name", "Bundle Version", "Python Tag"], ["data_science", "2.1.0-3", "cp38"], exact=True))
    cli("bundles index", "bundles", "index", org, repo, PLATFORM,
        check=json_out(lambda i: i["cp38"]["data_science"]["2.1.0"]["3"]["full_version"] == "2.1.0-3",
                       "python_tag -> name -> version -> build -> entry"))
    cli("bundles metadata", "bundles", "metadata", org, repo, PLATFORM, "cp38", "data_science", "2.1.0-3",
        check=json_out(lambda m: m["data"] == document and m["name"] == "data_science", "data == uploaded document"))
    target = save / "data_science-2.1.0-3.bundle"
    cli("bundles download", "bundles", "download", org, repo, PLATFORM, "cp38", "data_science", "2.1.0-3",
        str(save), check=all_checks(out("Bundle saved to"), that("saved document == uploaded", lambda cp: json.loads(
            target.read_text(encoding="utf-8")) == document)))
    cli("bundles download without --force (exists)", "bundles", "download", org, repo, PLATFORM, "cp38",
        "data_science", "2.1.0-3", str(save), rc=1)
    cli("bundles download --force", "bundles", "download", "--force", org, repo, PLATFORM, "cp38",
        "data_science", "2.1.0-3", str(save), check=out("Bundle saved to"))
    cli("bundles upload --force", "bundles", "upload", "--force", org, repo, bundle,
        check=out("Successfully uploaded"))
    cli("bundles delete", "bundles", "delete", org, repo, PLATFORM, "cp38", "data_science", "2.1.0-3",
        check=out("Successfully deleted bundle: data_science"))
    cli("bundles list after delete", "bundles", "list", org, repo, PLATFORM,
        check=that("no rows", lambda cp: table_rows(cp.stdout) == []))


# --- export / import --------------------------------------------------------------------------------

def test_cli_export(cli, tmp_path):
    org, repo = make_org_repo(cli)
    src, target = tmp_path / "src", tmp_path / "mirror"
    src.mkdir()
    egg = build_egg(str(src), name="Foo", version="1.0", build=1, platform=PLATFORM, python_tag="cp38")
    nopy = build_egg(str(src), name="nopy", version="2.0", build=1, platform=PLATFORM, python_tag=None)
    runtime = build_runtime_v1(str(src), implementation="cpython", version="3.8.8+1", platform=PLATFORM)
    cli("eggs upload (export setup)", "eggs", "upload", org, repo, PLATFORM, egg)
    cli("eggs upload python-independent (export setup)", "eggs", "upload", org, repo, PLATFORM, nopy)
    version = cli.api_version
    base = target / f"v{version}" / org / repo / PLATFORM
    expected = {str(base / "eggs" / "cp38" / "Foo-1.0-1.egg"): sha256_file(egg)}
    if version == 1:
        cli("runtimes upload (export setup)", "runtimes", "upload", org, repo, runtime)
        expected[str(base / "runtimes" / os.path.basename(runtime))] = sha256_file(runtime)

    def exported(cp):
        for path, digest in expected.items():
            assert os.path.isfile(path), f"{path} missing; exported: {sorted(str(p) for p in target.rglob('*'))}"
            assert sha256_file(path) == digest, f"{path}: wrong sha256"
        return True

    cli("export -r -p -t", "export", "-r", f"{org}/{repo}", "-p", PLATFORM, "-t", "cp38", str(target),
        check=all_checks(out(f"Exporting eggs from {org}/{repo} for {PLATFORM} and python-tags: cp38"),
                         that("files written with the server's sha256", exported)))
    if version == 1:
        # Import the export into a new repository of the same organization (created with -c).
        renamed = unique("imported")
        shutil.copytree(target / "v1" / org / repo, target / "v1" / org / renamed)
        shutil.rmtree(target / "v1" / org / repo)
        cli("import -c", "import", "-c", "-a", "eggs", "-a", "runtimes", str(target),
            check=out(f"Updating {org}/{renamed} for {PLATFORM}", "Updating the index..."))
        cli("eggs list after import", "eggs", "list", org, renamed, PLATFORM, "cp38",
            check=table(["Egg Name", "Python Tag"], ["Foo-1.0-1.egg", "cp38"]))
        cli("runtimes list after import", "runtimes", "list", org, renamed, PLATFORM,
            check=table(["Runtime", "Version"], ["cpython", "3.8.8+1"], exact=True))


def test_cli_errors(cli):
    wrong = Cli(cli.url, ["-U", ADMIN_EMAIL, "-p", "wrong"], api_version=cli.api_version, failures=cli.failures,
                label=cli.label + " wrong-password")
    wrong("wrong password: organizations list", "organizations", "list", rc=255,
          check=that("a one-line error, no traceback", lambda cp: "Traceback" not in cp.stderr),
          note="REST §13.1: errors should be JSON {'error': ...} with Content-Type exactly application/json")
    cli("eggs metadata of a missing egg", "eggs", "metadata", unique("o"), unique("r"), PLATFORM, "cp38", "x",
        "1.0-1", rc=255, check=that("no traceback", lambda cp: "Traceback" not in cp.stderr),
        note="REST §13.1: JSON error bodies give a one-line message and exit 255")
