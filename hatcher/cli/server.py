"""``hatcher server run`` (alias ``hatcher serve``) and ``hatcher server set-password``: the embedded Brood.

FastAPI, uvicorn and SQLAlchemy are imported inside the commands, so the rest of the
command line neither needs nor loads them.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import sys
from typing import Any, Iterator, Optional

import click

from hatcher.cli.errors import CommandFailed, one_line

#: Top-level modules of the ``server`` extra; a missing one means the extra is not installed.
SERVER_MODULES = frozenset({"fastapi", "starlette", "uvicorn", "sqlalchemy", "pydantic", "multipart",
                            "python_multipart", "yaml"})
LOG_LEVELS = ("critical", "error", "warning", "info", "debug")
INSTALL_HINT = "pip install 'hatcher[server]'"


def import_server(module: str) -> Any:
    """Import ``hatcher.server.<module>``, or fail with one line when the server extra is missing."""
    import importlib

    try:
        return importlib.import_module(f"hatcher.server.{module}")
    except ModuleNotFoundError as exc:
        top = (exc.name or "").split(".")[0]
        if top not in SERVER_MODULES:
            raise
        raise CommandFailed(f"The Brood server needs its extra dependencies ({top} is missing): "
                            f"{INSTALL_HINT}") from None


def _admin_pair(ctx: click.Context, param: click.Parameter, value: Optional[str]) -> Optional[tuple[str, str]]:
    if value is None:
        return None
    email, sep, password = value.partition(":")
    if not sep or not email or not password:
        raise click.BadParameter("expected EMAIL:PASSWORD, both non-empty", ctx=ctx, param=param)
    return email, password


def _settings(data_dir: str, database_url: Optional[str], create: bool, **options: Any) -> Any:
    """The server settings, after checking that the data directory can be used."""
    settings_module = import_server("settings")
    settings = settings_module.ServerSettings(data_dir, database_url=database_url, **options)
    if create:
        try:
            settings.ensure_directories()
        except OSError as exc:
            raise CommandFailed(f"Cannot use data directory {settings.data_dir}: "
                                f"{exc.strerror or one_line(exc)}") from None
    elif not os.path.isdir(settings.data_dir):
        raise CommandFailed(f"No such data directory: {settings.data_dir}")
    if not os.access(settings.data_dir, os.W_OK | os.X_OK):
        raise CommandFailed(f"Cannot use data directory {settings.data_dir}: not writable")
    return settings


def _safe_database_url(settings: Any) -> str:
    """The database URL with any password hidden."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(settings.sqlalchemy_url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - a malformed URL is reported by the caller
        return "<malformed database URL>"


@contextlib.contextmanager
def _database_errors(settings: Any) -> Iterator[None]:
    """Turn a database that cannot be opened (bad URL, missing driver, refused connection) into one line."""
    from sqlalchemy.exc import SQLAlchemyError

    try:
        yield
    except (SQLAlchemyError, ImportError) as exc:
        detail = one_line(getattr(exc, "orig", None) or exc).split(" [SQL:")[0]
        raise CommandFailed(f"Cannot open the database {_safe_database_url(settings)}: {detail}") from None


def _bind_message(host: str, port: int, exc: OSError) -> str:
    if exc.errno == errno.EADDRINUSE:
        return f"Port {port} on {host} is already in use"
    return f"Cannot listen on {host}:{port}: {exc.strerror or one_line(exc)}"


def _configure_logging(log_level: str) -> None:
    """Send the server's own messages to stderr, formatted like uvicorn's."""
    from uvicorn.logging import DefaultFormatter

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(DefaultFormatter("%(levelprefix)s %(message)s"))
    server_logger = logging.getLogger("hatcher.server")
    server_logger.addHandler(handler)
    server_logger.setLevel(log_level.upper())
    server_logger.propagate = False


@click.command("run", context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--data-dir", required=True, type=click.Path(file_okay=False),
              help="Directory of the database (SQLite by default) and the artefact files; created if missing.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535),
              help="Port to listen on (0: any free port, printed at start).")
@click.option("--admin", callback=_admin_pair, metavar="EMAIL:PASSWORD",
              help="Create this superuser, or make the user a superuser with this password.")
@click.option("--database-url", metavar="URL",
              help="SQLAlchemy URL of the database (e.g. postgresql+psycopg://...) instead of SQLite.")
@click.option("--session-token-lifetime", type=click.IntRange(60), default=3600, show_default=True,
              metavar="SECONDS", help="How long a session token from the token exchange stays valid.")
@click.option("--log-level", type=click.Choice(LOG_LEVELS), default="info", show_default=True,
              help="Logging level; 'info' logs one line per request.")
@click.pass_context
def run_command(ctx: click.Context, data_dir: str, host: str, port: int, admin: Optional[tuple[str, str]],
                database_url: Optional[str], session_token_lifetime: int, log_level: str) -> None:
    """Run a Brood server in the foreground until SIGINT (Ctrl-C) or SIGTERM.

    It is ready when GET /health answers 200. Give the admin password through the
    HATCHER_SERVER_RUN_ADMIN (or HATCHER_SERVE_ADMIN) environment variable to keep it out
    of the process list.
    """
    settings = _settings(data_dir, database_url, create=True, session_token_lifetime=session_token_lifetime)
    runner = import_server("runner")
    _configure_logging(log_level)
    try:
        with _database_errors(settings):
            runner.run_server(settings, host=host, port=port, admin=admin, log_level=log_level)
    except OSError as exc:
        if exc.errno in (errno.EADDRINUSE, errno.EADDRNOTAVAIL, errno.EACCES):
            raise CommandFailed(_bind_message(host, port, exc)) from None
        raise


def stdin_is_tty() -> bool:
    """True when standard input is a terminal (then passwords are prompted for)."""
    return sys.stdin is not None and sys.stdin.isatty()


def _read_password(email: str) -> str:
    if stdin_is_tty():
        return click.prompt(f"New password for {email}", hide_input=True, confirmation_prompt=True)
    return sys.stdin.readline().rstrip("\r\n") if sys.stdin is not None else ""


@click.command("set-password", context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--data-dir", required=True, type=click.Path(file_okay=False),
              help="The server's data directory.")
@click.option("--database-url", metavar="URL", help="The server's database URL, if not SQLite in the data directory.")
@click.argument("email")
def set_password_command(data_dir: str, database_url: Optional[str], email: str) -> None:
    """Set the password of the user EMAIL.

    The password is read from the first line of standard input when it is not a terminal
    (``echo "$PW" | hatcher server set-password ...``); otherwise it is prompted for twice.
    """
    accounts = import_server("accounts")
    db_module = import_server("db")
    settings = _settings(data_dir, database_url, create=False)
    if database_url is None and not os.path.exists(settings.sqlalchemy_url[len("sqlite:///"):]):
        raise CommandFailed(f"No Brood database in {settings.data_dir} (start the server there once first)")
    password = _read_password(email)
    if not password:
        raise CommandFailed("The password must not be empty")
    with _database_errors(settings):
        engine = db_module.make_engine(settings.sqlalchemy_url)
        try:
            with db_module.make_sessionmaker(engine)() as db:
                found = accounts.set_password(db, email, password)
        finally:
            engine.dispose()
    if not found:
        raise CommandFailed(f"No user {email!r} on this server")
    click.echo(f"Password of {email} set.")


@click.group("server", context_settings={"help_option_names": ["-h", "--help"]}, invoke_without_command=True)
@click.pass_context
def server_group(ctx: click.Context) -> None:
    """Run an embedded Brood server and manage its accounts (needs hatcher[server])."""
    if ctx.invoked_subcommand is None:
        click.echo(ctx.get_help())


server_group.add_command(run_command)
server_group.add_command(set_password_command)


def register(root: click.Group) -> None:
    """Add the ``server`` group and the ``serve`` alias of ``server run`` to the root group."""
    root.add_command(server_group)
    root.add_command(run_command, name="serve")
