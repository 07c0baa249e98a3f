"""``python examples/demo.py --keep-serving``: a person can open the web interface of the demo's server."""

from __future__ import annotations

import importlib.util
import os
import re
import signal
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEMO = os.path.join(ROOT, "examples", "demo.py")


def demo_constants():
    spec = importlib.util.spec_from_file_location("hatcher_demo", DEMO)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_demo_keeps_serving_its_web_interface_until_ctrl_c(browser, tmp_path):
    demo = demo_constants()
    output = tmp_path / "demo.out"
    # Given the demo run with --keep-serving
    with open(output, "w") as stream:
        process = subprocess.Popen([sys.executable, "-u", DEMO, "--keep-serving"], stdout=stream,
                                   stderr=subprocess.STDOUT, cwd=tmp_path)
    try:
        deadline = time.monotonic() + 300
        while "Press Ctrl-C" not in output.read_text():
            assert process.poll() is None, output.read_text()[-3000:]
            assert time.monotonic() < deadline, "the demo did not finish its steps in 300 s"
            time.sleep(0.5)
        # Then it printed the URL of its web interface, which a browser can open and log in to
        url = re.search(r"Web interface: (http://127\.0\.0\.1:\d+)/", output.read_text()).group(1)
        browser.login(*demo.ADMIN, base=url)
        assert browser.driver.current_url == url + "/"
        assert f"{demo.ORGANIZATION}" in browser.main_text and "cli-org" in browser.main_text
        browser.click(browser.link(demo.REPOSITORY))
        browser.click(browser.link(demo.PLATFORM))
        assert "numpy" in browser.main_text
        # When it gets Ctrl-C
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=60) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    # Then it stopped its server and ended with the URL
    lines = output.read_text().rstrip().splitlines()
    assert "Stop the server ===" in output.read_text()
    assert lines[-1].startswith(f"Web interface: {url}/")
    assert "demo-admin-password" not in output.read_text()
