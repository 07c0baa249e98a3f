"""Our command line prints the same bytes as the reference's for every listing command.

Both programs run as subprocesses with the same arguments against the same populated server
(ours): the reference hatcher 0.17.0 from its own venv, and ours as ``python -m hatcher`` with
this interpreter. Their standard output must be byte-identical and both must exit with 0.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from harness import ADMIN_EMAIL, ADMIN_PASSWORD, unique
from reference import reference_environment, run_reference_cli

from hatcher.api import BroodClient
from hatcher.artefacts.builders import build_bundle, build_egg, build_runtime_v0, build_runtime_v1

PLATFORM = "rh7-x86_64"
V0_PLATFORM = "rh5-64"
PASSWORD_ARGS = ["-U", ADMIN_EMAIL, "-p", ADMIN_PASSWORD]


def run_ours(args: list[str]) -> subprocess.CompletedProcess[str]:
    """``python -m hatcher ARGS`` (ours), in the environment the reference runs in."""
    return subprocess.run([sys.executable, "-m", "hatcher", *args], capture_output=True, text=True, input="",
                          timeout=300, env=reference_environment())


@pytest.fixture(scope="module")
def populated(brood_server, tmp_path_factory) -> dict[str, str]:
    """Two organizations, two repositories, eggs under two tags, v0 and v1 runtimes, bundles, API tokens."""
    tmp = str(tmp_path_factory.mktemp("identity"))
    org, other = unique("torg"), unique("aorg")
    client = BroodClient.from_url(brood_server.url, auth=brood_server.admin_auth, api_version=1)
    client.create_organization(org, "table identity")
    client.create_organization(other, "table identity")
    repository = client.organization(org).create_repository("dev", "dev")
    client.organization(org).create_repository("alpha", "alpha")
    platform = repository.platform(PLATFORM)
    for name, version, build, tag in (("numpy", "1.8.0", 1, "cp38"), ("numpy", "1.10.0", 1, "cp38"),
                                      ("MKL", "2019.5", 1, None), ("scipy", "1.7.3", 12, "cp38"),
                                      ("Pillow", "9.0", 1, "cp27"), ("zlib", "1.2.11", 3, None)):
        platform.upload_egg(build_egg(tmp, name, version, build, platform=PLATFORM, python_tag=tag))
    for implementation, version in (("cpython", "3.8.10+2"), ("cpython", "3.11.4+1"), ("pypy", "2.7.13+1"),
                                    ("cpython", "3.8.9+1")):
        repository.upload_runtime(build_runtime_v1(tmp, implementation=implementation, version=version,
                                                   platform=PLATFORM))
    client_v0 = BroodClient.from_url(brood_server.url, auth=brood_server.admin_auth, api_version=0)
    for version, build in (("2.7.9", 1), ("2.7.10", 2), ("3.4.1", 1)):
        client_v0.organization(org).repository("dev").upload_runtime(
            build_runtime_v0(tmp, version=version, build=build, platform=V0_PLATFORM))
    runtime = {"repository": "enthought/free", "implementation": "cpython", "version": "3.8.10+2",
               "platform": "rh7_x86_64", "platform_abi": "gnu", "sha256": "0" * 64}
    for name, version, build in (("data_science", "2.1.0", 3), ("gui_tools", "1.0.0", 1), ("data_science", "2.0", 1)):
        directory = os.path.join(tmp, f"{name}-{version}-{build}")
        os.makedirs(directory)
        repository.upload_bundle(build_bundle(directory, name=name, version=version, build=build, runtime=runtime,
                                              requirements=["numpy 1.10.0-1"]))
    for name in ("ci", "laptop", "Build-bot"):
        client.create_api_token(unique(name))
    return {"org": org}


LISTINGS = [
    (1, ["organizations", "list"]),
    (1, ["repositories", "list", "{org}"]),
    (1, ["platforms", "list"]),
    (0, ["platforms", "list"]),
    (1, ["python-tags", "list"]),
    (1, ["python-tags", "list", "--all"]),
    (1, ["api-tokens", "list"]),
    (1, ["user", "repositories"]),
    (1, ["user", "repositories", "--include-indexable"]),
    (0, ["user", "repositories", "--include-indexable"]),
    (1, ["eggs", "list", "{org}", "dev", PLATFORM, "cp38"]),
    (1, ["eggs", "list", "{org}", "dev", PLATFORM, "cp27"]),
    (0, ["eggs", "list", "{org}", "dev", PLATFORM, "cp38"]),
    (1, ["eggs", "list", "{org}", "dev", PLATFORM, "cp313"]),
    (1, ["runtimes", "list", "{org}", "dev", PLATFORM]),
    (0, ["runtimes", "list", "{org}", "dev", V0_PLATFORM]),
    (1, ["runtimes", "list", "{org}", "alpha", PLATFORM]),
    (1, ["bundles", "list", "{org}", "dev", PLATFORM]),
    (1, ["bundles", "list", "{org}", "alpha", PLATFORM]),
]


@pytest.mark.parametrize("api_version, command", LISTINGS,
                         ids=[f"v{version}-{'-'.join(c for c in command if not c.startswith(('{', 'rh')))}"
                              for version, command in LISTINGS])
def test_listing_output_is_byte_identical(brood_server, populated, api_version, command):
    args = ["-u", brood_server.url, *PASSWORD_ARGS, "--api-version", str(api_version),
            *[part.format(**populated) for part in command]]
    reference = run_reference_cli(args)
    ours = run_ours(args)
    assert reference.returncode == 0, f"reference failed: {reference.stderr}"
    assert ours.returncode == 0, f"ours failed: {ours.stderr}"
    assert ours.stdout == reference.stdout, f"reference:\n{reference.stdout}\nours:\n{ours.stdout}"
    assert reference.stdout.strip() or command[-1] in ("cp313",) or "alpha" in command
