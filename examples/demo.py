"""The hatcher demo (``tox -e demo``): Getting Started against a real Brood server, with the API and the CLI.

It starts the embedded Brood server on a free loopback port with a temporary data
directory, walks through organizations, repositories, users, teams, eggs, runtimes, apps,
bundles and API tokens with the Python API, then does the same with the ``hatcher``
command line, printing each step. It exits 0 when every step worked and 1 (with the
failed step named) otherwise, and always stops the server; its last line is the address of
the server's web interface. With ``--keep-serving`` the server keeps serving after the last
step, until Ctrl-C, so that a person can open that address in a browser.

Only the standard library and hatcher are used.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
from typing import Any, Iterator, Optional, Sequence

from hatcher.api import BroodBearerTokenAuth, BroodClient, BroodClientAuth
from hatcher.artefacts import builders
from hatcher.core.utils import compute_sha256
from hatcher.errors import BroodHTTPError

ORGANIZATION, REPOSITORY, PLATFORM, PYTHON_TAG = "acme", "dev", "rh7-x86_64", "cp38"
ADMIN = ("admin@example.com", "demo-admin-password")
JANE = ("jane@acme.org", "demo-jane-password")
MAX_LINES = 14


class DemoFailed(Exception):
    """A step did not give what the demo expects."""


class Demo:
    """Numbered steps with readable output."""

    def __init__(self) -> None:
        self.number = 0
        self.current = "start"

    @contextlib.contextmanager
    def step(self, title: str) -> Iterator[None]:
        """Print ``=== <n>. <title> ===`` and remember the step for the failure message."""
        self.number += 1
        self.current = f"{self.number}. {title}"
        print(f"\n=== {self.current} ===", flush=True)
        yield

    @staticmethod
    def show(label: str, value: Any = None) -> None:
        """Print ``label`` and, indented below it, ``value`` (JSON for dicts and lists, cut at a few lines)."""
        if value is None:
            print(f"  {label}")
            return
        if isinstance(value, str):
            text = value
        else:
            text = json.dumps(value, sort_keys=True, default=str)
            if len(label) + len(text) >= 100:
                if isinstance(value, list):
                    text = "\n".join(json.dumps(item, sort_keys=True, default=str) for item in value)
                else:
                    text = json.dumps(value, indent=2, sort_keys=True, default=str)
        lines = text.splitlines() or [""]
        if len(lines) == 1 and len(label) + len(lines[0]) < 100:
            print(f"  {label}: {lines[0]}")
            return
        print(f"  {label}:")
        for line in lines[:MAX_LINES]:
            print(f"      {line}")
        if len(lines) > MAX_LINES:
            print(f"      ... ({len(lines) - MAX_LINES} more lines)")


def expect(condition: bool, message: str) -> None:
    """Fail the current step with ``message`` unless ``condition``."""
    if not condition:
        raise DemoFailed(message)


def build_artefacts(directory: str) -> dict[str, str]:
    """Two eggs, a v1 runtime, an app and a bundle that needs the eggs, all for rh7-x86_64 / cp38."""
    os.makedirs(directory)
    eggs = [builders.build_egg(directory, name=name, version=version, build=1, platform=PLATFORM,
                               python_tag=PYTHON_TAG, summary=summary)
            for name, version, summary in (("numpy", "1.21.2", "Arrays"), ("scipy", "1.7.1", "Science"))]
    runtime = builders.build_runtime_v1(directory, implementation="cpython", version="3.8.8+1", platform=PLATFORM)
    app = builders.build_app(directory, id="acme.viewer", name="Acme viewer", platform=PLATFORM,
                             version="1.0.0", build=1, python_tag=PYTHON_TAG)
    requirements = [{"name": os.path.basename(egg).split("-")[0], "version": "-".join(
        os.path.basename(egg)[:-4].split("-")[1:]), "repository": f"{ORGANIZATION}/{REPOSITORY}",
        "sha256": compute_sha256(egg)} for egg in eggs]
    bundle = builders.build_bundle(
        directory, name="science", version="1.0", build=1, requirements=requirements,
        runtime={"implementation": "cpython", "version": "3.8.8+1", "platform": PLATFORM},
        extra={"repositories": {"packages": [f"{ORGANIZATION}/{REPOSITORY}"],
                                "runtimes": [f"{ORGANIZATION}/{REPOSITORY}"]}})
    extra_egg = builders.build_egg(directory, name="pandas", version="1.3.3", build=1, platform=PLATFORM,
                                   python_tag=PYTHON_TAG)
    return {"numpy": eggs[0], "scipy": eggs[1], "runtime": runtime, "app": app, "bundle": bundle,
            "pandas": extra_egg}


def hatcher_cli(*args: str, stdin: Optional[str] = None) -> subprocess.CompletedProcess[str]:
    """Run ``python -m hatcher ARGS`` and return the finished process."""
    return subprocess.run([sys.executable, "-m", "hatcher", *args], input=stdin, capture_output=True,
                          text=True, timeout=300)


def python_api(demo: Demo, brood: Any, work: str) -> None:
    """The Getting Started story with the Python API."""
    with demo.step("Build two eggs, a runtime, an app and a bundle (hatcher.artefacts.builders)"):
        files = build_artefacts(os.path.join(work, "build"))
        for path in files.values():
            demo.show(os.path.basename(path), f"{os.path.getsize(path)} bytes")
    client = BroodClient.from_url(brood.url, auth=ADMIN, api_version=1)

    with demo.step("Create an organization (Python API)"):
        acme = client.create_organization(ORGANIZATION, "Acme Corp.")
        demo.show("client.list_organizations()", client.list_organizations())
        expect(ORGANIZATION in client.list_organizations(), "the new organization is not listed")

    with demo.step("Create a repository"):
        dev = acme.create_repository(REPOSITORY, "Development builds")
        demo.show("acme.list_repositories()", acme.list_repositories())
        expect(REPOSITORY in acme.list_repositories(), "the new repository is not listed")

    with demo.step("Create a team that may upload to the repository, and a user in it"):
        uploaders = acme.create_team("uploaders", "upload_repository")
        uploaders.add_repository(dev)
        jane = acme.create_user(JANE[0])
        uploaders.add_user(jane)
        demo.show("acme.list_teams()", acme.list_teams())
        demo.show("uploaders.list_repositories()", uploaders.list_repositories())
        demo.show("uploaders.list_users()", uploaders.list_users())
        expect(JANE[0] in uploaders.list_users(), "jane is not in the team")

    with demo.step("Give the user a password (CLI: hatcher server set-password, password on stdin)"):
        result = hatcher_cli("server", "set-password", "--data-dir", brood.settings.data_dir, JANE[0],
                             stdin=JANE[1] + "\n")
        print(f"  $ echo *** | hatcher server set-password --data-dir {brood.settings.data_dir} {JANE[0]}")
        print(textwrap.indent((result.stdout + result.stderr).rstrip(), "    "))
        expect(result.returncode == 0, f"set-password failed: {result.stderr.strip()}")

    platform = dev.platform(PLATFORM)
    with demo.step("Upload two eggs, a runtime, an app and a bundle"):
        for key in ("numpy", "scipy"):
            platform.upload_egg(files[key], verify=True)
            demo.show("platform.upload_egg", os.path.basename(files[key]))
        dev.upload_runtime(files["runtime"], verify=True)
        demo.show("dev.upload_runtime", os.path.basename(files["runtime"]))
        dev.upload_app(files["app"], verify=True)
        demo.show("dev.upload_app", os.path.basename(files["app"]))
        bundle = dev.upload_bundle(files["bundle"])
        demo.show("dev.upload_bundle", f"{bundle.name} {bundle.version} ({bundle.python_tag})")

    with demo.step("List them"):
        eggs = platform.list_eggs(PYTHON_TAG)
        demo.show(f"platform.list_eggs({PYTHON_TAG!r})", eggs)
        demo.show("platform.list_runtimes()", platform.list_runtimes())
        demo.show("platform.list_apps()", platform.list_apps())
        demo.show("platform.bundle_list()", platform.bundle_list())
        expect(len(eggs) == 2, f"expected two eggs, got {eggs}")

    with demo.step("Fetch the indices"):
        egg_index = platform.egg_index(PYTHON_TAG)
        demo.show(f"platform.egg_index({PYTHON_TAG!r}) keys", sorted(egg_index))
        demo.show("platform.egg_index: numpy entry", egg_index.get("numpy-1.21.2-1.egg"))
        demo.show("platform.runtime_index()", platform.runtime_index())
        demo.show("platform.app_index()", platform.app_index())
        demo.show("platform.bundle_index()", platform.bundle_index())

    with demo.step("Fetch the metadata"):
        egg_metadata = platform.egg_metadata(PYTHON_TAG, "numpy", "1.21.2-1")
        runtime_metadata = platform.runtime_metadata("cpython", "3.8.8+1")
        demo.show("platform.egg_metadata('cp38', 'numpy', '1.21.2-1')", egg_metadata)
        demo.show("platform.runtime_metadata('cpython', '3.8.8+1')", runtime_metadata)
        demo.show("platform.app_metadata('cp38', 'acme.viewer', '1.0.0-1')",
                  platform.app_metadata(PYTHON_TAG, "acme.viewer", "1.0.0-1"))
        demo.show(f"platform.bundle_metadata({bundle.python_tag!r}, 'science', '1.0-1') keys",
                  sorted(platform.bundle_metadata(bundle.python_tag, "science", "1.0-1")))

    with demo.step("Download and verify (sha256)"):
        downloads = os.path.join(work, "downloads")
        os.makedirs(downloads)
        platform.download_egg(PYTHON_TAG, "numpy", "1.21.2-1", downloads)
        platform.download_runtime("cpython", "3.8.8+1", downloads)
        saved = platform.bundle_save(bundle.python_tag, "science", "1.0-1", downloads)
        for name in sorted(os.listdir(downloads)):
            demo.show(name, f"{os.path.getsize(os.path.join(downloads, name))} bytes")
        egg_copy = os.path.join(downloads, "numpy-1.21.2-1.egg")
        expect(compute_sha256(egg_copy) == compute_sha256(files["numpy"]) == egg_metadata["sha256"],
               "the downloaded egg does not match")
        runtime_copies = [name for name in os.listdir(downloads) if name.endswith(".runtime")]
        expect(len(runtime_copies) == 1 and compute_sha256(os.path.join(downloads, runtime_copies[0]))
               == compute_sha256(files["runtime"]), "the downloaded runtime does not match")
        expect(os.path.exists(saved), "the bundle was not saved")
        demo.show("sha256 of the egg and the runtime", "identical to the uploaded files")

    with demo.step("Create an API token as jane, and use it"):
        jane_client = BroodClient.from_url(brood.url, auth=BroodClientAuth(brood.url, JANE), api_version=1)
        token = jane_client.create_api_token("ci-uploader")
        demo.show("jane_client.create_api_token('ci-uploader')", {"name": token["name"], "token": "<secret>"})
        demo.show("jane_client.list_api_tokens()", jane_client.list_api_tokens())
        token_client = BroodClient.from_url(
            brood.url, auth=BroodClientAuth(brood.url, token["token"]), api_version=1)
        demo.show("token_client.list_available_repositories()", token_client.list_available_repositories())
        token_client.organization(ORGANIZATION).repository(REPOSITORY).platform(PLATFORM).upload_egg(files["pandas"])
        demo.show("token_client ... upload_egg", os.path.basename(files["pandas"]))
        expect("pandas-1.3.3-1.egg" in platform.egg_index(PYTHON_TAG), "the token upload is not in the index")

    with demo.step("Delete the API token; it no longer works"):
        jane_client.delete_api_token("ci-uploader")
        demo.show("jane_client.list_api_tokens()", jane_client.list_api_tokens())
        try:
            BroodClient.from_url(brood.url, auth=BroodBearerTokenAuth(token["token"]),
                                 api_version=1).list_available_repositories()
        except BroodHTTPError as exc:
            demo.show("with the deleted token", f"HTTP {exc.response.status_code}: {exc}")
            expect(exc.response.status_code == 401, "expected 401 Unauthorized")
        else:
            raise DemoFailed("the deleted token still works")


#: (group, title, arguments) of the CLI walk; ``{name}`` fields are filled from the built files.
#: Markers in CLI_STEPS: authenticate with the API token; the command must fail.
TOKEN, REFUSED = "@token", "@refused"

CLI_STEPS: Sequence[tuple[str, str, Sequence[str]]] = (
    ("organizations", "Create an organization", ("organizations", "create", "cli-org", "Made with the CLI")),
    ("organizations", "List organizations", ("organizations", "list")),
    ("repositories", "Create a repository", ("repositories", "create", "cli-org", "stable", "Stable builds")),
    ("repositories", "List repositories", ("repositories", "list", "cli-org")),
    ("teams", "Create a team", ("teams", "create", "cli-org", "builders", "upload_repository")),
    ("teams", "Give the team the repository", ("teams", "repositories", "add", "cli-org", "builders", "stable")),
    ("users", "Create a user", ("users", "create", "cli-org", "sam@acme.org")),
    ("teams", "Put the user in the team", ("teams", "members", "add", "cli-org", "builders", "sam@acme.org")),
    ("teams", "List the team's members", ("teams", "members", "list", "cli-org", "builders")),
    ("eggs", "Upload an egg", ("eggs", "upload", "cli-org", "stable", PLATFORM, "{numpy}")),
    ("eggs", "Batch-upload eggs in parallel", ("eggs", "batch-upload", "--jobs", "2", "cli-org", "stable",
                                               PLATFORM, "{scipy}", "{pandas}")),
    ("eggs", "List eggs", ("eggs", "list", "cli-org", "stable", PLATFORM, PYTHON_TAG)),
    ("eggs", "Egg metadata", ("eggs", "metadata", "cli-org", "stable", PLATFORM, PYTHON_TAG, "numpy", "1.21.2-1")),
    ("eggs", "Download an egg (verified by sha256)", ("eggs", "download", "cli-org", "stable", PLATFORM,
                                                      PYTHON_TAG, "numpy", "1.21.2-1", "{downloads}")),
    ("runtimes", "Upload a runtime", ("runtimes", "upload", "cli-org", "stable", "{runtime}")),
    ("runtimes", "List runtimes", ("runtimes", "list", "cli-org", "stable", PLATFORM)),
    ("runtimes", "Runtime metadata", ("runtimes", "metadata", "cli-org", "stable", PLATFORM, "cpython", "3.8.8+1")),
    ("apps", "Upload an app", ("apps", "upload", "cli-org", "stable", "{app}")),
    ("apps", "List apps", ("apps", "list", "cli-org", "stable", PLATFORM)),
    ("bundles", "Upload a bundle", ("bundles", "upload", "cli-org", "stable", "{bundle}")),
    ("bundles", "List bundles", ("bundles", "list", "cli-org", "stable", PLATFORM)),
    ("bundles", "Bundle index", ("bundles", "index", "cli-org", "stable", PLATFORM)),
    ("user", "Repositories I can use", ("user", "repositories")),
    ("api-tokens", "Create an API token", ("api-tokens", "create", "--json", "cli-token")),
    ("api-tokens", "Use the token (-t) to list the eggs", (TOKEN, "eggs", "list", "cli-org", "stable", PLATFORM,
                                                           PYTHON_TAG)),
    ("api-tokens", "List API tokens", ("api-tokens", "list")),
    ("api-tokens", "Delete the API token", ("api-tokens", "delete", "-y", "cli-token")),
    ("api-tokens", "The deleted token is refused (exit status 1)", (TOKEN, REFUSED, "organizations", "list")),
)


def cli_groups() -> set[str]:
    """The command groups ``hatcher --help`` lists."""
    result = hatcher_cli("--help")
    if result.returncode != 0:
        raise DemoFailed(f"hatcher --help failed: {result.stderr.strip()}")
    lines = result.stdout.split("Commands:", 1)[-1].splitlines()
    return {line.split()[0] for line in lines if line.startswith("  ") and line.split()}


def command_line(demo: Demo, brood: Any, work: str) -> None:
    """The same story with the ``hatcher`` command line, for the groups it has."""
    with demo.step("The command line: hatcher --version"):
        result = hatcher_cli("--version")
        demo.show("$ hatcher --version", result.stdout.strip())
        expect(result.returncode == 0, "hatcher --version failed")
        groups = cli_groups()
        demo.show("groups listed by hatcher --help", sorted(groups))

    files = build_artefacts(os.path.join(work, "cli-build"))
    files["downloads"] = os.path.join(work, "cli-downloads")
    os.makedirs(files["downloads"])
    shown_missing: set[str] = set()
    print()
    for group, title, arguments in CLI_STEPS:
        if group not in groups:
            if group not in shown_missing:
                shown_missing.add(group)
                print(f"  (CLI group {group} not available yet)")
            continue
        argv = [argument.format(**files) for argument in arguments if argument not in (TOKEN, REFUSED)]
        with demo.step(f"CLI: {title}"):
            display = " ".join(os.path.basename(a) if a in files.values() else a for a in argv)
            if TOKEN in arguments:
                auth, shown = ("-t", files["token"]), "-t ***"
            else:
                auth, shown = ("-U", ADMIN[0], "-p", ADMIN[1]), f"-U {ADMIN[0]} -p ***"
            result = hatcher_cli("-u", brood.url, *auth, *argv)
            print(f"  $ hatcher -u {brood.url} {shown} {display}")
            output = (result.stdout + result.stderr).rstrip()
            if "--json" in argv and arguments[:2] == ("api-tokens", "create"):
                files["token"] = json.loads(result.stdout)["token"]
                output = output.replace(files["token"], "<the secret, shown once>")
            if output:
                print(textwrap.indent(output, "    "))
            wanted = 1 if REFUSED in arguments else 0
            expect(result.returncode == wanted, f"exit status {result.returncode}, expected {wanted}")


def parse_arguments(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """The demo's options."""
    parser = argparse.ArgumentParser(description="Walk through Getting Started against an embedded Brood server.")
    parser.add_argument("--keep-serving", action="store_true",
                        help="after the demo, keep the server running (until Ctrl-C) so you can open its web "
                             "interface in a browser and log in as the demo's superuser")
    return parser.parse_args(argv)


def web_interface(brood: Any) -> str:
    """The line naming the web interface of ``brood`` and whom to log in as (never the password itself)."""
    return f"Web interface: {brood.url}/ (log in as {ADMIN[0]}, with the password ADMIN of examples/demo.py)"


def keep_serving(brood: Any) -> None:
    """Serve until Ctrl-C (SIGINT) or SIGTERM."""
    print(f"\nThe server keeps serving: open {brood.url}/ in a browser. Press Ctrl-C to stop it.", flush=True)
    stop = threading.Event()
    # Both signals set the event (SIGINT even where the shell started the demo with it ignored).
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        while not stop.wait(0.5):
            pass
        print()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the demo; return the exit status."""
    arguments = parse_arguments(argv)
    try:
        from hatcher.server.runner import EmbeddedBrood
    except ModuleNotFoundError as exc:
        print(f"The demo needs the server extra ({exc.name} is missing): pip install 'hatcher[server]'",
              file=sys.stderr)
        return 1
    demo = Demo()
    brood = None
    with tempfile.TemporaryDirectory(prefix="hatcher-demo-") as work:
        try:
            with demo.step("Start an embedded Brood server on a free port"):
                brood = EmbeddedBrood(os.path.join(work, "data"), admin=ADMIN).start()
                demo.show("url", brood.url)
                demo.show("data directory", brood.settings.data_dir)
                demo.show("superuser", ADMIN[0])
            python_api(demo, brood, work)
            command_line(demo, brood, work)
            if arguments.keep_serving:
                print(f"\n{web_interface(brood)}", flush=True)
                keep_serving(brood)
        except Exception as exc:  # noqa: BLE001 - any failure ends the demo with one clear message
            print(f"\nDEMO FAILED at step {demo.current}: {type(exc).__name__}: {exc}", file=sys.stderr)
            return 1
        finally:
            if brood is not None:
                with demo.step("Stop the server"):
                    brood.stop()
                    demo.show("stopped", brood.url)
    print("\nThe demo completed: every step worked.")
    if not arguments.keep_serving:
        print("(The server stopped with the demo: run it with --keep-serving to browse what it made.)")
    # The last line: the web interface of the server the demo started.
    print(web_interface(brood))
    return 0


if __name__ == "__main__":
    sys.exit(main())
