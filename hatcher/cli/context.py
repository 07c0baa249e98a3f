"""What every client command shares: the global options, the lazily built client, versioned groups.

A command declares the API versions it exists in with :func:`versions`; a
:class:`VersionedGroup` shows and runs only the commands of the selected ``--api-version``
(looking up another gives click's "No such command", exit status 2).
"""

from __future__ import annotations

from typing import Any, Callable, Optional

import attr
import click

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"]}


@attr.s(frozen=True)
class GlobalOptions:
    """The global options of one invocation (``ctx.obj``). Secrets never show in the repr."""

    url: Optional[str] = attr.ib(default=None)
    username: Optional[str] = attr.ib(default=None)
    password: Optional[str] = attr.ib(default=None, repr=False)
    token: Optional[str] = attr.ib(default=None, repr=False)
    insecure: bool = attr.ib(default=False)
    debug: bool = attr.ib(default=False)
    api_version: int = attr.ib(default=1)
    progress: bool = attr.ib(default=True)
    #: TLS verification from the profile (True, False or a CA bundle); ``insecure`` wins.
    verify: Any = attr.ib(default=None)
    #: The chosen :class:`~hatcher.cli.profiles.Profile`, or None.
    profile: Any = attr.ib(default=None)
    _cache: dict[str, Any] = attr.ib(factory=dict, repr=False, eq=False)

    @property
    def verify_ssl(self) -> Any:
        """What requests verifies TLS with: False with ``--insecure``, else the profile's ``verify`` or True."""
        if self.insecure:
            return False
        return True if self.verify is None else self.verify

    def credential_profile(self) -> Any:
        """The profile whose credentials apply: the chosen one, if the URL in effect is its URL.

        A ``--url`` / ``HATCHER_URL`` naming another server never receives the profile's token.
        """
        from hatcher.core.url_templates import split_base_url

        profile = self.profile
        if profile is None or not profile.url or not self.url:
            return None
        same = split_base_url(self.url.rstrip("/")) == split_base_url(profile.url.rstrip("/"))
        return profile if same else None

    def profile_token(self) -> Optional[str]:
        """The API token of :meth:`credential_profile`: from the file, or from the system keyring."""
        profile = self.credential_profile()
        if profile is None:
            return None
        if profile.token:
            return profile.token
        if not profile.keyring:
            return None
        from hatcher.cli import keyring_store
        from hatcher.cli.errors import CommandFailed

        token = keyring_store.get_token(keyring_store.entry_key(profile.name, profile.url))
        if token is None:
            raise CommandFailed(f"The token of profile '{profile.name}' is missing from the system keyring: "
                                f"run 'hatcher --profile {profile.name} login'")
        return token

    def effective_username(self) -> Optional[str]:
        """The username in effect: ``--username`` / ``HATCHER_USERNAME``, else the profile's."""
        if self.username is not None:
            return self.username
        profile = self.credential_profile()
        return None if profile is None else profile.username

    def credentials(self) -> Any:
        """``(username, password)``, an API token, or None, resolved as in the specification.

        A username without a password prompts for it (hidden input); a username wins over a token.
        Options and ``HATCHER_*`` variables come first; with none of them, the profile's token,
        else its username (and a password given on its own) is used.
        """
        username, token, source = self.username, self.token, "--token / HATCHER_TOKEN"
        if username is None and token is None and self.credential_profile() is not None:
            if self.password is None:
                token, source = self.profile_token(), f"profile '{self.profile.name}'"
            if token is None:
                username = self.effective_username()
        if username is not None:
            password = self.password
            if password is None:
                password = click.prompt("Password", hide_input=True)
            return (username, password)
        if token is not None and any(not "!" <= char <= "~" for char in token.strip()):
            # requests would put the whole header, token included, in its error message
            from hatcher.cli.errors import CommandFailed

            raise CommandFailed(f"The API token of {source} has characters no API token has "
                                f"(only printable ASCII)")
        return token

    def require_url(self) -> str:
        """The server URL; a usage error naming ``-u`` / ``--url`` when it is missing."""
        if not self.url:
            ctx = click.get_current_context()
            raise click.MissingParameter(ctx=ctx.find_root(), param_hint="'-u' / '--url'", param_type="option")
        return self.url

    def client(self) -> Any:
        """The :class:`~hatcher.api.BroodClient` of this invocation, built on first use.

        Credentials are exchanged for session tokens (:class:`~hatcher.api.BroodClientAuth`).
        """
        if "client" not in self._cache:
            import urllib3

            from hatcher.api import BroodClient, BroodClientAuth

            url = self.require_url()
            credentials = self.credentials()
            auth = BroodClientAuth(url, credentials, verify_ssl=self.verify_ssl) if credentials else None
            if self.verify_ssl is False:
                urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
            self._cache["client"] = BroodClient.from_url(url, auth=auth, verify_ssl=self.verify_ssl,
                                                         api_version=self.api_version)
        return self._cache["client"]


pass_options = click.make_pass_decorator(GlobalOptions)


def versions(*api_versions: int) -> Callable[[click.Command], click.Command]:
    """Declare the API versions a command exists in (default: both)."""
    def decorator(command: click.Command) -> click.Command:
        command.api_versions = frozenset(api_versions)  # type: ignore[attr-defined]
        return command

    return decorator


def selected_api_version(ctx: click.Context) -> int:
    """The ``--api-version`` of this invocation (also while the root is still parsing)."""
    options = ctx.find_object(GlobalOptions)
    if options is not None:
        return options.api_version
    root = ctx.find_root()
    value = root.params.get("api_version")
    return int(value) if value is not None else 1


#: The usage line's subcommand part of every group, as the reference prints it (click 8.2 and
#: later write ``[COMMAND]`` for a group that runs without a subcommand).
SUBCOMMAND_METAVAR = "COMMAND [ARGS]..."


class PlainHelpFormatter(click.HelpFormatter):
    """Writes help texts and the second column of definition lists without reStructuredText markup.

    Docstrings and option help are written in reStructuredText for the Sphinx pages
    (sphinx_click); a terminal gets them through :func:`~hatcher.cli.output.plain_text`.
    """

    def write_text(self, text: str) -> None:
        from hatcher.cli.output import plain_text

        super().write_text(plain_text(text))

    def write_dl(self, rows: Any, *args: Any, **kwargs: Any) -> None:
        from hatcher.cli.output import plain_text

        super().write_dl([(first, plain_text(second)) for first, second in rows], *args, **kwargs)


class PlainContext(click.Context):
    """A context whose help is plain text (:class:`PlainHelpFormatter`)."""

    formatter_class = PlainHelpFormatter


def plain_short_help(command: click.Command, limit: int) -> str:
    """The one-line help of ``command`` shortened to ``limit`` after its markup is removed."""
    from hatcher.cli.output import plain_text

    plain = click.Command(None, help=plain_text(command.help) if command.help else None,
                          short_help=plain_text(command.short_help) if command.short_help else None,
                          deprecated=command.deprecated)
    return plain.get_short_help_str(limit)


def _reference_text(command: click.Command) -> None:
    """Give ``command`` and the commands below it the reference's ``COMMAND [ARGS]...`` usage and plain help."""
    command.context_class = PlainContext
    if isinstance(command, click.Group):
        if not command.chain:
            command.subcommand_metavar = SUBCOMMAND_METAVAR
        for sub in command.commands.values():
            _reference_text(sub)


def _no_such_option_message(error: click.NoSuchOption) -> str:
    """``No such option: --x`` with the reference's suggestion wording (click 8.1)."""
    message = f"No such option: {error.option_name}"
    possibilities = sorted(error.possibilities or ())
    if len(possibilities) == 1:
        return f"{message} Did you mean {possibilities[0]}?"
    if possibilities:
        return f"{message} (Possible options: {', '.join(possibilities)})"
    return message


def _show_usage_error(error: click.UsageError, file: Any = None) -> None:
    """Print a usage error as the reference does, whatever the installed click version.

    The usage line, ``Try 'COMMAND -h' for help.`` (the first help option name), an empty
    line and ``Error: MESSAGE``, on stderr.
    """
    from click._compat import get_text_stderr

    if file is None:
        file = get_text_stderr()
    ctx = error.ctx
    color = None
    if ctx is not None:
        color = ctx.color
        hint = ""
        if ctx.command.get_help_option(ctx) is not None:
            hint = f"Try '{ctx.command_path} {ctx.help_option_names[0]}' for help.\n"
        click.echo(f"{ctx.get_usage()}\n{hint}", file=file, color=color)
    message = _no_such_option_message(error) if isinstance(error, click.NoSuchOption) else error.format_message()
    click.echo(f"Error: {message}", file=file, color=color)


def reference_usage_errors(error: click.UsageError) -> click.UsageError:
    """Make ``error`` print itself as the reference's click did (see :func:`_show_usage_error`)."""
    error.show = lambda file=None: _show_usage_error(error, file)  # type: ignore[method-assign]
    return error


class VersionedGroup(click.Group):
    """A group whose commands depend on the selected API version.

    Several commands may share a name when they exist in different versions (``runtimes
    list`` for v0 and v1): register them with :meth:`add_versioned`. Usage lines and usage
    errors read as the reference prints them, whatever the installed click version; help
    is plain text (:class:`PlainHelpFormatter`).
    """

    context_class = PlainContext

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("context_settings", CONTEXT_SETTINGS)
        kwargs.setdefault("subcommand_metavar", SUBCOMMAND_METAVAR)
        super().__init__(*args, **kwargs)
        self.by_version: dict[int, dict[str, click.Command]] = {0: {}, 1: {}}

    def add_versioned(self, command: click.Command, name: Optional[str] = None) -> click.Command:
        """Add ``command`` for the versions it declares (see :func:`versions`)."""
        name = name or command.name
        _reference_text(command)
        for version in getattr(command, "api_versions", (0, 1)):
            self.by_version[version][name] = command
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The "Commands" section, each line shortened after its markup is removed."""
        commands = [(name, command) for name, command in ((name, self.get_command(ctx, name))
                                                          for name in self.list_commands(ctx))
                    if command is not None and not command.hidden]
        if commands:
            limit = formatter.width - 6 - max(len(name) for name, _ in commands)
            with formatter.section("Commands"):
                formatter.write_dl([(name, plain_short_help(command, limit)) for name, command in commands])

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as error:
            raise reference_usage_errors(error) from None

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.UsageError as error:
            raise reference_usage_errors(error) from None

    def add_command(self, cmd: click.Command, name: Optional[str] = None) -> None:
        self.add_versioned(cmd, name)

    def command(self, *args: Any, **kwargs: Any) -> Callable[[Callable[..., Any]], click.Command]:
        kwargs.setdefault("context_settings", CONTEXT_SETTINGS)
        return super().command(*args, **kwargs)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(self.by_version[selected_api_version(ctx)])

    def get_command(self, ctx: click.Context, cmd_name: str) -> Optional[click.Command]:
        return self.by_version[selected_api_version(ctx)].get(cmd_name)



def _help_without_subcommand() -> None:
    ctx = click.get_current_context()
    if ctx.invoked_subcommand is None:
        click.echo(ctx.get_help())


def group(name: str, help_text: str, api_versions: tuple[int, ...] = (0, 1)) -> VersionedGroup:
    """A command group that prints its help when called without a subcommand."""
    new = VersionedGroup(name, callback=_help_without_subcommand, help=help_text, invoke_without_command=True)
    new.api_versions = frozenset(api_versions)  # type: ignore[attr-defined]
    return new


def json_option(command: Callable[..., Any]) -> Callable[..., Any]:
    """Add ``--json``: print one JSON document on stdout instead of the table or text."""
    return click.option("--json", "as_json", is_flag=True,
                        help="Print one JSON document on stdout (schema in the CLI reference).")(command)


def yes_option(command: Callable[..., Any]) -> Callable[..., Any]:
    """Add ``-y`` / ``--yes`` (internal name ``assume_yes``) to skip the confirmation prompt."""
    return click.option("-y", "--yes", "assume_yes", is_flag=True, help="Do not ask for confirmation.")(command)


def confirm(what: str, assume_yes: bool, source: Optional[str] = None) -> bool:
    """Ask ``<what> will be deleted[ from <source>]. Proceed? [y/N]`` unless ``assume_yes``.

    False means declined. End of input at the prompt aborts (``Aborted!``, exit status 1).
    """
    if assume_yes:
        return True
    where = f" from {source}" if source is not None else ""
    return click.confirm(f"{what} will be deleted{where}. Proceed?", default=False)
