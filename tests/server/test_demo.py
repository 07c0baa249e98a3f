"""``examples/demo.py`` (what ``tox -e demo`` runs) completes against the embedded server."""

from __future__ import annotations

import os
import subprocess
import sys

DEMO = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                    "examples", "demo.py")


def test_demo_walks_through_getting_started_and_exits_0(tmp_path):
    # When the demo runs as `tox -e demo` runs it
    result = subprocess.run([sys.executable, DEMO], capture_output=True, text=True, timeout=600, cwd=tmp_path)
    # Then every step worked, each under a numbered heading
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    for heading in ("=== 1. Start an embedded Brood server on a free port ===",
                    "Create an organization (Python API) ===",
                    "Upload two eggs, a runtime, an app and a bundle ===",
                    "Download and verify (sha256) ===",
                    "Delete the API token; it no longer works ===",
                    "The command line: hatcher --version ===",
                    "Stop the server ==="):
        assert heading in result.stdout
    assert "HTTP 401" in result.stdout
    assert "The demo completed" in result.stdout
    # And no secret is printed
    for secret in ("demo-admin-password", "demo-jane-password"):
        assert secret not in result.stdout + result.stderr


def test_demo_fails_with_exit_1_and_names_the_step(tmp_path):
    # Given a demo whose server cannot start
    code = ("import runpy, sys, os, tempfile\n"
            "import hatcher.server.runner as runner\n"
            "class Broken(runner.EmbeddedBrood):\n"
            "    def start(self, timeout=30.0):\n"
            "        raise RuntimeError('no server today')\n"
            "runner.EmbeddedBrood = Broken\n"
            f"sys.argv = [{DEMO!r}]\n"
            f"runpy.run_path({DEMO!r}, run_name='__main__')\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    # Then it exits 1 with one clear line naming the step
    assert result.returncode == 1
    assert "DEMO FAILED at step 1. Start an embedded Brood server" in result.stderr
    assert "no server today" in result.stderr
    assert "Traceback" not in result.stderr
