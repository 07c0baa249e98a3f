"""Start-up stays cheap: ``import hatcher.api`` and ``hatcher --help`` import no HTTP stack and no server.

Checked in fresh interpreters through ``sys.modules`` (no timing here: timing lives in benchmarks/).
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

#: Packages that must not be loaded just to import the entry point or to print the help.
HEAVY = ("requests", "urllib3", "hatcher.server", "hatcher.core", "starlette", "fastapi", "sqlalchemy")

REPORT = ("import json, sys; "
          "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {'requests', 'urllib3', 'hatcher', "
          "'starlette', 'fastapi', 'sqlalchemy'})))")


def loaded_modules(code: str) -> list[str]:
    completed = subprocess.run([sys.executable, "-c", f"{code}\n{REPORT}"], capture_output=True, text=True,
                               timeout=120, check=True)
    return json.loads(completed.stdout.splitlines()[-1])


def heavy(modules: list[str]) -> list[str]:
    """The modules of ``modules`` that belong to one of the :data:`HEAVY` packages."""
    return [name for name in modules if name in HEAVY or name.startswith(tuple(prefix + "." for prefix in HEAVY))]


def test_import_hatcher_api_loads_no_http_stack_nor_server():
    # When
    modules = loaded_modules("import hatcher.api")

    # Then
    assert "hatcher.api" in modules
    assert heavy(modules) == []


def test_the_names_of_hatcher_api_are_still_the_real_objects():
    # When
    modules = loaded_modules(
        "import hatcher.api\n"
        "from hatcher.api import BroodBearerTokenAuth, BroodClient, BroodClientAuth, MAX_API_VERSION\n"
        "import hatcher.core.auth, hatcher.core.brood_client, hatcher.core.model_registry\n"
        "assert BroodClient is hatcher.core.brood_client.BroodClient\n"
        "assert BroodClientAuth is hatcher.core.auth.BroodClientAuth\n"
        "assert BroodBearerTokenAuth is hatcher.core.auth.BroodBearerTokenAuth\n"
        "assert MAX_API_VERSION == hatcher.core.model_registry.MAX_API_VERSION\n"
        "assert set(hatcher.api.__all__) <= set(dir(hatcher.api))\n"
        "assert 'BroodClient' in vars(hatcher.api)")

    # Then the client needs its HTTP stack, but not the server
    assert "requests" in modules
    assert [name for name in modules if name.startswith("hatcher.server")] == []


def test_an_unknown_name_of_hatcher_api_is_an_attribute_error():
    import hatcher.api

    with pytest.raises(AttributeError, match="no attribute 'Nothing'"):
        hatcher.api.Nothing  # noqa: B018
    with pytest.raises(ImportError):
        exec("from hatcher.api import Nothing", {})


@pytest.mark.parametrize("args", [["--help"], ["eggs", "--help"], ["server", "--help"], ["--version"]])
def test_the_help_loads_no_http_stack_nor_server(args):
    # When the command line prints its help (it exits through SystemExit, which is caught)
    modules = loaded_modules(
        "from hatcher.cli.main import main\n"
        "import contextlib, io\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    try:\n"
        f"        main({args!r})\n"
        "    except SystemExit as exit:\n"
        "        assert exit.code in (0, None), exit.code\n")

    # Then
    assert "hatcher.cli.main" in modules
    assert heavy(modules) == []
