"""Commands: ``bundles`` list, index, metadata, download, upload, delete (API version 1 only)."""

from __future__ import annotations

import click

from hatcher.cli.context import GlobalOptions, group, json_option, pass_options
from hatcher.cli.eggs import EGG_ARGUMENTS, arguments, platform_of
from hatcher.cli.errors import CommandFailed, upload_errors
from hatcher.cli.output import echo_json, echo_success, echo_table, upload_context, upload_report

bundles = group("bundles", "Upload, download, list and delete bundles (API version 1).", api_versions=(1,))

#: Arguments naming one bundle: ORGANIZATION REPOSITORY PLATFORM PYTHON_TAG NAME VERSION.
BUNDLE_ARGUMENTS = EGG_ARGUMENTS


@bundles.command("list")
@arguments("organization", "repository", "platform")
@json_option
@pass_options
def list_bundles(options: GlobalOptions, organization: str, repository: str, platform: str, as_json: bool) -> None:
    """List the bundles of PLATFORM.

    Prints a table with the columns ``Bundle Name``, ``Bundle Version`` and ``Python
    Tag``, sorted by the text ``name:version:python_tag``.

    JSON: ``{"bundles": [{"name": ..., "version": "<version>-<build>", "python_tag": ...},
    ...]}``, in the same order.
    """
    entries = platform_of(options, organization, repository, platform).bundle_list()
    entries = sorted(entries, key=lambda entry: f"{entry['name']}:{entry['version']}:{entry['python_tag']}")
    if as_json:
        echo_json({"bundles": entries})
    else:
        echo_table([(entry["name"], entry["version"], entry["python_tag"]) for entry in entries],
                   ["Bundle Name", "Bundle Version", "Python Tag"])


@bundles.command("index")
@arguments("organization", "repository", "platform")
@json_option
@pass_options
def bundle_index(options: GlobalOptions, organization: str, repository: str, platform: str, as_json: bool) -> None:
    """Print the bundle index of PLATFORM as JSON.

    JSON: the server's index ``{python_tag: {name: {version: {build: metadata}}}}``, as
    printed without ``--json`` (two-space indentation, sorted keys).
    """
    echo_json(platform_of(options, organization, repository, platform).bundle_index())


@bundles.command("metadata")
@arguments(*BUNDLE_ARGUMENTS)
@json_option
@pass_options
def bundle_metadata(options: GlobalOptions, organization: str, repository: str, platform: str, python_tag: str,
                    name: str, version: str, as_json: bool) -> None:
    """Print the metadata of the bundle NAME VERSION (VERSION is version-build, e.g. 2.1.0-3).

    JSON: the server's metadata document (the bundle itself under ``data``), as printed
    without ``--json`` (two-space indentation, sorted keys).
    """
    echo_json(platform_of(options, organization, repository, platform).bundle_metadata(python_tag, name, version))


@bundles.command("download")
@arguments(*BUNDLE_ARGUMENTS)
@click.argument("directory", type=click.Path(exists=True, file_okay=False))
@click.option("--force", is_flag=True, help="Overwrite the file if it exists.")
@json_option
@pass_options
def download_bundle(options: GlobalOptions, organization: str, repository: str, platform: str, python_tag: str,
                    name: str, version: str, directory: str, force: bool, as_json: bool) -> None:
    """Save the bundle NAME VERSION as DIRECTORY/NAME-VERSION.bundle and print its path.

    An existing file is an error (exit status 1, nothing requested) unless ``--force``.

    JSON: ``{"path": <file written>}``.
    """
    from hatcher.errors import TargetFileExists

    target = platform_of(options, organization, repository, platform)
    try:
        path = target.bundle_save(python_tag, name, version, directory, overwrite=force)
    except TargetFileExists as exc:
        raise CommandFailed(f"The bundle {name} {version} already exists in {directory}; "
                            "use --force to overwrite it") from exc
    if as_json:
        echo_json({"path": path})
    else:
        click.echo(f"Bundle saved to {path}")


@bundles.command("upload")
@arguments("organization", "repository", "filename")
@click.option("--force", is_flag=True, help="Overwrite the bundle if the server already holds it.")
@json_option
@pass_options
def upload_bundle(options: GlobalOptions, organization: str, repository: str, filename: str, force: bool,
                  as_json: bool) -> None:
    """Upload the bundle FILENAME, named NAME-VERSION-BUILD.bundle.

    Its platform and python tag come from the runtime the bundle names. After the upload,
    prints the upload context (file, server, repository, time) and a success line.

    JSON: ``{"upload": "bundle", "file": FILENAME, "server": URL, "repository":
    "org/repo", "time": <ISO 8601>}``.
    """
    repo = options.client().organization(organization).repository(repository)
    with upload_errors(organization, repository):
        repo.upload_bundle(filename, overwrite=force)
    context = ("Bundle", filename, options.require_url(), f"{organization}/{repository}")
    if as_json:
        echo_json(upload_report(*context))
        return
    click.echo(upload_context(*context))
    echo_success(f"Successfully uploaded {filename}")


@bundles.command("delete")
@arguments(*BUNDLE_ARGUMENTS)
@pass_options
def delete_bundle(options: GlobalOptions, organization: str, repository: str, platform: str, python_tag: str,
                  name: str, version: str) -> None:
    """Delete the bundle NAME VERSION (no confirmation) and print a success line."""
    platform_of(options, organization, repository, platform).bundle_delete(python_tag, name, version)
    echo_success(f"Successfully deleted bundle: {name}")


def register(root: click.Group) -> None:
    """Add the ``bundles`` group to the root."""
    root.add_command(bundles)
