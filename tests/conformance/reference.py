"""The reference client (hatcher 0.17.0 from PyPI) in a virtualenv of its own, driven as a black box.

The virtualenv is created once with ``python -m venv`` and pip, and cached in the directory named by
``HATCHER_REFERENCE_VENV`` (default ``<repo>/.tox/reference-0.17.0``). A marker file written last
records the requirement set, so an interrupted or outdated build is detected and redone.

Everything runs in subprocesses:

* :func:`run_reference_python` runs Python code with the venv's interpreter in isolated mode
  (``-I``: neither the current directory nor ``PYTHONPATH`` is on ``sys.path``, so the code
  cannot import *our* ``hatcher`` by accident);
* :func:`run_reference_cli` runs the venv's ``hatcher`` console script.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from typing import Mapping, Sequence

REFERENCE_VERSION = "0.17.0"

#: The minimal working set (found by trying): hatcher 0.17.0 pulls okonomiyaki, requests, click,
#: six, pyyaml, tabulate, pytz, tzlocal and zipfile2 itself; its CLI needs a private click helper
#: that click 8.2 removed, hence the cap; okonomiyaki is pinned with the extras hatcher reads eggs
#: and runtimes with.
REFERENCE_REQUIREMENTS = (
    f"hatcher=={REFERENCE_VERSION}",
    "click>=8.0,<8.2",
    "okonomiyaki[all]==3.0.0",
)

HERE = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(os.path.dirname(HERE))
SCRIPTS_DIR = os.path.join(HERE, "scripts")
MARKER = "hatcher-reference.json"

#: Environment variables never passed on to the reference client (they would change what it runs).
_SCRUBBED_PREFIXES = ("HATCHER_", "PYTHON", "VIRTUAL_ENV", "PIP_REQUIRE_VIRTUALENV", "REQUESTS_CA_BUNDLE",
                      "CURL_CA_BUNDLE")
_PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY")


class ReferenceEnvError(RuntimeError):
    """The reference virtualenv could not be built or does not work."""


def default_venv_dir() -> str:
    """The cache directory of the reference virtualenv."""
    return os.environ.get("HATCHER_REFERENCE_VENV") or os.path.join(REPO_ROOT, ".tox", f"reference-{REFERENCE_VERSION}")


def _bin_dir(venv_dir: str) -> str:
    return os.path.join(venv_dir, "Scripts" if os.name == "nt" else "bin")


def venv_python(venv_dir: str | None = None) -> str:
    """Path of the reference virtualenv's interpreter."""
    venv_dir = venv_dir or default_venv_dir()
    return os.path.join(_bin_dir(venv_dir), "python.exe" if os.name == "nt" else "python")


def venv_hatcher(venv_dir: str | None = None) -> str:
    """Path of the reference virtualenv's ``hatcher`` console script."""
    venv_dir = venv_dir or default_venv_dir()
    return os.path.join(_bin_dir(venv_dir), "hatcher.exe" if os.name == "nt" else "hatcher")


def _marker_content() -> dict:
    return {"requirements": list(REFERENCE_REQUIREMENTS), "python": list(sys.version_info[:2])}


def _is_ready(venv_dir: str) -> bool:
    try:
        with open(os.path.join(venv_dir, MARKER), encoding="utf-8") as stream:
            return json.load(stream) == _marker_content() and os.path.exists(venv_hatcher(venv_dir))
    except (OSError, ValueError):
        return False


def _run_checked(command: Sequence[str], what: str, timeout: float) -> subprocess.CompletedProcess:
    try:
        completed = subprocess.run(list(command), capture_output=True, text=True, timeout=timeout,
                                   env=reference_environment())
    except (OSError, subprocess.TimeoutExpired) as error:
        raise ReferenceEnvError(f"{what} failed: {error!r}") from error
    if completed.returncode != 0:
        raise ReferenceEnvError(f"{what} failed (exit {completed.returncode}):\n{completed.stdout}\n{completed.stderr}")
    return completed


def ensure_reference_venv(venv_dir: str | None = None, timeout: float = 900) -> str:
    """Create (once) the reference virtualenv and return its directory.

    Raises
    ------
    ReferenceEnvError
        When the virtualenv cannot be created, pip cannot install the reference set, or the
        installed client does not report the expected version.
    """
    venv_dir = os.path.abspath(venv_dir or default_venv_dir())
    if not _is_ready(venv_dir):
        if os.path.exists(venv_dir):
            shutil.rmtree(venv_dir)
        os.makedirs(os.path.dirname(venv_dir), exist_ok=True)
        _run_checked([sys.executable, "-m", "venv", venv_dir], "python -m venv", timeout)
        _run_checked([venv_python(venv_dir), "-m", "pip", "install", "--disable-pip-version-check", "--quiet",
                      *REFERENCE_REQUIREMENTS], "pip install of the reference client", timeout)
        check_reference_venv(venv_dir)
        with open(os.path.join(venv_dir, MARKER), "w", encoding="utf-8") as stream:
            json.dump(_marker_content(), stream)
    return venv_dir


def check_reference_venv(venv_dir: str | None = None) -> None:
    """Check that the venv imports the reference client (not ours) and that its CLI starts."""
    venv_dir = venv_dir or default_venv_dir()
    code = ("import json, hatcher, hatcher.api, hatcher.cli.main; "
            "print(json.dumps({'version': hatcher.__version__, 'file': hatcher.__file__}))")
    completed = _run_checked([venv_python(venv_dir), "-I", "-c", code], "importing the reference client", 120)
    info = json.loads(completed.stdout)
    if info["version"] != REFERENCE_VERSION:
        raise ReferenceEnvError(f"reference client reports version {info['version']!r}")
    if not os.path.abspath(info["file"]).startswith(os.path.abspath(venv_dir)):
        raise ReferenceEnvError(f"reference client imported from outside its venv: {info['file']}")
    completed = _run_checked([venv_hatcher(venv_dir), "--version"], "hatcher --version", 120)
    if REFERENCE_VERSION not in completed.stdout:
        raise ReferenceEnvError(f"unexpected `hatcher --version` output: {completed.stdout!r}")


def reference_environment(extra: Mapping[str, str] | None = None) -> dict:
    """The environment for reference subprocesses: ours without HATCHER_*/PYTHON*/proxy variables."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(_SCRUBBED_PREFIXES) and key not in _PROXY_VARIABLES}
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    env["PYTHONNOUSERSITE"] = "1"
    env["PYTHONIOENCODING"] = "utf-8"
    # A fixed zone keeps the CLI's upload context table ("Time" row) predictable.
    env.setdefault("TZ", "UTC")
    env["COLUMNS"] = "200"
    env.update(extra or {})
    return env


def run_reference_python(code: str, env: Mapping[str, str] | None = None, args: Sequence[str] = (),
                         input: str | None = None, cwd: str | None = None, timeout: float = 300,
                         venv_dir: str | None = None) -> subprocess.CompletedProcess:
    """Run ``code`` with the reference interpreter (isolated mode) and return the completed process.

    By convention the code prints its results as JSON on stdout. ``args`` become ``sys.argv[1:]``;
    ``env`` adds variables to the scrubbed environment; ``cwd`` defaults to a fresh temporary directory
    (removed afterwards) so nothing in the current directory can shadow the reference modules.
    """
    command = [venv_python(venv_dir), "-I", "-c", code, *args]
    if cwd is not None:
        return subprocess.run(command, capture_output=True, text=True, input=input, cwd=cwd, timeout=timeout,
                              env=reference_environment(env))
    with tempfile.TemporaryDirectory(prefix="hatcher-ref-") as tmp:
        return subprocess.run(command, capture_output=True, text=True, input=input, cwd=tmp, timeout=timeout,
                              env=reference_environment(env))


def run_reference_script(name: str, **kwargs) -> subprocess.CompletedProcess:
    """Run the script ``tests/conformance/scripts/<name>`` with :func:`run_reference_python`."""
    with open(os.path.join(SCRIPTS_DIR, name), encoding="utf-8") as stream:
        return run_reference_python(stream.read(), **kwargs)


def run_reference_cli(args: Sequence[str], env: Mapping[str, str] | None = None, input: str | None = None,
                      cwd: str | None = None, timeout: float = 300,
                      venv_dir: str | None = None) -> subprocess.CompletedProcess:
    """Run the reference ``hatcher`` command with ``args`` and return the completed process (text mode).

    stdin is ``input`` (or empty, so a prompt sees end of input instead of hanging).
    """
    command = [venv_hatcher(venv_dir), *[str(arg) for arg in args]]
    return subprocess.run(command, capture_output=True, text=True, input=input if input is not None else "",
                          cwd=cwd, timeout=timeout, env=reference_environment(env))
