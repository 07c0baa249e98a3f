"""The root ``hatcher`` group: global options, the error policy, and the registry of command groups."""

from __future__ import annotations

import importlib
from typing import Any, Optional, Sequence

import attr
import click

from hatcher import __version__
from hatcher.cli.errors import EXIT_FAILED, expected_failure

#: Modules that each add one command group to the root (``register(root)``), in help order.
GROUP_MODULES: Sequence[str] = ("hatcher.cli.server",)

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"]}


@attr.s(frozen=True)
class GlobalOptions:
    """The global options of one invocation (``ctx.obj`` of every command).

    The password is never shown in the repr.
    """

    url: Optional[str] = attr.ib(default=None)
    username: Optional[str] = attr.ib(default=None)
    password: Optional[str] = attr.ib(default=None, repr=False)
    token: Optional[str] = attr.ib(default=None, repr=False)
    insecure: bool = attr.ib(default=False)
    debug: bool = attr.ib(default=False)
    api_version: int = attr.ib(default=1)

    def credentials(self) -> Any:
        """``(username, password)``, an API token, or None, resolved as in the specification.

        A username without a password prompts for it (hidden input); a username wins over a token.
        """
        if self.username is not None:
            password = self.password
            if password is None:
                password = click.prompt("Password", hide_input=True)
            return (self.username, password)
        return self.token


class HatcherGroup(click.Group):
    """A click group that turns expected failures into one line on stderr and exit status 1.

    With ``--debug`` they propagate (Python traceback, exit status 1).
    """

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
@click.option("-u", "--url", help="URL of the Brood server.")
@click.option("-U", "--username", help="User name (prompts for the password unless --password is given).")
@click.option("-p", "--password", help="Password of --username.")
@click.option("-t", "--token", help="API token (ignored when --username is given).")
@click.option("-k", "--insecure", is_flag=True, help="Do not verify TLS certificates.")
@click.option("-d", "--debug", is_flag=True, help="Show Python tracebacks instead of one-line errors.")
@click.option("--api-version", type=click.Choice(["0", "1"]), default="1", show_default=True, is_eager=True,
              help="Brood API version for every request.")
@click.version_option(__version__, "--version", prog_name="hatcher", message="%(prog)s, version %(version)s")
@click.pass_context
def hatcher(ctx: click.Context, url: Optional[str], username: Optional[str], password: Optional[str],
            token: Optional[str], insecure: bool, debug: bool, api_version: str) -> None:
    """Manage the content of a Brood server, or run one."""
    if password is not None and username is None:
        raise click.UsageError("password provided with no username", ctx=ctx)
    ctx.obj = GlobalOptions(url=url, username=username, password=password, token=token,
                            insecure=insecure, debug=debug, api_version=int(api_version))
    if ctx.invoked_subcommand is None:
        click.echo(ctx.get_help())


def _register_groups(root: click.Group) -> None:
    for name in GROUP_MODULES:
        importlib.import_module(name).register(root)


_register_groups(hatcher)


def main(args: Optional[Sequence[str]] = None) -> Any:
    """Run the command line (the ``hatcher`` console script and ``python -m hatcher``)."""
    return hatcher.main(args=args, prog_name="hatcher", auto_envvar_prefix="HATCHER")
