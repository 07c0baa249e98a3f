"""``hatcher server run`` (alias ``hatcher serve``), ``set-password``, ``gc`` and ``db upgrade``: the embedded Brood.

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
S3_INSTALL_HINT = "pip install 'hatcher[s3]'"


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


def _reserve(ctx: click.Context, param: click.Parameter, value: Optional[str]) -> Any:
    """``--min-free-space``: checked at once (a usage error names a bad value)."""
    if value is None:
        return None
    try:
        return import_server("space").parse_reserve(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), ctx=ctx, param=param) from None


def _settings(data_dir: Optional[str], database_url: Optional[str], create: bool, store: bool = False,
              **options: Any) -> Any:
    """The server settings, after checking that the data directory (when one is needed) can be used.

    ``store``: the command uses the blob store too (so it needs a data directory unless one is given).
    """
    settings_module = import_server("settings")
    try:
        settings = settings_module.ServerSettings(data_dir, database_url=database_url, **options)
        settings.sqlalchemy_url  # noqa: B018 - both need a data directory unless given
        if store:
            settings.blob_store_url  # noqa: B018
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    if settings.data_dir is None:
        return settings
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
    """Turn a database or blob store that cannot be used into one line.

    That is a bad URL, a missing driver, a refused connection, an out-of-date schema, or
    an S3 store that is unreachable or refuses the credentials.
    """
    from sqlalchemy.exc import SQLAlchemyError

    from hatcher.server.blobstore import BlobStoreError
    from hatcher.server.schema import SchemaError

    try:
        yield
    except (SchemaError, BlobStoreError) as exc:
        raise CommandFailed(str(exc)) from None
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] == "obstore":
            raise CommandFailed(f"The S3 blob store needs obstore: {S3_INSTALL_HINT}") from None
        raise CommandFailed(f"Cannot open the database {_safe_database_url(settings)}: {one_line(exc)}") from None
    except (SQLAlchemyError, ImportError) as exc:
        detail = one_line(getattr(exc, "orig", None) or exc).split(" [SQL:")[0]
        raise CommandFailed(f"Cannot open the database {_safe_database_url(settings)}: {detail}") from None
    except ValueError as exc:  # a blob store URL of the wrong form
        raise click.UsageError(str(exc)) from None


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


def _data_options(function: Any) -> Any:
    """The options that say where a server's data is: data directory, database, blob store."""
    function = click.option("--s3-endpoint-url", metavar="URL",
                            help="The S3 endpoint, instead of the AWS_ENDPOINT_URL variable.")(function)
    function = click.option("--blob-store", metavar="URL",
                            help="Where artefact files live: file:///absolute/path (default DATA_DIR/blobs) or "
                                 "s3://BUCKET[/PREFIX] (credentials from the AWS_* variables).")(function)
    function = click.option("--database-url", metavar="URL",
                            help="SQLAlchemy URL of the database (e.g. postgresql+psycopg://...) instead of "
                                 "SQLite in the data directory.")(function)
    return click.option("--data-dir", type=click.Path(file_okay=False),
                        help="Directory of the SQLite database and the artefact files; created if missing. "
                             "Needed unless --database-url and --blob-store are both given.")(function)


@click.command("run", context_settings={"help_option_names": ["-h", "--help"]})
@_data_options
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535),
              help="Port to listen on (0: any free port, printed at start).")
@click.option("--admin", callback=_admin_pair, metavar="EMAIL:PASSWORD",
              help="Create this superuser, or make the user a superuser with this password.")
@click.option("--s3-presigned-downloads", type=click.IntRange(1, 7 * 24 * 3600), metavar="SECONDS",
              help="Answer downloads from an S3 store with a redirect to a URL signed for this long.")
@click.option("--gc-grace", type=click.IntRange(0), metavar="SECONDS",
              help="How long a blob stays after its last artefact went [default: 0 for files, 3600 for S3]; "
                   "it must exceed --s3-presigned-downloads.")
@click.option("--gc-interval", type=click.IntRange(0), default=600, show_default=True, metavar="SECONDS",
              help="Seconds between garbage-collection passes (0: never).")
@click.option("--upgrade-db", is_flag=True, help="Upgrade an out-of-date database schema at start.")
@click.option("--session-token-lifetime", type=click.IntRange(60), default=3600, show_default=True,
              metavar="SECONDS", help="How long a session token from the token exchange stays valid.")
@click.option("--trusted-proxy", "trusted_proxies", multiple=True, metavar="ADDRESS",
              help="A proxy (address or network) whose X-Forwarded-For names the client; repeat for more.")
@click.option("--login-failure-limit", type=click.IntRange(1), default=10, show_default=True, metavar="N",
              help="Wrong passwords of one account from one address after which its logins from there get 429.")
@click.option("--login-window", type=click.IntRange(1), default=900, show_default=True, metavar="SECONDS",
              help="Seconds over which wrong passwords are counted, and a lockout lasts.")
@click.option("--min-free-space", callback=_reserve, metavar="SIZE",
              help="Free space to keep on the disk of the blob files: larger uploads are refused (507) before "
                   "their body is read. Bytes, or with a unit (512M, 1G), or a percentage of the disk (5%) "
                   "[default: 256M or 5%, whichever is smaller].")
@click.option("--log-level", type=click.Choice(LOG_LEVELS), default="info", show_default=True,
              help="Logging level; 'info' logs one line per request.")
@click.option("--certfile", type=click.Path(dir_okay=False), metavar="PATH",
              help="Serve HTTPS with this PEM certificate (followed by any intermediate certificates); "
                   "needs --keyfile.")
@click.option("--keyfile", type=click.Path(dir_okay=False), metavar="PATH",
              help="The PEM private key of --certfile (not encrypted).")
@click.pass_context
def run_command(ctx: click.Context, data_dir: Optional[str], database_url: Optional[str], blob_store: Optional[str],
                s3_endpoint_url: Optional[str], host: str, port: int, admin: Optional[tuple[str, str]],
                s3_presigned_downloads: Optional[int], gc_grace: Optional[int], gc_interval: int, upgrade_db: bool,
                session_token_lifetime: int, trusted_proxies: tuple[str, ...], login_failure_limit: int,
                login_window: int, min_free_space: Any, log_level: str,
                certfile: Optional[str], keyfile: Optional[str]) -> None:
    """Run a Brood server in the foreground until SIGINT (Ctrl-C) or SIGTERM.

    It is ready when GET /health answers 200. Give the admin password through the
    HATCHER_SERVER_RUN_ADMIN (or HATCHER_SERVE_ADMIN) environment variable to keep it out
    of the process list. Several servers on one PostgreSQL database and one S3 bucket
    behave as one (see the deployment guide). With --certfile and --keyfile it serves HTTPS.
    """
    if (certfile is None) != (keyfile is None):
        raise click.UsageError("--certfile and --keyfile go together: give both to serve HTTPS, or neither")
    transport = import_server("transport")
    try:
        transport.check_tls(certfile, keyfile)  # before anything is created or bound
    except transport.TLSConfigError as exc:
        raise CommandFailed(str(exc)) from None
    settings = _settings(data_dir, database_url, create=True, store=True,
                         session_token_lifetime=session_token_lifetime,
                         blob_store=blob_store, s3_endpoint_url=s3_endpoint_url,
                         s3_presigned_downloads=s3_presigned_downloads, gc_grace=gc_grace, gc_interval=gc_interval,
                         upgrade_db=upgrade_db, trusted_proxies=_networks(trusted_proxies),
                         login_failure_limit=login_failure_limit, login_window=login_window,
                         min_free_space=min_free_space)
    runner = import_server("runner")
    _configure_logging(log_level)
    try:
        with _database_errors(settings):
            runner.run_server(settings, host=host, port=port, admin=admin, log_level=log_level,
                              certfile=certfile, keyfile=keyfile)
    except transport.TLSConfigError as exc:
        raise CommandFailed(str(exc)) from None
    except OSError as exc:
        if exc.errno in (errno.EADDRINUSE, errno.EADDRNOTAVAIL, errno.EACCES):
            raise CommandFailed(_bind_message(host, port, exc)) from None
        raise


def _networks(values: tuple[str, ...]) -> tuple[str, ...]:
    """Check ``--trusted-proxy`` values (addresses or networks); a usage error names a bad one."""
    import ipaddress

    for value in values:
        try:
            ipaddress.ip_network(value, strict=False)
        except ValueError:
            raise click.BadParameter(f"{value!r} is not an IP address or network",
                                     param_hint="'--trusted-proxy'") from None
    return values


def _existing_database(data_dir: Optional[str], database_url: Optional[str], **options: Any) -> Any:
    """The settings of a server that has run before (its SQLite database must exist)."""
    if data_dir is None and database_url is None:
        raise click.UsageError("Give the server's --data-dir, or its --database-url")
    settings = _settings(data_dir, database_url, create=False, **options)
    if database_url is None and not os.path.exists(settings.sqlalchemy_url[len("sqlite:///"):]):
        raise CommandFailed(f"No Brood database in {settings.data_dir} (start the server there once first)")
    return settings


@contextlib.contextmanager
def _engine(settings: Any, check_schema: bool = True) -> Iterator[Any]:
    """An engine on the server's database, its schema checked; disposed of afterwards."""
    engine = import_server("db").make_engine(settings.sqlalchemy_url)
    try:
        if check_schema:
            import_server("schema").prepare_schema(engine)
        yield engine
    finally:
        engine.dispose()


def stdin_is_tty() -> bool:
    """True when standard input is a terminal (then passwords are prompted for)."""
    return sys.stdin is not None and sys.stdin.isatty()


def _read_password(email: str) -> str:
    if stdin_is_tty():
        return click.prompt(f"New password for {email}", hide_input=True, confirmation_prompt=True)
    return sys.stdin.readline().rstrip("\r\n") if sys.stdin is not None else ""


@click.command("set-password", context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--data-dir", type=click.Path(file_okay=False), help="The server's data directory.")
@click.option("--database-url", metavar="URL", help="The server's database URL, if not SQLite in the data directory.")
@click.argument("email")
def set_password_command(data_dir: Optional[str], database_url: Optional[str], email: str) -> None:
    """Set the password of the user EMAIL.

    The password is read from the first line of standard input when it is not a terminal
    (``echo "$PW" | hatcher server set-password ...``); otherwise it is prompted for twice.
    The user's sessions end, on every replica.
    """
    accounts = import_server("accounts")
    settings = _existing_database(data_dir, database_url)
    password = _read_password(email)
    if not password:
        raise CommandFailed("The password must not be empty")
    with _database_errors(settings), _engine(settings) as engine:
        with import_server("db").make_sessionmaker(engine)() as db:
            found = accounts.set_password(db, email, password)
    if not found:
        raise CommandFailed(f"No user {email!r} on this server")
    click.echo(f"Password of {email} set.")


@click.command("unlock", context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--data-dir", type=click.Path(file_okay=False), help="The server's data directory.")
@click.option("--database-url", metavar="URL", help="The server's database URL, if not SQLite in the data directory.")
@click.argument("email")
def unlock_command(data_dir: Optional[str], database_url: Optional[str], email: str) -> None:
    """Clear the failed logins of EMAIL, so that a locked-out account can log in again at once.

    Counters are kept per client address; every address's go, on every replica.
    """
    settings = _existing_database(data_dir, database_url)
    with _database_errors(settings), _engine(settings) as engine:
        with import_server("db").make_sessionmaker(engine)() as db:
            addresses = import_server("throttle").unlock(db, email)
    click.echo(f"Unlocked {email} (failed logins cleared for {addresses} address{'es' if addresses != 1 else ''}).")


@click.command("gc", context_settings={"help_option_names": ["-h", "--help"]})
@_data_options
@click.option("--grace", type=click.IntRange(0), metavar="SECONDS",
              help="Remove blobs unreferenced for longer than this [default: the server's: 0 for files, 3600 for S3].")
def gc_command(data_dir: Optional[str], database_url: Optional[str], blob_store: Optional[str],
               s3_endpoint_url: Optional[str], grace: Optional[int]) -> None:
    """Collect garbage now: blobs no artefact refers to, and objects no blob names.

    One pass, as a running server makes every --gc-interval seconds: it removes each blob
    unreferenced for longer than the grace period, then the objects (and temporary files)
    that nothing refers to, and prints what it removed. When another replica is collecting
    at the same time, it does nothing.

    Objects without a blob and temporary files go once they are an hour old (an upload in
    flight has them too), or older than --grace when it is given: give a short --grace
    only when no upload is running.
    """
    settings = _existing_database(data_dir, database_url, store=True, blob_store=blob_store,
                                  s3_endpoint_url=s3_endpoint_url, gc_grace=grace)
    with _database_errors(settings):
        services = import_server("services").open_services(settings, upgrade_db=False)
        try:
            report = import_server("gc").collect_garbage(services, leftover_age=grace)
        finally:
            services.close()
    if report.skipped:
        click.echo("Another replica is collecting garbage now: nothing done.")
        return
    for sha256 in report.blobs:
        click.echo(f"removed blob {sha256}")
    for key in report.orphans:
        click.echo(f"removed object without a blob: {key}")
    click.echo(f"Removed {len(report.blobs)} blob(s), {len(report.orphans)} object(s) without a blob and "
               f"{report.temporary} temporary file(s) (grace period: {settings.effective_gc_grace} s).")


@click.group("db", context_settings={"help_option_names": ["-h", "--help"]}, invoke_without_command=True)
@click.pass_context
def db_group(ctx: click.Context) -> None:
    """Manage the server's database schema."""
    if ctx.invoked_subcommand is None:
        click.echo(ctx.get_help())


@db_group.command("upgrade", context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--data-dir", type=click.Path(file_okay=False), help="The server's data directory.")
@click.option("--database-url", metavar="URL", help="The server's database URL, if not SQLite in the data directory.")
def db_upgrade_command(data_dir: Optional[str], database_url: Optional[str]) -> None:
    """Bring the database schema up to date (create it when the database is empty).

    Run it, with the servers stopped or not, before starting servers of a newer release;
    a server refuses to start on an out-of-date schema (unless given --upgrade-db).
    """
    if data_dir is None and database_url is None:
        raise click.UsageError("Give the server's --data-dir, or its --database-url")
    settings = _settings(data_dir, database_url, create=data_dir is not None)
    with _database_errors(settings), _engine(settings, check_schema=False) as engine:
        before, after = import_server("schema").upgrade_schema(engine)
    where = _safe_database_url(settings)
    if before is None:
        click.echo(f"Created the database schema at revision {after} in {where}.")
    elif before == after:
        click.echo(f"The database schema of {where} is up to date (revision {after}).")
    else:
        click.echo(f"Upgraded the database schema of {where} from revision {before} to {after}.")


@click.group("server", context_settings={"help_option_names": ["-h", "--help"]}, invoke_without_command=True)
@click.pass_context
def server_group(ctx: click.Context) -> None:
    """Run an embedded Brood server and manage its accounts (needs hatcher[server])."""
    if ctx.invoked_subcommand is None:
        click.echo(ctx.get_help())


server_group.add_command(run_command)
server_group.add_command(set_password_command)
server_group.add_command(unlock_command)
server_group.add_command(gc_command)
server_group.add_command(db_group)


def register(root: click.Group) -> None:
    """Add the ``server`` group and the ``serve`` alias of ``server run`` to the root group."""
    root.add_command(server_group)
    root.add_command(run_command, name="serve")
