"""Commands: ``export`` (mirror a server to disk) and ``import`` (load such a mirror into a server).

The export layout, read back by ``import``::

    TARGET_DIR/v<api>/<org>/<repo>/<platform>/eggs/<python tag>/<egg file>
    TARGET_DIR/v<api>/<org>/<repo>/<platform>/runtimes/<runtime file>
    TARGET_DIR/v<api>/<org>/<repo>/<platform>/apps/<app file>     (import only: apps cannot be downloaded)
"""

from __future__ import annotations

import os
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from typing import Any, Callable, Iterable, Iterator, Optional, Sequence

import attr
import click

from hatcher.cli.context import GlobalOptions, pass_options, versions
from hatcher.cli.errors import CommandFailed, expected_failure, upload_errors
from hatcher.cli.output import echo_error
from hatcher.cli.progress import progress

#: Parallel downloads of ``export`` and egg uploads of ``import``.
WORKERS = 4
#: Verification rounds of the egg uploads of ``import``.
INDEX_TIMEOUT = 10
#: Python tag prefix -> runtime implementation (``export -t``).
TAG_IMPLEMENTATIONS = {"cp": "cpython", "pp": "pypy", "ip": "ironpython", "jy": "jython"}
#: File extensions ``import`` picks up, per artefact kind.
EXTENSIONS = {"eggs": (".egg",), "runtimes": (".runtime",), "apps": (".yaml", ".yml")}
#: Description of the repositories ``import --create-missing`` creates.
CREATED_BY_IMPORT = "Created by hatcher import"


# -- shared helpers -------------------------------------------------------------------------------

def _describe(exc: BaseException) -> Optional[str]:
    if isinstance(exc, click.ClickException):
        return exc.format_message()
    return expected_failure(exc)


def _failure(options: GlobalOptions, what: str, exc: BaseException) -> BaseException:
    """``what: <one-line reason>`` as a :class:`CommandFailed`; the exception itself with --debug or if unexpected."""
    message = _describe(exc)
    if options.debug or message is None:
        return exc
    return CommandFailed(f"{what}: {message}")


def split_repository(value: str) -> tuple[str, str]:
    """``org/repo`` -> ``(org, repo)``; anything without exactly one ``/`` fails (exit status 1)."""
    parts = value.split("/")
    if len(parts) != 2 or not all(parts):
        raise CommandFailed(f"Invalid repository {value!r}: expected ORGANIZATION/REPOSITORY")
    return parts[0], parts[1]


def _subdirectories(path: str) -> list[str]:
    """Sorted names of the visible subdirectories of ``path`` (none when it does not exist)."""
    if not os.path.isdir(path):
        return []
    return sorted(name for name in os.listdir(path)
                  if not name.startswith(".") and os.path.isdir(os.path.join(path, name)))


@attr.s(frozen=True)
class Transfer:
    """One file to transfer: ``run()`` does it; ``label`` names it in an error message."""

    label: str = attr.ib()
    run: Callable[[], Any] = attr.ib()


def run_transfers(options: GlobalOptions, transfers: Sequence[Transfer], verb: str, workers: int = 1) -> None:
    """Run ``transfers`` with ``workers`` threads and a progress bar counting files (on stderr).

    The first failure stops the rest and fails with ``Error <verb> <label>: <reason>``.
    """
    with progress(len(transfers), enabled=options.progress, end_line=True) as bar:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            futures = {pool.submit(transfer.run): transfer for transfer in transfers}
            pending = set(futures)
            while pending:
                done, pending = wait(pending, return_when=FIRST_EXCEPTION)
                for future in done:
                    exc = future.exception()
                    if exc is not None:
                        for other in pending:
                            other.cancel()
                        failure = _failure(options, f"Error {verb} {futures[future].label}", exc)
                        if failure is exc:
                            raise exc
                        raise failure from exc
                    bar.update(1)


def _drain(download: tuple[int, Iterator[int]]) -> None:
    for _ in download[1]:
        pass


# -- export ---------------------------------------------------------------------------------------

def _check_tags(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> tuple[str, ...]:
    for value in values:
        if value[:2] not in TAG_IMPLEMENTATIONS:
            raise click.BadParameter(f"{value!r} does not start with one of {', '.join(TAG_IMPLEMENTATIONS)}",
                                     ctx=ctx, param=param)
    return values


def egg_directory(metadata: dict[str, Any]) -> str:
    """The python-tag directory of an exported egg: its tag, ``cp<digits>`` from a legacy ``python``, or ``None``."""
    if metadata.get("python_tag"):
        return str(metadata["python_tag"])
    if metadata.get("python"):
        return "cp" + "".join(str(metadata["python"]).split(".")[:2])
    return "None"


def _egg_download(platform: Any, tag: str, name: str, version: str, metadata: dict[str, Any],
                  target: str) -> Transfer:
    directory = os.path.join(target, egg_directory(metadata))
    filename = metadata.get("filename") or f"{name}-{metadata.get('full_version', version)}.egg"

    def run() -> None:
        os.makedirs(directory, exist_ok=True)
        _drain(platform.iter_download_egg(tag, name, version, directory, metadata["sha256"], filename))

    return Transfer(f"{name}-{version}", run)


def _egg_transfers(pool: ThreadPoolExecutor, platforms: Sequence[Any], tags: Iterable[str],
                   targets: Sequence[str]) -> list[list[Transfer]]:
    """Per platform, one download per distinct egg (by sha256) of the egg indices of ``tags``.

    The index and metadata requests of all platforms run in ``pool``.
    """
    pairs = [(index, tag) for index in range(len(platforms)) for tag in sorted(tags)]
    indices = pool.map(lambda pair: platforms[pair[0]].egg_index(pair[1]), pairs)
    entries = [(index, tag, entry["name"], f"{entry['version']}-{entry['build']}")
               for (index, tag), egg_index in zip(pairs, indices) for entry in egg_index.values()]
    metadata = pool.map(lambda item: platforms[item[0]].egg_metadata(*item[1:]), entries)
    seen: list[set[str]] = [set() for _ in platforms]
    transfers: list[list[Transfer]] = [[] for _ in platforms]
    for (index, tag, name, version), egg in zip(entries, metadata):
        if egg["sha256"] not in seen[index]:
            seen[index].add(egg["sha256"])
            transfers[index].append(_egg_download(platforms[index], tag, name, version, egg, targets[index]))
    return transfers


def runtime_leaves(index: Any) -> Iterator[dict[str, Any]]:
    """The runtime objects of a v1 runtime index: the dicts holding at least one non-dict value."""
    if isinstance(index, dict):
        if any(not isinstance(value, dict) for value in index.values()):
            yield index
        else:
            for value in index.values():
                yield from runtime_leaves(value)


def runtime_matches(runtime: dict[str, Any], tags: Sequence[str]) -> bool:
    """True when no tags are given, or the runtime's implementation and version fit one of them."""
    version = str(runtime.get("version", "")).replace(".", "")
    return not tags or any(runtime.get("implementation") == TAG_IMPLEMENTATIONS.get(tag[:2])
                           and version.startswith(tag[2:]) for tag in tags)


def _already_there(directory: str, filename: Optional[str], sha256: str) -> bool:
    from hatcher.core.utils import compute_sha256

    path = os.path.join(directory, filename or "")
    return bool(filename) and os.path.isfile(path) and compute_sha256(path) == sha256


def _runtime_download(platform: Any, runtime: dict[str, Any], target: str) -> Transfer:
    def run() -> None:
        os.makedirs(target, exist_ok=True)
        if not _already_there(target, runtime.get("filename"), runtime["sha256"]):
            _drain(platform.iter_download_runtime(runtime["implementation"], runtime["version"], target,
                                                  runtime["sha256"]))

    return Transfer(str(runtime.get("filename") or runtime["version"]), run)


def _runtime_transfers(pool: ThreadPoolExecutor, platforms: Sequence[Any], tags: Sequence[str],
                       targets: Sequence[str]) -> list[Optional[list[Transfer]]]:
    """Per platform, one download per distinct runtime (by sha256) of its runtime index that fits ``tags``.

    None for a platform whose runtime index is empty; an empty list when runtimes exist but
    none fits (the reference announces that platform all the same).
    """
    transfers: list[Optional[list[Transfer]]] = []
    for platform, index, target in zip(platforms, pool.map(lambda p: p.runtime_index(), platforms), targets):
        leaves = list(runtime_leaves(index or {}))
        runtimes = {leaf["sha256"]: leaf for leaf in leaves if runtime_matches(leaf, tags)}
        transfers.append([_runtime_download(platform, runtime, target) for runtime in runtimes.values()]
                         if leaves else None)
    return transfers


def _export_repositories(client: Any, requested: Sequence[str]) -> list[tuple[str, str]]:
    if requested:
        return [split_repository(value) for value in requested]
    return [(org, repo) for org in client.list_organizations()
            for repo in sorted(client.organization(org).list_repositories())]


@click.command("export")
@click.option("-a", "--artefact-kinds", "artefact_kinds", multiple=True, type=click.Choice(["eggs", "runtimes"]),
              help="Kind of artefact to export (repeatable; default: eggs and runtimes).")
@click.option("-r", "--repositories", "repositories", multiple=True, metavar="ORG/REPO",
              help="Repository to export (repeatable; default: every repository of every organization).")
@click.option("-p", "--platforms", "platforms", multiple=True,
              help="Platform to export (repeatable; default: every platform of the server).")
@click.option("-t", "--python-tags", "python_tags", multiple=True, callback=_check_tags,
              help="Python tag to export, starting with cp, pp, ip or jy (repeatable; default: all).")
@click.argument("target_dir", type=click.Path(file_okay=False))
@pass_options
def export(options: GlobalOptions, artefact_kinds: tuple[str, ...], repositories: tuple[str, ...],
           platforms: tuple[str, ...], python_tags: tuple[str, ...], target_dir: str) -> None:
    """Mirror repositories of the server into TARGET_DIR.

    Files go to ``TARGET_DIR/v<api>/<org>/<repo>/<platform>/eggs/<python tag>/`` and
    ``.../<platform>/runtimes/`` (runtimes with API version 1 only). Eggs found under
    several python tags are downloaded once. Four downloads run in parallel; a progress
    bar on stderr counts files. An export can be resumed: files already present with the
    right sha256 are not downloaded again. App descriptions cannot be downloaded from a
    Brood server, so they are not exported.

    Prints ``Exporting eggs from ORG/REPO for PLATFORM`` before each platform's eggs, the
    same line with "runtimes" before its runtimes (when the platform has runtimes, even if
    none fits ``-t``), and an empty line after each batch (where the reference ends its
    progress bar's line). With ``-t``, each of these lines ends with ``and python-tags:
    TAG, ...``. With API version 0, ``Exporting runtimes is not supported for api version
    0`` goes to stderr unless only eggs were asked for. A failed download stops the export
    with ``Error downloading <name>: <reason>`` (exit status 1).
    """
    client = options.client()
    kinds = artefact_kinds or ("eggs", "runtimes")
    selected = _export_repositories(client, repositories)
    platform_names = list(platforms) or client.list_platforms()
    tags = list(python_tags) or client.list_python_tags()
    if client.api_version == 0:
        if "runtimes" in kinds:
            echo_error("Exporting runtimes is not supported for api version 0")
        kinds = tuple(kind for kind in kinds if kind != "runtimes")
    suffix = f" and python-tags: {', '.join(python_tags)}" if python_tags else ""
    root = os.path.join(target_dir, f"v{client.api_version}")
    scanners = {"eggs": (_egg_transfers, tags), "runtimes": (_runtime_transfers, list(python_tags))}
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        for org, repo in selected:
            repository = client.organization(org).repository(repo)
            handles = [repository.platform(name) for name in platform_names]
            found = {}
            for kind in kinds:
                scan, scan_tags = scanners[kind]
                found[kind] = scan(pool, handles, scan_tags, [os.path.join(root, org, repo, name, kind)
                                                              for name in platform_names])
            for index, platform_name in enumerate(platform_names):
                for kind in kinds:
                    batch = found[kind][index]
                    if batch or (kind == "runtimes" and batch is not None):
                        click.echo(f"Exporting {kind} from {org}/{repo} for {platform_name}{suffix}")
                        run_transfers(options, batch, "downloading", WORKERS)


# -- import ---------------------------------------------------------------------------------------

def artefact_files(directory: str, kind: str) -> list[str]:
    """Files below ``directory`` (recursively) with the kind's extensions, hidden names excluded, sorted."""
    found = []
    for parent, subdirectories, names in os.walk(directory):
        subdirectories[:] = [name for name in subdirectories if not name.startswith(".")]
        found.extend(os.path.join(parent, name) for name in names
                     if not name.startswith(".") and name.lower().endswith(EXTENSIONS[kind]))
    return sorted(found)


def _import_organizations(client: Any, root: str, requested: list[tuple[str, str]]) -> list[str]:
    on_disk = _subdirectories(root)
    if requested:
        missing = sorted({org for org, _ in requested} - set(on_disk))
        if missing:
            raise CommandFailed(f"Organization(s) not found in {root}: {', '.join(missing)}")
        return sorted({org for org, _ in requested})
    missing = sorted(set(on_disk) - set(client.list_organizations()))
    if missing:
        raise CommandFailed(f"Organization(s) missing on the server: {', '.join(missing)}")
    return on_disk


def _import_repositories(client: Any, root: str, org: str, requested: list[tuple[str, str]],
                         create_missing: bool) -> list[str]:
    on_disk = _subdirectories(os.path.join(root, org))
    if requested:
        wanted = sorted({repo for name, repo in requested if name == org})
        for repo in wanted:
            if repo not in on_disk:
                echo_error(f"Repository {org}/{repo} not found in {root}; skipped.")
        return [repo for repo in wanted if repo in on_disk]
    organization = client.organization(org)
    on_server = set(organization.list_repositories())
    selected = []
    for repo in on_disk:
        if repo not in on_server:
            if not create_missing:
                echo_error(f"Repository {org}/{repo} does not exist on the server; skipped "
                           f"(use --create-missing to create it).")
                continue
            organization.create_repository(repo, CREATED_BY_IMPORT)
        selected.append(repo)
    return selected


def _import_platforms(directory: str, name: str, requested: Sequence[str]) -> list[str]:
    on_disk = _subdirectories(directory)
    if not requested:
        return on_disk
    for platform in sorted(set(requested) - set(on_disk)):
        echo_error(f"Platform {platform} not found for {name}; skipped.")
    return [platform for platform in on_disk if platform in requested]


def _upload_one_by_one(options: GlobalOptions, repository: Any, files: list[str],
                       upload: Callable[[str], None]) -> None:
    def guarded(path: str) -> None:
        with upload_errors(repository.organization_name, repository.name):
            upload(path)

    run_transfers(options, [Transfer(path, lambda path=path: guarded(path)) for path in files], "uploading")


def _import_platform(options: GlobalOptions, repository: Any, platform_name: str, directory: str,
                     kinds: Sequence[str], force: bool) -> None:
    for kind in kinds:
        files = artefact_files(os.path.join(directory, kind), kind)
        if not files:
            continue
        click.echo(f"Uploading {kind}...")
        if kind == "eggs":
            _import_eggs(options, repository, platform_name, files, force)
        elif kind == "runtimes":
            _upload_one_by_one(options, repository, files,
                               lambda path: repository.upload_runtime(path, overwrite=force, verify=True))
        else:
            _upload_one_by_one(options, repository, files,
                               lambda path: repository.upload_app(path, overwrite=force, verify=True))


def _import_eggs(options: GlobalOptions, repository: Any, platform_name: str, files: list[str],
                 force: bool) -> None:
    """The ``eggs batch-upload`` procedure (parallel upload, verification rounds, one re-index)."""
    from hatcher.batch import batch_upload_eggs
    from hatcher.cli.eggs import report_batch_failures

    with upload_errors(repository.organization_name, repository.name):
        with progress(len(files), enabled=options.progress, end_line=True) as bar:
            result = batch_upload_eggs(repository.platform(platform_name), files, overwrite=force, jobs=WORKERS,
                                       index=True, index_timeout=INDEX_TIMEOUT, progress=bar.update)
    if result.indexed:
        click.echo(f"Verified uploaded eggs for indexing after {result.verified_after} of {INDEX_TIMEOUT} attempts.")
        click.echo("Updating the index...")
    report_batch_failures(result)


@click.command("import")
@click.option("-a", "--artefact-kind", "artefact_kinds", multiple=True,
              type=click.Choice(["eggs", "runtimes", "apps"]),
              help="Kind of artefact to import (repeatable; default: eggs, runtimes and apps).")
@click.option("-r", "--repository", "requested_repos", multiple=True, metavar="ORG/REPO",
              help="Repository to import (repeatable; default: every repository found on disk).")
@click.option("-p", "--platform", "requested_platforms", multiple=True,
              help="Platform to import (repeatable; default: every platform found on disk).")
@click.option("-f", "--force", is_flag=True, help="Overwrite artefacts the server already holds.")
@click.option("-c", "--create-missing", is_flag=True,
              help="Create repositories that exist on disk but not on the server.")
@click.argument("root_dir", type=click.Path(exists=True, file_okay=False))
@pass_options
def import_(options: GlobalOptions, artefact_kinds: tuple[str, ...], requested_repos: tuple[str, ...],
            requested_platforms: tuple[str, ...], force: bool, create_missing: bool, root_dir: str) -> None:
    """Upload an export (``hatcher export``) found in ROOT_DIR/v1 into the server.

    Every organization must exist on the server already (with ``-r``, on disk). Without
    ``-r``, repositories found on disk but not on the server are skipped with a message,
    or created with ``--create-missing``. For each repository and platform it prints
    ``Updating ORG/REPO for PLATFORM`` and, per kind with files, ``Uploading <kind>...``;
    eggs go through the ``eggs batch-upload`` procedure (uploaded disabled with
    verification, then indexed), runtimes and apps are uploaded with verification, so
    files the server already holds are skipped and an import can be repeated. The first
    failing upload stops the import (exit status 1).
    """
    requested = [split_repository(value) for value in requested_repos]
    client = options.client()
    root = os.path.join(root_dir, "v1")
    kinds = [kind for kind in EXTENSIONS if not artefact_kinds or kind in artefact_kinds]
    for org in _import_organizations(client, root, requested):
        for repo in _import_repositories(client, root, org, requested, create_missing):
            repository = client.organization(org).repository(repo)
            base = os.path.join(root, org, repo)
            for platform_name in _import_platforms(base, f"{org}/{repo}", requested_platforms):
                click.echo(f"Updating {org}/{repo} for {platform_name}")
                _import_platform(options, repository, platform_name, os.path.join(base, platform_name),
                                 kinds, force)


def register(root: click.Group) -> None:
    """Add ``export`` (API versions 0 and 1) and ``import`` (API version 1) to the root."""
    root.add_command(export)
    root.add_command(versions(1)(import_), "import")
