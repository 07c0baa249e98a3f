"""``hatcher export`` and ``hatcher import`` against embedded Brood servers."""

from __future__ import annotations

import os
import shutil
from typing import Any, Callable, Iterator

import attr
import pytest
from click.testing import CliRunner

from hatcher.artefacts.builders import build_app, build_egg, build_runtime_v1
from hatcher.cli.main import hatcher
from hatcher.core.utils import compute_sha256
from hatcher.server.runner import EmbeddedBrood

PLATFORM = "rh7-x86_64"
VOLATILE = ("mtime", "change_date", "created", "modified", "upload_date")


@pytest.fixture(autouse=True)
def fast_rounds(monkeypatch: pytest.MonkeyPatch) -> None:
    """No one-second pause between the egg verification rounds of ``import``."""
    monkeypatch.setattr("hatcher.batch.ROUND_INTERVAL", 0)


def files_below(root: str) -> dict[str, str]:
    """``{relative path: sha256}`` of every file below ``root``."""
    found = {}
    for parent, _, names in os.walk(root):
        for name in names:
            path = os.path.join(parent, name)
            found[os.path.relpath(path, root).replace(os.sep, "/")] = compute_sha256(path)
    return found


def assert_one_line_failure(result: Any, *fragments: str) -> None:
    assert result.exit_code == 1, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in lines[0]


@attr.s(frozen=True)
class Populated:
    """A repository with two eggs (cp38 and python-independent) and a runtime on PLATFORM."""

    org: str = attr.ib()
    repo: str = attr.ib()
    files: dict[str, str] = attr.ib()  # file name -> local path


def populate(client: Any, org: str, repo: str, directory: str, platform: str = PLATFORM,
             app: bool = False) -> dict[str, str]:
    repository = client.organization(org).repository(repo)
    eggs = [build_egg(directory, "numpy", "1.21.2", 1, platform=platform, python_tag="cp38"),
            build_egg(directory, "MKL", "2019.5", 1, platform=platform, python_tag=None)]
    for egg in eggs:
        repository.platform(platform).upload_egg(egg)
    artefacts = eggs + [build_runtime_v1(directory, platform=platform)]
    repository.upload_runtime(artefacts[-1])
    if app:
        artefacts.append(build_app(directory, platform=platform))
        repository.upload_app(artefacts[-1])
    return {os.path.basename(path): path for path in artefacts}


@pytest.fixture
def populated(brood: EmbeddedBrood, repository: tuple[str, str], tmp_path: Any) -> Populated:
    org, repo = repository
    directory = tmp_path / "artefacts"
    directory.mkdir()
    return Populated(org, repo, populate(brood.client(), org, repo, str(directory)))


# -- export ---------------------------------------------------------------------------------------

def test_export_writes_the_layout(cli: Any, populated: Populated, tmp_path: Any) -> None:
    target = str(tmp_path / "mirror")
    result = cli("export", "-r", f"{populated.org}/{populated.repo}", "-p", PLATFORM, target)
    assert result.exit_code == 0, result.output
    where = f"{populated.org}/{populated.repo} for {PLATFORM}"
    base = f"v{cli.api_version}/{populated.org}/{populated.repo}/{PLATFORM}"
    sha = {name: compute_sha256(path) for name, path in populated.files.items()}
    expected = {f"{base}/eggs/cp38/numpy-1.21.2-1.egg": sha["numpy-1.21.2-1.egg"],
                f"{base}/eggs/none/MKL-2019.5-1.egg": sha["MKL-2019.5-1.egg"]}
    if cli.api_version == 1:
        runtime = "cpython-3.8.8+1-rh7_x86_64-gnu.runtime"
        expected[f"{base}/runtimes/{runtime}"] = sha[runtime]
        assert result.stdout == f"Exporting eggs from {where}\n\nExporting runtimes from {where}\n\n"
    else:
        assert result.stdout == f"Exporting eggs from {where}\n\n"
    assert result.stderr == ("" if cli.api_version == 1 else "Exporting runtimes is not supported for api version 0\n")
    assert files_below(target) == expected


def test_export_v0_notes_that_runtimes_are_not_exported(cli_v0: Any, populated: Populated, tmp_path: Any) -> None:
    result = cli_v0("export", "-a", "runtimes", "-a", "eggs", "-r", f"{populated.org}/{populated.repo}",
                    "-p", PLATFORM, str(tmp_path))
    assert result.exit_code == 0
    assert result.stderr == "Exporting runtimes is not supported for api version 0\n"
    assert result.stdout == f"Exporting eggs from {populated.org}/{populated.repo} for {PLATFORM}\n\n"
    # Runtimes are asked for by default too; only eggs: no note.
    default = cli_v0("export", "-r", f"{populated.org}/{populated.repo}", "-p", PLATFORM, str(tmp_path))
    assert default.stderr == "Exporting runtimes is not supported for api version 0\n"
    eggs_only = cli_v0("export", "-a", "eggs", "-r", f"{populated.org}/{populated.repo}", "-p", PLATFORM,
                       str(tmp_path))
    assert (eggs_only.stderr, eggs_only.stdout) == ("", default.stdout)


def test_export_filters_by_kind_and_python_tag(cli_v1: Any, populated: Populated, tmp_path: Any) -> None:
    target = str(tmp_path / "mirror")
    name = f"{populated.org}/{populated.repo}"
    result = cli_v1("export", "-t", "cp27", "-t", "pp27", "-r", name, "-p", PLATFORM, target)
    assert result.exit_code == 0, result.output
    # Only the python-independent egg is installable by cp27; no runtime matches, but the
    # platform has runtimes, so the reference announces them all the same.
    assert result.stdout == (f"Exporting eggs from {name} for {PLATFORM} and python-tags: cp27, pp27\n\n"
                             f"Exporting runtimes from {name} for {PLATFORM} and python-tags: cp27, pp27\n\n")
    assert sorted(files_below(target)) == [f"v1/{name}/{PLATFORM}/eggs/none/MKL-2019.5-1.egg"]

    result = cli_v1("export", "-a", "runtimes", "-t", "cp38", "-r", name, "-p", PLATFORM, target)
    assert result.stdout == f"Exporting runtimes from {name} for {PLATFORM} and python-tags: cp38\n\n"
    assert len(files_below(target)) == 2


def test_export_is_resumable(cli_v1: Any, brood: EmbeddedBrood, populated: Populated, tmp_path: Any) -> None:
    target = str(tmp_path / "mirror")
    args = ("export", "-r", f"{populated.org}/{populated.repo}", "-p", PLATFORM, target)
    assert cli_v1(*args).exit_code == 0
    before = files_below(target)
    paths = {rel: os.path.join(target, rel) for rel in before}
    egg = next(rel for rel in paths if rel.endswith("numpy-1.21.2-1.egg"))
    runtime = next(rel for rel in paths if rel.endswith(".runtime"))
    kept = {rel: os.stat(paths[rel]).st_ino for rel in paths if rel not in (egg, runtime)}
    with open(paths[egg], "wb") as stream:
        stream.write(b"damaged")
    os.remove(paths[runtime])

    result = cli_v1(*args)
    assert result.exit_code == 0, result.output
    assert files_below(target) == before
    assert {rel: os.stat(paths[rel]).st_ino for rel in kept} == kept  # untouched, not rewritten


def test_export_failing_download(cli_v1: Any, brood: EmbeddedBrood, populated: Populated, tmp_path: Any) -> None:
    blob = brood.app.state.store.path(compute_sha256(populated.files["numpy-1.21.2-1.egg"]))
    size = os.path.getsize(blob)
    with open(blob, "wb") as stream:
        stream.write(b"x" * size)
    target = tmp_path / "mirror"
    result = cli_v1("export", "-a", "eggs", "-r", f"{populated.org}/{populated.repo}", "-p", PLATFORM, str(target))
    assert_one_line_failure(result, "Error downloading numpy-1.21.2-1: ")
    assert not any(name.endswith("numpy-1.21.2-1.egg") for name in files_below(str(target)))


def test_export_bad_python_tag_is_a_usage_error(cli_v1: Any, tmp_path: Any) -> None:
    result = cli_v1("export", "-t", "py3", str(tmp_path))
    assert result.exit_code == 2
    assert "Invalid value for '-t' / '--python-tags'" in result.stderr


@pytest.mark.parametrize("value", ["acme", "a/b/c", "/dev"])
def test_export_bad_repository_value(cli_v1: Any, tmp_path: Any, value: str) -> None:
    assert_one_line_failure(cli_v1("export", "-r", value, str(tmp_path)), f"Invalid repository '{value}'")


def test_export_missing_repository(cli: Any, unique: Callable[[str], str], tmp_path: Any) -> None:
    result = cli("export", "-r", f"{unique('org')}/dev", "-p", PLATFORM, "-t", "cp38", str(tmp_path))
    assert result.exit_code == 1 and "Traceback" not in result.output
    lines = result.stderr.splitlines()
    if cli.api_version == 0:  # the note comes first, as in the reference
        assert lines.pop(0) == "Exporting runtimes is not supported for api version 0"
    assert len(lines) == 1 and lines[0].startswith("No such repository: "), result.stderr


def test_export_wrong_password(cli: Any, brood: EmbeddedBrood, tmp_path: Any) -> None:
    result = cli("export", "-p", PLATFORM, str(tmp_path), auth=("-U", brood.admin_auth[0], "-p", "wrong"))
    assert_one_line_failure(result)


def test_export_server_down(cli: Any, tmp_path: Any) -> None:
    result = cli("export", str(tmp_path), url="http://127.0.0.1:1")
    assert_one_line_failure(result, "Cannot connect to http://127.0.0.1:1")


def with_environment(brood: EmbeddedBrood, env: dict[str, str], *args: str) -> Any:
    """Run ``hatcher ARGS`` as the console script does (variables ``HATCHER_*`` read)."""
    env = {"HATCHER_URL": brood.url, "HATCHER_USERNAME": brood.admin_auth[0],
           "HATCHER_PASSWORD": brood.admin_auth[1], **env}
    return CliRunner().invoke(hatcher, list(args), env=env, auto_envvar_prefix="HATCHER", prog_name="hatcher",
                              catch_exceptions=False)


def test_export_options_from_the_environment(brood: EmbeddedBrood, populated: Populated, tmp_path: Any) -> None:
    env = {"HATCHER_EXPORT_PLATFORMS": f"{PLATFORM} win-x86_64", "HATCHER_EXPORT_ARTEFACT_KINDS": "eggs",
           "HATCHER_EXPORT_REPOSITORIES": f"{populated.org}/{populated.repo}"}
    result = with_environment(brood, env, "export", str(tmp_path))
    assert result.stdout == f"Exporting eggs from {populated.org}/{populated.repo} for {PLATFORM}\n\n"


# -- import ---------------------------------------------------------------------------------------

def comparable(document: Any) -> Any:
    """An index without its time stamps."""
    if isinstance(document, dict):
        return {key: comparable(value) for key, value in document.items() if key not in VOLATILE}
    return document


def snapshot(client: Any, org: str, repo: str, platform: str) -> dict[str, Any]:
    target = client.organization(org).repository(repo).platform(platform)
    eggs = {tag: comparable(target.egg_index(tag)) for tag in client.list_python_tags()}
    return {"eggs": eggs, "runtimes": comparable(target.runtime_index()), "apps": comparable(target.app_index())}


def invoke(brood: EmbeddedBrood, *args: str) -> Any:
    email, password = brood.admin_auth
    return CliRunner().invoke(hatcher, ["-u", brood.url, "-U", email, "-p", password, *args],
                              prog_name="hatcher", catch_exceptions=False)


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[EmbeddedBrood, str]]:
    """A server with two repositories on two platforms (and an empty one), and its full export.

    Apps cannot be downloaded from a server: the original descriptions are put into the export.
    """
    tmp_path = tmp_path_factory.mktemp("source")
    with EmbeddedBrood() as server:
        client = server.client()
        for org, repo in (("acme", "dev"), ("acme", "prod"), ("initech", "free")):
            if org not in client.list_organizations():
                client.create_organization(org, "x")
            client.organization(org).create_repository(repo, "d")
        export_dir = str(tmp_path / "mirror")
        for org, repo, platform in (("acme", "dev", PLATFORM), ("initech", "free", "win-x86_64")):
            (tmp_path / org).mkdir()
            files = populate(client, org, repo, str(tmp_path / org), platform=platform, app=True)
            apps = os.path.join(export_dir, "v1", org, repo, platform, "apps")
            os.makedirs(apps)
            shutil.copy(next(path for path in files.values() if path.endswith(".yaml")), apps)
        result = invoke(server, "export", export_dir)
        assert result.exit_code == 0, result.output
        yield server, export_dir


@pytest.fixture
def mirrored(cli_v1: Any, source: tuple[EmbeddedBrood, str]) -> Iterator[tuple[EmbeddedBrood, Any, str]]:
    """The source server, a runner for a fresh target server with the organizations, and the export."""
    with EmbeddedBrood() as target:
        for org in ("acme", "initech"):
            target.client().create_organization(org, "x")
        yield source[0], attr.evolve(cli_v1, brood=target), source[1]


def test_full_export_layout(source: tuple[EmbeddedBrood, str]) -> None:
    names = sorted(files_below(source[1]))
    assert names == [
        "v1/acme/dev/rh7-x86_64/apps/mayavi.demo-4.6.0-1.yaml",
        "v1/acme/dev/rh7-x86_64/eggs/cp38/numpy-1.21.2-1.egg",
        "v1/acme/dev/rh7-x86_64/eggs/none/MKL-2019.5-1.egg",
        "v1/acme/dev/rh7-x86_64/runtimes/cpython-3.8.8+1-rh7_x86_64-gnu.runtime",
        "v1/initech/free/win-x86_64/apps/mayavi.demo-4.6.0-1.yaml",
        "v1/initech/free/win-x86_64/eggs/cp38/numpy-1.21.2-1.egg",
        "v1/initech/free/win-x86_64/eggs/none/MKL-2019.5-1.egg",
        "v1/initech/free/win-x86_64/runtimes/cpython-3.8.8+1-win_x86_64-gnu.runtime"]


def test_export_then_import_reproduces_the_server(mirrored: tuple[Any, Any, str]) -> None:
    source, cli_target, export_dir = mirrored
    result = cli_target("import", "-c", export_dir)
    assert result.exit_code == 0, result.output
    block = ("Uploading eggs...\n\nVerified uploaded eggs for indexing after 1 of 10 attempts.\n"
             "Updating the index...\nUploading runtimes...\n\nUploading apps...\n\n")
    assert result.stdout == (f"Updating acme/dev for {PLATFORM}\n{block}"
                             f"Updating initech/free for win-x86_64\n{block}")
    assert result.stderr == ""
    target = cli_target.brood.client()
    assert target.organization("acme").list_repositories() == ["dev"]  # prod is empty: not exported
    for org, repo, platform in (("acme", "dev", PLATFORM), ("initech", "free", "win-x86_64")):
        before, after = snapshot(source.client(), org, repo, platform), snapshot(target, org, repo, platform)
        assert after == before
        assert after["eggs"]["cp38"] and after["runtimes"] and after["apps"]
    apps = target.organization("acme").repository("dev").platform(PLATFORM).list_apps()
    assert apps == [("mayavi.demo", "4.6.0-1", "cp38")]

    again = cli_target("import", export_dir)  # everything is there already: verified, skipped
    assert again.exit_code == 0, again.output
    assert again.stdout == result.stdout


def test_import_selects_repositories_platforms_and_kinds(mirrored: tuple[Any, Any, str]) -> None:
    _, cli_target, export_dir = mirrored
    cli_target.brood.client().organization("acme").create_repository("dev", "d")
    result = cli_target("import", "-r", "acme/dev", "-r", "acme/nothere", "-p", PLATFORM, "-p", "osx-x86_64",
                        "-a", "runtimes", export_dir)
    assert result.exit_code == 0, result.output
    assert result.stdout == f"Updating acme/dev for {PLATFORM}\nUploading runtimes...\n\n"
    assert result.stderr.splitlines() == [
        f"Repository acme/nothere not found in {os.path.join(export_dir, 'v1')}; skipped.",
        "Platform osx-x86_64 not found for acme/dev; skipped."]
    platform = cli_target.brood.client().organization("acme").repository("dev").platform(PLATFORM)
    assert platform.list_runtimes() == [("cpython", "3.8.8+1")]
    assert platform.egg_index("cp38") == {}


def test_import_skips_repositories_missing_on_the_server(mirrored: tuple[Any, Any, str]) -> None:
    _, cli_target, export_dir = mirrored
    result = cli_target("import", export_dir)
    assert result.exit_code == 0
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"Repository {name} does not exist on the server; skipped (use --create-missing to create it)."
        for name in ("acme/dev", "initech/free")]


def test_import_missing_organization(cli_v1: Any, mirrored: tuple[Any, Any, str]) -> None:
    _, _, export_dir = mirrored
    with EmbeddedBrood() as empty:
        result = attr.evolve(cli_v1, brood=empty)("import", export_dir)
    assert_one_line_failure(result, "Organization(s) missing on the server: acme, initech")


def test_import_requested_organization_not_on_disk(cli_v1: Any, mirrored: tuple[Any, Any, str]) -> None:
    _, cli_target, export_dir = mirrored
    assert_one_line_failure(cli_target("import", "-r", "nobody/dev", export_dir),
                            "Organization(s) not found in ", "nobody")


@pytest.mark.parametrize("value", ["acme", "acme/dev/x"])
def test_import_bad_repository_value(cli_v1: Any, tmp_path: Any, value: str) -> None:
    assert_one_line_failure(cli_v1("import", "-r", value, str(tmp_path)), f"Invalid repository '{value}'")


def test_import_is_v1_only_and_needs_an_existing_directory(cli_v0: Any, cli_v1: Any, tmp_path: Any) -> None:
    result = cli_v0("import", str(tmp_path))
    assert result.exit_code == 2
    assert "No such command 'import'" in result.stderr
    result = cli_v1("import", str(tmp_path / "missing"))
    assert result.exit_code == 2
    assert "does not exist" in result.stderr


def mirror_of(tmp_path: Any, org: str, repo: str, kind: str, *paths: str) -> str:
    root = tmp_path / "mirror"
    directory = root / "v1" / org / repo / PLATFORM / kind / "cp38"
    directory.mkdir(parents=True, exist_ok=True)
    for path in paths:
        shutil.copy(path, directory)
    return str(root)


def test_import_duplicate_with_different_content(cli_v1: Any, populated: Populated, tmp_path: Any) -> None:
    other = tmp_path / "other"
    other.mkdir()
    egg = build_egg(str(other), "numpy", "1.21.2", 1, platform=PLATFORM, python_tag="cp38", summary="changed")
    root = mirror_of(tmp_path, populated.org, populated.repo, "eggs", egg)
    result = cli_v1("import", root)
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0].startswith(f"Error uploading {os.path.join(root, 'v1')}")
    assert "Traceback" not in result.output

    runtime = build_runtime_v1(str(other), metadata_overrides={"build_revision": "changed"})
    root = mirror_of(tmp_path, populated.org, populated.repo, "runtimes", runtime)
    assert_one_line_failure(cli_v1("import", "-a", "runtimes", root), "Error uploading ", ".runtime: ")


def test_import_bad_file(cli_v1: Any, repository: tuple[str, str], tmp_path: Any) -> None:
    bad = tmp_path / "broken-1.0-1.runtime"
    bad.write_bytes(b"not a zip")
    root = mirror_of(tmp_path, *repository, "runtimes", str(bad))
    assert_one_line_failure(cli_v1("import", root), "Error uploading ", "broken-1.0-1.runtime: ")


def test_import_ignores_hidden_and_foreign_files(cli_v1: Any, repository: tuple[str, str], tmp_path: Any) -> None:
    junk = tmp_path / "junk"
    junk.mkdir()
    (junk / "README.txt").write_text("not an artefact")
    (junk / ".hidden.egg").write_bytes(b"not an egg")
    root = mirror_of(tmp_path, *repository, "eggs", str(junk / "README.txt"), str(junk / ".hidden.egg"))
    result = cli_v1("import", root)
    assert result.exit_code == 0, result.output
    assert result.stdout == f"Updating {repository[0]}/{repository[1]} for {PLATFORM}\n"


def test_import_wrong_password(cli_v1: Any, brood: EmbeddedBrood, tmp_path: Any) -> None:
    (tmp_path / "v1" / "acme").mkdir(parents=True)
    result = cli_v1("import", str(tmp_path), auth=("-U", brood.admin_auth[0], "-p", "wrong"))
    assert_one_line_failure(result)


def test_import_server_down(cli_v1: Any, tmp_path: Any) -> None:
    (tmp_path / "v1" / "acme").mkdir(parents=True)
    result = cli_v1("import", str(tmp_path), url="http://127.0.0.1:1")
    assert_one_line_failure(result, "Cannot connect to http://127.0.0.1:1")


def test_import_create_missing_from_the_environment(cli_v1: Any, brood: EmbeddedBrood,
                                                    unique: Callable[[str], str], tmp_path: Any) -> None:
    org = unique("org")
    brood.client().create_organization(org, "x")
    egg = build_egg(str(tmp_path), "numpy", "1.21.2", 1, platform=PLATFORM, python_tag="cp38")
    root = mirror_of(tmp_path, org, "fresh", "eggs", egg)
    result = with_environment(brood, {"HATCHER_IMPORT_CREATE_MISSING": "1"}, "import", root)
    assert result.exit_code == 0, result.output
    platform = brood.client().organization(org).repository("fresh").platform(PLATFORM)
    assert list(platform.egg_index("cp38")) == ["numpy-1.21.2-1.egg"]
