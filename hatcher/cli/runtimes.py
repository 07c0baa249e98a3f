"""Commands: ``runtimes`` list, metadata, download, upload (API versions 0 and 1) and delete (1).

The two API versions name a runtime differently: version 1 by ``IMPLEMENTATION VERSION``
(``cpython 3.8.10+2``), version 0 by ``PYTHON_TAG VERSION`` (``cp27 2.7.9-1``). Commands
that differ are separate commands sharing a name (:meth:`VersionedGroup.add_versioned`).
"""

from __future__ import annotations

from typing import Any, Optional

import click

from hatcher.cli.context import GlobalOptions, confirm, group, json_option, pass_options, versions, yes_option
from hatcher.cli.eggs import arguments, platform_of
from hatcher.cli.errors import upload_errors
from hatcher.cli.output import echo_json, echo_success, echo_table, upload_context, upload_report
from hatcher.cli.progress import drain, upload_progress

runtimes = group("runtimes", "Upload, download, list and delete runtimes.")

PLATFORM_ARGUMENTS = ("organization", "repository", "platform")
#: The argument that, with VERSION, names a runtime in each API version.
RUNTIME_KEY = {0: "python_tag", 1: "implementation"}


# -- list -------------------------------------------------------------------------------------

def _runtime_v0_row(filename: str) -> dict[str, Optional[str]]:
    from hatcher.core.utils import RuntimeMetadataV0

    runtime = RuntimeMetadataV0.from_file(filename)
    try:
        tag: Optional[str] = runtime.python_tag
    except ValueError:
        tag = None
    return {"runtime": runtime.language, "version": runtime.full_version, "python_tag": tag, "filename": filename}


@versions(0)
@click.command("list")
@arguments(*PLATFORM_ARGUMENTS)
@json_option
@pass_options
def list_runtimes_v0(options: GlobalOptions, organization: str, repository: str, platform: str,
                     as_json: bool) -> None:
    """List the runtimes of PLATFORM (API version 0).

    Prints a table with the columns ``Runtime``, ``Version`` and ``Python Tag``, read from
    each runtime's file name, sorted by runtime (ignoring case), version, then tag.

    JSON: ``{"runtimes": [{"runtime": <language>, "version": "<version>-<build>",
    "python_tag": <tag or null>, "filename": <file name>}, ...]}``, in the same order.
    """
    from hatcher.core.utils import AppSorter

    rows = [_runtime_v0_row(name) for name in platform_of(options, organization, repository, platform).list_runtimes()]
    rows.sort(key=lambda row: AppSorter(row["runtime"] or "", row["version"] or "", row["python_tag"] or ""))
    if as_json:
        echo_json({"runtimes": rows})
    else:
        echo_table([(row["runtime"], row["version"], row["python_tag"]) for row in rows],
                   ["Runtime", "Version", "Python Tag"])


@versions(1)
@click.command("list")
@arguments(*PLATFORM_ARGUMENTS)
@json_option
@pass_options
def list_runtimes_v1(options: GlobalOptions, organization: str, repository: str, platform: str,
                     as_json: bool) -> None:
    """List the runtimes of PLATFORM.

    Prints a table with the columns ``Runtime`` (the implementation) and ``Version``,
    sorted by implementation, then version (PEP 440 order).

    JSON: ``{"runtimes": [{"implementation": ..., "version": ...}, ...]}``, in the same order.
    """
    from hatcher.core.utils import NameVersionPairSorter

    pairs = platform_of(options, organization, repository, platform).list_runtimes()
    pairs = sorted(pairs, key=lambda pair: NameVersionPairSorter(*pair))
    if as_json:
        echo_json({"runtimes": [{"implementation": name, "version": version} for name, version in pairs]})
    else:
        echo_table(pairs, ["Runtime", "Version"])


# -- metadata and download (one implementation, argument names per API version) ----------------

def _metadata_command(api_version: int) -> click.Command:
    key = RUNTIME_KEY[api_version]

    @versions(api_version)
    @click.command("metadata")
    @arguments(*PLATFORM_ARGUMENTS, key, "version")
    @json_option
    @pass_options
    def metadata(options: GlobalOptions, organization: str, repository: str, platform: str, version: str,
                 as_json: bool, **runtime: str) -> None:
        target = platform_of(options, organization, repository, platform)
        echo_json(target.runtime_metadata(runtime[key], version))

    metadata.help = f"""Print the metadata of the runtime {key.upper()} VERSION.

    JSON: the server's metadata document, as printed without ``--json`` (two-space
    indentation, sorted keys).
    """
    return metadata


def _download_command(api_version: int) -> click.Command:
    key = RUNTIME_KEY[api_version]

    @versions(api_version)
    @click.command("download")
    @arguments(*PLATFORM_ARGUMENTS, key, "version")
    @click.argument("destination", default=".", type=click.Path(exists=True, file_okay=False))
    @pass_options
    def download(options: GlobalOptions, organization: str, repository: str, platform: str, version: str,
                 destination: str, **runtime: str) -> None:
        target = platform_of(options, organization, repository, platform)
        drain(target.iter_download_runtime(runtime[key], version, destination), enabled=options.progress)

    download.help = f"""Download the runtime {key.upper()} VERSION into the directory DESTINATION.

    DESTINATION defaults to the current directory. The file is named by the server and
    its sha256 is checked. Prints an empty line on stdout, where the reference ends its
    progress bar's line (on a terminal the bar is on stderr instead).
    """
    return download


# -- upload and delete ------------------------------------------------------------------------

@runtimes.command("upload")
@arguments("organization", "repository", "filename")
@click.option("--force", is_flag=True, help="Overwrite the runtime if the server already holds it.")
@click.option("--verify/--no-verify", default=False, show_default=True,
              help="Skip the upload when the server holds the same file; fail when it holds different content.")
@json_option
@pass_options
def upload_runtime(options: GlobalOptions, organization: str, repository: str, filename: str, force: bool,
                   verify: bool, as_json: bool) -> None:
    """Upload the runtime FILENAME; its platform comes from the file.

    Prints the upload context (file, server, repository, time) first. With API version 0
    the runtime is described by its file name, with version 1 by the metadata inside it.

    JSON: ``{"upload": "runtime", "file": FILENAME, "server": URL, "repository":
    "org/repo", "time": <ISO 8601>}``, printed after the upload.
    """
    target = options.client().organization(organization).repository(repository)
    url, full_name = options.require_url(), f"{organization}/{repository}"
    if not as_json:
        click.echo(upload_context("Runtime", filename, url, full_name))
    with upload_errors(organization, repository), upload_progress(filename, enabled=options.progress) as sent:
        target.upload_runtime(filename, overwrite=force, verify=verify, progress=sent)
    if as_json:
        echo_json(upload_report("Runtime", filename, url, full_name))


@versions(1)
@click.command("delete")
@arguments(*PLATFORM_ARGUMENTS, "implementation", "version")
@yes_option
@pass_options
def delete_runtime(options: GlobalOptions, organization: str, repository: str, platform: str,
                   implementation: str, version: str, assume_yes: bool) -> None:
    """Delete the runtime IMPLEMENTATION VERSION of PLATFORM, after confirmation.

    Prints a success line naming the runtime and the repository.
    """
    runtime = f"platform={platform!r}, implementation={implementation!r}, version={version!r}"
    where = f"the repository '{organization}/{repository}'"
    if not confirm(f"Runtime with {runtime}", assume_yes, where):
        return
    platform_of(options, organization, repository, platform).runtime_delete(implementation, version)
    echo_success(f"Successfully deleted runtime; {runtime}; from {where}")


def _register_versioned() -> None:
    commands: list[Any] = [list_runtimes_v0, list_runtimes_v1, delete_runtime]
    commands += [factory(api_version) for factory in (_metadata_command, _download_command) for api_version in (0, 1)]
    for command in commands:
        runtimes.add_versioned(command)


_register_versioned()


def register(root: click.Group) -> None:
    """Add the ``runtimes`` group to the root."""
    root.add_command(runtimes)
