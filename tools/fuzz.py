"""Fuzz the embedded Brood with schemathesis against its own OpenAPI document (``tox -e fuzz``).

Usage: python tools/fuzz.py [--max-examples N] [--seed N] [--workers N] [-- EXTRA SCHEMATHESIS OPTIONS]

Starts an :class:`~hatcher.server.runner.EmbeddedBrood` in a temporary directory, seeds the
data the document's examples name (organization ``acme`` with repository ``dev``, team
``readers``, user ``jane@acme.org``, an API token, and an egg, runtimes v0 and v1, an app and
a bundle on ``rh7-x86_64``), then runs ``schemathesis run`` on ``/openapi.json`` with the
superuser's Basic credentials: every operation, every phase (examples, coverage, fuzzing,
stateful links), positive and negative data, and the checks ``not_a_server_error``,
``status_code_conformance``, ``content_type_conformance`` and
``response_schema_conformance``. Path parameters often take the seeded names
(schemathesis dictionaries), so that generated requests reach stored data, and the hooks of
``tools/fuzz_hooks.py`` put back seeded data a deletion removed and send generated uploads
with fitting file names and checksums. Exits with schemathesis' status: non-zero on any
failure.

Nothing the API offers can lock the superuser out (no operation changes a password or deletes
an account, and the fuzzer always sends the right password), so no operation is excluded.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from typing import Any, Optional, Sequence

import requests

from hatcher.api import BroodClient
from hatcher.artefacts import builders
from hatcher.errors import BroodHTTPError
from hatcher.server.runner import EmbeddedBrood

HERE = os.path.dirname(os.path.abspath(__file__))

#: The checks the fuzz run makes (issue 11): no 5xx, documented statuses, content types and bodies.
CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"

#: Values of path parameters that name seeded data (besides the document's own examples).
DICTIONARIES = {
    "organization_name": ["acme"],
    "repository_name": ["dev"],
    "platform": ["rh7-x86_64", "rh7_x86_64", "rh7-64"],
    "python_tag": ["cp38", "cp27", "none"],
    "name": ["pyyaml", "PyYAML", "data_science", "ci-uploader"],
    "version": ["5.4.1-2", "3.8.10+2", "2.7.3-1", "4.6.0-1", "2.1.0-3"],
    "implementation": ["cpython"],
    "app_id": ["mayavi.demo"],
    "team_name": ["readers"],
    "email": ["jane@acme.org"],
}

#: How often each path parameter takes a seeded value (the rest: generated ones).
PROBABILITY = {"organization_name": 0.8, "repository_name": 0.8, "team_name": 0.7, "email": 0.7}


def _config() -> str:
    """``schemathesis.toml``: the dictionaries, bound to the path parameters of the same names."""
    lines = ['hooks = "fuzz_hooks"\n']
    for name, values in DICTIONARIES.items():
        quoted = ", ".join(f'"{value}"' for value in values)
        lines.append(f"[dictionaries.{name}]\nvalues = [{quoted}]\n")
    # Longer chains of linked requests (create an organization, then a team in it, then...).
    lines.append("[phases.stateful]\nmax-steps = 20\n")
    lines.append("[parameters]")
    lines += [f'"path.{name}" = {{ dictionary = "{name}", probability = {PROBABILITY.get(name, 0.5)} }}'
              for name in DICTIONARIES]
    return "\n".join(lines) + "\n"


def _post(url: str, auth: tuple[str, str], path: str, body: dict[str, Any]) -> None:
    """POST ``body``; 201, or 409 when it exists already."""
    response = requests.post(url + path, json=body, auth=auth, timeout=30)
    if response.status_code not in (201, 409):
        raise RuntimeError(f"Seeding failed: POST {path} answered {response.status_code} {response.text}")


def _put(url: str, auth: tuple[str, str], path: str) -> None:
    response = requests.put(url + path, auth=auth, timeout=30)
    if response.status_code != 204:
        raise RuntimeError(f"Seeding failed: PUT {path} answered {response.status_code} {response.text}")


def artefacts(workdir: str) -> dict[str, str]:
    """Build the seeded artefact files in ``workdir``; their paths, by kind."""
    runtime = {"implementation": "cpython", "version": "3.8.10+2", "platform": "rh7_x86_64",
               "repository": "acme/dev", "platform_abi": "gnu", "sha256": "0" * 64}
    return {
        "egg": builders.build_egg(workdir, name="PyYAML", version="5.4.1", build=2, platform="rh7-x86_64",
                                  python_tag="cp38", packages=["libyaml 0.2.5-1"]),
        "disabled_egg": builders.build_egg(workdir, name="libyaml", version="0.2.5", build=1,
                                           platform="rh7-x86_64", python_tag=None),
        "runtime_v0": builders.build_runtime_v0(workdir, platform="rh7-64"),
        "runtime": builders.build_runtime_v1(workdir, version="3.8.10+2"),
        "app": builders.build_app(workdir, extra={"description": "A demo"}),
        "bundle": builders.build_bundle(workdir, name="data_science", version="2.1.0", build=3, runtime=runtime,
                                        requirements=["pyyaml 5.4.1-2"]),
    }


def _upload(call: Any) -> None:
    """Run an upload; 409 (it is there already, maybe uploaded by a concurrent restore) is fine."""
    try:
        call()
    except BroodHTTPError as exc:
        if exc.status_code != 409:
            raise


def seed(url: str, auth: tuple[str, str], workdir: str) -> None:
    """Create what the document's examples name, or what is missing of it (idempotent).

    Organization ``acme``, its repository ``dev``, team ``readers`` (``read_repository`` on
    ``dev``) with member ``jane@acme.org``, the superuser's API token ``ci-uploader``, and on
    ``rh7-x86_64``: eggs ``PyYAML 5.4.1-2`` (cp38) and ``libyaml 0.2.5-1`` (disabled), runtimes
    ``2.7.3-1`` (v0, cp27) and ``cpython 3.8.10+2``, app ``mayavi.demo 4.6.0-1`` and bundle
    ``data_science 2.1.0-3``.
    """
    admin = "/api/v1/json/admin"
    _post(url, auth, f"{admin}/organizations", {"name": "acme", "description": "Acme Corp."})
    _post(url, auth, f"{admin}/organizations/acme/repositories", {"name": "dev", "description": "Development"})
    _post(url, auth, f"{admin}/organizations/acme/teams", {"name": "readers", "group": "read_repository"})
    _put(url, auth, f"{admin}/teams/acme/readers/repositories/dev")
    _post(url, auth, f"{admin}/organizations/acme/users", {"email": "jane@acme.org"})
    _put(url, auth, f"{admin}/teams/acme/readers/members/jane@acme.org")
    _post(url, auth, "/api/v1/json/auth/tokens/api", {"name": "ci-uploader"})
    files = artefacts(workdir)
    v0 = BroodClient.from_url(url, auth=auth, api_version=0).organization("acme").repository("dev")
    v1 = BroodClient.from_url(url, auth=auth, api_version=1).organization("acme").repository("dev")
    eggs = v1.platform("rh7-x86_64")
    _upload(lambda: eggs.upload_egg(files["egg"], verify=True))
    _upload(lambda: eggs.upload_egg(files["disabled_egg"], enabled=False, verify=True))
    _upload(lambda: v0.upload_runtime(files["runtime_v0"], verify=True))
    _upload(lambda: v1.upload_runtime(files["runtime"], verify=True))
    _upload(lambda: v1.upload_app(files["app"], verify=True))
    _upload(lambda: v1.upload_bundle(files["bundle"]))


def run(max_examples: int, seed_value: Optional[int], workers: int, extra: Sequence[str]) -> int:
    """Start a server, seed it, fuzz it; schemathesis' exit status."""
    workdir = tempfile.mkdtemp(prefix="brood-fuzz-")
    # python-multipart logs a warning for every malformed multipart body before the server answers 400.
    logging.getLogger("python_multipart").setLevel(logging.ERROR)
    try:
        with EmbeddedBrood(os.path.join(workdir, "data")) as brood:
            seed(brood.url, brood.admin_auth, workdir)
            config = os.path.join(workdir, "schemathesis.toml")
            with open(config, "w", encoding="utf-8") as stream:
                stream.write(_config())
            # The hooks (tools/fuzz_hooks.py) restore the seeded data when the fuzzer deletes it.
            environment = dict(os.environ, HATCHER_FUZZ_URL=brood.url, HATCHER_FUZZ_USER=brood.admin_auth[0],
                               HATCHER_FUZZ_PASSWORD=brood.admin_auth[1], HATCHER_FUZZ_WORKDIR=workdir,
                               PYTHONPATH=os.pathsep.join(filter(None, [HERE, os.environ.get("PYTHONPATH")])))
            command = [
                sys.executable, "-m", "schemathesis.cli", "--config-file", config, "run",
                f"{brood.url}/openapi.json", "--checks", CHECKS, "--max-examples", str(max_examples),
                "--auth", ":".join(brood.admin_auth), "--workers", str(workers),
                "--phases", "examples,coverage,fuzzing,stateful", "--mode", "all",
                "--generation-database", "none", "--request-timeout", "30", "--no-color", *extra,
            ]
            if seed_value is not None:
                command += ["--seed", str(seed_value)]
            started = time.monotonic()
            # In its own working directory: schemathesis leaves nothing in the checkout.
            status = subprocess.call(command, cwd=workdir, env=environment)
            print(f"schemathesis finished in {time.monotonic() - started:.0f} s with status {status}", flush=True)
            _print_audit(brood)
            return status
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _print_audit(brood: EmbeddedBrood) -> None:
    """How many audit events the run left, by action (the log must keep up with the fuzzer)."""
    from sqlalchemy import func, select

    from hatcher.server.db import AuditEvent

    with brood.app.state.sessionmaker() as db:
        counts = db.execute(select(AuditEvent.action, func.count()).group_by(AuditEvent.action)
                            .order_by(func.count().desc())).all()
    print(f"audit events logged: {sum(count for _, count in counts)} "
          f"({', '.join(f'{action} {count}' for action, count in counts)})", flush=True)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Parse the command line and fuzz."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-examples", type=int, default=50, help="generated cases per operation (default 50)")
    parser.add_argument("--seed", type=int, default=None, help="schemathesis' random seed")
    parser.add_argument("--workers", type=int, default=1,
                        help="concurrent schemathesis workers (threads; default 1: the GIL leaves little to gain, "
                             "and CPython 3.11.7 and older can fail parsing code in two threads at once)")
    parser.add_argument("extra", nargs="*", help="more schemathesis options (after --)")
    args = parser.parse_args(argv)
    return run(args.max_examples, args.seed, args.workers, args.extra)


if __name__ == "__main__":
    sys.exit(main())
