"""Bounded memory: uploading and downloading a 256 MiB egg allocates far less than the file's size.

The server runs in a subprocess, so only the client's allocations are traced (``tracemalloc``, in
this process); the bound (16 MiB) is a sixteenth of the file. No timing here: see benchmarks/.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tracemalloc
from typing import Any, Callable, Iterator

import pytest
from stack.processes import StartError, free_port, stop_process, wait_until
from stack.replicas import health

from hatcher.api import BroodClient
from hatcher.artefacts.builders import build_egg
from hatcher.core.download import file_digest

MIB = 1 << 20
EGG_SIZE = 256 * MIB
BOUND = 16 * MIB
ADMIN = ("admin@example.com", "bounded-memory")
PLATFORM, TAG = "rh7-x86_64", "cp38"
NAME, VERSION = "bigmem", "1.0.0-1"


def _free_space(path: str) -> int:
    return shutil.disk_usage(path).free


pytestmark = pytest.mark.skipif(_free_space(os.environ.get("TMPDIR", "/tmp")) < 2 << 30,
                                reason="needs 2 GiB of free disk space")


@pytest.fixture(scope="module")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Our server in a subprocess (its memory is not traced here)."""
    data_dir = tmp_path_factory.mktemp("bounded-memory-server")
    url = f"http://127.0.0.1:{free_port()}"
    env = dict(os.environ, HATCHER_SERVER_RUN_ADMIN=":".join(ADMIN), NO_PROXY="127.0.0.1", no_proxy="127.0.0.1")
    process = subprocess.Popen(
        [sys.executable, "-m", "hatcher.server", "run", "--data-dir", str(data_dir), "--port",
         url.rsplit(":", 1)[1], "--log-level", "warning"],
        env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        try:
            wait_until(lambda: health(url) == 200, process, 60, "the server")
        except StartError as error:
            pytest.fail(f"{error}: {process.stderr.read().decode() if process.stderr else ''}")
        yield url
    finally:
        stop_process(process, timeout=30)
        if process.stderr is not None:
            process.stderr.close()


@pytest.fixture(scope="module")
def big_egg(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """A 256 MiB egg (pseudo-random, incompressible payload) and its sha256."""
    directory = tmp_path_factory.mktemp("bounded-memory-egg")
    path = build_egg(str(directory), name="bigmem", version="1.0.0", build=1, platform=PLATFORM, python_tag=TAG,
                     payload_size=EGG_SIZE)
    assert os.path.getsize(path) > EGG_SIZE
    return path, file_digest(path)


@pytest.fixture(scope="module")
def organization(server_url: str) -> Any:
    client = BroodClient.from_url(server_url, auth=ADMIN, api_version=1)
    return client.create_organization("memory", "bounded memory")


def _platform(organization: Any, repository: str) -> Any:
    organization.create_repository(repository, "bounded memory")
    return organization.repository(repository).platform(PLATFORM)


def traced_peak(operation: Callable[[], Any]) -> int:
    """The peak of memory traced by ``tracemalloc`` while ``operation`` runs, above what was there before."""
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        operation()
        return tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("verify", [False, True], ids=["upload_egg", "upload_egg-verify"])
def test_uploading_a_big_egg_allocates_a_bounded_amount(organization, big_egg, verify):
    # Given a fresh repository and an egg 16 times the bound
    path, sha256 = big_egg
    platform = _platform(organization, f"upload-{'verify' if verify else 'plain'}")

    # When it is uploaded
    peak = traced_peak(lambda: platform.upload_egg(path, verify=verify))

    # Then the client's allocations stayed under the bound, and the server holds the same bytes
    assert peak < BOUND, f"peak {peak / MIB:.1f} MiB"
    assert platform.egg_metadata(TAG, NAME, VERSION)["sha256"] == sha256


def test_verifying_an_egg_already_there_allocates_a_bounded_amount(organization, big_egg):
    # Given the egg is on the server
    path, sha256 = big_egg
    platform = _platform(organization, "verify-again")
    platform.upload_egg(path)

    # When it is uploaded again with verify (hashed locally, compared, not sent)
    peak = traced_peak(lambda: platform.upload_egg(path, verify=True))

    # Then
    assert peak < BOUND, f"peak {peak / MIB:.1f} MiB"
    assert platform.egg_metadata(TAG, NAME, VERSION)["sha256"] == sha256


def test_downloading_a_big_egg_allocates_a_bounded_amount(organization, big_egg, tmp_path):
    # Given the egg is on the server
    path, sha256 = big_egg
    platform = _platform(organization, "download")
    platform.upload_egg(path)

    # When it is downloaded
    peak = traced_peak(lambda: platform.download_egg(TAG, NAME, VERSION, str(tmp_path)))

    # Then the client's allocations stayed under the bound, and the file is the same
    assert peak < BOUND, f"peak {peak / MIB:.1f} MiB"
    downloaded = tmp_path / os.path.basename(path)
    assert downloaded.stat().st_size == os.path.getsize(path)
    assert file_digest(str(downloaded)) == sha256
