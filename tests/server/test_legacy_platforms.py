"""A v0 runtime or an app uploaded with a legacy platform name (``rh5-64``) keeps that name everywhere API v0 shows it.

Whichever spelling of the platform the URL uses (``rh5-64``, ``rh5-x86_64``, ``rh5_x86_64``), the
v0 runtime index, the v0 runtime metadata, the v0 app index and the app metadata give the
platform as the artefact spells it: the v0 runtime's file name, the app's description. API
v1 is unchanged: its app index gives the canonical name.
"""

from __future__ import annotations

import uuid
from typing import Any, Callable

import pytest
import requests

from hatcher.artefacts import builders
from hatcher.artefacts.platforms import normalize_platform, underscore_platform
from hatcher.server.runner import EmbeddedBrood

LEGACY = ["rh5-64", "win-32", "osx-64"]


@pytest.fixture(scope="module")
def stored(brood: EmbeddedBrood, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One repository holding, for each legacy spelling, a v0 runtime and an app uploaded through API v0."""
    work = tmp_path_factory.mktemp("legacy")
    organization = f"legacy-{uuid.uuid4().hex[:8]}"
    repository = brood.client(api_version=0).create_organization(organization, "Legacy").create_repository("r", "R")
    for spelling in LEGACY:
        (work / spelling).mkdir()
        repository.upload_runtime(builders.build_runtime_v0(str(work / spelling), platform=spelling))
        repository.upload_app(builders.build_app(str(work / spelling), platform=spelling, python_tag="cp27"))
    canonical = work / "canonical"
    canonical.mkdir()
    repository.upload_app(builders.build_app(str(canonical), id="plain.app", platform="rh5-x86_64",
                                             python_tag="cp27"))
    return {"organization": organization}


@pytest.fixture
def get(brood: EmbeddedBrood, stored: dict[str, Any]) -> Callable[[int, str], Any]:
    """``get(version, "indices/{repo}/rh5-64/runtimes")``: the JSON answer (200 required)."""
    def call(version: int, path: str) -> Any:
        path = path.format(repo=f"{stored['organization']}/r")
        answer = requests.get(f"{brood.url}/api/v{version}/json/{path}", auth=brood.admin_auth, timeout=30)
        assert answer.status_code == 200, (path, answer.text)
        return answer.json()
    return call


def spellings(legacy: str) -> list[str]:
    canonical = normalize_platform(legacy)
    return [legacy, canonical, underscore_platform(canonical)]


@pytest.mark.parametrize("legacy", LEGACY)
def test_a_v0_runtime_keeps_its_legacy_platform_name_in_the_index_and_metadata(get, legacy):
    for url_platform in spellings(legacy):
        # When the v0 runtime index and metadata are read, under any spelling of the platform
        index = get(0, f"indices/{{repo}}/{url_platform}/runtimes")
        metadata = get(0, f"metadata/{{repo}}/{url_platform}/runtimes/cp27/2.7.3-1")
        # Then both give the platform as the file name spells it
        leaf = index["python"]["2.7.3"]["1"]
        assert leaf["platform"] == metadata["platform"] == legacy, url_platform
        assert leaf["filename"] == f"python_runtime_2.7.3_2.0.0.dev1-abc1234_{legacy}_1.zip"


@pytest.mark.parametrize("legacy", LEGACY)
def test_an_app_keeps_its_legacy_platform_name_in_the_v0_index_and_metadata(get, legacy):
    for url_platform in spellings(legacy):
        index = get(0, f"indices/{{repo}}/{url_platform}/apps")
        metadata = get(0, f"metadata/{{repo}}/{url_platform}/cp27/apps/mayavi.demo/4.6.0-1")
        assert index["cp27"]["mayavi.demo"]["4.6.0"]["1"]["platform"] == metadata["platform"] == legacy, url_platform


def test_an_app_uploaded_with_the_canonical_name_keeps_it(get):
    index = get(0, "indices/{repo}/rh5-64/apps")
    assert index["cp27"]["plain.app"]["4.6.0"]["1"]["platform"] == "rh5-x86_64"
    assert get(0, "metadata/{repo}/rh5-64/cp27/apps/plain.app/4.6.0-1")["platform"] == "rh5-x86_64"


@pytest.mark.parametrize("legacy", LEGACY)
def test_api_v1_is_unchanged(get, legacy):
    canonical = normalize_platform(legacy)
    for url_platform in spellings(legacy):
        # The v1 app index names the canonical platform; the app metadata is the stored description
        index = get(1, f"indices/{{repo}}/{url_platform}/apps")
        assert index["cp27"]["mayavi.demo"]["4.6.0"]["1"]["platform"] == canonical
        assert get(1, f"metadata/{{repo}}/{url_platform}/cp27/apps/mayavi.demo/4.6.0-1")["platform"] == legacy
        # And v0 runtimes are not v1 runtimes
        assert get(1, f"indices/{{repo}}/{url_platform}/runtimes") == {}


def test_the_v0_and_v1_app_indices_are_cached_apart(brood: EmbeddedBrood, get):
    # Read alternately, each version keeps its own answer (the index cache keys them apart)
    for _ in range(2):
        assert get(0, "indices/{repo}/rh5-64/apps")["cp27"]["mayavi.demo"]["4.6.0"]["1"]["platform"] == "rh5-64"
        assert get(1, "indices/{repo}/rh5-64/apps")["cp27"]["mayavi.demo"]["4.6.0"]["1"]["platform"] == "rh5-x86_64"
