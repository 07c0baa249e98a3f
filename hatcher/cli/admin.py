"""Commands: organizations, repositories, users, user, api-tokens, platforms and python-tags."""

from __future__ import annotations

from typing import Any, Optional, Sequence

import click

from hatcher.cli.context import GlobalOptions, confirm, group, json_option, pass_options, yes_option
from hatcher.cli.output import echo_column, echo_json, echo_names, echo_table

organizations = group("organizations", "Manage organizations.")
repositories = group("repositories", "Manage the repositories of an organization.")
users = group("users", "Manage the users of an organization.")
user = group("user", "Information about the current user.")
api_tokens = group("api-tokens", "Manage your API tokens (not available on every server).")
audit = group("audit", "Read the server's audit log (server or organization administrators).")
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
    if confirm(email, assume_yes):
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

def _when(ago: bool):  # noqa: ANN202 - a click callback factory
    """A click callback reading a duration (``30d``) or an ISO 8601 time as ISO 8601 UTC."""
    def convert(ctx: click.Context, param: click.Parameter, value: Optional[str]) -> Optional[str]:
        if value is None:
            return None
        from hatcher.core.times import parse_when  # hatcher.core loads requests: not for --help

        try:
            return parse_when(value, ago=ago)
        except ValueError as exc:
            raise click.BadParameter(str(exc)) from None
    return convert


@api_tokens.command("create")
@click.argument("name")
@click.option("--scope", "scopes", multiple=True, metavar="ROLE:ORG/REPO",
              help="Limit the token to ROLE (read_index, read_repository or upload_repository) on "
                   "ORG/REPO (a REPO of '*' means every repository); repeat for more. A scoped token "
                   "cannot administer or make tokens.")
@click.option("--expires", callback=_when(ago=False), metavar="WHEN",
              help="When the token stops working: a duration from now (30d, 12h, 2w) or an ISO 8601 time (UTC).")
@json_option
@pass_options
def create_api_token(options: GlobalOptions, name: str, scopes: tuple[str, ...], expires: Optional[str],
                     as_json: bool) -> None:
    """Create the API token NAME and print it (the only time the secret is shown).

    The table has the columns ``New Token Name`` and ``New Token`` (and ``Scopes``,
    ``Expires`` when given). Use the token with ``hatcher -t TOKEN``.

    JSON: ``{"name": name, "token": secret}``, with ``scopes`` and ``expires`` when given.
    """
    created = options.client().create_api_token(name, scopes=list(scopes) or None, expires=expires)
    extra = [key for key in ("scopes", "expires") if created.get(key) is not None]
    if as_json:
        echo_json({key: created[key] for key in ("name", "token", *extra)})
    else:
        headers = {"scopes": "Scopes", "expires": "Expires"}
        echo_table([(created["name"], created["token"], *(_cell(created[key]) for key in extra))],
                   ["New Token Name", "New Token", *(headers[key] for key in extra)])


def _cell(value: Any) -> str:
    return "" if value is None else " ".join(value) if isinstance(value, list) else str(value)


@api_tokens.command("list")
@json_option
@pass_options
def list_api_tokens(options: GlobalOptions, as_json: bool) -> None:
    """List your API tokens sorted by name: columns ``Name``, ``Created``, ``Last Used``.

    Times are shown as the server sends them; a token never used has an empty ``Last Used``.
    When some token has scopes or an expiry, the columns ``Scopes`` and ``Expires`` follow.

    JSON: ``{"tokens": [{"name": name, "created": time, "last_used": time or null}, ...]}``,
    sorted by name; a token with scopes or an expiry also has ``scopes`` and ``expires``.
    """
    tokens = sorted(options.client().list_api_tokens(), key=lambda token: token["name"])
    extra = [key for key in ("scopes", "expires") if any(token.get(key) is not None for token in tokens)]
    if as_json:
        echo_json({"tokens": [{key: token.get(key) for key in ("name", "created", "last_used", "scopes", "expires")
                               if key in token or key in ("name", "created", "last_used")}
                              for token in tokens]})
    else:
        headers = {"scopes": "Scopes", "expires": "Expires"}
        echo_table([(token["name"], token.get("created"), token.get("last_used"),
                     *(_cell(token.get(key)) for key in extra)) for token in tokens],
                   ["Name", "Created", "Last Used", *(headers[key] for key in extra)])


@api_tokens.command("delete")
@click.argument("name")
@yes_option
@pass_options
def delete_api_token(options: GlobalOptions, name: str, assume_yes: bool) -> None:
    """Delete your API token NAME, after confirmation. Prints nothing."""
    if confirm(f"API token '{name}'", assume_yes):
        options.client().delete_api_token(name)


# -- audit ----------------------------------------------------------------------------------------

@audit.command("list")
@click.option("--organization", metavar="ORG", help="Only this organization's events.")
@click.option("--since", callback=_when(ago=True), metavar="WHEN",
              help="Only events since then: a duration ago (2d, 12h) or an ISO 8601 time (UTC).")
@click.option("--action", metavar="ACTION", help="Only this action (egg.delete), or a subject's (egg).")
@click.option("--limit", type=click.IntRange(1), default=100, show_default=True, help="At most this many events.")
@json_option
@pass_options
def list_audit_events(options: GlobalOptions, organization: Optional[str], since: Optional[str],
                      action: Optional[str], limit: int, as_json: bool) -> None:
    """List audit events, newest first.

    The table has the columns ``Time``, ``Actor``, ``Action``, ``Target``, ``Address`` and ``Outcome``.

    JSON: ``{"events": [{"id", "time", "actor", "action", "target", "organization",
    "address", "outcome", "detail"}, ...]}``, newest first.
    """
    events = options.client().audit_events(organization=organization, since=since, action=action, limit=limit)
    if as_json:
        echo_json({"events": events})
    else:
        echo_table([(event["time"], event["actor"] or "", event["action"], event["target"], event["address"] or "",
                     event["outcome"]) for event in events],
                   ["Time", "Actor", "Action", "Target", "Address", "Outcome"])


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


GROUPS: Sequence[click.Group] = (api_tokens, audit, organizations, platforms, python_tags, repositories, user, users)


def register(root: click.Group) -> None:
    """Add this module's groups to the root."""
    for command in GROUPS:
        root.add_command(command)
