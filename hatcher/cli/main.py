"""The root ``hatcher`` group: global options, the error policy, and the registry of command groups."""

from __future__ import annotations

import importlib
from typing import Any, Optional, Sequence

import click

from hatcher import __version__
from hatcher.cli.context import CONTEXT_SETTINGS, GlobalOptions, VersionedGroup
from hatcher.cli.errors import EXIT_FAILED, expected_failure

#: Modules that each add commands to the root (``register(root)``).
GROUP_MODULES: Sequence[str] = (
    "hatcher.cli.admin",
    "hatcher.cli.eggs",
    "hatcher.cli.runtimes",
    "hatcher.cli.bundles",
    "hatcher.cli.apps",
    "hatcher.cli.teams",
    "hatcher.cli.transfer",
    "hatcher.cli.server",
    "hatcher.cli.login",
)

#: Commands that may name a profile the configuration file does not have yet.
PROFILE_CREATING_COMMANDS = frozenset({"login"})

__all__ = ["GlobalOptions", "hatcher", "main"]


class HatcherGroup(VersionedGroup):
    """The root group: expected failures become one red line on stderr and exit status 1.

    With ``--debug`` they propagate instead (Python traceback, exit status 1). Once the
    options are parsed, ``--command-tree`` prints the tree and exits whatever else was given;
    otherwise the profile is read (its ``api_version`` chooses the command set).
    """

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        rest = super().parse_args(ctx, args)
        if ctx.params.get("command_tree"):
            try:
                _read_profile(ctx)
            except click.ClickException:
                pass
            from hatcher.utils import command_tree as render

            click.echo(render(self, ctx))
            ctx.exit(0)
        if not ctx.resilient_parsing:
            _read_profile(ctx)
        return rest

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except Exception as exc:
            options = ctx.find_object(GlobalOptions)
            if options is not None and options.debug:
                raise
            message = expected_failure(exc)
            if message is None:
                raise
            click.secho(message, err=True, fg="red")
            ctx.exit(EXIT_FAILED)


@click.group(cls=HatcherGroup, context_settings=CONTEXT_SETTINGS, invoke_without_command=True)
@click.option("--api-version", type=click.Choice(["0", "1"]), default="1", show_default=True, is_eager=True,
              help="Brood API version for every request, and the set of commands.")
@click.option("--profile", metavar="NAME",
              help="Profile of the configuration file to use (default: its 'default').")
@click.option("-u", "--url", help="URL of the Brood server.")
@click.option("-U", "--username", help="User name (prompts for the password unless --password is given).")
@click.option("-p", "--password", help="Password of --username.")
@click.option("-t", "--token", help="API token (ignored when --username is given).")
@click.option("-k", "--insecure", is_flag=True, help="Do not verify TLS certificates.")
@click.option("-d", "--debug", is_flag=True, help="Show Python tracebacks instead of one-line errors.")
@click.option("--no-progress", is_flag=True, help="Never show progress bars (they go to stderr, only on a terminal).")
@click.option("--command-tree", is_flag=True, help="Print the tree of commands and exit.")
@click.version_option(__version__, "--version", prog_name="hatcher", message="%(prog)s, version %(version)s")
@click.pass_context
def hatcher(ctx: click.Context, api_version: str, profile: Optional[str], url: Optional[str],
            username: Optional[str], password: Optional[str], token: Optional[str], insecure: bool, debug: bool,
            no_progress: bool, command_tree: bool) -> None:
    """Manage the content of a Brood server, or run one."""
    error = ctx.meta.get(_PROFILE_ERROR)
    if error is not None and ctx.invoked_subcommand not in PROFILE_CREATING_COMMANDS:
        raise error
    chosen = ctx.meta.get(_PROFILE)
    ctx.obj = GlobalOptions(url=url or (chosen.url if chosen else None), username=username, password=password,
                            token=token, insecure=insecure, debug=debug, api_version=int(api_version),
                            progress=not no_progress, verify=chosen.verify if chosen else None, profile=chosen)
    if (password is not None and ctx.obj.effective_username() is None
            and ctx.invoked_subcommand not in PROFILE_CREATING_COMMANDS):
        raise click.UsageError("Password provided with no username", ctx=ctx)
    if ctx.invoked_subcommand is None:
        click.echo(ctx.get_help())


_CONFIG, _PROFILE, _PROFILE_ERROR = "hatcher.config", "hatcher.profile", "hatcher.profile_error"


def _read_profile(ctx: click.Context) -> None:
    """Read the configuration file and the chosen profile into ``ctx.meta``; apply its ``api_version``.

    A broken file raises :class:`~hatcher.cli.profiles.ConfigError`; an unknown profile is kept
    in ``ctx.meta`` (``login`` creates it; any other command fails with it).
    """
    from hatcher.cli.profiles import UnknownProfile, load_config

    config = ctx.meta[_CONFIG] = load_config()
    try:
        chosen = ctx.meta[_PROFILE] = config.select(ctx.params.get("profile"))
    except UnknownProfile as exc:
        ctx.meta[_PROFILE_ERROR] = exc
        return
    if (chosen is not None and chosen.api_version is not None
            and ctx.get_parameter_source("api_version") == click.core.ParameterSource.DEFAULT):
        ctx.params["api_version"] = str(chosen.api_version)


def _register_groups(root: click.Group) -> None:
    for name in GROUP_MODULES:
        importlib.import_module(name).register(root)


_register_groups(hatcher)


def main(args: Optional[Sequence[str]] = None) -> Any:
    """Run the command line (the ``hatcher`` console script and ``python -m hatcher``)."""
    return hatcher.main(args=args, prog_name="hatcher", auto_envvar_prefix="HATCHER")
