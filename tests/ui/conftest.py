"""Fixtures of the browser tests: a seeded embedded Brood, headless Chromium driven by Selenium, and axe-core.

Every page a test reaches through :class:`ui_support.Browser` (``visit``, ``navigate``, ``click``...)
is checked with axe-core against WCAG 2.0 A/AA, 2.1 AA and 2.2 AA, and must have no violation.
Chromium and chromedriver are Debian's ``chromium`` and ``chromium-driver`` (``.ci/run`` installs
them); without them the tests are skipped, or fail under ``CI=true`` (``service_guard.require_service``).
"""

from __future__ import annotations

from typing import Any, Callable, Iterator

import pytest
from ui_support import ADMIN, AXE_RESULTS, AXE_TAGS, Browser, Site, make_driver, quit_driver, seed

from hatcher.server.runner import EmbeddedBrood


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """An embedded Brood seeded by :func:`ui_support.seed` (acme/dev, acme/stable, acme/sandbox, a viewer)."""
    work = tmp_path_factory.mktemp("ui-site")
    with EmbeddedBrood(str(work / "data"), admin=ADMIN) as brood:
        built = seed(brood.client(), str(work / "build"), brood)
        yield Site(brood.url, ADMIN, built, str(work))


@pytest.fixture
def browser_factory(site: Site, tmp_path: Any) -> Iterator[Callable[..., Browser]]:
    """Start browsers on :func:`site` (each quit at the end of the test)."""
    drivers: list[Any] = []

    def start(javascript: bool = True, width: int = 1280, height: int = 900) -> Browser:
        directory = tmp_path / f"browser-{len(drivers)}"
        directory.mkdir()
        driver = make_driver(directory, javascript=javascript, width=width, height=height)
        drivers.append(driver)
        return Browser(driver, site, str(directory / "downloads"), javascript)

    try:
        yield start
    finally:
        for driver in drivers:
            quit_driver(driver)


@pytest.fixture
def browser(browser_factory: Callable[..., Browser]) -> Browser:
    """A logged-out headless Chromium (JavaScript on, 1280x900)."""
    return browser_factory()


@pytest.fixture
def admin(browser: Browser) -> Browser:
    """A browser logged in as the admin, on the repositories page."""
    browser.login()
    return browser


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if AXE_RESULTS:
        pages = len(AXE_RESULTS)
        failed = sum(1 for _, count in AXE_RESULTS if count)
        violations = sum(count for _, count in AXE_RESULTS)
        distinct = len({url.split("?")[0] for url, _ in AXE_RESULTS})
        terminalreporter.write_line(
            f"axe-core {'/'.join(AXE_TAGS)}: {pages} page loads checked ({distinct} distinct URLs), "
            f"{violations} violation(s) on {failed} of them")
