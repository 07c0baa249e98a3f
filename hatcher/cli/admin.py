"""Commands: organizations, repositories, users, user, api-tokens, platforms and python-tags."""

from __future__ import annotations

import click

from hatcher.cli.context import GlobalOptions, group, json_option, pass_options
from hatcher.cli.output import echo_json

organizations = group("organizations", "Manage organizations.")


@organizations.command("create")
@click.argument("name")
@click.argument("description")
@pass_options
def create_organization(options: GlobalOptions, name: str, description: str) -> None:
    """Create the organization NAME."""
    options.client().create_organization(name, description)


@organizations.command("list")
@json_option
@pass_options
def list_organizations(options: GlobalOptions, as_json: bool) -> None:
    """List the organizations, sorted, one per line.

    JSON: ``{"organizations": [name, ...]}``.
    """
    names = options.client().list_organizations()
    if as_json:
        echo_json({"organizations": names})
    else:
        for name in names:
            click.echo(name)


def register(root: click.Group) -> None:
    """Add this module's groups to the root."""
    root.add_command(organizations)
