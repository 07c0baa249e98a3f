"""The ``brood_server`` pytest fixture, as a user's test suite sees it: auto-registered, a real server."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
import requests

# Imported before any pytester test: pytester restores sys.modules afterwards, and a second
# import of SQLAlchemy's compiled modules in one process breaks them.
import hatcher.server.runner  # noqa: F401

pytest_plugins = ["pytester"]

USER_TESTS = textwrap.dedent('''
    import requests

    def test_health(brood_server):
        assert brood_server.url.startswith("http://127.0.0.1:")
        assert requests.get(brood_server.url + "/health", timeout=10).status_code == 200

    def test_fresh_server_per_test(brood_server):
        assert brood_server.client(api_version=1).list_organizations() == []

    def test_create_organization(brood_server):
        client = brood_server.client(api_version=1)
        client.create_organization("acme", "ACME Inc.")
        assert client.list_organizations() == ["acme"]

    def test_session_variant(brood_server_session):
        assert requests.get(brood_server_session.url + "/health", timeout=10).ok
''')


def test_user_test_file_gets_the_fixture_without_configuration(pytester):
    # Given a user's test file that only names the fixture (no conftest, no pytest_plugins)
    pytester.makepyfile(test_upload_script=USER_TESTS)
    # When pytest runs it in a separate process (entry-point plugins load as for a user)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-k", "health or session")
    # Then the fixture is found and the server answers
    result.assert_outcomes(passed=2)


def test_a_client_from_the_fixture_creates_an_organization(pytester, brood_server):
    # When the user's tests create organizations on fixtures of their own
    pytester.makepyfile(test_upload_script=USER_TESTS)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    # Then each test sees a fresh server
    result.assert_outcomes(passed=4)


def test_fixture_yields_url_admin_auth_and_client(brood_server):
    # Given the fixture of this very suite (the plugin is registered here too)
    # Then it exposes what users need
    assert brood_server.admin_auth == ("admin@example.com", "admin-password")
    client = brood_server.client(api_version=1)
    assert client.api_version == 1
    assert requests.get(brood_server.url + "/health", timeout=10).json()["status"] == "ok"


def test_loading_the_plugin_imports_no_server_dependency():
    # Given a fresh interpreter
    code = ("import sys, hatcher.testing as t; "
            "assert callable(t.start_brood_server); "
            "print(sorted(m for m in ('fastapi', 'uvicorn', 'sqlalchemy', 'starlette') if m in sys.modules))")
    # When it imports the plugin module
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    # Then none of the server's dependencies is loaded
    assert out.strip() == "[]"


def test_without_the_server_extra_the_fixture_fails_with_one_clear_line(pytester):
    # Given a user's test environment where FastAPI cannot be imported
    pytester.makeconftest("import sys\nsys.modules['fastapi'] = None\n")
    pytester.makepyfile(test_it="def test_it(brood_server):\n    pass\n")
    # When a test uses the fixture
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    # Then it errors with the install hint, not an obscure traceback
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*hatcher[[]server[]]*"])


def _python_blocks(rst_path) -> list[str]:
    """The ``.. code-block:: python`` blocks of a reST file, dedented."""
    blocks, current = [], None
    for line in rst_path.read_text().splitlines():
        if line.strip() == ".. code-block:: python":
            current = []
            blocks.append(current)
        elif current is not None:
            if line and not line.startswith(" "):
                current = None
            else:
                current.append(line)
    return [textwrap.dedent("\n".join(block)).strip() + "\n" for block in blocks]


def test_the_documented_ci_upload_example_passes(pytester, request):
    # Given the CI script and its test, as docs/testing.rst shows them
    docs = request.config.rootpath / "docs" / "testing.rst"
    blocks = _python_blocks(docs)
    script = next(block for block in blocks if "def main(dist" in block)
    test = next(block for block in blocks if "def test_upload_script" in block)
    pytester.mkpydir("ci")
    (pytester.path / "ci" / "upload.py").write_text(script)
    pytester.makepyfile(test_ci_upload=test)
    # When pytest runs them
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    # Then the documented test passes
    result.assert_outcomes(passed=1)


def test_set_user_password_of_an_unknown_user(brood_server):
    from hatcher.testing import set_user_password

    with pytest.raises(LookupError, match="nobody@example.com"):
        set_user_password(brood_server, "nobody@example.com", "pw")


def test_the_registered_plugin_module_imports_nothing_heavy():
    # Given a fresh interpreter, When it loads the module the pytest11 entry point names
    code = ("import sys, hatcher.pytest_plugin; "
            "print(sorted(m for m in sys.modules if m.startswith(('hatcher.core', 'hatcher.errors', "
            "'hatcher.server', 'requests', 'fastapi', 'sqlalchemy'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    # Then neither the library nor the server is imported (coverage and start-up stay clean)
    assert out.strip() == "[]"


def test_hatcher_testing_imports_without_pytest():
    # Given an environment without pytest (e.g. the docs build), When hatcher.testing is imported
    code = ("import sys; sys.modules['pytest'] = None; import hatcher.testing as t; "
            "print(callable(t.start_brood_server), callable(t.make_testing_egg), hasattr(t, 'brood_server'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    # Then its helpers work and only the fixtures are absent
    assert out.split() == ["True", "True", "False"]
