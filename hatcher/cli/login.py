"""``hatcher login`` and ``hatcher logout``: an API token for a profile, kept in the keyring or the file.

``login`` exchanges a password for a new API token on the server and stores it: in the
system keyring when one is available (``hatcher[keyring]``), else in the configuration file
(mode 0600). ``logout`` revokes that token on the server and removes it locally.
"""

from __future__ import annotations

import datetime
import re
import socket
from typing import Any, Optional

import attr
import click

from hatcher.cli import keyring_store
from hatcher.cli.context import CONTEXT_SETTINGS, GlobalOptions, pass_options
from hatcher.cli.errors import CommandFailed, expected_failure
from hatcher.cli.profiles import DEFAULT_PROFILE, Config, Profile, load_config, save_config

#: ``--store`` values: the keyring when available (auto), the keyring or fail, the file.
STORES = ("auto", "keyring", "file")


def default_token_name(now: Optional[datetime.datetime] = None) -> str:
    """``hatcher-login-<host>-<UTC time>`` (at most 64 characters, no ``/``)."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    host = re.sub(r"[^A-Za-z0-9.-]+", "-", socket.gethostname()).strip("-") or "host"
    stamp = now.strftime("%Y%m%dT%H%M%SZ")
    return f"hatcher-login-{host[:64 - 31]}-{stamp}"


def _same_server(first: str, second: str) -> bool:
    from hatcher.core.url_templates import split_base_url

    return split_base_url(first.rstrip("/")) == split_base_url(second.rstrip("/"))


def _display(url: str) -> str:
    from hatcher.core.url_templates import display_url

    return display_url(url)


def _client(url: str, credentials: Any, verify: Any, api_version: int) -> Any:
    import urllib3

    from hatcher.api import BroodClient, BroodClientAuth

    if verify is False:
        urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
    auth = BroodClientAuth(url, credentials, verify_ssl=verify)
    return BroodClient.from_url(url, auth=auth, verify_ssl=verify, api_version=api_version)


def _stored_secret(profile: Profile) -> Optional[str]:
    """The token a profile holds (file or keyring), or None."""
    if profile.token:
        return profile.token
    if profile.keyring and profile.url:
        return keyring_store.get_token(keyring_store.entry_key(profile.name, profile.url))
    return None


def _where(profile: Profile, config: Config) -> str:
    return "the system keyring" if profile.keyring else str(config.path)


def _root_param(name: str) -> Any:
    root = click.get_current_context().find_root()
    if root.get_parameter_source(name) in (None, click.core.ParameterSource.DEFAULT):
        return None
    return root.params.get(name)


@click.command("login", context_settings=CONTEXT_SETTINGS)
@click.option("--profile", "profile_name", metavar="NAME",
              help="Profile to log in with (created when new; default: the global --profile, "
                   "else the default profile, else 'default').")
@click.option("-u", "--url", help="Server URL (default: the global --url, else the profile's).")
@click.option("-U", "--username", help="User name (default: the global --username, else the profile's; "
                                       "else prompted).")
@click.option("--token-name", metavar="NAME", help="Name of the API token created on the server "
                                                   "(default: hatcher-login-HOST-TIME).")
@click.option("--store", type=click.Choice(STORES), default="auto", show_default=True,
              help="Where the token goes: the system keyring when available (auto), the keyring, "
                   "or the configuration file (mode 0600).")
@pass_options
def login(options: GlobalOptions, profile_name: Optional[str], url: Optional[str], username: Optional[str],
          token_name: Optional[str], store: str) -> None:
    """Create an API token with your password and store it in a profile.

    The password comes from the global ``--password`` / ``HATCHER_PASSWORD`` or a hidden
    prompt; it is never stored. The profile keeps the URL, the user name and the token's
    name; the token goes to the system keyring, or to the configuration file. Prints one
    line saying where (never the token). Logging in again replaces the profile's token and
    revokes the previous one.
    """
    config = load_config()
    explicit_name = profile_name or _root_param("profile")
    name = explicit_name or config.default_name() or DEFAULT_PROFILE
    existing = config.profiles.get(name)
    url = url or _root_param("url") or (existing.url if existing else None)
    if not url:
        ctx = click.get_current_context()
        raise click.MissingParameter(ctx=ctx, param_hint="'-u' / '--url'", param_type="option")
    if existing and existing.url and not explicit_name and not _same_server(existing.url, url):
        raise CommandFailed(f"Profile '{name}' is for {_display(existing.url)}: name a profile with "
                            f"--profile to log in to {_display(url)}")
    username = username or _root_param("username") or (existing.username if existing else None)
    if not username:
        username = click.prompt("Username")
    password = options.password if options.password is not None else click.prompt("Password", hide_input=True)
    if options.insecure:
        verify: Any = False
    else:
        verify = existing.verify if existing and existing.verify is not None else True
    explicit_version = _root_param("api_version")
    if explicit_version is not None:
        api_version: Optional[int] = int(explicit_version)
    else:
        api_version = existing.api_version if existing else None
    token_name = token_name or default_token_name()
    use_keyring = store == "keyring" or (store == "auto" and keyring_store.available())

    try:
        previous = _stored_secret(existing) if existing else None
    except CommandFailed:
        previous = None
    client = _client(url, (username, password), verify, 1 if api_version is None else api_version)
    secret = client.create_api_token(token_name)["token"]
    profile = Profile(name=name, url=url, username=username, token=None if use_keyring else secret,
                      token_name=token_name, keyring=use_keyring, api_version=api_version,
                      verify=False if options.insecure else (existing.verify if existing else None))
    try:
        if use_keyring:
            keyring_store.set_token(keyring_store.entry_key(name, url), secret)
        config.profiles[name] = profile
        save_config(config)
    except BaseException:
        try:
            client.delete_api_token(token_name)
        except Exception:
            pass
        raise
    if existing is not None:
        _forget_previous(existing, profile, previous, verify)
    where = (f"the system keyring ({keyring_store.describe()})" if use_keyring
             else f"{config.path} (mode 0600)")
    click.echo(f"Logged in to {_display(url)} as {username}: API token '{token_name}' stored in {where} "
               f"for profile '{name}'.")


def _forget_previous(existing: Profile, profile: Profile, previous: Optional[str], verify: Any) -> None:
    """Revoke the token a profile held before logging in again, and drop an orphaned keyring entry."""
    if existing.keyring and existing.url and (not profile.keyring or existing.url != profile.url):
        try:
            keyring_store.delete_token(keyring_store.entry_key(existing.name, existing.url))
        except CommandFailed:
            pass
    if previous is None or not existing.token_name or not existing.url or existing.token_name == profile.token_name:
        return
    try:
        _client(existing.url, previous, verify, existing.api_version or 1).delete_api_token(existing.token_name)
    except Exception as exc:
        reason = expected_failure(exc) or type(exc).__name__
        click.secho(f"Warning: could not revoke the previous token '{existing.token_name}' on "
                    f"{_display(existing.url)}: {reason}", err=True, fg="yellow")


@click.command("logout", context_settings=CONTEXT_SETTINGS)
@click.option("--profile", "profile_name", metavar="NAME",
              help="Profile to log out of (default: the global --profile, else the default profile).")
@pass_options
def logout(options: GlobalOptions, profile_name: Optional[str]) -> None:
    """Revoke the profile's API token on the server and remove it from the keyring or the file.

    When the server cannot be reached, the token is still removed locally, and the command
    says so and exits with status 1. The profile keeps its URL and user name.
    """
    from hatcher.errors import BroodHTTPError

    config = load_config()
    name = profile_name or _root_param("profile") or config.default_name()
    if name is None:
        raise CommandFailed(f"No profile to log out of: {config.path} names no default profile (use --profile NAME)")
    profile = config.select(name)
    secret = _stored_secret(profile)
    if not secret:
        raise CommandFailed(f"Profile '{name}' holds no token: not logged in")
    where = _where(profile, config)
    verify = False if options.insecure else (True if profile.verify is None else profile.verify)
    problem: Optional[str] = None
    if not profile.token_name or not profile.url:
        problem = "its name is unknown (see 'hatcher api-tokens list')"
        outcome = ""
    else:
        outcome = f"API token '{profile.token_name}' revoked on {_display(profile.url)} and "
        try:
            _client(profile.url, secret, verify, profile.api_version or 1).delete_api_token(profile.token_name)
        except BroodHTTPError as exc:
            if exc.status_code != 401:
                problem = expected_failure(exc)
            outcome = f"API token '{profile.token_name}' was no longer accepted by {_display(profile.url)}; "
        except Exception as exc:
            problem = expected_failure(exc)
            if problem is None:
                problem = type(exc).__name__
    if profile.keyring and profile.url:
        keyring_store.delete_token(keyring_store.entry_key(name, profile.url))
    config.profiles[name] = attr.evolve(profile, token=None, token_name=None, keyring=False)
    save_config(config)
    if problem is not None:
        raise CommandFailed(f"Removed the token of profile '{name}' from {where}, but could not revoke it "
                            f"on the server: {problem}")
    click.echo(f"Logged out of profile '{name}': {outcome}removed from {where}.")


def register(root: click.Group) -> None:
    """Add ``login`` and ``logout`` (API versions 0 and 1) to the root group."""
    root.add_command(login)
    root.add_command(logout)
