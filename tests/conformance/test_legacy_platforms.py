"""The reference client reads back a v0 runtime and an app uploaded with a legacy platform name (``rh5-64``).

Through API v0 every view of them (runtime index and metadata, app index and metadata) gives
``rh5-64``, as the specification's v0 runtime index does (REST §9.1), whichever spelling of the
platform the client uses in its URLs. Through API v1 the app index gives the canonical name
(``rh5-x86_64``) as before, and the app metadata is the stored description.
"""

from __future__ import annotations

import os

from harness import Program, basic, eq, that, unique

from hatcher.artefacts.builders import build_app, build_runtime_v0

LEGACY = "rh5-64"
SPELLINGS = [LEGACY, "rh5-x86_64", "rh5_x86_64"]


def platform_is(expected: str, leaf):
    return that(f"platform == {expected!r}", lambda value: leaf(value)["platform"] == expected)


def test_legacy_platform_names_through_the_reference_client(brood_server, failures, tmp_path):
    org, repo = unique("org"), unique("repo")
    runtime = build_runtime_v0(str(tmp_path), language="python", version="2.7.9", platform=LEGACY, build=1)
    app = build_app(str(tmp_path), id="legacy.demo", name="Legacy demo", platform=LEGACY, version="1.0",
                    build=1, python_tag="cp27")
    filename = os.path.basename(runtime)

    # Given a runtime and an app uploaded through API v0 with the legacy name
    v0 = Program(brood_server.url, api_version=0, auth=basic(), label="api v0 legacy platform")
    v0.step("create organization", "create_organization", org, "legacy platforms")
    v0.client.organization(org).step("create repository", "create_repository", repo, "legacy platforms")
    r = v0.client.organization(org).repository(repo)
    r.step("upload_runtime rh5-64 (v0)", "upload_runtime", runtime, check=eq(None))
    r.step("upload_app rh5-64 (v0)", "upload_app", app, check=eq(None))
    # When every v0 view of them is read, under each spelling of the platform
    for spelling in SPELLINGS:
        sp = r.platform(spelling)
        sp.step(f"runtime_index via {spelling} (v0)", "runtime_index",
                check=platform_is(LEGACY, lambda i: i["python"]["2.7.9"]["1"]))
        sp.step(f"runtime_metadata via {spelling} (v0)", "runtime_metadata", "cp27", "2.7.9-1",
                check=platform_is(LEGACY, lambda m: m))
        sp.step(f"list_runtimes via {spelling} (v0)", "list_runtimes", check=eq([filename]))
        sp.step(f"app_index via {spelling} (v0)", "app_index",
                check=platform_is(LEGACY, lambda i: i["cp27"]["legacy.demo"]["1.0"]["1"]))
        sp.step(f"app_metadata via {spelling} (v0)", "app_metadata", "cp27", "legacy.demo", "1.0-1",
                check=platform_is(LEGACY, lambda m: m))
    # Then (checked above) they all say rh5-64
    v0.run(failures)

    # And through API v1, unchanged: the app index names the canonical platform, the metadata is the description
    v1 = Program(brood_server.url, api_version=1, auth=basic(), label="api v1 legacy platform")
    for spelling in SPELLINGS:
        sp = v1.client.organization(org).repository(repo).platform(spelling)
        sp.step(f"app_index via {spelling} (v1)", "app_index",
                check=platform_is("rh5-x86_64", lambda i: i["cp27"]["legacy.demo"]["1.0"]["1"]))
        sp.step(f"app_metadata via {spelling} (v1)", "app_metadata", "cp27", "legacy.demo", "1.0-1",
                check=platform_is(LEGACY, lambda m: m))
        sp.step(f"list_runtimes via {spelling} (v1: no v1 runtime)", "list_runtimes", check=eq([]))
    v1.run(failures)
