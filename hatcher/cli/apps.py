"""Commands: apps (restored; the reference removed the group in 0.13.0 but kept the library methods).

An app is a YAML description (``id``, ``name``, ``platform``, ``version``, ``build``,
``python_tag``); it is uploaded to the platform it names.
"""

from __future__ import annotations

import os

import click

from hatcher.cli.context import GlobalOptions, group, json_option, pass_options
from hatcher.cli.errors import upload_errors
from hatcher.cli.output import echo_json, echo_table, upload_context, upload_report
from hatcher.cli.progress import progress

apps = group("apps", "Manage the apps (YAML app descriptions) of a repository.")


@apps.command("list")
@click.argument("organization")
@click.argument("repository")
@click.argument("platform")
@json_option
@pass_options
def list_apps(options: GlobalOptions, organization: str, repository: str, platform: str, as_json: bool) -> None:
    """List the apps of REPOSITORY of ORGANIZATION for PLATFORM.

    The table has the columns ``App Name``, ``Version`` (``<version>-<build>``) and
    ``Python Tag``, sorted by name (case-insensitive), version, then python tag.

    JSON: ``{"apps": [{"name": app id, "version": "<version>-<build>", "python_tag": tag}, ...]}``,
    in the same order.
    """
    from hatcher.core.utils import AppSorter

    found = options.client().organization(organization).repository(repository).platform(platform).list_apps()
    rows = sorted(found, key=lambda app: AppSorter(*app))
    if as_json:
        echo_json({"apps": [{"name": name, "version": version, "python_tag": tag} for name, version, tag in rows]})
    else:
        echo_table(rows, ["App Name", "Version", "Python Tag"])


@apps.command("upload")
@click.argument("organization")
@click.argument("repository")
@click.argument("filename", type=click.Path(dir_okay=False))
@click.option("--force", is_flag=True, help="Overwrite an app of the same identity already on the server.")
@click.option("--verify/--no-verify", default=False, show_default=True,
              help="Skip the upload when the server holds the same file; fail when it holds different content.")
@json_option
@pass_options
def upload_app(options: GlobalOptions, organization: str, repository: str, filename: str, force: bool,
               verify: bool, as_json: bool) -> None:
    """Upload the app description FILENAME to REPOSITORY of ORGANIZATION.

    The platform is the one the file names. Before uploading, a table shows the file
    (``App upload``), the server, the repository and the time. A missing repository
    fails with ``No such repository: 'ORGANIZATION/REPOSITORY'``, bad credentials with
    ``Authentication failed``; an app already on the server fails unless ``--force``
    is given (with ``--verify``, an identical one is skipped silently).

    JSON: instead of the table, after the upload, ``{"upload": "app", "file": FILENAME,
    "server": url, "repository": "org/repo", "time": ISO 8601}``.
    """
    server = options.require_url()
    subject = f"{organization}/{repository}"
    if not as_json:
        click.echo(upload_context("App", filename, server, subject))
    target = options.client().organization(organization).repository(repository)
    with upload_errors(organization, repository):
        with progress(_size(filename), label="Uploading", enabled=options.progress) as bar:
            target.upload_app(filename, overwrite=force, verify=verify, progress=bar.update)
    if as_json:
        echo_json(upload_report("App", filename, server, subject))


def _size(filename: str) -> int:
    """The size of ``filename`` in bytes (0 when it cannot be read: the upload reports why)."""
    try:
        return os.path.getsize(filename)
    except OSError:
        return 0


@apps.command("metadata")
@click.argument("organization")
@click.argument("repository")
@click.argument("platform")
@click.argument("python_tag")
@click.argument("app_id")
@click.argument("version")
@json_option
@pass_options
def app_metadata(options: GlobalOptions, organization: str, repository: str, platform: str, python_tag: str,
                 app_id: str, version: str, as_json: bool) -> None:
    """Print the metadata of the app APP_ID, VERSION (``<version>-<build>``), as JSON.

    JSON: the server's app metadata object, keys sorted (the same document with or
    without ``--json``).
    """
    target = options.client().organization(organization).repository(repository).platform(platform)
    echo_json(target.app_metadata(python_tag, app_id, version))


def register(root: click.Group) -> None:
    """Add the ``apps`` group to the root."""
    root.add_command(apps)
