"""Walk through the web interface in headless Chromium; axe-core checks every page on the way (ui_support.Browser)."""

from __future__ import annotations

import requests
from selenium.webdriver.common.keys import Keys
from ui_support import (
    ADMIN,
    ORGANIZATION,
    PLATFORM,
    REPOSITORY,
    SANDBOX,
    VIEWER,
    binary_version,
    browser_binaries,
    sha256,
)

from hatcher.api import BroodBearerTokenAuth, BroodClient
from hatcher.artefacts import builders
from hatcher.errors import BroodHTTPError


def test_chromium_and_chromedriver_are_the_same_version():
    # Given Debian's chromium and chromium-driver (the same source package)
    chromium, chromedriver = browser_binaries()
    if chromium is None or chromedriver is None:
        from service_guard import require_service

        require_service("Debian's chromium and chromium-driver are not installed")
    # Then their versions are the same, so the driver speaks the browser's protocol
    assert binary_version(chromium) == binary_version(chromedriver)


def test_a_wrong_password_is_shown_next_to_the_fields(browser):
    # Given the login page
    browser.visit("/login")
    # When a wrong password is sent
    browser.fill({"email": ADMIN[0], "password": "not-the-password"})
    browser.navigate(browser.button("Log in").click)
    # Then the form comes back with the error tied to the fields, and the e-mail kept
    assert browser.path.startswith("/login")
    error = browser.find("#login-error")
    assert error.text == "Wrong e-mail or password."
    for field in ("#email", "#password"):
        assert browser.find(field).get_attribute("aria-invalid") == "true"
        assert browser.find(field).get_attribute("aria-describedby") == "login-error"
    assert browser.find("#email").get_attribute("value") == ADMIN[0]
    assert browser.find("#password").get_attribute("value") == ""
    # And no session cookie was set
    assert browser.driver.get_cookie("hatcher_session") is None


def test_a_page_asked_for_before_login_is_shown_after_it(browser):
    # Given a logged-out browser asking for a repository page
    browser.visit(f"/ui/{ORGANIZATION}/{REPOSITORY}")
    # Then it is on the login form
    assert browser.path.startswith("/login?next=")
    # When it logs in
    browser.fill({"email": ADMIN[0], "password": ADMIN[1]})
    browser.navigate(browser.button("Log in").click)
    # Then it is on the page it asked for, with an HttpOnly session cookie
    assert browser.path == f"/ui/{ORGANIZATION}/{REPOSITORY}"
    cookie = browser.driver.get_cookie("hatcher_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"


def test_browse_to_an_egg_and_download_it(admin, site):
    # Given the repositories page, after login
    assert admin.path == "/"
    assert f"{ORGANIZATION}" in admin.main_text
    # When the user follows the links: repository, platform, egg name
    admin.click(admin.link(REPOSITORY))
    assert admin.path == f"/ui/{ORGANIZATION}/{REPOSITORY}"
    admin.click(admin.link(PLATFORM))
    assert admin.path.startswith(f"/ui/{ORGANIZATION}/{REPOSITORY}/{PLATFORM}")
    names = [cell.text for cell in admin.find_all("tbody th[scope=row]")]
    assert names == ["numpy", "pandas", "scipy"]
    admin.click(admin.link("numpy"))
    assert admin.path.startswith(f"/ui/{ORGANIZATION}/{REPOSITORY}/{PLATFORM}/eggs/numpy")
    # Then the page lists both versions with their sha256
    text = admin.main_text
    assert "1.21.2-1" in text and "1.22.0-1" in text
    uploaded = site.eggs["numpy-1.21.2-1.egg"]
    assert sha256(uploaded) in text
    # When the user downloads one
    admin.link("Download numpy-1.21.2-1.egg").click()
    saved = admin.wait_for_download("numpy-1.21.2-1.egg")
    # Then the file is the uploaded one, byte for byte
    assert sha256(saved) == sha256(uploaded)


def test_the_other_kinds_of_files_have_tabs(admin):
    # Given a platform page
    admin.visit(f"/ui/{ORGANIZATION}/{REPOSITORY}/{PLATFORM}")
    tabs = [link.text for link in admin.find_all("nav.tabs a")]
    assert tabs[0] == "Eggs" and len(tabs) == 4
    # When each other tab is opened, it is a page of its own (checked by axe)
    for label in tabs[1:]:
        admin.click(admin.link(label))
        assert admin.find("nav.tabs a[aria-current=page]").text == label


def test_sorting_swaps_the_list_in_place_with_htmx(admin):
    # Given a platform page, and a mark in this document's JavaScript state
    admin.visit(f"/ui/{ORGANIZATION}/{REPOSITORY}/{PLATFORM}")
    admin.driver.execute_script("window.hatcherMark = 'the same document'")
    # When another sort order is chosen
    admin.click(admin.link("Name (Z to A)"))
    # Then the list is in that order, the address says so (history and bookmarks work), and the
    # document is the same one: htmx swapped in the new <main> instead of loading a page
    assert [cell.text for cell in admin.find_all("tbody th[scope=row]")] == ["scipy", "pandas", "numpy"]
    assert "sort=" in admin.path
    assert admin.driver.execute_script("return window.hatcherMark") == "the same document"
    # And without JavaScript the same link loads the page (see test_the_pages_work_without_javascript)
    assert admin.find("nav.sorts").get_attribute("hx-boost") == "true"


def test_search_from_the_header(admin):
    # When the user types in the header's search box and presses Enter
    box = admin.find("#site-search")
    box.send_keys("py")
    admin.navigate(lambda: box.send_keys(Keys.ENTER))
    # Then the results are the names containing it, in every repository the user can read
    assert admin.path == "/search?q=py"
    rows = [row.text for row in admin.find_all("tbody th[scope=row]")]
    assert "numpy" in rows and "scipy" in rows and "pandas" not in rows
    assert any("acme/stable" in row.text for row in admin.find_all("tbody tr"))
    # When the user follows a result
    admin.click(admin.link("scipy"))
    # Then it is the egg's page
    assert "/eggs/scipy" in admin.path
    # And a search that finds nothing says so
    admin.visit("/search?q=no-such-package")
    assert "Nothing matches" in admin.main_text


def test_create_use_and_revoke_an_api_token(admin, site):
    # Given the API tokens page
    admin.click(admin.link("API tokens"))
    assert admin.path == "/tokens"
    # When a token is created without a name, the error is next to the field
    admin.navigate(admin.button("Create token").click)
    assert admin.find("#token-name").get_attribute("aria-invalid") == "true"
    assert admin.find("#token-name-error").is_displayed()
    # When it is created with a name
    admin.fill({"#token-name": "browser-ci"})
    admin.navigate(admin.button("Create token").click)
    # Then its secret is shown once, and it works with the API
    secret = admin.find("#token-secret").get_attribute("value")
    assert len(secret) > 20
    client = BroodClient.from_url(site.url, auth=BroodBearerTokenAuth(secret), api_version=1)
    assert f"{ORGANIZATION}/{REPOSITORY}" in client.list_available_repositories()
    # And the list shows it, without the secret
    admin.click(admin.link("Back to your API tokens"))
    assert "browser-ci" in admin.main_text and secret not in admin.driver.page_source
    # When the user revokes it, through the confirmation page
    revoke = admin.find("a[href='/tokens/browser-ci/delete']")
    assert revoke.get_attribute("textContent").split() == ["Revoke", "browser-ci"]  # its name says which
    admin.click(revoke)
    assert "Revoke the API token" in admin.find("h1").text
    admin.navigate(admin.button("Revoke token").click)
    # Then it is gone from the list, and the API refuses it
    assert admin.path == "/tokens"
    assert "browser-ci" not in admin.main_text
    try:
        client.list_available_repositories()
    except BroodHTTPError as error:
        assert error.response.status_code == 401
    else:
        raise AssertionError("the revoked token still works")


def sandbox_eggs(site):
    """The egg files of acme/sandbox on the platform, as the API lists them."""
    client = BroodClient.from_url(site.url, auth=site.admin, api_version=1)
    index = client.organization(ORGANIZATION).repository(SANDBOX).platform(PLATFORM).egg_index("cp27")
    return sorted(index)


def test_upload_an_egg_from_the_browser(admin, site, tmp_path):
    # Given the upload page of acme/sandbox
    admin.visit(f"/ui/{ORGANIZATION}/{SANDBOX}/{PLATFORM}/upload")
    # When the form is sent without a file, the error is next to the file field
    admin.navigate(admin.button("Upload").click)
    assert admin.find("#upload-file").get_attribute("aria-invalid") == "true"
    assert "Choose a file" in admin.find("#upload-file-error").text
    # When an egg is chosen and sent
    egg = builders.build_egg(str(tmp_path), name="newtool", version="3.0", summary="Uploaded from a browser")
    admin.find("#upload-file").send_keys(egg)
    admin.navigate(admin.button("Upload").click)
    # Then the page says it is stored, and the API's index lists it
    assert "Stored newtool-3.0-1.egg" in admin.find("[role=status]").text
    assert "newtool-3.0-1.egg" in sandbox_eggs(site)
    # And its page shows the sha256 of the file sent
    admin.visit(f"/ui/{ORGANIZATION}/{SANDBOX}/{PLATFORM}/eggs/newtool")
    assert sha256(egg) in admin.main_text
    # When the same file is sent again without "Overwrite", the conflict is shown next to the field
    admin.visit(f"/ui/{ORGANIZATION}/{SANDBOX}/{PLATFORM}/upload")
    admin.find("#upload-file").send_keys(egg)
    admin.navigate(admin.button("Upload").click)
    assert admin.find("#upload-file").get_attribute("aria-invalid") == "true"
    assert admin.find("#upload-file-error").text


def test_bulk_delete_asks_for_confirmation(admin, site):
    # Given the manage page of acme/sandbox, with two versions of oldtool and keeper
    admin.visit(f"/ui/{ORGANIZATION}/{SANDBOX}/{PLATFORM}/manage")

    def tick_oldtool():
        rows = [row for row in admin.find_all("tbody tr")
                if row.find_element("css selector", "th[scope=row]").text.startswith("oldtool ")]
        assert len(rows) == 2, admin.main_text
        for row in rows:
            row.find_element("css selector", "input[type=checkbox]").click()

    # When both oldtool versions are ticked and "Delete" pressed
    tick_oldtool()
    admin.navigate(admin.button("Delete").click)
    # Then a confirmation page names both files, and Cancel goes back with nothing deleted
    listed = [item.text for item in admin.find_all(".confirm-list li")]
    assert len(listed) == 2 and all(item.startswith("oldtool-1.") for item in listed)
    admin.click(admin.link("Cancel"))
    assert "/manage" in admin.path
    assert {"oldtool-1.0-1.egg", "oldtool-1.1-1.egg"} <= set(sandbox_eggs(site))
    # When they are ticked again and the deletion confirmed
    tick_oldtool()
    admin.navigate(admin.button("Delete").click)
    admin.navigate(admin.button("Delete 2 artefacts").click)
    # Then the manage page says so, and they are gone (keeper is not)
    assert "Deleted 2 artefacts" in admin.find("[role=status]").text
    eggs = sandbox_eggs(site)
    assert not [egg for egg in eggs if egg.startswith("oldtool")] and "keeper-2.0-1.egg" in eggs
    assert "oldtool" not in admin.main_text


def test_administer_an_organization(admin):
    # Given the administration pages
    admin.visit("/admin")
    admin.click(admin.link(ORGANIZATION))
    assert admin.path == f"/admin/{ORGANIZATION}"
    # When a repository is created with the form
    admin.fill({"#repository-name": "from-browser", "#repository-description": "Made in a browser"})
    admin.navigate(admin.button("Create repository").click)
    # Then it is listed, here and on the repositories page
    assert "from-browser" in admin.main_text
    admin.visit("/")
    assert "from-browser" in admin.main_text
    # When it is deleted, through the confirmation page
    admin.visit(f"/admin/{ORGANIZATION}")
    admin.click(admin.find("a[href*='delete-repository'][href*='from-browser']"))
    assert "from-browser" in admin.main_text
    admin.navigate(admin.find("main form button.danger").click)
    # Then it is gone
    assert admin.path.startswith(f"/admin/{ORGANIZATION}")
    assert "from-browser" not in admin.find("#repositories").find_element("xpath", "..").text
    # When a team is created on acme/dev, with a new user in it
    admin.fill({"#team-name": "browser-readers"})
    admin.find("#teams ~ form input[value='dev']").click()
    admin.navigate(admin.button("Create team").click)
    admin.fill({"#user-email": "reader@acme.org"})
    admin.find("#users ~ form input[value='browser-readers']").click()
    admin.navigate(admin.button("Add user").click)
    # Then the team's page lists the repository and the user
    admin.click(admin.link("browser-readers"))
    assert "dev" in admin.main_text and "reader@acme.org" in admin.main_text
    # When the user is removed from the team, through its confirmation page
    admin.click(admin.find("a[href*='remove-member']"))
    assert "reader@acme.org" in admin.main_text
    admin.navigate(admin.find("main form button.danger").click)
    # Then the team has no member left
    assert "/teams/browser-readers" in admin.path
    assert not admin.find_all("a[href*='remove-member']")
    # When the team is deleted from the organization's page, through its confirmation page
    admin.visit(f"/admin/{ORGANIZATION}")
    admin.click(admin.find("a[href*='delete-team'][href*='browser-readers']"))
    admin.navigate(admin.find("main form button.danger").click)
    # Then it is gone
    assert not admin.find_all("a[href*='delete-team'][href*='browser-readers']")


def test_a_user_sees_what_their_roles_allow(browser):
    # Given a user who may only read acme/dev's index
    browser.login(*VIEWER)
    # Then the repositories page lists acme/dev alone, with that role
    rows = [row.text for row in browser.find_all("tbody tr")]
    assert rows == ["dev read index Development builds"], rows
    # And the egg pages show the versions, without download links
    browser.visit(f"/ui/{ORGANIZATION}/{REPOSITORY}/{PLATFORM}/eggs/numpy")
    assert "1.21.2-1" in browser.main_text and not browser.find_all("a[href^='/ui/download/']")
    # And a repository without a role on it does not exist for them; upload and administration are refused
    for path, title in ((f"/ui/{ORGANIZATION}/{SANDBOX}", "Not found"),
                        (f"/ui/{ORGANIZATION}/{SANDBOX}/{PLATFORM}/manage", "Not found"),
                        (f"/ui/{ORGANIZATION}/{REPOSITORY}/{PLATFORM}/upload", "Forbidden"),
                        (f"/admin/{ORGANIZATION}", "Forbidden")):
        browser.visit(path)
        assert browser.find("h1").text == title, path
    browser.visit("/admin")
    assert ORGANIZATION not in browser.main_text.split()


def test_logout_ends_the_session_on_the_server(admin, site):
    # Given a logged-in browser and its session cookie
    secret = admin.driver.get_cookie("hatcher_session")["value"]
    # When the user logs out
    admin.navigate(admin.button("Log out").click)
    # Then the browser is on the login page, without the cookie
    assert admin.path == "/login"
    assert admin.driver.get_cookie("hatcher_session") is None
    # And the pages send it back to the login form
    admin.visit("/tokens")
    assert admin.path.startswith("/login?next=")
    # And the old cookie no longer works anywhere (it was deleted on the server)
    answer = requests.get(site.url + "/", cookies={"hatcher_session": secret}, allow_redirects=False, timeout=30)
    assert answer.status_code == 303 and answer.headers["location"].startswith("/login")


def test_the_pages_work_without_javascript(browser_factory):
    # Given a browser with JavaScript off
    browser = browser_factory(javascript=False)
    assert browser.driver.execute_script("return document.scripts.length") > 0  # the pages have scripts...
    # When it logs in and browses to an egg
    browser.login()
    assert browser.path == "/"
    browser.click(browser.link(REPOSITORY))
    browser.click(browser.link(PLATFORM))
    browser.click(browser.link("scipy"))
    # Then every step worked with plain links and forms, and no script of the pages ran
    assert browser.driver.execute_script("return typeof window.htmx") == "undefined"
    assert "1.7.1-1" in browser.main_text
    # And logging out is a plain form too
    browser.navigate(browser.button("Log out").click)
    assert browser.path == "/login"


def test_the_pages_fit_a_phone(browser_factory):
    # Given a 375 px wide browser (a phone)
    browser = browser_factory(width=375, height=812)
    browser.login()
    # Then the pages have no horizontal scroll bar, and pass axe (target sizes, reflow)
    for path in ("/", f"/ui/{ORGANIZATION}/{REPOSITORY}", "/tokens"):
        browser.visit(path)
        overflow = browser.driver.execute_script(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0, f"{path} scrolls sideways by {overflow} px at 375 px"


def test_the_keyboard_reaches_the_skip_link_first(admin):
    # Given a page, when the user presses Tab once
    admin.visit(f"/ui/{ORGANIZATION}/{REPOSITORY}")
    admin.find("body").send_keys(Keys.TAB)
    focused = admin.driver.switch_to.active_element
    # Then the focus is on a visible "Skip to content" link, which leads to the main content
    assert focused.text == "Skip to content" and focused.is_displayed()
    assert focused.get_attribute("href").endswith("#main")
    focused.send_keys(Keys.ENTER)
    assert admin.driver.current_url.endswith("#main")


def test_the_error_pages_are_pages_too(admin):
    # When the user asks for a repository that does not exist, or a file that does not
    admin.visit(f"/ui/{ORGANIZATION}/no-such-repository")
    # Then the answer is an HTML page of the site (checked by axe like the others), with a way back
    assert admin.find("h1").text == "Not found"
    admin.click(admin.link("Back to the repositories"))
    assert admin.path == "/"
    admin.visit("/ui/download/999999")
    assert admin.find("h1").text == "Not found"


def test_the_pages_pass_axe_in_dark_mode(admin):
    # Given a browser that prefers a dark color scheme (Pico CSS follows it)
    admin.driver.execute_cdp_cmd("Emulation.setEmulatedMedia",
                                 {"features": [{"name": "prefers-color-scheme", "value": "dark"}]})
    # Then the main pages still pass axe (contrast above all)
    for path in ("/", f"/ui/{ORGANIZATION}/{REPOSITORY}", f"/ui/{ORGANIZATION}/{REPOSITORY}/{PLATFORM}",
                 f"/ui/{ORGANIZATION}/{REPOSITORY}/{PLATFORM}/eggs/numpy", "/search?q=py", "/tokens",
                 f"/ui/{ORGANIZATION}/{SANDBOX}/{PLATFORM}/manage", f"/ui/{ORGANIZATION}/{SANDBOX}/{PLATFORM}/upload",
                 "/admin", f"/admin/{ORGANIZATION}", "/ui/download/999999"):
        admin.visit(path)
    assert admin.driver.execute_script("return matchMedia('(prefers-color-scheme: dark)').matches")
    admin.navigate(admin.button("Log out").click)
    assert admin.path == "/login"
