"""One script, run by the reference client (hatcher 0.17.0, its own venv) and by ours, on one server.

What a script written for the reference sees: the exception of an unsupported API version, and
what ``iter_download_egg`` leaves in the destination directory when its iterator is never
started, dropped, closed halfway, or run to its end. The differences are the ones listed on the
compatibility page (chunks of up to 1 MiB instead of 64 KiB; an iterator closed halfway leaves
no stray partial file here).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from typing import Any

import pytest
from harness import ADMIN_EMAIL, ADMIN_PASSWORD, unique
from reference import run_reference_python

from hatcher.api import BroodClient
from hatcher.artefacts.builders import build_egg

PLATFORM = "rh7-x86_64"
PAYLOAD = 3 * 1024 * 1024 + 123

SCRIPT = r'''
import gc, json, os, sys, tempfile
from hatcher.api import BroodClient
from hatcher.core.model_registry import InvalidApiVersion

url, user, password, org, repo, platform_name = sys.argv[1:7]
result = {}
for version in (2, 3):
    try:
        BroodClient.from_url(url, api_version=version)
    except InvalidApiVersion as exc:
        result["api_version_%d" % version] = [type(exc).__name__, list(exc.args)]
platform = BroodClient.from_url(url, auth=(user, password)).organization(org).repository(repo).platform(
    platform_name)


def listing(directory):
    return sorted(os.listdir(directory))


with tempfile.TemporaryDirectory() as directory:
    with open(os.path.join(directory, "other.txt"), "w") as stream:
        stream.write("mine")
    length, chunks = platform.iter_download_egg("cp38", "big", "1.0-1", directory)
    result["length"] = length
    result["after_the_call"] = listing(directory)
    del chunks
    gc.collect()
    result["after_dropping_it"] = listing(directory)
    length, chunks = platform.iter_download_egg("cp38", "big", "1.0-1", directory)
    result["closed_halfway_after"] = next(chunks) + next(chunks)
    chunks.close()
    gc.collect()
    result["after_closing_halfway"] = listing(directory)
    for name in listing(directory):
        if name != "other.txt":
            os.unlink(os.path.join(directory, name))
    length, chunks = platform.iter_download_egg("cp38", "big", "1.0-1", directory)
    sizes = list(chunks)
    result["whole"] = {"total": sum(sizes), "largest": max(sizes), "after": listing(directory)}
print(json.dumps(result))
'''


@pytest.fixture(scope="module")
def stored(brood_server: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """An organization whose repository holds a ~3 MiB egg (uploaded with our client: set-up only)."""
    work = tmp_path_factory.mktemp("same-script")
    egg = build_egg(str(work), name="big", version="1.0", build=1, platform=PLATFORM, python_tag="cp38",
                    payload_size=PAYLOAD)
    org, repo = unique("org"), unique("repo")
    client = BroodClient.from_url(brood_server.url, auth=(ADMIN_EMAIL, ADMIN_PASSWORD))
    client.create_organization(org, "same script").create_repository(repo, "same script").platform(
        PLATFORM).upload_egg(egg)
    with open(egg, "rb") as stream:
        size = len(stream.read())
    return {"args": [brood_server.url, ADMIN_EMAIL, ADMIN_PASSWORD, org, repo, PLATFORM], "size": size}


def run_ours(args: list[str]) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory(prefix="hatcher-ours-") as cwd:
        return subprocess.run([sys.executable, "-I", "-c", SCRIPT, *args], capture_output=True, text=True,
                              cwd=cwd, timeout=300)


@pytest.fixture(scope="module")
def results(stored: dict[str, Any], reference_venv: str) -> dict[str, dict[str, Any]]:
    """What the script printed, run by each client."""
    outputs = {"reference": run_reference_python(SCRIPT, args=stored["args"]), "ours": run_ours(stored["args"])}
    for side, completed in outputs.items():
        assert completed.returncode == 0, f"{side}: {completed.stderr[-2000:]}"
    return {side: json.loads(completed.stdout) for side, completed in outputs.items()}


def test_an_unsupported_api_version_is_the_same_exception(results: dict[str, dict[str, Any]]) -> None:
    for version in (2, 3):
        key = f"api_version_{version}"
        assert results["ours"][key] == results["reference"][key] == ["InvalidApiVersion", [version]]


def test_a_download_not_started_leaves_the_directory_as_it_was(results: dict[str, dict[str, Any]],
                                                               stored: dict[str, Any]) -> None:
    for side in ("reference", "ours"):
        assert results[side]["length"] == stored["size"], side
        assert results[side]["after_the_call"] == ["other.txt"], side
        assert results[side]["after_dropping_it"] == ["other.txt"], side


def test_a_whole_download_is_the_same_file(results: dict[str, dict[str, Any]], stored: dict[str, Any]) -> None:
    for side in ("reference", "ours"):
        whole = results[side]["whole"]
        assert (whole["total"], whole["after"]) == (stored["size"], ["big-1.0-1.egg", "other.txt"]), side


def test_documented_difference_chunk_size(results: dict[str, dict[str, Any]]) -> None:
    """Compatibility page: the iterators yield up to 1 MiB at a time, the reference's 64 KiB."""
    assert results["reference"]["whole"]["largest"] == 64 * 1024
    assert results["ours"]["whole"]["largest"] == 1024 * 1024


def test_documented_difference_closed_halfway(results: dict[str, dict[str, Any]]) -> None:
    """Compatibility page: an iterator closed halfway leaves the directory as it was; the reference
    leaves its partial file behind."""
    assert results["ours"]["after_closing_halfway"] == ["other.txt"]
    left = [name for name in results["reference"]["after_closing_halfway"] if name != "other.txt"]
    assert len(left) == 1 and left[0].endswith(".hatcher-partial"), left
