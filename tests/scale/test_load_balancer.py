"""End to end through nginx, with our command line and the reference client; and downloads by signed S3 URLs.

* ``nginx_lb`` balances round robin over two replicas of ``replica_set``: our ``hatcher``
  command line and the reference client (hatcher 0.17.0, in a virtualenv of its own, driven
  as a black box: its command line and its Python API in subprocesses) each upload an egg
  and download the other's, byte for byte.
* A server started with ``--s3-presigned-downloads 60`` answers downloads with a 302 to a
  URL of the S3 server signed for 60 s. The redirect names the file (``Content-Disposition``),
  and so does the signed URL's answer (the signed ``response-content-disposition``
  parameter): the reference client takes the file name from the final answer.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from types import ModuleType
from typing import Any, Iterator

import pytest
import requests
from scale_kit import (
    ADMIN,
    PLATFORM,
    PYTHON_TAG,
    Egg,
    create_repository,
    dedicated_replicas,
    our_cli,
    reference_module,
    unique,
)
from service_guard import require_service
from stack import Nginx, PostgresCluster, ReplicaSet, SeaweedS3

#: The reference client's API version here (the replicas serve both).
API_VERSION = "1"
RUNTIME_PLATFORM = "rh7-x86_64"
RUNTIME = ("cpython", "3.8.8+1")


@pytest.fixture(scope="module")
def reference() -> ModuleType:
    """``tests/conformance/reference.py``, its virtualenv built (once, cached); unavailable: skip, in CI fail."""
    module = reference_module()
    try:
        module.ensure_reference_venv()
    except module.ReferenceEnvError as error:
        require_service(f"reference client hatcher=={module.REFERENCE_VERSION} unavailable: {error}"[:2000])
    return module


def reference_cli(reference: ModuleType, url: str, *arguments: Any) -> None:
    """The reference ``hatcher -u URL -U ADMIN -p PASSWORD --api-version 1 ARGUMENTS...``; it must succeed."""
    done = reference.run_reference_cli(["-u", url, "-U", ADMIN[0], "-p", ADMIN[1], "--api-version", API_VERSION,
                                        *(str(argument) for argument in arguments)], timeout=120)
    assert done.returncode == 0, \
        f"reference hatcher {' '.join(map(str, arguments))} exited {done.returncode}: {done.stdout}{done.stderr}"


def files_in(directory: Path) -> dict[str, str]:
    """``{file name: sha256}`` of the files in ``directory``."""
    return {path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in sorted(directory.iterdir())}


def test_our_cli_and_the_reference_client_share_eggs_through_nginx(
        nginx_lb: Nginx, replica_set: ReplicaSet, reference: ModuleType, tmp_path: Path) -> None:
    """Through nginx: our CLI makes a repository, uploads, lists and downloads an egg; the reference CLI
    downloads the same bytes, uploads an egg of its own, which our CLI lists and downloads intact."""
    url = nginx_lb.url
    served_before = nginx_lb.served_by()
    ours, theirs = tmp_path / "ours", tmp_path / "theirs"
    # Given a repository made with our command line, through nginx
    organization = unique("balanced")
    our_cli(url, "organizations", "create", organization, "Through nginx")
    our_cli(url, "repositories", "create", organization, "dev", "Through nginx")
    # When our command line uploads an egg, lists the eggs and downloads it
    egg = Egg(tmp_path / "egg", "ours_through_nginx", payload_size=200_000)
    our_cli(url, "eggs", "upload", organization, "dev", PLATFORM, egg.path)
    listed = json.loads(our_cli(url, "eggs", "list", organization, "dev", PLATFORM, PYTHON_TAG, "--json").stdout)
    assert listed == {"eggs": [{"name": egg.filename, "python_tag": PYTHON_TAG}]}, f"our CLI lists {listed}"
    (ours / "first").mkdir(parents=True)
    our_cli(url, "eggs", "download", organization, "dev", PLATFORM, PYTHON_TAG, egg.name, egg.full_version,
            ours / "first")
    # Then it gets its bytes back
    assert files_in(ours / "first") == {egg.filename: egg.sha256}, "our CLI's download"
    # And the reference command line downloads the same bytes
    (theirs / "first").mkdir(parents=True)
    reference_cli(reference, url, "eggs", "download", organization, "dev", PLATFORM, PYTHON_TAG, egg.name,
                  egg.full_version, theirs / "first")
    assert files_in(theirs / "first") == {egg.filename: egg.sha256}, "the reference CLI's download"
    # When the reference command line uploads an egg of its own
    other = Egg(tmp_path / "other", "theirs_through_nginx", payload_size=100_000)
    reference_cli(reference, url, "eggs", "upload", organization, "dev", PLATFORM, other.path)
    # Then our command line lists it and downloads its bytes
    listed = json.loads(our_cli(url, "eggs", "list", organization, "dev", PLATFORM, PYTHON_TAG, "--json").stdout)
    assert sorted(entry["name"] for entry in listed["eggs"]) == sorted([egg.filename, other.filename]), \
        f"our CLI lists {listed} after the reference client's upload"
    (ours / "second").mkdir()
    our_cli(url, "eggs", "download", organization, "dev", PLATFORM, PYTHON_TAG, other.name, other.full_version,
            ours / "second")
    assert files_in(ours / "second") == {other.filename: other.sha256}, "our CLI's download of the reference's egg"
    # And nginx spread those requests over both servers
    served = {server: count - served_before.get(server, 0) for server, count in nginx_lb.served_by().items()}
    assert {server for server, count in served.items() if count} == set(replica_set.upstreams[:2]), \
        f"requests answered by each server during the test: {served}"


# -- downloads by signed S3 URLs -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def presigned_set(postgres: PostgresCluster, seaweed: SeaweedS3,
                  tmp_path_factory: pytest.TempPathFactory) -> Iterator[ReplicaSet]:
    """One server that answers downloads with a redirect to a URL signed for 60 s."""
    with dedicated_replicas(postgres, seaweed, tmp_path_factory.mktemp("presigned"), "presigned", 1,
                            ["--s3-presigned-downloads", "60", "--gc-grace", "120", "--gc-interval", "0"]) as replicas:
        yield replicas


REFERENCE_DOWNLOADS = r"""
import json, os, sys
from hatcher.api import BroodClient

url, email, password, organization, repository, egg_platform, tag, name, version, runtime_platform, \
    implementation, runtime_version, destination = sys.argv[1:]
client = BroodClient.from_url(url, auth=(email, password), api_version=1)
repo = client.organization(organization).repository(repository)
for kind in ("egg", "runtime"):
    os.makedirs(os.path.join(destination, kind))
repo.platform(egg_platform).download_egg(tag, name, version, os.path.join(destination, "egg"))
repo.platform(runtime_platform).download_runtime(implementation, runtime_version, os.path.join(destination, "runtime"))
print(json.dumps({kind: sorted(os.listdir(os.path.join(destination, kind))) for kind in ("egg", "runtime")}))
"""


def test_in_presigned_mode_our_client_and_the_reference_client_download_from_the_signed_url(
        presigned_set: ReplicaSet, seaweed: SeaweedS3, reference: ModuleType, tmp_path: Path) -> None:
    """A download is a 302 to a signed S3 URL; our library and the reference client (API and CLI) get the
    file, under its name, byte for byte: an egg and a runtime."""
    from hatcher.api import BroodClient
    from hatcher.artefacts.builders import build_runtime_v1

    url = presigned_set.urls[0]
    # Given an egg and a runtime on a server in presigned mode
    organization, repository = create_repository(url)
    egg = Egg(tmp_path / "egg", "signed", payload_size=150_000)
    runtime = Path(build_runtime_v1(str(tmp_path), *RUNTIME, platform=RUNTIME_PLATFORM))
    client = BroodClient.from_url(url, auth=ADMIN, api_version=1)
    repo = client.organization(organization).repository(repository)
    repo.platform(PLATFORM).upload_egg(str(egg.path))
    repo.upload_runtime(str(runtime))
    expected = {"egg": {egg.filename: egg.sha256},
                "runtime": {runtime.name: hashlib.sha256(runtime.read_bytes()).hexdigest()}}
    # When the egg is asked for without following redirects
    redirect = egg.download(url, organization, repository, allow_redirects=False)
    # Then the answer is a 302 to a signed URL of the S3 server, naming the file
    location = redirect.headers.get("Location", "")
    assert redirect.status_code == 302, f"presigned download: {redirect.status_code} {redirect.text[:200]}"
    assert location.startswith(f"{seaweed.endpoint_url}/{seaweed.bucket}/") and "X-Amz-Signature=" in location, \
        f"the redirect goes to {location!r}"
    disposition = f'attachment; filename="{egg.filename}"'
    assert redirect.headers.get("Content-Disposition") == disposition, f"the redirect's headers: {redirect.headers}"
    # And the signed URL serves the bytes without credentials, naming the file too
    with requests.Session() as anonymous:
        anonymous.trust_env = False
        signed = anonymous.get(location, timeout=30)
    assert signed.status_code == 200 and signed.content == egg.data, \
        f"the signed URL: {signed.status_code} {signed.text[:300]!r}"
    assert signed.headers.get("Content-Disposition") == disposition, f"the signed URL's headers: {signed.headers}"
    # When our client library downloads the egg and the runtime
    ours = tmp_path / "ours"
    for kind in expected:
        (ours / kind).mkdir(parents=True)
    repo.platform(PLATFORM).download_egg(egg.python_tag, egg.name, egg.full_version, str(ours / "egg"))
    repo.platform(RUNTIME_PLATFORM).download_runtime(*RUNTIME, str(ours / "runtime"))
    # Then it has them, named and intact
    assert {kind: files_in(ours / kind) for kind in expected} == expected, "our client library's downloads"
    # When the reference client's Python API downloads them
    theirs = tmp_path / "theirs"
    done = reference.run_reference_python(REFERENCE_DOWNLOADS, args=[
        url, *ADMIN, organization, repository, PLATFORM, egg.python_tag, egg.name, egg.full_version,
        RUNTIME_PLATFORM, *RUNTIME, str(theirs)], timeout=120)
    # Then it has them too, named and intact
    assert done.returncode == 0, f"the reference client's downloads failed: {done.stdout}{done.stderr[-3000:]}"
    assert {kind: files_in(theirs / kind) for kind in expected} == expected, "the reference client's downloads"
    # And so does the reference command line
    (theirs / "cli").mkdir()
    reference_cli(reference, url, "eggs", "download", organization, repository, PLATFORM, egg.python_tag, egg.name,
                  egg.full_version, theirs / "cli")
    assert files_in(theirs / "cli") == expected["egg"], "the reference CLI's download"
