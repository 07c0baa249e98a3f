"""Helpers of the browser tests (and of tools/screenshots.py): the seed data, headless Chromium, axe-core.

:class:`Browser` runs axe-core on every page it reaches (``visit``, ``navigate``, ``click``, ``login``).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from service_guard import require_service

from hatcher.artefacts import builders

VENDOR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "vendor")
AXE_JS = os.path.join(VENDOR, "axe-4.10.3.min.js")
#: The axe-core rule tags every page is checked against.
AXE_TAGS = ("wcag2a", "wcag2aa", "wcag21aa", "wcag22aa")

ADMIN = ("admin@example.com", "ui-admin-password")
ORGANIZATION, REPOSITORY, OTHER_REPOSITORY, PLATFORM = "acme", "dev", "stable", "rh5-x86_64"
#: (name, version, summary) of the eggs in acme/dev/rh5-x86_64 (python tag cp27).
EGGS = (("numpy", "1.21.2", "Arrays and numerical computing"), ("numpy", "1.22.0", "Arrays and numerical computing"),
        ("scipy", "1.7.1", "Scientific tools"), ("pandas", "1.3.3", "Data frames"))
#: Eggs of acme/stable/rh5-x86_64.
STABLE_EGGS = (("numpy", "1.21.2", "Arrays and numerical computing"),)
#: acme/sandbox/rh5-x86_64: what the upload and bulk-delete tests change.
SANDBOX, SANDBOX_EGGS = "sandbox", (("oldtool", "1.0", "Old tool"), ("oldtool", "1.1", "Old tool"),
                                    ("keeper", "2.0", "Kept"))
#: A user whose only role is read_index on acme/dev (team "index-readers").
VIEWER = ("viewer@acme.org", "ui-viewer-password")
WAIT = 10.0

#: Every page axe checked in this session: (url, number of violations).
AXE_RESULTS: list[tuple[str, int]] = []


def browser_binaries() -> tuple[Optional[str], Optional[str]]:
    """The paths of Debian's chromium and chromedriver, or None for each one missing."""
    chromium = shutil.which("chromium") or next(
        (path for path in ("/usr/bin/chromium", "/usr/lib/chromium/chromium") if os.access(path, os.X_OK)), None)
    driver = shutil.which("chromedriver") or next(
        (path for path in ("/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver") if os.access(path, os.X_OK)),
        None)
    return chromium, driver


def binary_version(path: str) -> str:
    """``156.0.8078.114`` from ``chromium --version`` or ``chromedriver --version``."""
    output = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=60).stdout
    return next((word for word in output.split() if word[:1].isdigit() and word.count(".") == 3), output.strip())


def sha256(path: str) -> str:
    """The hex sha256 of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 16), b""):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass
class Site:
    """The seeded server: its URL, the admin's credentials and the files it holds."""

    url: str
    admin: tuple[str, str]
    eggs: dict[str, str] = field(default_factory=dict)  # egg file name -> local path of the uploaded file
    work: str = ""


def seed(client: Any, directory: str, brood: Any = None) -> dict[str, str]:
    """Create acme/dev, acme/stable and acme/sandbox with their eggs (acme/dev also a runtime and an app).

    Also the user :data:`VIEWER`, who may only read acme/dev's index (given a password on ``brood``).

    Returns the uploaded eggs' local files by file name (the first of each name).
    """
    os.makedirs(directory, exist_ok=True)
    organization = client.create_organization(ORGANIZATION, "Acme Corp.")
    built = {}
    for name, description, eggs in ((REPOSITORY, "Development builds", EGGS),
                                    (OTHER_REPOSITORY, "Stable releases", STABLE_EGGS),
                                    (SANDBOX, "Try things here", SANDBOX_EGGS)):
        repository = organization.create_repository(name, description)
        platform = repository.platform(PLATFORM)
        os.makedirs(os.path.join(directory, name))
        for egg_name, version, summary in eggs:
            path = builders.build_egg(os.path.join(directory, name), name=egg_name, version=version,
                                      summary=summary, payload_size=2048)
            platform.upload_egg(path)
            built.setdefault(os.path.basename(path), path)
    dev = organization.repository(REPOSITORY)
    others = os.path.join(directory, "others")
    os.makedirs(others)
    dev.upload_runtime(builders.build_runtime_v1(others, version="3.8.8+1", platform=PLATFORM))
    dev.upload_app(builders.build_app(others, id="acme.viewer", name="Acme viewer", platform=PLATFORM,
                                      version="1.0.0", python_tag="cp27"))
    readers = organization.create_team("index-readers", "read_index")
    readers.add_repository(dev)
    readers.add_user(organization.create_user(VIEWER[0]))
    if brood is not None:
        from hatcher.testing import set_user_password

        set_user_password(brood, *VIEWER)
    return built


class AxeViolations(AssertionError):
    """axe-core found violations on a page."""


def axe_check(driver: Any) -> int:
    """Run axe-core (the vendored copy) on the current page; fail on any WCAG 2.x A/AA violation.

    The script goes in through WebDriver, which the page's Content-Security-Policy does not govern.
    Returns the number of rules that passed (to show that something was checked).
    """
    if not driver.execute_script("return typeof window.axe === 'object'"):
        with open(AXE_JS, encoding="utf-8") as stream:
            driver.execute_script(stream.read())
    result = driver.execute_async_script(
        """
        const done = arguments[arguments.length - 1];
        axe.run(document, {runOnly: {type: 'tag', values: arguments[0]}, resultTypes: ['violations']})
          .then(r => done({passes: r.passes.length, violations: r.violations.map(v => ({
              id: v.id, impact: v.impact, help: v.help,
              nodes: v.nodes.map(n => ({target: n.target.join(' '), summary: n.failureSummary}))}))}))
          .catch(e => done({error: String(e)}));
        """, list(AXE_TAGS))
    url = driver.current_url
    if "error" in result:
        raise AssertionError(f"axe-core failed on {url}: {result['error']}")
    violations = result["violations"]
    AXE_RESULTS.append((url, len(violations)))
    if violations:
        lines = [f"axe-core: {len(violations)} violation(s) on {url} ({driver.title!r}):"]
        for violation in violations:
            lines.append(f"- {violation['id']} ({violation['impact']}): {violation['help']}")
            for node in violation["nodes"][:8]:
                summary = " ".join((node["summary"] or "").split())
                lines.append(f"    at {node['target']}: {summary[:300]}")
        raise AxeViolations("\n".join(lines))
    return result["passes"]


def make_driver(tmp_path: Any, javascript: bool = True, width: int = 1280, height: int = 900,
                arguments: tuple[str, ...] = ()) -> Any:
    """Start headless Chromium through chromedriver (downloads go to ``tmp_path/downloads``).

    ``arguments`` are more command-line switches of Chromium.
    """
    chromium, chromedriver = browser_binaries()
    if chromium is None or chromedriver is None:
        require_service("Debian's chromium and chromium-driver are not installed "
                        "(apt-get install chromium chromium-driver; .ci/run does it)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    downloads = os.path.join(tmp_path, "downloads")
    os.makedirs(downloads, exist_ok=True)
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in ("--headless=new", f"--window-size={width},{height}", "--disable-gpu", "--disable-dev-shm-usage",
                     "--no-first-run", "--no-default-browser-check", "--disable-extensions",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     "--password-store=basic", "--lang=en-US", f"--user-data-dir={os.path.join(tmp_path, 'profile')}",
                     f"--crash-dumps-dir={os.path.join(tmp_path, 'crashes')}", *arguments):
        options.add_argument(argument)
    if os.geteuid() == 0:
        options.add_argument("--no-sandbox")  # Chromium's sandbox refuses to run as root
    prefs: dict[str, Any] = {"download.default_directory": downloads, "download.prompt_for_download": False,
                             "download.directory_upgrade": True, "safebrowsing.enabled": False,
                             "credentials_enable_service": False, "profile.password_manager_enabled": False}
    options.add_experimental_option("prefs", prefs)
    # Chromium's scratch files (its singleton socket: the path must be short) go in a directory of
    # its own, removed by quit_driver.
    scratch = tempfile.mkdtemp(prefix="hatcher-ui-")
    env = dict(os.environ, TMPDIR=scratch)
    service = Service(executable_path=chromedriver, env=env, log_output=os.path.join(tmp_path, "chromedriver.log"))
    try:
        driver = webdriver.Chrome(options=options, service=service)
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    driver.hatcher_scratch = scratch
    try:
        driver.set_page_load_timeout(30)
        driver.set_script_timeout(60)
        driver.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": downloads,
                                                               "eventsEnabled": True})
        if not javascript:
            # The pages' scripts never run (the setting lasts across navigations); WebDriver's own
            # scripts (axe-core) run while it is lifted for them: see Browser.check.
            driver.execute_cdp_cmd("Emulation.setScriptExecutionDisabled", {"value": True})
    except BaseException:
        quit_driver(driver)
        raise
    return driver


def quit_driver(driver: Any) -> None:
    """Quit the browser and chromedriver, and remove their scratch directory."""
    try:
        driver.quit()
    finally:
        shutil.rmtree(getattr(driver, "hatcher_scratch", ""), ignore_errors=True)


def gone(element: Any) -> bool:
    """Whether ``element`` is no longer in the page (its document was replaced, or it was removed)."""
    from selenium.common.exceptions import StaleElementReferenceException, WebDriverException

    try:
        element.is_enabled()  # asks the browser about the element
    except StaleElementReferenceException:
        return True
    except WebDriverException as error:  # with scripts disabled, Chromium words it differently
        if "does not belong to the document" in str(error) or "No node with given id" in str(error):
            return True
        raise
    return False


class Browser:
    """A logged-out browser on :class:`Site`; what it reaches through its methods is checked by axe-core."""

    def __init__(self, driver: Any, site: Site, downloads: str, javascript: bool = True) -> None:
        self.driver = driver
        self.site = site
        self.downloads = downloads
        self.javascript = javascript
        self.pages = 0

    # Finding things
    def find(self, css: str) -> Any:
        from selenium.webdriver.common.by import By

        return self.driver.find_element(By.CSS_SELECTOR, css)

    def find_all(self, css: str) -> list[Any]:
        from selenium.webdriver.common.by import By

        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def link(self, text: str) -> Any:
        """The link whose visible text contains ``text``."""
        from selenium.webdriver.common.by import By

        return self.driver.find_element(By.PARTIAL_LINK_TEXT, text)

    def button(self, text: str, scope: Any = None) -> Any:
        """The button (or submit input) whose visible text or value contains ``text``."""
        for element in (scope or self.driver).find_elements("css selector", "button, input[type=submit]"):
            label = element.text or element.get_attribute("value") or ""
            if text.lower() in label.lower() and element.is_displayed():
                return element
        raise AssertionError(f"no button {text!r} on {self.driver.current_url}")

    @property
    def main_text(self) -> str:
        return self.find("main").text

    @property
    def path(self) -> str:
        url = self.driver.current_url
        return url[len(self.site.url):] if url.startswith(self.site.url) else url

    # Going places (each page reached is checked)
    def check(self) -> None:
        """Run axe-core on the current page."""
        if not self.javascript:
            self.driver.execute_cdp_cmd("Emulation.setScriptExecutionDisabled", {"value": False})
        try:
            self.wait(lambda d: d.execute_script("return document.readyState") == "complete")
            axe_check(self.driver)
        finally:
            if not self.javascript:
                self.driver.execute_cdp_cmd("Emulation.setScriptExecutionDisabled", {"value": True})
        self.pages += 1

    def visit(self, path: str) -> None:
        """Open ``path`` (of the site, or a whole URL) and check the page."""
        self.driver.get(path if "://" in path else self.site.url + path)
        self.check()

    def wait(self, condition: Callable[[Any], Any], timeout: float = WAIT, message: str = "") -> Any:
        from selenium.webdriver.support.ui import WebDriverWait

        return WebDriverWait(self.driver, timeout).until(condition, message or f"waiting on {self.path}")

    def navigate(self, action: Callable[[], Any], until: Optional[Callable[[Any], Any]] = None) -> None:
        """Do ``action`` (a click, a submit), wait for the next page (or ``until``), then check it.

        Without ``until``, the next page is there when the current ``<main>`` has gone: a new document,
        or htmx swapping in a new ``<main>``.
        """
        old = self.find("main")
        action()
        self.wait(until or (lambda driver: gone(old)))
        self.check()

    def click(self, element: Any, until: Optional[Callable[[Any], Any]] = None) -> None:
        self.navigate(element.click, until)

    def fill(self, values: dict[str, str], scope: Any = None) -> None:
        """Type ``values`` into the fields named by the keys (CSS selectors or field names)."""
        for key, value in values.items():
            selector = key if key[:1] in "#.[" or " " in key else f"[name='{key}']"
            element = (scope or self.driver).find_element("css selector", selector)
            element.clear()
            element.send_keys(value)

    def login(self, email: Optional[str] = None, password: Optional[str] = None, base: str = "") -> None:
        """Log in through the form of /login (as the admin by default) and land on the repositories."""
        self.visit(base + "/login")
        self.fill({"email": email or self.site.admin[0], "password": password or self.site.admin[1]})
        self.navigate(self.button("Log in").click)

    def wait_for_download(self, name: str, timeout: float = 30.0) -> str:
        """The path of the finished download ``name``."""
        path = os.path.join(self.downloads, name)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            partial = [entry for entry in os.listdir(self.downloads) if entry.endswith(".crdownload")]
            if os.path.exists(path) and not partial:
                return path
            time.sleep(0.1)
        raise AssertionError(f"{name} was not downloaded; in {self.downloads}: {os.listdir(self.downloads)}")
