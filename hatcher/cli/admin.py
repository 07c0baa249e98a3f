"""Commands: organizations, repositories, users, user, api-tokens, platforms and python-tags."""

from __future__ import annotations

from typing import Sequence

import click

from hatcher.cli.context import GlobalOptions, confirm, group, json_option, pass_options, yes_option
from hatcher.cli.output import echo_column, echo_json, echo_names, echo_table

organizations = group("organizations", "Manage organizations.")
repositories = group("repositories", "Manage the repositories of an organization.")
users = group("users", "Manage the users of an organization.")
user = group("user", "Information about the current user.")
api_tokens = group("api-tokens", "Manage your API tokens (not available on every server).")
platforms = group("platforms", "Platforms known to the server.")
python_tags = group("python-tags", "Python tags known to the server.")


# -- organizations -----------------------------------------------------------------------------

@organizations.command("create")
@click.argument("name")
@click.argument("description")
@pass_options
def create_organization(options: GlobalOptions, name: str, description: str) -> None:
    """Create the organization NAME, described by DESCRIPTION. Prints nothing."""
    options.client().create_organization(name, description)


@organizations.command("list")
@json_option
@pass_options
def list_organizations(options: GlobalOptions, as_json: bool) -> None:
    """List the organizations, sorted, one per line.

    JSON: ``{"organizations": [name, ...]}``, sorted.
    """
    echo_names("organizations", options.client().list_organizations(), as_json)


# -- repositories ------------------------------------------------------------------------------

@repositories.command("list")
@click.argument("organization")
@json_option
@pass_options
def list_repositories(options: GlobalOptions, organization: str, as_json: bool) -> None:
    """List the repositories of ORGANIZATION, sorted, one per line.

    JSON: ``{"repositories": [name, ...]}``, sorted short names (without the organization).
    """
    names = sorted(options.client().organization(organization).list_repositories())
    echo_names("repositories", names, as_json)


@repositories.command("create")
@click.argument("organization")
@click.argument("repository")
@click.argument("description")
@pass_options
def create_repository(options: GlobalOptions, organization: str, repository: str, description: str) -> None:
    """Create the repository REPOSITORY in ORGANIZATION, described by DESCRIPTION. Prints nothing."""
    options.client().organization(organization).create_repository(repository, description)


@repositories.command("delete")
@click.argument("organization")
@click.argument("repository")
@click.option("--force", is_flag=True, help="Also delete a repository that still holds artefacts.")
@yes_option
@pass_options
def delete_repository(options: GlobalOptions, organization: str, repository: str, force: bool,
                      assume_yes: bool) -> None:
    """Delete the repository REPOSITORY of ORGANIZATION, after confirmation.

    The server refuses to delete a repository that holds artefacts unless ``--force`` is
    given. Answering no at the prompt sends nothing and exits 0. Prints nothing.
    """
    if confirm(f"{organization}/{repository}", assume_yes):
        options.client().organization(organization).repository(repository).delete(force=force)


# -- users and user ----------------------------------------------------------------------------

@users.command("create")
@click.argument("organization")
@click.argument("email")
@pass_options
def create_user(options: GlobalOptions, organization: str, email: str) -> None:
    """Add the user EMAIL to ORGANIZATION (in no team). Prints nothing."""
    options.client().organization(organization).create_user(email)


@users.command("delete")
@click.argument("organization")
@click.argument("email")
@yes_option
@pass_options
def delete_user(options: GlobalOptions, organization: str, email: str, assume_yes: bool) -> None:
    """Remove the user EMAIL from ORGANIZATION, after confirmation. Prints nothing."""
    if confirm(f"User {email} of {organization}", assume_yes):
        options.client().organization(organization).user(email).delete()


@user.command("repositories")
@click.option("--include-indexable", is_flag=True,
              help="Also list the repositories whose index alone you may read.")
@json_option
@pass_options
def user_repositories(options: GlobalOptions, include_indexable: bool, as_json: bool) -> None:
    """List the repositories you can download from, as a table headed ``Repository``, in server order.

    JSON: ``{"repositories": ["org/repo", ...]}``, in server order.
    """
    names = options.client().list_available_repositories(include_indexable=include_indexable)
    echo_column("repositories", "Repository", names, as_json)


# -- api-tokens --------------------------------------------------------------------------------

@api_tokens.command("create")
@click.argument("name")
@json_option
@pass_options
def create_api_token(options: GlobalOptions, name: str, as_json: bool) -> None:
    """Create the API token NAME and print it (the only time the secret is shown).

    The table has the columns ``New Token Name`` and ``New Token``. Use the token with
    ``hatcher -t TOKEN``.

    JSON: ``{"name": name, "token": secret}``.
    """
    created = options.client().create_api_token(name)
    if as_json:
        echo_json({"name": created["name"], "token": created["token"]})
    else:
        echo_table([(created["name"], created["token"])], ["New Token Name", "New Token"])


@api_tokens.command("list")
@json_option
@pass_options
def list_api_tokens(options: GlobalOptions, as_json: bool) -> None:
    """List your API tokens sorted by name: columns ``Name``, ``Created``, ``Last Used``.

    Times are shown as the server sends them; a token never used has an empty ``Last Used``.

    JSON: ``{"tokens": [{"name": name, "created": time, "last_used": time or null}, ...]}``,
    sorted by name.
    """
    tokens = sorted(options.client().list_api_tokens(), key=lambda token: token["name"])
    if as_json:
        echo_json({"tokens": [{key: token.get(key) for key in ("name", "created", "last_used")}
                              for token in tokens]})
    else:
        echo_table([(token["name"], token.get("created"), token.get("last_used")) for token in tokens],
                   ["Name", "Created", "Last Used"])


@api_tokens.command("delete")
@click.argument("name")
@yes_option
@pass_options
def delete_api_token(options: GlobalOptions, name: str, assume_yes: bool) -> None:
    """Delete your API token NAME, after confirmation. Prints nothing."""
    if confirm(f"API token {name}", assume_yes):
        options.client().delete_api_token(name)


# -- platforms and python-tags -----------------------------------------------------------------

@platforms.command("list")
@json_option
@pass_options
def list_platforms(options: GlobalOptions, as_json: bool) -> None:
    """List the platforms the server knows, as a table headed ``Platforms``, in server order.

    JSON: ``{"platforms": [platform, ...]}``, in server order.
    """
    echo_column("platforms", "Platforms", options.client().list_platforms(), as_json)


@python_tags.command("list")
@click.option("--all", "all", is_flag=True,
              help="Also list generic tags (py2, py3, ...), not only concrete interpreters.")
@json_option
@pass_options
def list_python_tags(options: GlobalOptions, all: bool, as_json: bool) -> None:
    """List the python tags the server knows, sorted as strings, as a table headed ``Python Tag``.

    JSON: ``{"python_tags": [tag, ...]}``, sorted.
    """
    tags = sorted(options.client().list_python_tags(list_all=all))
    echo_column("python_tags", "Python Tag", tags, as_json)


GROUPS: Sequence[click.Group] = (api_tokens, organizations, platforms, python_tags, repositories, user, users)


def register(root: click.Group) -> None:
    """Add this module's groups to the root."""
    for command in GROUPS:
        root.add_command(command)
