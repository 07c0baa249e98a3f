"""Take the screenshots of docs/web.rst: the main pages of the web interface, in headless Chromium.

Usage (from the repository's root, in an environment with hatcher[server] and selenium)::

    python tools/screenshots.py [--output docs/web]

It starts an embedded Brood seeded as the browser tests seed theirs (tests/ui/ui_support.py),
logs in with Debian's headless ``chromium`` through ``chromedriver`` (as ``tox -e ui`` does),
and saves one PNG per page, 1280 px wide (the phone one 375 px). axe-core checks each page
first, as in the tests: a page with an accessibility violation fails the script.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [os.path.join(ROOT, "tests", "ui"), os.path.join(ROOT, "tests")]

#: Shortest and tallest screenshots (px): longer pages are cut.
MIN_HEIGHT, MAX_HEIGHT = 480, 1400


def shoot(browser: Any, path: str, width: int) -> None:
    """Save the page in ``path``, as tall as its content (up to :data:`MAX_HEIGHT`)."""
    driver = browser.driver
    driver.set_window_size(width, MIN_HEIGHT)  # scrollHeight is at least the window's height
    chrome = driver.execute_script("return window.outerHeight - window.innerHeight")
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(width, min(height, MAX_HEIGHT) + chrome)
    driver.execute_script("window.scrollTo(0, 0); document.activeElement && document.activeElement.blur()")
    driver.save_screenshot(path)
    print(f"  {os.path.relpath(path, ROOT)} ({browser.path})", flush=True)


def take(output: str) -> None:
    """Seed a server, then save the screenshots in ``output``."""
    from ui_support import (
        ORGANIZATION,
        PLATFORM,
        REPOSITORY,
        SANDBOX,
        Browser,
        Site,
        browser_binaries,
        make_driver,
        quit_driver,
        seed,
    )

    from hatcher.server.runner import EmbeddedBrood

    if None in browser_binaries():
        raise SystemExit("Install Debian's chromium and chromium-driver first (apt-get install chromium "
                         "chromium-driver)")
    os.makedirs(output, exist_ok=True)
    platform = f"/ui/{ORGANIZATION}/{REPOSITORY}/{PLATFORM}"
    admin = ("admin@example.com", "screenshot-password")
    with tempfile.TemporaryDirectory(prefix="hatcher-screenshots-") as work:
        with EmbeddedBrood(os.path.join(work, "data"), admin=admin) as brood:
            client = brood.client()
            seed(client, os.path.join(work, "build"), brood)
            site = Site(brood.url, admin)
            for width in (1280, 375):
                profile = os.path.join(work, f"browser-{width}")
                os.makedirs(profile)
                driver = make_driver(profile, width=width, arguments=("--hide-scrollbars",))
                try:
                    browser = Browser(driver, site, os.path.join(profile, "downloads"))
                    if width == 375:
                        browser.login()
                        browser.visit(platform)
                        shoot(browser, os.path.join(output, "phone-platform.png"), width)
                        continue
                    browser.visit("/login")
                    shoot(browser, os.path.join(output, "login.png"), width)
                    browser.login()
                    shoot(browser, os.path.join(output, "repositories.png"), width)
                    pages = (("repository.png", f"/ui/{ORGANIZATION}/{REPOSITORY}"),
                             ("platform.png", platform),
                             ("egg.png", f"{platform}/eggs/numpy"),
                             ("search.png", "/search?q=py"),
                             ("upload.png", f"/ui/{ORGANIZATION}/{SANDBOX}/{PLATFORM}/upload"),
                             ("manage.png", f"/ui/{ORGANIZATION}/{SANDBOX}/{PLATFORM}/manage"),
                             ("admin.png", f"/admin/{ORGANIZATION}"))
                    for name, path in pages:
                        browser.visit(path)
                        shoot(browser, os.path.join(output, name), width)
                    client.create_api_token("ci-uploader")
                    browser.visit("/tokens")
                    browser.fill({"#token-name": "laptop"})
                    browser.navigate(browser.button("Create token").click)
                    shoot(browser, os.path.join(output, "token-created.png"), width)
                    browser.visit("/tokens")
                    shoot(browser, os.path.join(output, "tokens.png"), width)
                finally:
                    quit_driver(driver)


def main(argv: Any = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", default=os.path.join(ROOT, "docs", "web"),
                        help="the directory of the PNG files (default: docs/web)")
    arguments = parser.parse_args(argv)
    print(f"Screenshots of the web interface in {arguments.output}:")
    take(os.path.abspath(arguments.output))
    return 0


if __name__ == "__main__":
    sys.exit(main())
