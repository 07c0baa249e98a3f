"""The web interface's API tokens, administration, bulk actions and browser uploads (issue 12, items 4 and 5)."""

from __future__ import annotations

import hashlib
import html
import re
from typing import Any, Callable, Optional

import requests
from server_world import PASSWORD, World, call

from hatcher.artefacts import builders
from hatcher.server.runner import EmbeddedBrood

_CSRF = re.compile(r'name="csrf" value="([^"]*)"')


def csrf_of(page: str) -> str:
    """The CSRF hidden field of a page."""
    match = _CSRF.search(page)
    assert match, page[:500]
    return match.group(1)


class Browser:
    """A logged-in browser session: GET pages, POST forms with their CSRF field."""

    def __init__(self, brood: EmbeddedBrood, email: str, password: str = PASSWORD) -> None:
        self.brood = brood
        self.session = requests.Session()
        page = self.session.get(brood.url + "/login", timeout=30)
        answer = self.session.post(brood.url + "/login", data={"email": email, "password": password,
                                                               "csrf": csrf_of(page.text), "next": "/"},
                                   allow_redirects=False, timeout=30)
        assert answer.status_code == 303, answer.text
        self.csrf = csrf_of(self.get("/").text)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        """GET a page (redirects not followed)."""
        return self.session.get(self.brood.url + path, allow_redirects=False, timeout=30, **kwargs)

    def post(self, path: str, data: Any = None, csrf: bool = True, **kwargs: Any) -> requests.Response:
        """POST a form (with the CSRF field unless ``csrf`` is false; redirects not followed)."""
        fields = list(data.items()) if isinstance(data, dict) else list(data or [])
        if csrf:
            fields.append(("csrf", self.csrf))
        return self.session.post(self.brood.url + path, data=fields, allow_redirects=False, timeout=30, **kwargs)


def text_of(page: str) -> str:
    """A page's text, roughly (tags dropped, entities decoded, blanks squeezed)."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def audit_actions(brood: EmbeddedBrood, actor: str, action: Optional[str] = None) -> list[tuple[str, str]]:
    """The ``(action, target)`` of the latest audit events of ``actor`` (read by the superuser through the API)."""
    answer = call(brood, "GET", "/api/v1/json/admin/audit", params={"limit": 1000, "action": action})
    assert answer.status_code == 200, answer.text
    return [(event["action"], event["target"]) for event in answer.json()["events"] if event["actor"] == actor]


# -- tokens -------------------------------------------------------------------------------------

def test_token_create_shows_secret_once_and_works(world: World, unique: Callable[[str], str]) -> None:
    browser = Browser(world.brood, world.reader_email)
    name = unique("ci")
    page = browser.get("/tokens")
    assert page.status_code == 200 and "<caption" not in page.text  # no tokens yet: no table
    answer = browser.post("/tokens", {"name": name, "scopes": "", "expires": ""})
    assert answer.status_code == 200
    assert answer.headers["Cache-Control"] == "no-store"
    secret = re.search(r'id="token-secret"[^>]*value="([^"]+)"', answer.text).group(1)
    assert 'data-copy="token-secret"' in answer.text and "will not be shown again" in answer.text
    # It works as a Bearer token against the API.
    api = requests.get(f"{world.brood.url}/api/v1/json/auth/tokens/api", timeout=30,
                       headers={"Authorization": f"Bearer {secret}"})
    assert api.status_code == 200, api.text
    listing = browser.get("/tokens")
    assert secret not in listing.text  # shown once only
    row = re.search(rf"<th scope=\"row\">{re.escape(name)}</th>(.*?)</tr>", listing.text, re.S).group(1)
    assert "Never" not in row.split("</td>")[1]  # last used is set
    assert "UTC" in row.split("</td>")[1]
    assert ("token.create", f"token:{world.reader_email}/{name}") in audit_actions(world.brood, world.reader_email)


def test_token_form_errors_next_to_fields(world: World) -> None:
    browser = Browser(world.brood, world.reader_email)
    answer = browser.post("/tokens", {"name": "a/b", "scopes": "bogus", "expires": "2001-01-01"})
    assert answer.status_code == 400
    assert re.search(r'id="token-name"[^>]*aria-invalid="true"[^>]*aria-describedby="[^"]*token-name-error',
                     answer.text, re.S)
    assert 'id="token-name-error"' in answer.text and 'id="token-scopes-error"' in answer.text
    assert 'id="token-expires-error"' in answer.text and "in the past" in answer.text


def test_token_scopes_and_expiry_listed(world: World, unique: Callable[[str], str]) -> None:
    browser = Browser(world.brood, world.reader_email)
    name = unique("scoped")
    scope = f"read_repository:{world.org}/{world.repo}"
    answer = browser.post("/tokens", {"name": name, "scopes": scope, "expires": "2999-01-31"})
    assert answer.status_code == 200, answer.text
    listing = browser.get("/tokens").text
    assert scope in listing and "2999-01-31 23:59 UTC" in listing


def test_token_revoke_needs_confirmation_and_csrf(world: World, unique: Callable[[str], str]) -> None:
    browser = Browser(world.brood, world.reader_email)
    name = unique("old")
    assert browser.post("/tokens", {"name": name}).status_code == 200
    confirm = browser.get(f"/tokens/{name}/delete")
    assert confirm.status_code == 200 and name in text_of(confirm.text)
    assert f'action="/tokens/{name}/delete"' in confirm.text
    refused = browser.post(f"/tokens/{name}/delete", csrf=False)
    assert refused.status_code == 403 and "text/html" in refused.headers["content-type"]
    assert name in browser.get("/tokens").text
    done = browser.post(f"/tokens/{name}/delete")
    assert done.status_code == 303 and done.headers["location"] == "/tokens"
    assert name not in browser.get("/tokens").text
    assert browser.get(f"/tokens/{name}/delete").status_code == 404
    assert ("token.revoke", f"token:{world.reader_email}/{name}") in audit_actions(world.brood, world.reader_email,
                                                                                   "token")


# -- bulk clean-up ------------------------------------------------------------------------------

PLATFORM = "rh5-x86_64"


def _upload_eggs(world: World, tmp_path: Any, names: list[str]) -> Any:
    """Upload an egg of each name (python tag none, version 1.0.1-1) as the world's administrator."""
    platform = world.client(world.admin_email, 1).organization(world.org).repository(world.repo).platform(PLATFORM)
    for name in names:
        folder = tmp_path / name
        folder.mkdir()
        platform.upload_egg(builders.build_egg(str(folder), name=name, python_tag=None))
    return platform


def _ids(page: str, names: list[str]) -> list[str]:
    """The checkbox values of the eggs ``names`` on a manage page (checked by their labels)."""
    pattern = r'name="artefact" value="(\d+)">\s*<label for="pick-\d+" class="visually-hidden">Select ([^<]+)</label>'
    found = {label: value for value, label in re.findall(pattern, page)}
    return [found[f"{name} 1.0.1-1"] for name in names]


def test_bulk_disable_enable_delete_with_confirmation(world: World, tmp_path: Any) -> None:
    names = ["alpha", "beta", "gamma"]
    platform = _upload_eggs(world, tmp_path, names)
    browser = Browser(world.brood, world.admin_email)
    manage = f"/ui/{world.org}/{world.repo}/{PLATFORM}/manage"
    page = browser.get(manage + "?kind=eggs")
    assert page.status_code == 200, page.text
    assert "Select alpha 1.0.1-1</label>" in page.text and "<caption>" in page.text
    chosen = _ids(page.text, ["alpha", "beta"])

    for action, expected_enabled in (("disable", False), ("enable", True)):
        confirm = browser.get(manage + "/confirm", params=[("action", action), ("kind", "eggs")]
                              + [("artefact", value) for value in chosen])
        assert confirm.status_code == 200, confirm.text
        listed = text_of(confirm.text)
        assert "alpha-1.0.1-1.egg" in listed and "beta-1.0.1-1.egg" in listed and "gamma" not in listed
        # Nothing changed yet: the confirmation page only names what will change.
        assert platform.egg_metadata("none", "alpha", "1.0.1-1")["enabled"] is True or action == "enable"
        answer = browser.post(manage + "/apply", [("action", action), ("kind", "eggs")]
                              + [("artefact", value) for value in chosen])
        assert answer.status_code == 303 and answer.headers["location"].startswith(manage)
        for name in ("alpha", "beta"):
            assert platform.egg_metadata("none", name, "1.0.1-1")["enabled"] is expected_enabled
        assert platform.egg_metadata("none", "gamma", "1.0.1-1")["enabled"] is True
        assert "artefacts." in text_of(browser.get(answer.headers["location"]).text)

    refused = browser.post(manage + "/apply", [("action", "delete"), ("artefact", chosen[0])], csrf=False)
    assert refused.status_code == 403
    confirm = browser.get(manage + "/confirm", params=[("action", "delete")] + [("artefact", v) for v in chosen])
    assert "cannot be undone" in confirm.text and "Delete 2 artefacts" in text_of(confirm.text)
    answer = browser.post(manage + "/apply", [("action", "delete")] + [("artefact", value) for value in chosen])
    assert answer.status_code == 303
    assert [egg["name"] for egg in platform.list_eggs("none")] == ["gamma-1.0.1-1.egg"]

    events = audit_actions(world.brood, world.admin_email, "egg")
    for verb in ("disable", "enable", "delete"):
        for name in ("alpha", "beta"):
            assert (f"egg.{verb}", f"{world.org}/{world.repo}/{PLATFORM}/{name}-1.0.1-1.egg") in events


def test_bulk_confirmation_without_selection(world: World) -> None:
    browser = Browser(world.brood, world.admin_email)
    answer = browser.get(f"/ui/{world.org}/{world.repo}/{PLATFORM}/manage/confirm?action=delete&kind=eggs")
    assert answer.status_code == 400 and "Select at least one artefact" in answer.text


def test_reader_cannot_manage_or_upload(world: World) -> None:
    reader = Browser(world.brood, world.reader_email)
    for suffix in ("manage", "upload", "manage/confirm?action=delete&artefact=1"):
        answer = reader.get(f"/ui/{world.org}/{world.repo}/{PLATFORM}/{suffix}")
        assert answer.status_code in (403, 404) and "text/html" in answer.headers["content-type"]
    answer = reader.post(f"/ui/{world.org}/{world.repo}/{PLATFORM}/manage/apply", {"action": "delete",
                                                                                  "artefact": "1"})
    assert answer.status_code in (403, 404)
    upload = reader.post(f"/ui/{world.org}/{world.repo}/{PLATFORM}/upload", {"kind": "egg"},
                         files={"file": ("x-1.0-1.egg", b"x")})
    assert upload.status_code in (403, 404)
    outsider = Browser(world.brood, world.outsider_email)
    assert outsider.get(f"/ui/{world.org}/{world.repo}/{PLATFORM}/manage").status_code == 404
    anonymous = requests.get(f"{world.brood.url}/ui/{world.org}/{world.repo}/{PLATFORM}/upload",
                             allow_redirects=False, timeout=30)
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login")


# -- uploads ------------------------------------------------------------------------------------

def test_browser_upload_of_an_egg(world: World, tmp_path: Any) -> None:
    browser = Browser(world.brood, world.admin_email)
    target = f"/ui/{world.org}/{world.repo}/{PLATFORM}/upload"
    page = browser.get(target)
    assert page.status_code == 200 and 'enctype="multipart/form-data"' in page.text
    egg = builders.build_egg(str(tmp_path), name="delta", version="2.0", python_tag=None)
    with open(egg, "rb") as stream:
        answer = browser.post(target, {"kind": "egg", "enabled": "on"},
                              files={"file": ("delta-2.0-1.egg", stream, "application/octet-stream")})
    assert answer.status_code == 303, answer.text
    assert "Stored delta-2.0-1.egg" in text_of(browser.get(answer.headers["location"]).text)
    platform = world.client(world.admin_email, 1).organization(world.org).repository(world.repo).platform(PLATFORM)
    metadata = platform.egg_metadata("none", "delta", "2.0-1")
    assert metadata["enabled"] is True and metadata["sha256"] == hashlib.sha256(open(egg, "rb").read()).hexdigest()
    assert ("egg.upload", f"{world.org}/{world.repo}/{PLATFORM}/delta-2.0-1.egg") in audit_actions(
        world.brood, world.admin_email, "egg")
    # The same again: 409, shown next to the file field.
    with open(egg, "rb") as stream:
        again = browser.post(target, {"kind": "egg"}, files={"file": ("delta-2.0-1.egg", stream)})
    assert again.status_code == 409 and "already exists" in again.text


def test_browser_upload_of_a_runtime_an_app_and_a_bundle(world: World, tmp_path: Any) -> None:
    browser = Browser(world.brood, world.admin_email)
    target = f"/ui/{world.org}/{world.repo}/rh7-x86_64/upload"
    runtime = {"implementation": "cpython", "version": "3.8.10+2", "platform": "rh7_x86_64",
               "repository": "enthought/free", "platform_abi": "gnu", "sha256": "0" * 64}
    files = [("runtime", builders.build_runtime_v1(str(tmp_path), version="3.8.10+2")),
             ("app", builders.build_app(str(tmp_path))),
             ("bundle", builders.build_bundle(str(tmp_path), name="sci", version="2.1.0", build=3, runtime=runtime,
                                              requirements=["numpy 1.21.2-1"]))]
    for kind, path in files:
        with open(path, "rb") as stream:
            answer = browser.post(target, {"kind": kind}, files={"file": (path.rsplit("/", 1)[1], stream)})
        assert answer.status_code == 303, (kind, answer.text)
    platform = world.client(world.admin_email, 1).organization(world.org).repository(world.repo).platform("rh7-x86_64")
    assert platform.app_metadata("cp38", "mayavi.demo", "4.6.0-1")["id"] == "mayavi.demo"
    assert platform.bundle_list() == [{"python_tag": "cp38", "name": "sci", "version": "2.1.0-3"}]
    manage = browser.get(f"/ui/{world.org}/{world.repo}/rh7-x86_64/manage?kind=runtimes").text
    assert "Select cpython 3.8.10+2</label>" in manage
    events = audit_actions(world.brood, world.admin_email)
    assert ("runtime.upload", f"{world.org}/{world.repo}/rh7-x86_64/cpython-3.8.10+2-rh7_x86_64-gnu.runtime") in events


def test_browser_upload_rejects_a_bad_file(world: World) -> None:
    browser = Browser(world.brood, world.admin_email)
    target = f"/ui/{world.org}/{world.repo}/{PLATFORM}/upload"
    answer = browser.post(target, {"kind": "egg"}, files={"file": ("broken-1.0-1.egg", b"not a zip file")})
    assert answer.status_code == 400
    assert re.search(r'id="upload-file"[^>]*aria-invalid="true"[^>]*aria-describedby="upload-file-error"',
                     answer.text, re.S)
    assert re.search(r'id="upload-file-error" class="error">[^<]*broken-1.0-1.egg', answer.text)
    missing = browser.post(target, {"kind": "egg"}, files={"nothing": ("x", b"")})
    assert missing.status_code == 400 and "Choose a file to upload." in missing.text


# -- administration -----------------------------------------------------------------------------

def test_superuser_creates_an_organization(brood: EmbeddedBrood, unique: Callable[[str], str]) -> None:
    browser = Browser(brood, brood.admin_auth[0], brood.admin_auth[1])
    assert browser.get("/admin").status_code == 200
    bad = browser.post("/admin", {"name": "a/b", "description": ""})
    assert bad.status_code == 400
    assert re.search(r'id="organization-name"[^>]*aria-invalid="true"[^>]*organization-name-error', bad.text, re.S)
    name = unique("weborg")
    answer = browser.post("/admin", {"name": name, "description": "Made in a browser"})
    assert answer.status_code == 303 and answer.headers["location"] == f"/admin/{name}"
    assert name in call(brood, "GET", "/api/v1/json/admin/organizations").json()["organizations"]
    assert browser.post("/admin", {"name": name, "description": ""}).status_code == 400  # taken
    assert ("organization.create", name) in audit_actions(brood, brood.admin_auth[0], "organization")


def test_organization_admin_manages_repositories_users_and_teams(world: World, unique: Callable[[str], str]) -> None:
    brood, org = world.brood, world.org
    root = "/api/v1/json/admin"
    browser = Browser(brood, world.admin_email)
    assert browser.post("/admin", {"name": unique("nope"), "description": ""}).status_code == 403
    home = browser.get("/admin")
    assert f'href="/admin/{org}"' in home.text and world.outsider_org not in home.text
    page = browser.get(f"/admin/{org}")
    assert page.status_code == 200 and world.reader_email in page.text

    # A repository.
    answer = browser.post(f"/admin/{org}/create-repository", {"repository_name": "web", "repository_description": "x"})
    assert answer.status_code == 303
    assert "Created the repository web." in text_of(browser.get(answer.headers["location"]).text)
    assert "Nonsense" not in browser.get(f"/admin/{org}?done=Nonsense&subject=x").text
    assert "web" in call(brood, "GET", f"{root}/organizations/{org}/repositories").json()["repositories"]
    taken = browser.post(f"/admin/{org}/create-repository", {"repository_name": "web"})
    assert taken.status_code == 400 and 'id="repository-name-error"' in taken.text

    # A user, put into a team.
    email = f"{unique('new')}@example.org"
    bad = browser.post(f"/admin/{org}/add-user", {"user_email": "not-an-email"})
    assert bad.status_code == 400 and 'id="user-email-error"' in bad.text
    answer = browser.post(f"/admin/{org}/add-user", [("user_email", email), ("user_teams", "readers")])
    assert answer.status_code == 303
    assert call(brood, "GET", f"{root}/users/{org}/{email}").json()["teams"] == ["readers"]

    # A team with a repository, then a member added and removed, the repository revoked.
    answer = browser.post(f"/admin/{org}/create-team", [("team_name", "uploaders"), ("team_role", "upload_repository"),
                                                         ("team_repositories", "web")])
    assert answer.status_code == 303
    team_page = f"/admin/{org}/teams/uploaders"
    assert browser.get(team_page).status_code == 200
    assert browser.post(f"{team_page}/add-member", {"subject": email}).status_code == 303
    team = call(brood, "GET", f"{root}/teams/{org}/uploaders").json()
    assert team == {"name": "uploaders", "group": "upload_repository", "repositories": ["web"], "members": [email]}
    confirm = browser.get(f"{team_page}/remove-member", params={"subject": email})
    assert confirm.status_code == 200 and email in text_of(confirm.text)
    assert browser.post(f"{team_page}/remove-member", {"subject": email}, csrf=False).status_code == 403
    assert browser.post(f"{team_page}/remove-member", {"subject": email}).status_code == 303
    assert browser.post(f"{team_page}/remove-repository", {"subject": "web"}).status_code == 303
    team = call(brood, "GET", f"{root}/teams/{org}/uploaders").json()
    assert team["members"] == [] and team["repositories"] == []

    # Removals go through confirmation pages that name what goes.
    for action, subject in (("remove-user", email), ("delete-team", "uploaders"), ("delete-repository", "web")):
        confirm = browser.get(f"/admin/{org}/{action}", params={"subject": subject})
        assert confirm.status_code == 200 and subject in text_of(confirm.text), confirm.text
        assert browser.post(f"/admin/{org}/{action}", {"subject": subject}).status_code == 303
    assert call(brood, "GET", f"{root}/users/{org}/{email}").status_code == 404
    assert call(brood, "GET", f"{root}/teams/{org}/uploaders").status_code == 404
    assert "web" not in call(brood, "GET", f"{root}/organizations/{org}/repositories").json()["repositories"]

    events = audit_actions(brood, world.admin_email)
    for expected in (("repository.create", f"{org}/web"), ("user.create", f"{org}/{email}"),
                     ("team.create", f"{org}/uploaders"), ("team.role_change", f"{org}/uploaders"),
                     ("user.delete", f"{org}/{email}"), ("team.delete", f"{org}/uploaders"),
                     ("repository.delete", f"{org}/web")):
        assert expected in events, expected


def test_non_administrators_cannot_administer(world: World) -> None:
    reader = Browser(world.brood, world.reader_email)
    assert "You administer no organization" in reader.get("/admin").text
    assert reader.get(f"/admin/{world.org}").status_code == 403
    assert reader.post(f"/admin/{world.org}/create-repository", {"repository_name": "x"}).status_code == 403
    assert reader.get(f"/admin/{world.org}/teams/readers").status_code == 403
    outsider = Browser(world.brood, world.outsider_email)
    assert outsider.get(f"/admin/{world.org}").status_code == 404


def test_go_upload_redirects_to_the_upload_page(world: World) -> None:
    browser = Browser(world.brood, world.admin_email)
    answer = browser.get(f"/admin/{world.org}/go-upload", params={"subject": world.repo, "platform": "rh5_x86_64"})
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/ui/{world.org}/{world.repo}/rh5-x86_64/upload"
