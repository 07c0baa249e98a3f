"""Fixtures of the conformance suite: the reference client's venv and our server in a subprocess.

When the reference venv cannot be built (e.g. no access to PyPI), every test of the directory is
skipped with the reason on a developer's machine, and fails with it in CI (``CI`` set): see
``tests/service_guard.py``. The server is ``python -m hatcher.server run`` on a free loopback port,
with its data directory and its log under pytest's temporary directory; it is stopped with SIGTERM
at the end of the session.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
from harness import ADMIN_EMAIL, ADMIN_PASSWORD, STATS, Program, SoftFailures, basic, unique
from reference import ReferenceEnvError, ensure_reference_venv
from service_guard import require_service
from stack.brood import stack_mode
from stack.fixtures import SUITE_LOGIN_FAILURE_LIMIT, postgres, replica_set, seaweed, stack_brood  # noqa: F401

_REFERENCE_VENV: dict = {}


def _reference_venv_or_reason() -> tuple[str | None, str]:
    if not _REFERENCE_VENV:
        try:
            _REFERENCE_VENV["dir"], _REFERENCE_VENV["reason"] = ensure_reference_venv(), ""
        except ReferenceEnvError as error:
            _REFERENCE_VENV["dir"] = None
            _REFERENCE_VENV["reason"] = f"reference client hatcher==0.17.0 unavailable: {error}"
    return _REFERENCE_VENV["dir"], _REFERENCE_VENV["reason"]


def pytest_configure(config):
    config.addinivalue_line("markers", "api_version(N): the test applies to API version N only; the "
                                       "variants of its client fixture for the other version are not collected")


def _applies(item) -> bool:
    """False for a variant of a test marked ``api_version(N)`` whose client fixture uses the other version."""
    marker = item.get_closest_marker("api_version")
    params = getattr(getattr(item, "callspec", None), "params", {})
    spec = params.get("client_spec", params.get("cli"))
    return marker is None or spec is None or spec[0] == marker.args[0]


def pytest_collection_modifyitems(config, items):
    """Deselect the variants of a test for the other API version; build the reference venv (once) if needed."""
    deselected = [item for item in items if not _applies(item)]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = [item for item in items if _applies(item)]
    here = os.path.dirname(os.path.abspath(__file__))
    if any(str(item.fspath).startswith(here) for item in items):
        _reference_venv_or_reason()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    """Without the reference venv, skip each conformance test (fail it in CI), with the reason."""
    venv_dir, reason = _reference_venv_or_reason()
    if venv_dir is None:
        require_service(reason[:2000])


@pytest.fixture(scope="session")
def reference_venv() -> str:
    """Directory of the reference virtualenv (built once, cached; see ``reference.py``)."""
    venv_dir, reason = _reference_venv_or_reason()
    if venv_dir is None:
        require_service(reason[:2000])
    return venv_dir


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServerProcess:
    """Our Brood server running as ``python -m hatcher.server run`` in a subprocess."""

    def __init__(self, data_dir: str, log_path: str) -> None:
        self.data_dir = data_dir
        self.log_path = log_path
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.admin_auth = (ADMIN_EMAIL, ADMIN_PASSWORD)
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 60) -> ServerProcess:
        command = [sys.executable, "-m", "hatcher.server", "run", "--data-dir", self.data_dir,
                   "--host", "127.0.0.1", "--port", str(self.port), "--admin", f"{ADMIN_EMAIL}:{ADMIN_PASSWORD}",
                   # the suite sends the admin's e-mail with wrong passwords on purpose, more than 10 times
                   "--login-failure-limit", str(SUITE_LOGIN_FAILURE_LIMIT)]
        self._log = open(self.log_path, "wb")
        self.process = subprocess.Popen(command, stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}:\n{self.log()}")
            try:
                with urllib.request.urlopen(self.url + "/health", timeout=2) as response:
                    if response.status == 200:
                        return self
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"server did not answer GET /health with 200 within {timeout} s:\n{self.log()}")

    def log(self) -> str:
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as stream:
                return stream.read()[-5000:]
        except OSError:
            return ""

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        if getattr(self, "_log", None) is not None:
            self._log.close()


@pytest.fixture(scope="session")
def brood_server(reference_venv, tmp_path_factory, request):
    """Our server, started once per session; ``.url``, ``.admin_auth``, ``.log()``.

    With ``HATCHER_TEST_STACK=replicas`` (``tox -e scale``): three replicas on PostgreSQL and S3
    behind nginx, round robin (``stack.brood.StackBrood``).
    """
    if stack_mode():
        yield request.getfixturevalue("stack_brood")
        return
    data_dir = str(tmp_path_factory.mktemp("brood-data"))
    server = ServerProcess(data_dir, str(tmp_path_factory.mktemp("brood-log") / "server.log"))
    try:
        server.start()
    except RuntimeError as error:
        server.stop()
        pytest.fail(f"could not start our server (python -m hatcher.server run): {error}", pytrace=False)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def failures(request):
    """Soft assertions: every step is checked, the test fails once at the end listing all problems."""
    STATS.current_test = request.node.nodeid
    return SoftFailures()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    """Fail the test (not its teardown) when a soft-checked reference step was not as predicted."""
    result = yield
    collected = getattr(item, "funcargs", {}).get("failures")
    if isinstance(collected, SoftFailures):
        collected.raise_if_any()
    return result


@pytest.fixture
def org_repo(brood_server):
    """A fresh organization and repository, created through the reference client (password, api v1)."""
    organization, repository = unique("org"), unique("repo")
    program = Program(brood_server.url, api_version=1, auth=basic(), label="setup")
    program.step("setup: create organization", "create_organization", organization, "conformance")
    program.client.organization(organization).step("setup: create repository", "create_repository",
                                                   repository, "conformance")
    results = program.run(SoftFailures())
    if not all(results.ok(step) for step in ("setup: create organization", "setup: create repository")):
        pytest.fail(f"setup through the reference client failed: {results.records}", pytrace=False)
    return organization, repository


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if STATS.total == 0:
        return
    terminalreporter.section("hatcher 0.17.0 conformance")
    terminalreporter.write_line(
        f"conformance steps: {STATS.total} ({STATS.api} API calls, {STATS.cli} CLI invocations); "
        f"{STATS.passed} as predicted, {STATS.total - STATS.passed} not")
    for failure in STATS.failures:
        terminalreporter.write_line(f"  NOT AS PREDICTED: {failure}")
