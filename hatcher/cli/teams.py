"""Commands: teams, with their repositories and members (restored; API versions 0 and 1).

A team grants one role (its group: ``read_index``, ``read_repository``,
``upload_repository`` or ``organization_administrator``) on a set of repositories to its
members. The reference removed these commands in 0.11.0; the embedded server serves the
team endpoints under both API roots.
"""

from __future__ import annotations

from typing import Any

import click

from hatcher.cli.context import GlobalOptions, group, json_option, pass_options
from hatcher.cli.errors import EXIT_FAILED
from hatcher.cli.output import echo_json, echo_names

teams = group("teams", "Manage the teams of an organization (who may do what on which repositories).")
team_repositories = group("repositories", "Manage the repositories a team grants access to.")
team_members = group("members", "Manage the members of a team.")


def _team(options: GlobalOptions, organization: str, team: str) -> Any:
    """The lazy :class:`~hatcher.core.team.Team` TEAM of ORGANIZATION."""
    return options.client().organization(organization).team(team)


def _answer(granted: bool, positive: str, negative: str, document: dict[str, Any], as_json: bool) -> None:
    """Print a query's answer (or ``document`` plus ``"access"``); exit 1 when access is not granted."""
    if as_json:
        echo_json({**document, "access": granted})
    else:
        click.echo(positive if granted else negative)
    if not granted:
        click.get_current_context().exit(EXIT_FAILED)


# -- teams -------------------------------------------------------------------------------------

@teams.command("list")
@click.argument("organization")
@json_option
@pass_options
def list_teams(options: GlobalOptions, organization: str, as_json: bool) -> None:
    """List the teams of ORGANIZATION by name, sorted, one per line.

    JSON: ``{"teams": [name, ...]}``, sorted.
    """
    entries = options.client().organization(organization).list_teams()
    echo_names("teams", sorted(entry["name"] for entry in entries), as_json)


@teams.command("create")
@click.argument("organization")
@click.argument("team")
@click.argument("group_name", metavar="GROUP")
@pass_options
def create_team(options: GlobalOptions, organization: str, team: str, group_name: str) -> None:
    """Create the team TEAM in ORGANIZATION granting the role GROUP. Prints nothing.

    GROUP is one of ``read_index``, ``read_repository``, ``upload_repository`` or
    ``organization_administrator``.
    """
    options.client().organization(organization).create_team(team, group_name)


@teams.command("delete")
@click.argument("organization")
@click.argument("team")
@pass_options
def delete_team(options: GlobalOptions, organization: str, team: str) -> None:
    """Delete the team TEAM of ORGANIZATION (no confirmation, as in the reference). Prints nothing."""
    _team(options, organization, team).delete()


@teams.command("metadata")
@click.argument("organization")
@click.argument("team")
@json_option
@pass_options
def team_metadata(options: GlobalOptions, organization: str, team: str, as_json: bool) -> None:
    """Print the record of the team TEAM of ORGANIZATION as JSON (keys sorted).

    JSON: the server's team object, e.g. ``{"group": role, "name": team, ...}`` (the same
    document with or without ``--json``).
    """
    echo_json(_team(options, organization, team).metadata())


# -- teams repositories ------------------------------------------------------------------------

@team_repositories.command("list")
@click.argument("organization")
@click.argument("team")
@json_option
@pass_options
def list_team_repositories(options: GlobalOptions, organization: str, team: str, as_json: bool) -> None:
    """List the repositories the team TEAM grants access to, one per line, in server order.

    JSON: ``{"repositories": [name, ...]}``, in server order.
    """
    echo_names("repositories", _team(options, organization, team).list_repositories(), as_json)


@team_repositories.command("add")
@click.argument("organization")
@click.argument("team")
@click.argument("repository")
@pass_options
def add_team_repository(options: GlobalOptions, organization: str, team: str, repository: str) -> None:
    """Grant the team TEAM access to REPOSITORY of ORGANIZATION. Prints nothing."""
    org = options.client().organization(organization)
    org.team(team).add_repository(org.repository(repository))


@team_repositories.command("remove")
@click.argument("organization")
@click.argument("team")
@click.argument("repository")
@pass_options
def remove_team_repository(options: GlobalOptions, organization: str, team: str, repository: str) -> None:
    """Revoke the access of the team TEAM to REPOSITORY of ORGANIZATION. Prints nothing."""
    org = options.client().organization(organization)
    org.team(team).remove_repository(org.repository(repository))


@team_repositories.command("query")
@click.argument("organization")
@click.argument("team")
@click.argument("repository")
@json_option
@pass_options
def query_team_repository(options: GlobalOptions, organization: str, team: str, repository: str,
                          as_json: bool) -> None:
    """Tell whether the team TEAM grants access to REPOSITORY of ORGANIZATION.

    Prints ``'TEAM' has access to 'REPOSITORY'`` (exit status 0) or ``'TEAM' does not
    have access to 'REPOSITORY'`` (exit status 1), on standard output.

    JSON: ``{"access": bool, "organization": name, "repository": name, "team": name}``;
    the exit status is the same as without ``--json``.
    """
    org = options.client().organization(organization)
    granted = org.team(team).query_repository_access(org.repository(repository))
    _answer(granted, f"'{team}' has access to '{repository}'", f"'{team}' does not have access to '{repository}'",
            {"organization": organization, "team": team, "repository": repository}, as_json)


# -- teams members -----------------------------------------------------------------------------

@team_members.command("list")
@click.argument("organization")
@click.argument("team")
@json_option
@pass_options
def list_team_members(options: GlobalOptions, organization: str, team: str, as_json: bool) -> None:
    """List the e-mails of the members of the team TEAM, one per line, in server order.

    JSON: ``{"members": [email, ...]}``, in server order.
    """
    echo_names("members", _team(options, organization, team).list_users(), as_json)


@team_members.command("add")
@click.argument("organization")
@click.argument("team")
@click.argument("email")
@pass_options
def add_team_member(options: GlobalOptions, organization: str, team: str, email: str) -> None:
    """Add the user EMAIL of ORGANIZATION to the team TEAM. Prints nothing."""
    org = options.client().organization(organization)
    org.team(team).add_user(org.user(email))


@team_members.command("remove")
@click.argument("organization")
@click.argument("team")
@click.argument("email")
@pass_options
def remove_team_member(options: GlobalOptions, organization: str, team: str, email: str) -> None:
    """Remove the user EMAIL from the team TEAM of ORGANIZATION. Prints nothing."""
    org = options.client().organization(organization)
    org.team(team).remove_user(org.user(email))


@team_members.command("query")
@click.argument("organization")
@click.argument("team")
@click.argument("email")
@json_option
@pass_options
def query_team_member(options: GlobalOptions, organization: str, team: str, email: str, as_json: bool) -> None:
    """Tell whether the user EMAIL is a member of the team TEAM of ORGANIZATION.

    Prints ``'EMAIL' has access to 'TEAM'`` (exit status 0) or ``'EMAIL' does not have
    access to 'TEAM'`` (exit status 1), on standard output.

    JSON: ``{"access": bool, "email": email, "organization": name, "team": name}``; the
    exit status is the same as without ``--json``.
    """
    org = options.client().organization(organization)
    granted = org.team(team).query_user_access(org.user(email))
    _answer(granted, f"'{email}' has access to '{team}'", f"'{email}' does not have access to '{team}'",
            {"organization": organization, "team": team, "email": email}, as_json)


teams.add_command(team_repositories)
teams.add_command(team_members)


def register(root: click.Group) -> None:
    """Add the ``teams`` group to the root."""
    root.add_command(teams)
