"""The web interface's browse, search and download pages (issue 12, items 2 and 3), over loopback HTTP.

Eggs are uploaded through the API (so the audit log knows their uploader); the paging tests
and the odd-name test write rows straight into the embedded server's database.
"""

from __future__ import annotations

import hashlib
import html
import re
import time
from typing import Any, Callable

import pytest
import requests
from server_world import PASSWORD, World, build_world

from hatcher.artefacts import builders
from hatcher.server.bench_data import populate_egg_index
from hatcher.server.db import Artefact, Blob, Repository
from hatcher.server.runner import EmbeddedBrood
from hatcher.server.web import urls

pytestmark = pytest.mark.embedded

PLATFORM = "rh5-x86_64"
BULK_PLATFORM = "rh7-x86_64"


def login(brood: EmbeddedBrood, email: str, password: str = PASSWORD) -> requests.Session:
    """A requests session logged in through the login form (its CSRF cookie and field)."""
    session = requests.Session()
    page = session.get(brood.url + urls.LOGIN, timeout=30)
    assert page.status_code == 200
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    answer = session.post(brood.url + urls.LOGIN, data={"email": email, "password": password, "csrf": csrf,
                                                       "next": "/"}, allow_redirects=False, timeout=30)
    assert answer.status_code == 303, answer.text
    return session


def get(session: requests.Session, brood: EmbeddedBrood, path: str, **kwargs: Any) -> requests.Response:
    return session.get(brood.url + path, timeout=30, allow_redirects=False, **kwargs)


def page_path(world: World, repository: str, platform: str = PLATFORM, **query: Any) -> str:
    return urls.path(urls.PLATFORM, query or None, organization=world.org, repository=repository, platform=platform)


def egg_path(world: World, repository: str, name: str, platform: str = PLATFORM, **query: Any) -> str:
    return urls.path(urls.EGG, query or None, organization=world.org, repository=repository, platform=platform,
                     name=name)


def download_links(text: str) -> list[str]:
    return [html.unescape(link) for link in re.findall(r'href="(/files/\d+)"', text)]


@pytest.fixture(scope="module")
def shop(brood: EmbeddedBrood, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A world whose ``dev`` has eggs ``alpha`` (2 versions, one disabled) and ``beta``, ``other`` an egg
    ``alphabet``; uploaded by the organization's administrator. Also 300 bulk eggs (60 names) in ``dev``."""
    counter = iter(range(10 ** 6))
    token = hashlib.sha256(str(time.time()).encode()).hexdigest()[:8]
    world = build_world(brood, lambda prefix: f"{prefix}-{token}-{next(counter)}")
    directory = str(tmp_path_factory.mktemp("web-eggs"))
    admin = world.client(world.admin_email, 1)
    dev = admin.organization(world.org).repository("dev").platform(PLATFORM)
    eggs = {
        "alpha-1": builders.build_egg(directory, name="alpha", version="1.0", python_tag="cp38", payload_size=3000),
        "alpha-2": builders.build_egg(directory, name="alpha", version="2.0", python_tag="cp38"),
        "beta": builders.build_egg(directory, name="beta", version="0.1", python_tag=None),
        "app": builders.build_app(directory, id="acme.alphaviewer", name="Alpha viewer", platform=PLATFORM,
                                  version="1.0.0", python_tag="cp38"),
    }
    dev.upload_egg(eggs["alpha-1"])
    dev.upload_egg(eggs["alpha-2"], enabled=False)
    dev.upload_egg(eggs["beta"])
    admin.organization(world.org).repository("dev").upload_app(eggs["app"])
    other = admin.organization(world.org).repository("other").platform(PLATFORM)
    other.upload_egg(builders.build_egg(directory, name="alphabet", version="3.0", python_tag="cp38"))
    populate_egg_index(brood.app, world.org, "dev", BULK_PLATFORM, 300)
    return {"world": world, "eggs": eggs}


def sha256_file(path: str) -> str:
    with open(path, "rb") as stream:
        return hashlib.sha256(stream.read()).hexdigest()


def test_not_logged_in_goes_to_login(brood: EmbeddedBrood, shop: dict[str, Any]) -> None:
    world = shop["world"]
    for path in (page_path(world, "dev"), egg_path(world, "dev", "alpha"), urls.SEARCH + "?q=alpha",
                 urls.path(urls.DOWNLOAD, artefact_id=1)):
        answer = requests.get(brood.url + path, allow_redirects=False, timeout=30)
        assert answer.status_code == 303 and answer.headers["location"].startswith(urls.LOGIN + "?next=")


def test_pages_per_role(brood: EmbeddedBrood, shop: dict[str, Any]) -> None:
    world = shop["world"]
    repository = urls.path(urls.REPOSITORY, organization=world.org, repository="dev")
    reader = login(brood, world.reader_email)
    page = get(reader, brood, repository)
    assert page.status_code == 200
    assert f"<title>{world.org}/dev · Brood</title>" in page.text
    assert PLATFORM in page.text and BULK_PLATFORM in page.text
    assert "Content-Security-Policy" in page.headers
    assert get(reader, brood, page_path(world, "dev")).status_code == 200
    assert get(reader, brood, egg_path(world, "dev", "alpha")).status_code == 200
    # Not on a repository it holds no role on, and not elsewhere: 404 pages, as if they did not exist.
    for path in (urls.path(urls.REPOSITORY, organization=world.org, repository="other"),
                 page_path(world, "other"), egg_path(world, "other", "alphabet")):
        answer = get(reader, brood, path)
        assert answer.status_code == 404 and answer.headers["content-type"].startswith("text/html")
    outsider = login(brood, world.outsider_email)
    for path in (repository, page_path(world, "dev"), egg_path(world, "dev", "alpha")):
        assert get(outsider, brood, path).status_code == 404
    plain = login(brood, world.plain_email)
    assert get(plain, brood, repository).status_code == 404
    # Unknown organization, repository, platform and egg.
    assert get(reader, brood, urls.path(urls.REPOSITORY, organization="nope-org", repository="dev")).status_code == 404
    assert get(reader, brood, page_path(world, "dev", platform="no-such-platform")).status_code == 404
    assert get(reader, brood, egg_path(world, "dev", "no-such-egg")).status_code == 404
    # The indexer (read_index on other) sees other's pages, without download links.
    indexer = login(brood, world.indexer_email)
    page = get(indexer, brood, egg_path(world, "other", "alphabet"))
    assert page.status_code == 200 and "alphabet" in page.text
    assert download_links(page.text) == []


def test_tabs_paging_and_sorting(brood: EmbeddedBrood, shop: dict[str, Any]) -> None:
    world = shop["world"]
    reader = login(brood, world.reader_email)
    first = get(reader, brood, page_path(world, "dev", BULK_PLATFORM))
    assert first.status_code == 200
    names = re.findall(r">(bench_pkg\d{5})</a>", first.text)
    assert names == [f"bench_pkg{i:05d}" for i in range(50)]
    assert "1 to 50 of 60 names" in first.text and "Page 1 of 2" in first.text
    assert 'rel="next"' in first.text and 'rel="prev"' not in first.text
    second = get(reader, brood, page_path(world, "dev", BULK_PLATFORM, kind="eggs", page=2))
    assert re.findall(r">(bench_pkg\d{5})</a>", second.text) == [f"bench_pkg{i:05d}" for i in range(50, 60)]
    assert "51 to 60 of 60 names" in second.text and "<title>Eggs on rh7-x86_64 in" in second.text
    # A page past the end shows the last one; a nonsense one the first.
    assert "51 to 60 of 60" in get(reader, brood, page_path(world, "dev", BULK_PLATFORM, page=99)).text
    assert "1 to 50 of 60" in get(reader, brood, page_path(world, "dev", BULK_PLATFORM, page="x")).text
    backwards = get(reader, brood, page_path(world, "dev", BULK_PLATFORM, sort="-name"))
    assert re.findall(r">(bench_pkg\d{5})</a>", backwards.text)[:3] == ["bench_pkg00059", "bench_pkg00058",
                                                                         "bench_pkg00057"]
    # Eggs of the real platform: one row per name, with its versions and how many are enabled.
    eggs = get(reader, brood, page_path(world, "dev"))
    assert re.findall(r'>(alpha|beta)</a></th>\s*<td>(\d+)</td>\s*<td>(\d+)</td>', eggs.text) == [
        ("alpha", "2", "1"), ("beta", "1", "1")]
    # The other tabs answer (empty here), and say so.
    for kind in ("runtimes", "bundles"):
        tab = get(reader, brood, page_path(world, "dev", kind=kind))
        assert tab.status_code == 200 and f"No {kind} on this platform." in tab.text
        assert 'aria-current="page">' + kind.capitalize() in tab.text


def test_egg_page_fields(brood: EmbeddedBrood, shop: dict[str, Any]) -> None:
    world, eggs = shop["world"], shop["eggs"]
    reader = login(brood, world.reader_email)
    page = get(reader, brood, egg_path(world, "dev", "ALPHA"))  # any spelling of the name
    assert page.status_code == 200
    text = page.text
    for key in ("alpha-1", "alpha-2"):
        with open(eggs[key], "rb") as stream:
            content = stream.read()
        assert hashlib.sha256(content).hexdigest() in text
        assert hashlib.md5(content).hexdigest() in text
        assert f"({len(content)} bytes)" in text
    assert text.count(world.admin_email) == 2  # the uploader of each version, from the audit log
    assert "cp38" in text and "1.0-1" in text and "2.0-1" in text
    assert "disabled (not in the index)" in text and "enabled (in the index)" in text
    assert len(download_links(text)) == 2
    assert '<nav aria-label="Breadcrumb"' in text and f"<title>alpha on {PLATFORM} in {world.org}/dev" in text


def test_download_with_the_session_cookie(brood: EmbeddedBrood, shop: dict[str, Any]) -> None:
    world, eggs = shop["world"], shop["eggs"]
    reader = login(brood, world.reader_email)
    links = download_links(get(reader, brood, egg_path(world, "dev", "beta")).text)
    assert len(links) == 1
    answer = get(reader, brood, links[0])
    assert answer.status_code == 200
    assert hashlib.sha256(answer.content).hexdigest() == sha256_file(eggs["beta"])
    assert answer.headers["content-disposition"] == 'attachment; filename="beta-0.1-1.egg"'
    # The indexer (read_index only on other) may not download other's files; nobody else may see them.
    admin = login(brood, world.admin_email)
    alphabet = download_links(get(admin, brood, egg_path(world, "other", "alphabet")).text)
    assert len(alphabet) == 1
    assert get(admin, brood, alphabet[0]).status_code == 200
    indexer = login(brood, world.indexer_email)
    assert get(indexer, brood, alphabet[0]).status_code == 403
    assert get(indexer, brood, links[0]).status_code == 404
    assert get(login(brood, world.outsider_email), brood, links[0]).status_code == 404
    assert get(reader, brood, urls.path(urls.DOWNLOAD, artefact_id=10 ** 12)).status_code == 404
    assert get(reader, brood, urls.path(urls.DOWNLOAD, artefact_id="x")).status_code == 404


def _results(text: str) -> list[tuple[str, str]]:
    """``(name, org/repo)`` of each search result row."""
    return re.findall(r'<th scope="row"><a href="[^"]+">([^<]+)</a></th>\s*<td>[^<]*</td>\s*<td>([^<]+)</td>', text)


def test_search_across_repositories_respects_roles(brood: EmbeddedBrood, shop: dict[str, Any]) -> None:
    world = shop["world"]
    admin = login(brood, world.admin_email)
    page = get(admin, brood, urls.path(urls.SEARCH, {"q": "ALPHA"}))
    assert page.status_code == 200
    assert _results(page.text) == [("acme.alphaviewer", f"{world.org}/dev"), ("alpha", f"{world.org}/dev"),
                                   ("alphabet", f"{world.org}/other")]
    assert urls.path(urls.PLATFORM, {"kind": "apps"}, organization=world.org, repository="dev",
                     platform=PLATFORM).replace("&", "&amp;") in page.text
    assert 'value="ALPHA"' in page.text  # the box shows the query
    reader = login(brood, world.reader_email)
    assert _results(get(reader, brood, urls.path(urls.SEARCH, {"q": "alpha"})).text) == [
        ("acme.alphaviewer", f"{world.org}/dev"), ("alpha", f"{world.org}/dev")]
    indexer = login(brood, world.indexer_email)
    assert _results(get(indexer, brood, urls.path(urls.SEARCH, {"q": "alpha"})).text) == [
        ("alphabet", f"{world.org}/other")]
    outsider = login(brood, world.outsider_email)
    assert "Nothing matches" in get(outsider, brood, urls.path(urls.SEARCH, {"q": "alpha"})).text
    # Results link to the egg page; paged on the server (60 bulk names).
    first = get(reader, brood, urls.path(urls.SEARCH, {"q": "bench_pkg"}))
    assert "1 to 50 of 60 results" in first.text and "Page 1 of 2" in first.text
    assert egg_path(world, "dev", "bench_pkg00000", BULK_PLATFORM) in first.text
    second = get(reader, brood, urls.path(urls.SEARCH, {"q": "bench_pkg", "page": 2}))
    assert "51 to 60 of 60 results" in second.text
    # LIKE wildcards are literal.
    assert "Nothing matches" in get(reader, brood, urls.path(urls.SEARCH, {"q": "%"})).text


def test_search_without_a_query(brood: EmbeddedBrood, shop: dict[str, Any]) -> None:
    reader = login(brood, shop["world"].reader_email)
    for path in (urls.SEARCH, urls.path(urls.SEARCH, {"q": ""}), urls.path(urls.SEARCH, {"q": "   "})):
        page = get(reader, brood, path)
        assert page.status_code == 200 and "<title>Search · Brood</title>" in page.text
        assert "Type part of a name" in page.text and "<table" not in page.text


def test_odd_names_are_escaped(brood: EmbeddedBrood, shop: dict[str, Any], unique: Callable[[str], str]) -> None:
    world = shop["world"]
    name = '<img src=x onerror="alert(1)">&amp;\''  # no "/": a name never has one (a path segment)
    with brood.app.state.sessionmaker() as db:
        repository = db.query(Repository).filter(Repository.name == "dev").join(Repository.organization).filter(
            Repository.organization.has(name=world.org)).one()
        sha256 = hashlib.sha256(unique("odd").encode()).hexdigest()
        db.add(Blob(sha256=sha256, key=f"bench/{sha256}", md5=sha256[:32], size=1))
        db.flush()
        db.add(Artefact(repository_id=repository.id, kind="egg", platform=PLATFORM, key="cp38", name=name,
                        version="1.0-1", filename="odd-1.0-1.egg", sha256=sha256, md5=sha256[:32], size=1,
                        enabled=True, mtime=time.time(), document={}))
        db.commit()
    reader = login(brood, world.reader_email)
    for path in (page_path(world, "dev"), urls.path(urls.SEARCH, {"q": "<img"}), egg_path(world, "dev", name)):
        page = get(reader, brood, path)
        assert page.status_code == 200, path
        assert "<img src=x" not in page.text
        assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;&amp;amp;&#39;" in page.text


def test_apps_tab_lists_files_with_uploader_and_download(brood: EmbeddedBrood, shop: dict[str, Any]) -> None:
    world, eggs = shop["world"], shop["eggs"]
    reader = login(brood, world.reader_email)
    page = get(reader, brood, page_path(world, "dev", kind="apps"))
    assert page.status_code == 200 and 'aria-current="page">Apps' in page.text
    assert "acme.alphaviewer" in page.text and "1.0.0-1" in page.text and world.admin_email in page.text
    links = download_links(page.text)
    assert len(links) == 1
    assert hashlib.sha256(get(reader, brood, links[0]).content).hexdigest() == sha256_file(eggs["app"])
    repository = get(reader, brood, urls.path(urls.REPOSITORY, organization=world.org, repository="dev"))
    assert 'aria-label="1 apps on rh5-x86_64"' in repository.text


def test_uploader_is_who_last_overwrote(brood: EmbeddedBrood, shop: dict[str, Any], tmp_path: Any) -> None:
    world = shop["world"]
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = builders.build_egg(str(tmp_path / "a"), name="gamma", version="1.0", python_tag="cp38")
    second = builders.build_egg(str(tmp_path / "b"), name="gamma", version="1.0", python_tag="cp38",
                                payload_size=100)
    world.client(world.admin_email, 1).organization(world.org).repository("dev").platform(PLATFORM).upload_egg(first)
    page = get(login(brood, world.reader_email), brood, egg_path(world, "dev", "gamma"))
    assert world.admin_email in page.text and brood.admin_auth[0] not in page.text
    brood.client(api_version=1).organization(world.org).repository("dev").platform(PLATFORM).upload_egg(
        second, overwrite=True)
    page = get(login(brood, world.reader_email), brood, egg_path(world, "dev", "gamma"))
    assert brood.admin_auth[0] in page.text and world.admin_email not in page.text
    assert sha256_file(second) in page.text and sha256_file(first) not in page.text
    # Rows the audit log knows nothing of (written without an upload) say so.
    bulk = get(login(brood, world.reader_email), brood, egg_path(world, "dev", "bench_pkg00001", BULK_PLATFORM))
    assert "<td>unknown</td>" in bulk.text
