"""Commands: ``eggs`` list, metadata, download, upload, batch-upload, update-index, delete."""

from __future__ import annotations

from typing import Any, Callable

import click

from hatcher.cli.context import GlobalOptions, confirm, group, json_option, pass_options, yes_option
from hatcher.cli.errors import CommandFailed, expected_failure, one_line, upload_errors
from hatcher.cli.output import echo_error, echo_json, echo_table, upload_context, upload_report
from hatcher.cli.progress import drain, progress, upload_progress

eggs = group("eggs", "Upload, download, list and delete eggs.")

#: Arguments naming one egg: ORGANIZATION REPOSITORY PLATFORM PYTHON_TAG NAME VERSION.
EGG_ARGUMENTS = ("organization", "repository", "platform", "python_tag", "name", "version")


def arguments(*names: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Add the positional arguments ``names`` (in that order) to a command."""
    def decorator(function: Callable[..., Any]) -> Callable[..., Any]:
        for name in reversed(names):
            function = click.argument(name)(function)
        return function

    return decorator


def platform_of(options: GlobalOptions, organization: str, repository: str, platform: str) -> Any:
    """The :class:`SinglePlatformRepository` ``organization/repository/platform`` (no request)."""
    return options.client().organization(organization).repository(repository).platform(platform)


@eggs.command("list")
@arguments("organization", "repository", "platform", "python_tag")
@json_option
@pass_options
def list_eggs(options: GlobalOptions, organization: str, repository: str, platform: str, python_tag: str,
              as_json: bool) -> None:
    """List the eggs of PLATFORM for PYTHON_TAG (a tag such as cp38, or none).

    Prints a table with the columns ``Egg Name`` (the egg file name) and ``Python Tag``,
    sorted by egg name, then version (so 1.10.0 comes after 1.8.0).

    JSON: ``{"eggs": [{"name": <egg file name>, "python_tag": <tag or null>}, ...]}``, in
    the same order.
    """
    from hatcher.core.utils import EggNameSorter

    entries = platform_of(options, organization, repository, platform).list_eggs(python_tag)
    entries = sorted(entries, key=lambda entry: EggNameSorter(entry["name"]))
    if as_json:
        echo_json({"eggs": entries})
    else:
        echo_table([(entry["name"], entry["python_tag"]) for entry in entries], ["Egg Name", "Python Tag"])


@eggs.command("metadata")
@arguments(*EGG_ARGUMENTS)
@json_option
@pass_options
def egg_metadata(options: GlobalOptions, organization: str, repository: str, platform: str, python_tag: str,
                 name: str, version: str, as_json: bool) -> None:
    """Print the metadata of the egg NAME VERSION (VERSION is upstream-build, e.g. 1.21.2-1).

    JSON: the server's metadata document, as printed without ``--json`` (two-space
    indentation, sorted keys).
    """
    echo_json(platform_of(options, organization, repository, platform).egg_metadata(python_tag, name, version))


@eggs.command("download")
@arguments(*EGG_ARGUMENTS)
@click.argument("destination", default=".", type=click.Path(exists=True, file_okay=False))
@pass_options
def download_egg(options: GlobalOptions, organization: str, repository: str, platform: str, python_tag: str,
                 name: str, version: str, destination: str) -> None:
    """Download the egg NAME VERSION into the directory DESTINATION (default: the current one).

    The file is named by the server and its sha256 is checked; a file already there with
    the right content is not downloaded again. Prints an empty line on stdout, where the
    reference ends its progress bar's line (on a terminal the bar is on stderr instead).
    """
    download = platform_of(options, organization, repository, platform).iter_download_egg(
        python_tag, name, version, destination)
    drain(download, enabled=options.progress)


@eggs.command("upload")
@arguments("organization", "repository", "platform", "filename")
@click.option("--force", is_flag=True, help="Overwrite the egg if the server already holds it.")
@click.option("--verify/--no-verify", default=False, show_default=True,
              help="Skip the upload when the server holds the same file; fail when it holds different content.")
@json_option
@pass_options
def upload_egg(options: GlobalOptions, organization: str, repository: str, platform: str, filename: str,
               force: bool, verify: bool, as_json: bool) -> None:
    """Upload the egg FILENAME to PLATFORM, enabled (indexed) at once.

    Prints the upload context (file, server, repository, platform, time) first. With
    ``--verify`` an egg the server already holds with the same content is not sent again.

    JSON: ``{"upload": "egg", "file": FILENAME, "server": URL, "repository": "org/repo",
    "platform": PLATFORM, "time": <ISO 8601>}``, printed after the upload.
    """
    target = platform_of(options, organization, repository, platform)
    url, full_name = options.require_url(), f"{organization}/{repository}"
    if not as_json:
        click.echo(upload_context("Egg", filename, url, full_name, platform))
    with upload_errors(organization, repository), upload_progress(filename, enabled=options.progress) as sent:
        target.upload_egg(filename, overwrite=force, verify=verify, progress=sent)
    if as_json:
        echo_json(upload_report("Egg", filename, url, full_name, platform))


def _batch_document(result: Any) -> dict[str, Any]:
    return {
        "uploaded": result.uploaded,
        "skipped": result.skipped,
        "failed": [{"file": path, "error": _reason(error)} for path, error in result.failures.items()],
        "verified_after": result.verified_after,
        "index_timeout": result.index_timeout,
        "timed_out": result.timed_out,
        "indexed": result.indexed,
    }


def _reason(error: BaseException) -> str:
    return expected_failure(error) or one_line(error)


def _count(number: int) -> str:
    return f"{number} egg to upload" if number == 1 else f"{number} eggs to upload"


@eggs.command("batch-upload")
@arguments("organization", "repository", "platform")
@click.argument("eggs", nargs=-1, type=click.Path(exists=True, dir_okay=False))
@click.option("--force", is_flag=True, help="Overwrite eggs the server already holds.")
@click.option("--index/--no-index", default=True, show_default=True, help="Index the uploaded eggs at the end.")
@click.option("--index_timeout", "index_timeout", type=int, default=10, show_default=True,
              help="Number of verification rounds (one second apart) before indexing.")
@click.option("-j", "--jobs", type=click.IntRange(min=1), default=4, show_default=True,  # hatcher.batch.DEFAULT_JOBS
              help="Number of uploads in parallel, over as many keep-alive connections.")
@json_option
@pass_options
def batch_upload(options: GlobalOptions, organization: str, repository: str, platform: str,
                 eggs: tuple[str, ...], force: bool, index: bool, index_timeout: int, jobs: int,
                 as_json: bool) -> None:
    """Upload the files EGGS to PLATFORM in parallel, then index them all at once.

    Prints the upload context, uploads every egg without indexing it, JOBS at a time (an
    egg the server already holds with the same content is skipped; one with different
    content fails unless --force), then, with ``--index``, waits until every egg sent is
    visible on the server (the first round at once, then one second apart) and updates
    the index. Eggs under 1 MiB are sent without a lookup first: the server's refusal of
    a duplicate triggers the checksum comparison; bigger eggs are looked up first. A
    failing egg does not stop the others: the failures are listed at the end, nothing is
    indexed and the exit status is 1. The exit status is also 1 when the eggs are not all
    visible in time.

    JSON: ``{"uploaded": [file, ...], "skipped": [file, ...], "failed": [{"file": file,
    "error": message}, ...], "verified_after": <round or null>, "index_timeout": N,
    "timed_out": bool, "indexed": bool}``; failures are also reported on stderr.
    """
    from hatcher.batch import batch_upload_eggs

    target = platform_of(options, organization, repository, platform)
    if not as_json:
        click.echo(upload_context("Batch egg", _count(len(eggs)), options.require_url(),
                                  f"{organization}/{repository}", platform))
    bar_options = {"enabled": options.progress, "end_line": not as_json}
    with upload_errors(organization, repository), progress(len(eggs), **bar_options) as bar:
        result = batch_upload_eggs(target, list(eggs), overwrite=force, jobs=jobs, index=index,
                                   index_timeout=index_timeout, progress=bar.update)
    if as_json:
        echo_json(_batch_document(result))
    else:
        if result.verified_after is not None:
            click.echo(f"Verified uploaded eggs for indexing after {result.verified_after} of {index_timeout} "
                       "attempts.")
        if result.indexed:
            click.echo("Updating the index...")
    report_batch_failures(result)


def report_batch_failures(result: Any) -> None:
    for path, error in result.failures.items():
        echo_error(f"Error uploading {path}: {_reason(error)}")
    if result.failures:
        total = len(result.paths)
        raise CommandFailed(f"{len(result.failures)} of {total} eggs failed to upload; the index was not updated")
    if result.timed_out:
        raise CommandFailed(f"Timed out: the uploaded eggs were not all visible on the server after "
                            f"{result.index_timeout} attempts; the index was not updated")


@eggs.command("update-index")
@arguments("organization", "repository", "platform")
@click.argument("eggs", nargs=-1, type=click.Path(exists=True, dir_okay=False))
@pass_options
def update_index(options: GlobalOptions, organization: str, repository: str, platform: str,
                 eggs: tuple[str, ...]) -> None:
    """Enable and index the eggs of the local files EGGS, uploaded before without indexing.

    Prints nothing; without EGGS, sends no request.
    """
    if eggs:
        platform_of(options, organization, repository, platform).reindex(list(eggs))


@eggs.command("delete")
@arguments(*EGG_ARGUMENTS)
@yes_option
@pass_options
def delete_egg(options: GlobalOptions, organization: str, repository: str, platform: str, python_tag: str,
               name: str, version: str, assume_yes: bool) -> None:
    """Delete the egg NAME VERSION, after confirmation. Prints nothing else."""
    if confirm(f"{name}-{version} ({python_tag})", assume_yes, f"{organization}/{repository}"):
        platform_of(options, organization, repository, platform).delete_egg(python_tag, name, version)


def register(root: click.Group) -> None:
    """Add the ``eggs`` group to the root."""
    root.add_command(eggs)

