"""``hatcher server run`` / ``serve`` / ``set-password`` and the root group's options, in real processes."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

import pytest
import requests
from click.testing import CliRunner

from hatcher import __version__
from hatcher.cli import server as server_cli
from hatcher.cli.main import hatcher

pytest.importorskip("fastapi")

from hatcher.server.accounts import ensure_superuser  # noqa: E402
from hatcher.server.db import User, make_engine, make_sessionmaker  # noqa: E402
from hatcher.server.schema import prepare_schema  # noqa: E402
from hatcher.server.security import verify_password  # noqa: E402
from hatcher.server.settings import ServerSettings  # noqa: E402

ADMIN_EMAIL = "root@example.com"
ADMIN_PASSWORD = "Tr0ub4dor-3-sekret"
SERVING = re.compile(r"Brood serving .* on (http://127\.0\.0\.1:\d+)")


def invoke(*args: str, **kwargs):
    """Run the root group in-process as the console script would."""
    return CliRunner().invoke(hatcher, list(args), prog_name="hatcher", auto_envvar_prefix="HATCHER", **kwargs)


class ServerProcess:
    """``python -m hatcher <args>`` with stdout and stderr in files, and its base URL once it serves.

    Constructing it only spawns the process, so that whoever keeps it can kill it even when the start
    then fails; :meth:`wait_for_url` waits for the announced URL.
    """

    def __init__(self, tmp_path, *args: str, module: str = "hatcher") -> None:
        self.out_path, self.err_path = tmp_path / "stdout.txt", tmp_path / "stderr.txt"
        with open(self.out_path, "wb") as out, open(self.err_path, "wb") as err:
            self.process = subprocess.Popen([sys.executable, "-m", module, *args], stdout=out, stderr=err)
        self.url = ""
        self.responses = 0

    def wait_for_url(self, timeout: float = 30.0) -> ServerProcess:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            match = SERVING.search(self.err_path.read_text())
            if match:
                self.url = match.group(1)
                return self
            if self.process.poll() is not None:
                raise AssertionError(f"server exited early: {self.output()}")
            time.sleep(0.05)
        raise AssertionError(f"server did not announce its URL: {self.output()}")

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if self.get("/health").status_code == 200:
                    return
            except requests.ConnectionError:
                time.sleep(0.05)
        raise AssertionError("GET /health never answered 200")

    def get(self, path: str, **kwargs) -> requests.Response:
        response = requests.get(self.url + path, timeout=10, **kwargs)
        self.responses += 1
        return response

    def output(self) -> str:
        return self.out_path.read_text() + self.err_path.read_text()

    def stop(self, signum: int = signal.SIGTERM, timeout: float = 10.0) -> int:
        self.process.send_signal(signum)
        return self.process.wait(timeout=timeout)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()


@pytest.fixture
def serve(tmp_path):
    """``serve(*args, module="hatcher")``: a started :class:`ServerProcess`, killed after the test in any case.

    Each process is kept for clean-up as soon as it is spawned, before its start is waited for, so a
    server that does not start in time is killed too. Each gets a directory of its own for its output.
    """
    started = []

    def start(*args: str, module: str = "hatcher") -> ServerProcess:
        directory = tmp_path / f"server-{len(started)}"
        directory.mkdir()
        server = ServerProcess(directory, *args, module=module)
        started.append(server)
        return server.wait_for_url()

    yield start
    for server in started:
        server.kill()


def _access_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if " HTTP/1.1\" " in line]


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_run_serves_logs_each_request_and_stops_cleanly(serve, tmp_path, signum):
    # Given a server started with an admin on a free port
    server = serve("server", "run", "--data-dir", str(tmp_path / "data"), "--port", "0",
                   "--admin", f"{ADMIN_EMAIL}:{ADMIN_PASSWORD}")
    # When it is ready and receives requests with and without credentials
    server.wait_ready()
    organizations = server.get("/api/v1/json/admin/organizations", auth=(ADMIN_EMAIL, ADMIN_PASSWORD))
    anonymous = server.get("/api/v1/json/admin/organizations")
    wrong = server.get("/api/v1/json/admin/organizations", auth=(ADMIN_EMAIL, "wrong"))
    started = time.monotonic()
    status = server.stop(signum)
    # Then the admin is let in and the others are not (a missing route is a failure too)
    assert organizations.status_code == 200, organizations.text
    assert anonymous.status_code == 401, anonymous.text
    assert wrong.status_code == 401, wrong.text
    # And it stopped promptly with status 0
    assert status == 0
    assert time.monotonic() - started < 8
    # And it logged one line per request, without any secret
    output = server.output()
    assert len(_access_lines(output)) == server.responses
    for secret in (ADMIN_PASSWORD, "wrong", "Authorization", "Basic "):
        assert secret not in output
    assert "Traceback" not in output


def test_serve_alias_and_module_entry_points(serve, tmp_path):
    # Given `hatcher serve` and `python -m hatcher.server run`
    alias = serve("serve", "--data-dir", str(tmp_path / "one"), "--port", "0")
    # When they start
    alias.wait_ready()
    # Then they serve and stop like `hatcher server run`
    assert alias.stop() == 0
    module = serve("run", "--data-dir", str(tmp_path / "two"), "--port", "0", module="hatcher.server")
    module.wait_ready()
    assert module.stop() == 0


def test_admin_given_through_the_environment(serve, tmp_path, monkeypatch):
    # Given the admin in HATCHER_SERVE_ADMIN rather than on the command line
    monkeypatch.setenv("HATCHER_SERVE_ADMIN", f"{ADMIN_EMAIL}:{ADMIN_PASSWORD}")
    data_dir = tmp_path / "data"
    server = serve("serve", "--data-dir", str(data_dir), "--port", "0")
    server.wait_ready()
    assert server.stop() == 0
    # Then the superuser exists
    assert _stored_password_matches(data_dir, ADMIN_EMAIL, ADMIN_PASSWORD)


def _make_user(data_dir, email: str, password: str) -> None:
    settings = ServerSettings(str(data_dir))
    settings.ensure_directories()
    engine = make_engine(settings.sqlalchemy_url)
    prepare_schema(engine)
    with make_sessionmaker(engine)() as db:
        ensure_superuser(db, email, password)
    engine.dispose()


def _stored_password_matches(data_dir, email: str, password: str) -> bool:
    engine = make_engine(ServerSettings(str(data_dir)).sqlalchemy_url)
    try:
        with make_sessionmaker(engine)() as db:
            user = db.query(User).filter_by(email=email).one()
            return verify_password(password, user.password_hash)
    finally:
        engine.dispose()


def test_set_password_reads_a_piped_password(tmp_path):
    # Given a data directory with a user
    data_dir = tmp_path / "data"
    _make_user(data_dir, ADMIN_EMAIL, "old-password")
    # When a new password is piped in
    result = subprocess.run([sys.executable, "-m", "hatcher", "server", "set-password", "--data-dir", str(data_dir),
                             ADMIN_EMAIL], input="piped-password\n", capture_output=True, text=True, timeout=60)
    # Then it is stored, and not echoed
    assert result.returncode == 0, result.stderr
    assert _stored_password_matches(data_dir, ADMIN_EMAIL, "piped-password")
    assert "piped-password" not in result.stdout + result.stderr


def test_set_password_with_cli_runner_input(tmp_path):
    data_dir = tmp_path / "data"
    _make_user(data_dir, ADMIN_EMAIL, "old-password")
    result = invoke("server", "set-password", "--data-dir", str(data_dir), ADMIN_EMAIL, input="runner-password\n")
    assert result.exit_code == 0, result.output
    assert _stored_password_matches(data_dir, ADMIN_EMAIL, "runner-password")


def test_set_password_prompts_twice_on_a_terminal(tmp_path, monkeypatch):
    # Given a terminal
    data_dir = tmp_path / "data"
    _make_user(data_dir, ADMIN_EMAIL, "old-password")
    monkeypatch.setattr(server_cli, "stdin_is_tty", lambda: True)
    # When the password is typed twice
    result = invoke("server", "set-password", "--data-dir", str(data_dir), ADMIN_EMAIL,
                    input="typed-password\ntyped-password\n")
    # Then it is stored, and the typing is hidden
    assert result.exit_code == 0, result.output
    assert "New password for" in result.output
    assert "typed-password" not in result.output
    assert _stored_password_matches(data_dir, ADMIN_EMAIL, "typed-password")


@pytest.mark.parametrize("make_user, email, stdin, message", [
    (True, "nobody@example.com", "pw\n", "No user 'nobody@example.com'"),
    (True, ADMIN_EMAIL, "\n", "must not be empty"),
    (False, ADMIN_EMAIL, "pw\n", "No such data directory"),
], ids=["unknown user", "empty password", "no data dir"])
def test_set_password_failures_are_one_line_and_exit_1(tmp_path, make_user, email, stdin, message):
    data_dir = tmp_path / "data"
    if make_user:
        _make_user(data_dir, ADMIN_EMAIL, "old-password")
    result = invoke("server", "set-password", "--data-dir", str(data_dir), email, input=stdin)
    assert result.exit_code == 1
    assert message in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_version_and_help():
    assert invoke("--version").output == f"hatcher, version {__version__}\n"
    for args in (["-h"], ["--help"], [], ["server"], ["server", "run", "-h"], ["serve", "--help"]):
        result = invoke(*args)
        assert result.exit_code == 0, args
        assert "Usage: hatcher" in result.output
    assert "server" in invoke("--help").output and "serve" in invoke("--help").output


def test_console_script_version():
    result = subprocess.run([sys.executable, "-m", "hatcher", "--version"], capture_output=True, text=True)
    assert (result.returncode, result.stdout) == (0, f"hatcher, version {__version__}\n")


@pytest.mark.parametrize("args", [
    ["server", "run"],
    ["serve", "--port", "1"],
    ["server", "set-password", "x@example.com"],
    ["serve", "--data-dir", "d", "--admin", "no-colon"],
    ["serve", "--data-dir", "d", "--admin", ":pw"],
    ["serve", "--data-dir", "d", "--port", "70000"],
    ["-p", "secret", "server"],
    ["--api-version", "2", "server"],
], ids=["run without data dir", "serve without data dir", "set-password without data dir", "admin without colon",
        "admin without email", "port out of range", "password without username", "bad api version"])
def test_usage_errors_exit_2(args):
    result = invoke(*args)
    assert result.exit_code == 2
    assert "Usage: hatcher" in result.output


def test_port_in_use_is_one_line_and_exit_1(tmp_path):
    # Given a port someone else listens on
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        # When the server is asked to listen there
        result = subprocess.run([sys.executable, "-m", "hatcher", "serve", "--data-dir", str(tmp_path / "d"),
                                 "--port", str(port)], capture_output=True, text=True, timeout=60)
    # Then one line says so
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [f"Port {port} on 127.0.0.1 is already in use"]


def test_unusable_data_dir_is_one_line_and_exit_1(tmp_path):
    # Given a data dir path that is a file
    path = tmp_path / "file"
    path.write_text("not a directory")
    result = invoke("serve", "--data-dir", str(path / "sub"), "--port", "0")
    assert result.exit_code == 1
    assert result.output.startswith("Cannot use data directory")
    assert len(result.output.strip().splitlines()) == 1


def _unprivileged() -> list[str]:
    """A command prefix under which permission bits bind: none for a user, ``setpriv`` dropping root's override.

    Root writes into any directory through ``CAP_DAC_OVERRIDE``. ``setpriv`` runs the command still
    as root (so it can reach an interpreter under a private home), but without that capability and
    ``CAP_DAC_READ_SEARCH``, neither inheritable nor in the bounding set: mode bits apply to it.
    """
    if os.name != "posix":
        pytest.skip("permission bits of a read-only directory are POSIX")
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv (util-linux) to drop CAP_DAC_OVERRIDE")
    dropped = "-dac_override,-dac_read_search"
    return [setpriv, f"--inh-caps={dropped}", f"--bounding-set={dropped}", "--"]


def test_read_only_data_dir_is_one_line_and_exit_1(tmp_path):
    # Given a data directory the server's user can read but not write (root: without its override)
    prefix = _unprivileged()
    read_only = tmp_path / "ro"
    read_only.mkdir()
    read_only.chmod(0o500)
    try:
        probe = subprocess.run([*prefix, sys.executable, "-c", "import sys; open(sys.argv[1], 'x')",
                                str(read_only / "probe")], capture_output=True, text=True, timeout=60)
        assert probe.returncode != 0 and "PermissionError" in probe.stderr, f"the directory is writable: {probe}"
        # When the server is asked to use it
        result = subprocess.run([*prefix, sys.executable, "-m", "hatcher", "serve", "--data-dir", str(read_only),
                                 "--port", "0"], capture_output=True, text=True, timeout=60)
    finally:
        read_only.chmod(0o700)
    # Then it exits with status 1 and one line that says why
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"Cannot use data directory {read_only}"), result.stderr
    assert result.stdout == ""


def test_missing_server_extra_is_one_line_and_exit_1(tmp_path):
    # Given an environment where FastAPI cannot be imported
    code = ("import sys; sys.modules['fastapi'] = None; sys.modules['uvicorn'] = None; "
            "from hatcher.cli.main import main; main()")
    for args in (["serve", "--data-dir", str(tmp_path / "d"), "--port", "0"],
                 ["server", "set-password", "--data-dir", str(tmp_path), "x@example.com"]):
        result = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                                input="pw\n", timeout=60)
        assert result.returncode == 1, result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and "pip install 'hatcher[server]'" in lines[0], result.stderr


def test_unreachable_database_is_one_line_without_password(tmp_path):
    # Given a database URL with a password, whose driver is missing or whose server is unreachable
    url = "postgresql://brood:db-sekret@127.0.0.1:1/brood"
    result = invoke("serve", "--data-dir", str(tmp_path / "d"), "--port", "0", "--database-url", url)
    assert result.exit_code == 1
    assert result.output.startswith("Cannot open the database postgresql://brood:***@127.0.0.1:1/brood")
    assert "db-sekret" not in result.output
    assert len(result.output.strip().splitlines()) == 1
