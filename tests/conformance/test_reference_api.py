"""The reference client's Python API (hatcher 0.17.0, in its own venv) against our server.

Every operation both API versions support, with password auth (a ``(user, password)`` tuple) and
token auth (``BroodClientAuth`` with an API token), and the results the specs predict.
Spec references: "API §" = hatcher-python-api.md, "REST §" = brood-rest-api.md.
"""

from __future__ import annotations

import json
import os

import pytest
from harness import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    Program,
    SoftFailures,
    all_of,
    basic,
    bearer,
    client_auth,
    contains,
    eq,
    lacks,
    ref,
    sha256_file,
    that,
    unique,
)

from hatcher.artefacts.builders import build_app, build_bundle, build_egg, build_runtime_v0, build_runtime_v1

PLATFORM = "rh7-x86_64"
NOT_AUTH_OR_MISSING = that("a 4xx other than 401/404 (REST §13.2: 409 recommended, 400 acceptable)",
                           lambda error: error.get("status") in set(range(400, 500)) - {401, 404})


def is_http_error(error: dict) -> bool:
    return "status" in error


@pytest.fixture(params=[(0, "password"), (0, "token"), (1, "password"), (1, "token")],
                ids=["v0-password", "v0-token", "v1-password", "v1-token"])
def client_spec(request, brood_server):
    """(api_version, auth, label): a tuple for password auth; BroodClientAuth(url, <API token>) for tokens."""
    api_version, mode = request.param
    if mode == "password":
        return api_version, basic(), f"api v{api_version} password"
    name = unique("tok")
    program = Program(brood_server.url, api_version=1, auth=basic(), label="setup")
    program.step("setup: create token", "create_api_token", name)
    results = program.run(SoftFailures())
    if not results.ok("setup: create token"):
        pytest.fail(f"could not create an API token: {results.record('setup: create token')}", pytrace=False)
    return api_version, client_auth(results["setup: create token"]["token"]), f"api v{api_version} token"


def program_for(server, spec) -> Program:
    api_version, auth, label = spec
    return Program(server.url, api_version=api_version, auth=auth, label=label)



# --- organizations, repositories, users, tokens, server metadata -----------------------------------

def test_organizations_and_repositories(brood_server, client_spec, failures, tmp_path):
    org, repo, scratch, full = unique("org"), unique("repo"), unique("scratch"), unique("full")
    egg = build_egg(str(tmp_path), name="filler", version="1.0", build=1, platform=PLATFORM, python_tag="cp38")
    p = program_for(brood_server, client_spec)
    o = p.client.organization(org)
    p.step("create_organization", "create_organization", org, "Conformance org",
           check=eq({"__repr__": f"<Organization organization_name={org!r}>", "__type__": "Organization"}))
    p.step("list_organizations", "list_organizations",
           check=all_of(contains(org), that("sorted (API §6.3)", lambda names: names == sorted(names)),
                        that("a list of str", lambda names: all(isinstance(n, str) for n in names))))
    o.step("create_repository", "create_repository", repo, "Conformance repo",
           check=eq({"__repr__": f"<Repository organization={org!r}, repository={repo!r}>", "__type__": "Repository"}))
    o.step("create_repository scratch", "create_repository", scratch, "to delete")
    o.step("create_repository full", "create_repository", full, "to force-delete")
    o.step("list_repositories", "list_repositories", check=eq_set([repo, scratch, full]))
    o.repository(scratch).step("delete empty repository", "delete")
    o.step("list_repositories after delete", "list_repositories", check=eq_set([repo, full]))
    o.repository(full).platform(PLATFORM).step("upload egg into repository to force-delete", "upload_egg", egg)
    o.repository(full).step("delete(force=True) non-empty repository", "delete", force=True)
    o.step("list_repositories after forced delete", "list_repositories", check=eq_set([repo]))
    p.step("create_organization duplicate", "create_organization", org, "again", error=NOT_AUTH_OR_MISSING,
           note="REST §13.2 (inferred): refusals should be 4xx other than 401/404")
    p.run(failures)


def eq_set(expected):
    return that(f"same items as {sorted(expected)!r}", lambda value: sorted(value) == sorted(expected))


def test_users(brood_server, client_spec, org_repo, failures):
    org, _ = org_repo
    email = f"{unique('jane')}@example.org"
    p = program_for(brood_server, client_spec)
    o = p.client.organization(org)
    o.step("create_user", "create_user", email,
           check=eq({"__repr__": f"<User organization={org!r}, email={email!r}>", "__type__": "User"}))
    o.user(email).step("user metadata", "metadata",
                       check=that("email, organization and teams (REST §4.3)",
                                  lambda m: m.get("email") == email and m.get("organization") == org
                                  and isinstance(m.get("teams"), list)))
    o.user(email).step("user delete", "delete")
    o.user(email).step("user metadata after delete", "metadata", error=404,
                       note="REST §13.2 (inferred): 404 for something that does not exist")
    p.run(failures)


def test_api_tokens(brood_server, client_spec, failures):
    name = unique("laptop")
    p = program_for(brood_server, client_spec)
    p.step("create_api_token", "create_api_token", name,
           check=that("{'name': NAME, 'token': <non-empty str>} (REST §6.1)",
                      lambda r: r.get("name") == name and isinstance(r.get("token"), str) and r["token"]))
    p.step("list_api_tokens", "list_api_tokens",
           check=that("an entry {name, created, last_used} for NAME, no secret (REST §6.2)",
                      lambda tokens: any(t.get("name") == name and set(t) == {"name", "created", "last_used"}
                                         for t in tokens)))
    # The new token works as a credential: a raw Bearer API token and a BroodClientAuth session.
    p.step("list_platforms with raw Bearer API token", "list_platforms", client={
        "api_version": client_spec[0], "auth": bearer(ref("create_api_token", "token"))},
        check=contains(PLATFORM))
    p.step("list_organizations with BroodClientAuth(token)", "list_organizations", client={
        "api_version": client_spec[0], "auth": client_auth(ref("create_api_token", "token"))},
        check=that("a list", lambda value: isinstance(value, list)))
    p.step("delete_api_token", "delete_api_token", name)
    p.step("list_api_tokens after delete", "list_api_tokens",
           check=that("NAME no longer listed", lambda tokens: all(t.get("name") != name for t in tokens)))
    p.step("deleted token no longer authenticates", "list_platforms", client={
        "api_version": client_spec[0], "auth": client_auth(ref("create_api_token", "token")), "fresh": 1},
        error=401)
    p.run(failures)


def test_server_metadata(brood_server, client_spec, failures):
    p = program_for(brood_server, client_spec)
    p.step("list_platforms", "list_platforms",
           check=all_of(contains(PLATFORM), that("a list of str", lambda v: all(isinstance(i, str) for i in v))))
    p.step("list_python_tags", "list_python_tags",
           check=all_of(contains("cp27", "cp38"), lacks("py3"),
                        that("concrete tags only (REST §7.2)", lambda v: all(not t.startswith("py") for t in v))))
    p.step("list_python_tags(list_all=True)", "list_python_tags", list_all=True,
           check=contains("cp27", "cp38", "py2", "py3", "py27"))
    p.run(failures)


def test_user_repositories(brood_server, client_spec, org_repo, failures):
    org, repo = org_repo
    p = program_for(brood_server, client_spec)
    p.step("list_available_repositories()", "list_available_repositories",
           check=all_of(contains(f"{org}/{repo}"), that("list of 'org/repo' str",
                                                        lambda v: all(isinstance(i, str) and "/" in i for i in v))))
    p.step("list_available_repositories(include_indexable=False)", "list_available_repositories",
           include_indexable=False, check=contains(f"{org}/{repo}"))
    p.step("list_available_repositories(include_indexable=True)", "list_available_repositories",
           include_indexable=True, check=contains(f"{org}/{repo}"))
    p.run(failures)


# --- eggs ------------------------------------------------------------------------------------------

def test_eggs(brood_server, client_spec, org_repo, failures, tmp_path):
    org, repo = org_repo
    src, other, down1, down2, down3 = (tmp_path / name for name in ("src", "other", "d1", "d2", "d3"))
    for directory in (src, other, down1, down2, down3):
        directory.mkdir()
    foo = build_egg(str(src), name="Foo", version="1.0", build=1, platform=PLATFORM, python_tag="cp38",
                    payload_size=200_000)
    foo_changed = build_egg(str(other), name="Foo", version="1.0", build=1, platform=PLATFORM, python_tag="cp38",
                            summary="changed content")
    nopy = build_egg(str(src), name="nopy", version="2.0", build=1, platform=PLATFORM, python_tag=None)
    bar = build_egg(str(src), name="bar", version="0.5", build=3, platform=PLATFORM, python_tag="cp38")
    foo_sha, changed_sha, bar_sha = sha256_file(foo), sha256_file(foo_changed), sha256_file(bar)
    size = os.path.getsize(foo)

    p = program_for(brood_server, client_spec)
    sp = p.client.organization(org).repository(repo).platform(PLATFORM)
    sp.step("upload_egg", "upload_egg", foo, check=eq(None))
    sp.step("upload_egg python-independent", "upload_egg", nopy)
    sp.step("list_eggs(cp38)", "list_eggs", "cp38",
            check=all_of(contains({"name": "Foo-1.0-1.egg", "python_tag": "cp38"}),
                         that("lists the python-independent egg (REST §8.6) with python_tag None/'none'",
                              lambda v: {"name": "nopy-2.0-1.egg", "python_tag": None} in v
                              or {"name": "nopy-2.0-1.egg", "python_tag": "none"} in v)))
    sp.step("egg_index(cp38)", "egg_index", "cp38",
            check=that("keyed by file name; entry name/version/build/python_tag (REST §8.6)",
                       lambda index: index["Foo-1.0-1.egg"]["name"] == "foo"
                       and index["Foo-1.0-1.egg"]["version"] == "1.0" and index["Foo-1.0-1.egg"]["build"] == 1
                       and index["Foo-1.0-1.egg"]["python_tag"] == "cp38"))
    sp.step("egg_metadata", "egg_metadata", "cp38", "foo", "1.0-1",
            check=that(f"sha256 {foo_sha}, name foo, full_version 1.0-1, enabled (REST §8.5)",
                       lambda m: m["sha256"] == foo_sha and m["name"] == "foo" and m["full_version"] == "1.0-1"
                       and m.get("filename") == "Foo-1.0-1.egg" and m.get("enabled", True) is True))
    sp.step("egg_metadata case-preserving name", "egg_metadata", "cp38", "Foo", "1.0-1",
            check=that("same egg (REST §8.1: names match case-insensitively)", lambda m: m["sha256"] == foo_sha))
    sp.step("egg_metadata python-independent egg", "egg_metadata", "none", "nopy", "2.0-1",
            check=that("found under python tag 'none'", lambda m: m["name"] == "nopy"))
    sp.step("egg_metadata python-independent egg via a concrete tag", "egg_metadata", "cp38", "nopy", "2.0-1",
            check=that("the egg the cp38 index lists", lambda m: m["name"] == "nopy"),
            note="the cp38 index lists it (REST §8.6) and export fetches metadata and data of every index entry "
                 "through the index's tag (CLI §5.9, REST §12.4), so this must answer 200 (inferred)")
    sp.step("download_egg python-independent egg via a concrete tag", "download_egg", "cp38", "nopy", "2.0-1",
            str(down3), list_dir=str(down3), files={"nopy-2.0-1.egg": sha256_file(nopy)},
            note="as above: export downloads through the tag under which it found the egg")
    sp.step("upload_egg(verify=True) identical", "upload_egg", foo, verify=True, check=eq(None))
    sp.step("upload_egg(verify=True) different content", "upload_egg", foo_changed, verify=True,
            error="ChecksumMismatchError")
    sp.step("upload_egg duplicate without overwrite", "upload_egg", foo_changed, error=NOT_AUTH_OR_MISSING)
    sp.step("download_egg", "download_egg", "cp38", "foo", "1.0-1", str(down1), list_dir=str(down1),
            files={"Foo-1.0-1.egg": foo_sha})
    sp.step("iter_download_egg", "iter_download_egg", "cp38", "foo", "1.0-1", str(down2), exhaust=True,
            list_dir=str(down2), files={"Foo-1.0-1.egg": foo_sha},
            check=that(f"length {size} and {size} bytes yielded",
                       lambda r: r["length"] == size and r["total"] == size))
    sp.step("download_egg(expected_sha256, filename)", "download_egg", "cp38", "foo", "1.0-1", str(down3),
            expected_sha256=foo_sha, filename="renamed.egg", list_dir=str(down3), files={"renamed.egg": foo_sha})
    sp.step("upload_egg(overwrite=True)", "upload_egg", foo_changed, overwrite=True)
    sp.step("egg_metadata after overwrite", "egg_metadata", "cp38", "foo", "1.0-1",
            check=that("new sha256", lambda m: m["sha256"] == changed_sha))
    # enabled=False, then reindex
    sp.step("upload_egg(enabled=False)", "upload_egg", bar, enabled=False)
    sp.step("list_eggs without the disabled egg", "list_eggs", "cp38",
            check=that("bar not listed", lambda v: all(e["name"] != "bar-0.5-3.egg" for e in v)))
    sp.step("egg_metadata of the disabled egg", "egg_metadata", "cp38", "bar", "0.5-3",
            check=that("200 with the sha256 (REST §8.2, §16.12), enabled false",
                       lambda m: m["sha256"] == bar_sha and m.get("enabled", False) is False))
    sp.step("reindex", "reindex", [bar], check=eq(None))
    sp.step("list_eggs after reindex", "list_eggs", "cp38",
            check=contains({"name": "bar-0.5-3.egg", "python_tag": "cp38"}))
    sp.step("delete_egg", "delete_egg", "cp38", "foo", "1.0-1")
    sp.step("list_eggs after delete", "list_eggs", "cp38",
            check=that("Foo gone", lambda v: all(e["name"] != "Foo-1.0-1.egg" for e in v)))
    sp.step("egg_metadata after delete", "egg_metadata", "cp38", "foo", "1.0-1", error=404)
    sp.step("delete_egg missing", "delete_egg", "cp38", "foo", "1.0-1", error=404,
            note="REST §8.4: 404 if absent (recommended)")
    p.run(failures)


def test_egg_errors(brood_server, client_spec, org_repo, failures, tmp_path):
    org, repo = org_repo
    egg = build_egg(str(tmp_path), name="lone", version="1.0", build=1, platform=PLATFORM, python_tag="cp38")
    p = program_for(brood_server, client_spec)
    p.client.organization(org).repository(repo).platform(PLATFORM).step(
        "egg_metadata of a missing egg", "egg_metadata", "cp38", "missing", "1.0-1", error=404)
    p.client.organization(org).repository(unique("nope")).platform(PLATFORM).step(
        "upload_egg to a missing repository", "upload_egg", egg, error=404, note="REST §13.2 (recommended)")
    p.client.organization(org).repository(repo).platform(PLATFORM).step(
        "upload_egg(verify=True) when absent uploads", "upload_egg", egg, verify=True)
    p.client.organization(org).repository(repo).platform(PLATFORM).step(
        "egg visible after verified upload", "egg_metadata", "cp38", "lone", "1.0-1",
        check=that("sha256", lambda m: m["sha256"] == sha256_file(egg)))
    p.run(failures)


# --- runtimes -------------------------------------------------------------------------------------

@pytest.mark.api_version(0)
def test_runtimes_v0(brood_server, client_spec, org_repo, failures, tmp_path):
    org, repo = org_repo
    down1, down2 = tmp_path / "d1", tmp_path / "d2"
    down1.mkdir(), down2.mkdir()
    runtime = build_runtime_v0(str(tmp_path), language="python", version="2.7.9", platform="rh5-64", build=1)
    filename, digest, size = os.path.basename(runtime), sha256_file(runtime), os.path.getsize(runtime)
    p = program_for(brood_server, client_spec)
    r = p.client.organization(org).repository(repo)
    sp = r.platform("rh5-64")
    r.step("upload_runtime (v0)", "upload_runtime", runtime, check=eq(None))
    sp.step("list_runtimes (v0)", "list_runtimes", check=eq([filename]))
    sp.step("runtime_index (v0)", "runtime_index",
            check=that("{language: {version: {build: entry}}} (REST §9.1)",
                       lambda i: i["python"]["2.7.9"]["1"]["filename"] == filename
                       and i["python"]["2.7.9"]["1"]["sha256"] == digest
                       and i["python"]["2.7.9"]["1"]["full_version"] == "2.7.9-1"))
    sp.step("runtime_metadata (v0)", "runtime_metadata", "cp27", "2.7.9-1",
            check=that("language/version/build/sha256", lambda m: m["sha256"] == digest and m["language"] == "python"
                       and m["version"] == "2.7.9" and m["build"] == 1 and m["filename"] == filename))
    sp.step("download_runtime (v0)", "download_runtime", "cp27", "2.7.9-1", str(down1), list_dir=str(down1),
            files={filename: digest})
    sp.step("iter_download_runtime (v0)", "iter_download_runtime", "cp27", "2.7.9-1", str(down2), exhaust=True,
            list_dir=str(down2), files={filename: digest},
            check=that(f"{size} bytes", lambda res: res["length"] == size and res["total"] == size))
    r.step("upload_runtime(verify=True) identical (v0)", "upload_runtime", runtime, verify=True, check=eq(None))
    r.step("upload_runtime duplicate (v0)", "upload_runtime", runtime, error=NOT_AUTH_OR_MISSING)
    r.step("upload_runtime(overwrite=True) (v0)", "upload_runtime", runtime, overwrite=True)
    sp.step("runtime_metadata missing (v0)", "runtime_metadata", "cp27", "2.7.9-7", error=404)
    p.run(failures)


@pytest.mark.api_version(1)
def test_runtimes_v1(brood_server, client_spec, org_repo, failures, tmp_path):
    org, repo = org_repo
    down1, down2 = tmp_path / "d1", tmp_path / "d2"
    down1.mkdir(), down2.mkdir()
    runtime = build_runtime_v1(str(tmp_path), implementation="cpython", version="3.8.8+1", platform=PLATFORM)
    filename, digest, size = os.path.basename(runtime), sha256_file(runtime), os.path.getsize(runtime)
    p = program_for(brood_server, client_spec)
    r = p.client.organization(org).repository(repo)
    sp = r.platform(PLATFORM)
    r.step("upload_runtime (v1)", "upload_runtime", runtime, check=eq(None))
    sp.step("list_runtimes (v1)", "list_runtimes", check=eq([("cpython", "3.8.8+1")]))
    r.platform("rh7_x86_64").step("list_runtimes, underscore platform (v1)", "list_runtimes",
                                   check=eq([("cpython", "3.8.8+1")]),
                                   note="REST §3: a server should normalise -/_ platform spellings (inferred)")
    sp.step("runtime_index (v1)", "runtime_index",
            check=that("{implementation: {version: entry}} (REST §9.2)",
                       lambda i: i["cpython"]["3.8.8+1"]["sha256"] == digest
                       and i["cpython"]["3.8.8+1"]["filename"] == filename))
    sp.step("runtime_metadata (v1)", "runtime_metadata", "cpython", "3.8.8+1",
            check=that("implementation/version/sha256", lambda m: m["sha256"] == digest
                       and m["implementation"] == "cpython" and m["version"] == "3.8.8+1"))
    sp.step("download_runtime (v1)", "download_runtime", "cpython", "3.8.8+1", str(down1), list_dir=str(down1),
            files={filename: digest})
    sp.step("iter_download_runtime (v1)", "iter_download_runtime", "cpython", "3.8.8+1", str(down2),
            exhaust=True, list_dir=str(down2), files={filename: digest},
            check=that(f"{size} bytes", lambda res: res["length"] == size and res["total"] == size))
    r.step("upload_runtime(verify=True) identical (v1)", "upload_runtime", runtime, verify=True, check=eq(None))
    r.step("upload_runtime duplicate (v1)", "upload_runtime", runtime, error=NOT_AUTH_OR_MISSING)
    r.step("upload_runtime(overwrite=True) (v1)", "upload_runtime", runtime, overwrite=True)
    sp.step("runtime_delete (v1)", "runtime_delete", "cpython", "3.8.8+1", check=eq(None))
    sp.step("list_runtimes after delete (v1)", "list_runtimes", check=eq([]))
    sp.step("runtime_metadata after delete (v1)", "runtime_metadata", "cpython", "3.8.8+1", error=404)
    sp.step("runtime_delete missing (v1)", "runtime_delete", "cpython", "3.8.8+1", error=404,
            note="REST §9.2: 404 if absent")
    p.run(failures)


# --- apps -----------------------------------------------------------------------------------------

def test_apps(brood_server, client_spec, org_repo, failures, tmp_path):
    org, repo = org_repo
    app = build_app(str(tmp_path), id="mayavi.demo", name="Mayavi demo", platform=PLATFORM, version="4.6.0",
                    build=1, python_tag="cp38")
    p = program_for(brood_server, client_spec)
    r = p.client.organization(org).repository(repo)
    sp = r.platform(PLATFORM)
    r.step("upload_app", "upload_app", app, check=eq(None))
    sp.step("app_index", "app_index",
            check=that("{python_tag: {app_id: {version: {build: entry}}}} (REST §10)",
                       lambda i: i["cp38"]["mayavi.demo"]["4.6.0"]["1"]["python_tag"] == "cp38"))
    sp.step("list_apps", "list_apps", check=eq([("mayavi.demo", "4.6.0-1", "cp38")]))
    sp.step("app_metadata", "app_metadata", "cp38", "mayavi.demo", "4.6.0-1",
            check=that("id, python_tag", lambda m: m["id"] == "mayavi.demo" and m["python_tag"] == "cp38"))
    r.step("upload_app duplicate", "upload_app", app, error=NOT_AUTH_OR_MISSING)
    r.step("upload_app(overwrite=True)", "upload_app", app, overwrite=True)
    p.run(failures)


# --- bundles (v1) ---------------------------------------------------------------------------------

@pytest.mark.api_version(1)
def test_bundles_v1(brood_server, client_spec, org_repo, failures, tmp_path):
    org, repo = org_repo
    save_dir = tmp_path / "saved"
    save_dir.mkdir()
    runtime = {"repository": "enthought/free", "implementation": "cpython", "version": "3.8.8+1",
               "platform": "rh7_x86_64", "platform_abi": "gnu", "sha256": "0" * 64}
    bundle = build_bundle(str(tmp_path), name="mini", version="1.0", build=1, runtime=runtime,
                          requirements=["numpy 1.21.2-1"])
    with open(bundle, encoding="utf-8") as stream:
        document = json.load(stream)
    entry = {"python_tag": "cp38", "name": "mini", "version": "1.0-1"}
    p = program_for(brood_server, client_spec)
    r = p.client.organization(org).repository(repo)
    sp = r.platform(PLATFORM)
    r.step("upload_bundle", "upload_bundle", bundle,
           check=that("returns the BundleResourceFileController (API §9.5)",
                      lambda v: v["__type__"] == "BundleResourceFileController"))
    sp.step("bundle_list", "bundle_list", check=eq([entry]))
    r.platform("rh7_x86_64").step("bundle_list, underscore platform", "bundle_list", check=eq([entry]),
                                   note="REST §3: a server should normalise -/_ platform spellings (inferred)")
    sp.step("bundle_index", "bundle_index",
            check=that("python_tag -> name -> version -> build -> entry (REST §11)",
                       lambda i: i["cp38"]["mini"]["1.0"]["1"]["full_version"] == "1.0-1"
                       and i["cp38"]["mini"]["1.0"]["1"]["name"] == "mini"))
    sp.attr("bundles").step("iterate bundles", "__iter__",
                            check=that("one BundleResourceController", lambda v: len(v) == 1
                                       and "name=mini version=1.0-1" in v[0]["__repr__"]))
    sp.step("bundle_metadata", "bundle_metadata", "cp38", "mini", "1.0-1",
            check=that("name/full_version/python_tag and data == the bundle document",
                       lambda m: m["name"] == "mini" and m["full_version"] == "1.0-1" and m["python_tag"] == "cp38"
                       and m["data"] == document))
    sp.attr("bundles").get("cp38", "mini", "1.0-1").step(
        "bundles.get(...).metadata()", "metadata", check=that("same bundle", lambda m: m["data"] == document))
    sp.step("bundle_save", "bundle_save", "cp38", "mini", "1.0-1", str(save_dir), read_result_file=True,
            check=that("path <dir>/mini-1.0-1.bundle", lambda path: path == str(save_dir / "mini-1.0-1.bundle")))
    r.step("upload_bundle duplicate", "upload_bundle", bundle, error=NOT_AUTH_OR_MISSING)
    r.step("upload_bundle(overwrite=True)", "upload_bundle", bundle, overwrite=True)
    sp.step("bundle_delete", "bundle_delete", "cp38", "mini", "1.0-1", check=eq(None))
    sp.step("bundle_list after delete", "bundle_list", check=eq([]))
    sp.step("bundle_metadata after delete", "bundle_metadata", "cp38", "mini", "1.0-1", error=404)
    sp.step("bundle_delete missing", "bundle_delete", "cp38", "mini", "1.0-1", error=404,
            note="REST §11: 404 if absent")
    results = p.run(failures)
    record = results.record("bundle_save")
    if record["ok"]:
        saved = json.loads(record["file_text"])
        if saved != document:
            failures.add(f"bundle_save wrote {saved!r}, expected the uploaded document {document!r}")


# --- authentication variants ----------------------------------------------------------------------

@pytest.mark.parametrize("api_version", [0, 1])
def test_authentication_modes(brood_server, failures, api_version):
    """Every credential form the server must accept (REST §2.1), and refusals with 401."""
    url = brood_server.url
    token_name = unique("authtok")
    p = Program(url, api_version=api_version, auth=basic(), label=f"api v{api_version} auth")
    p.step("create token (password)", "create_api_token", token_name)
    for label, auth in [("Basic tuple", basic()),
                        ("BroodClientAuth(user, password)", client_auth([ADMIN_EMAIL, ADMIN_PASSWORD])),
                        ("BroodClientAuth(API token)", client_auth(ref("create token (password)", "token"))),
                        ("raw Bearer API token", bearer(ref("create token (password)", "token")))]:
        p.step(f"list_organizations with {label}", "list_organizations",
               client={"api_version": api_version, "auth": auth},
               check=that("a sorted list", lambda v: isinstance(v, list) and v == sorted(v)))
    p.step("wrong password (Basic)", "list_organizations",
           client={"api_version": api_version, "auth": basic(ADMIN_EMAIL, "wrong")}, error=401)
    p.step("wrong password (BroodClientAuth)", "list_organizations",
           client={"api_version": api_version, "auth": client_auth([ADMIN_EMAIL, "wrong"])}, error=401)
    p.step("bad API token (BroodClientAuth)", "list_organizations",
           client={"api_version": api_version, "auth": client_auth("not-a-token")}, error=401)
    p.step("anonymous admin request", "list_organizations",
           client={"api_version": api_version, "auth": None}, error=(401, 403))
    p.step("delete token", "delete_api_token", token_name)
    p.run(failures)
