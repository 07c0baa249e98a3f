"""Profiles of the configuration file (``HATCHER_CONFIG``), against the embedded Brood.

Precedence (option > ``HATCHER_*`` variable > profile > default), choosing a profile, one-line
errors for a broken file or an unknown profile, TLS settings, and ``--command-tree`` whatever
else is on the command line.
"""

from __future__ import annotations

import os
import sys
import uuid
from pathlib import Path
from typing import Any, Callable

import pytest
from click.testing import CliRunner, Result

from hatcher.cli.main import hatcher
from hatcher.cli.profiles import Config, Profile, dumps, load_config, save_config

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

DOWN = "http://127.0.0.1:1"
ISOLATE = ("HATCHER_URL", "HATCHER_USERNAME", "HATCHER_PASSWORD", "HATCHER_TOKEN", "HATCHER_PROFILE",
           "HATCHER_API_VERSION", "HATCHER_INSECURE", "HATCHER_DEBUG")


@pytest.fixture
def config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``HATCHER_CONFIG`` in tmp_path (never the real home), no keyring, no ``HATCHER_*`` from outside."""
    path = tmp_path / "hatcher" / "config.toml"
    monkeypatch.setenv("HATCHER_CONFIG", str(path))
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    for name in ISOLATE:
        monkeypatch.delenv(name, raising=False)
    return path


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    os.chmod(path, 0o600)
    return path


def run(*args: str, env: dict[str, str] | None = None, input: str | None = None) -> Result:
    return CliRunner().invoke(hatcher, list(args), env=env, input=input, catch_exceptions=False,
                              prog_name="hatcher", auto_envvar_prefix="HATCHER")


@pytest.fixture
def api_token(brood: Any) -> Callable[[], str]:
    """A new API token of the admin (a secret string)."""
    def make() -> str:
        return brood.client(api_version=1).create_api_token(f"profile-{uuid.uuid4().hex[:8]}")["token"]
    return make


def one_line(result: Result, exit_code: int) -> str:
    assert result.exit_code == exit_code, (result.exit_code, result.stdout, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    return lines[0]


# -- choosing a profile -----------------------------------------------------------------------------

def test_a_profile_gives_url_and_token(brood, config_file, api_token):
    # Given a profile with the server's URL and an API token
    write(config_file, f'[profiles.work]\nurl = "{brood.url}"\ntoken = "{api_token()}"\n')
    # When it is chosen with --profile or HATCHER_PROFILE, commands reach the server authenticated
    for result in (run("--profile", "work", "api-tokens", "list"),
                   run("api-tokens", "list", env={"HATCHER_PROFILE": "work"})):
        assert result.exit_code == 0, result.output
        assert result.stdout.startswith("Name ")
    # And without a choice and without a default, no profile applies: no URL
    result = run("api-tokens", "list")
    assert result.exit_code == 2
    assert "'-u' / '--url'" in result.stderr


@pytest.mark.parametrize("layout", ["default-key", "default-profile"])
def test_the_default_profile(brood, config_file, api_token, layout):
    token = api_token()
    if layout == "default-key":
        write(config_file, f'default = "work"\n[profiles.work]\nurl = "{brood.url}"\ntoken = "{token}"\n'
                           f'[profiles.default]\nurl = "{DOWN}"\n')
    else:
        write(config_file, f'[profiles.default]\nurl = "{brood.url}"\ntoken = "{token}"\n')
    result = run("api-tokens", "list")
    assert result.exit_code == 0, result.output


def test_precedence_option_over_variable_over_profile(brood, config_file, api_token):
    # Given a profile whose URL is down
    write(config_file, f'[profiles.work]\nurl = "{DOWN}"\ntoken = "{api_token()}"\n')
    # Then the profile's URL is used when nothing else is given
    down = run("--profile", "work", "api-tokens", "list")
    assert one_line(down, 1) == f"Cannot connect to {DOWN}: connection refused"
    # And HATCHER_URL wins over it; the profile's token is not sent to that other server (anonymous, refused)
    by_variable = run("--profile", "work", "api-tokens", "list", env={"HATCHER_URL": brood.url})
    assert one_line(by_variable, 1) == "Authentication required"
    token = api_token()
    by_variable = run("--profile", "work", "api-tokens", "list", env={"HATCHER_URL": brood.url, "HATCHER_TOKEN": token})
    assert by_variable.exit_code == 0, by_variable.output
    # And --url wins over HATCHER_URL
    by_option = run("--profile", "work", "-u", DOWN, "api-tokens", "list", env={"HATCHER_URL": brood.url})
    assert one_line(by_option, 1) == f"Cannot connect to {DOWN}: connection refused"
    by_option = run("--profile", "work", "-u", brood.url, "-t", token, "api-tokens", "list", env={"HATCHER_URL": DOWN})
    assert by_option.exit_code == 0, by_option.output


def test_token_precedence(brood, config_file, api_token):
    write(config_file, f'[profiles.work]\nurl = "{brood.url}"\ntoken = "{api_token()}"\n')
    assert run("--profile", "work", "api-tokens", "list").exit_code == 0
    # A wrong token in HATCHER_TOKEN or -t wins over the profile's good one
    assert run("--profile", "work", "api-tokens", "list", env={"HATCHER_TOKEN": "wrong"}).exit_code == 1
    assert run("--profile", "work", "-t", "wrong", "api-tokens", "list").exit_code == 1
    # And -t wins over HATCHER_TOKEN
    good = api_token()
    assert run("--profile", "work", "-t", good, "api-tokens", "list", env={"HATCHER_TOKEN": "wrong"}).exit_code == 0
    # And -U/-p win over the profile's token
    email, password = brood.admin_auth
    assert run("--profile", "work", "-U", email, "-p", "wrong", "api-tokens", "list").exit_code == 1
    assert run("--profile", "work", "-U", email, "-p", password, "api-tokens", "list").exit_code == 0


def test_the_profile_username_takes_a_password(brood, config_file):
    email, password = brood.admin_auth
    write(config_file, f'[profiles.work]\nurl = "{brood.url}"\nusername = "{email}"\n')
    # -p alone pairs with the profile's username; without it, the password is prompted
    assert run("--profile", "work", "-p", password, "api-tokens", "list").exit_code == 0
    prompted = run("--profile", "work", "api-tokens", "list", input=password + "\n")
    assert prompted.exit_code == 0, prompted.output
    # And with no username anywhere, -p is still a usage error
    assert run("-u", brood.url, "-p", password, "api-tokens", "list").exit_code == 2


def test_the_token_never_goes_to_another_server(brood, config_file, api_token):
    # Given a profile for the server at 127.0.0.1, and the same server reached as "localhost"
    write(config_file, f'[profiles.work]\nurl = "{brood.url}"\ntoken = "{api_token()}"\n')
    other = brood.url.replace("127.0.0.1", "localhost")
    # Then the token is not sent there: the request is anonymous and refused
    result = run("--profile", "work", "-u", other, "api-tokens", "list")
    assert result.exit_code == 1, result.output
    assert run("--profile", "work", "-u", brood.url + "/", "api-tokens", "list").exit_code == 0


def test_api_version_from_the_profile(brood, config_file, api_token):
    write(config_file, f'[profiles.old]\nurl = "{brood.url}"\ntoken = "{api_token()}"\napi_version = 0\n')
    # The profile's API version chooses the command set: bundles do not exist in v0
    result = run("--profile", "old", "bundles", "list", "o", "r", "p")
    assert result.exit_code == 2 and "No such command 'bundles'" in result.stderr
    assert "bundles" not in run("--profile", "old", "--command-tree").stdout
    # And --api-version and HATCHER_API_VERSION win over it
    assert "bundles" in run("--profile", "old", "--api-version", "1", "--command-tree").stdout
    assert "bundles" in run("--profile", "old", "--command-tree", env={"HATCHER_API_VERSION": "1"}).stdout
    assert run("--profile", "old", "api-tokens", "list").exit_code == 0


# -- errors -----------------------------------------------------------------------------------------

def test_unknown_profile_is_a_usage_error_naming_the_file(config_file):
    assert one_line(run("--profile", "nope", "platforms", "list"), 2) == (
        f"No profile 'nope': {config_file} does not exist")
    write(config_file, '[profiles.a]\nurl = "http://a"\n[profiles.b]\n')
    assert one_line(run("--profile", "nope", "platforms", "list"), 2) == (
        f"No profile 'nope' in {config_file} (profiles: a, b)")
    assert one_line(run("platforms", "list", env={"HATCHER_PROFILE": "nope"}), 2) == (
        f"No profile 'nope' in {config_file} (profiles: a, b)")


@pytest.mark.parametrize("text, message", [
    ('[profiles.a\nurl = "x"\n', "Expected ']' at the end of a table declaration (at line 1, column 12)"),
    ('[profiles.a]\nurl = \n', "Invalid value (at line 2, column 7)"),
    ('[profiles.a]\nusr = "x"\n',
     "profile 'a': unknown key 'usr' (known: url, username, token, token_name, keyring, api_version, verify)"),
    ('[profiles.a]\npassword = "hunter2"\n',
     "profile 'a': passwords are not read from the configuration file (store a token with 'hatcher login')"),
    ('[profiles.a]\napi_version = 2\n', "profile 'a': 'api_version' must be 0 or 1"),
    ('[profiles.a]\napi_version = true\n', "profile 'a': 'api_version' must be an integer"),
    ('[profiles.a]\nverify = 1\n', "profile 'a': 'verify' must be true or false or a string"),
    ('[profiles.a]\nurl = 5\n', "profile 'a': 'url' must be a string"),
    ('default = "b"\n[profiles.a]\n', "default profile 'b' is not defined"),
    ('url = "x"\n', "unknown key 'url' (known: default, profiles)"),
    ('profiles = 3\n', "'profiles' must hold [profiles.NAME] tables"),
])
def test_a_broken_file_is_one_line_naming_it(config_file, text, message):
    write(config_file, text)
    line = one_line(run("platforms", "list"), 1)
    assert line == f"Invalid configuration file {config_file}: {message}"
    assert "hunter2" not in line


def test_a_readable_file_with_a_token_warns(brood, config_file, api_token):
    write(config_file, f'[profiles.work]\nurl = "{brood.url}"\ntoken = "{api_token()}"\n')
    os.chmod(config_file, 0o644)
    result = run("--profile", "work", "platforms", "list")
    assert result.exit_code == 0
    assert result.stderr == (f"Warning: {config_file} holds a token and can be read by others (mode 0644): "
                             f"run 'chmod 600 {config_file}'\n")


def test_command_tree_whatever_else_is_given(config_file):
    tree = run("--command-tree")
    assert tree.exit_code == 0 and tree.stdout.startswith("hatcher ")
    # -p without -U, an unknown profile, a command, an unknown command, a broken file: still the tree
    for args in (("-p", "secret", "--command-tree"), ("--command-tree", "-p", "secret", "-t", "t"),
                 ("--profile", "nope", "--command-tree"), ("--command-tree", "eggs", "list"),
                 ("--command-tree", "no-such-command"), ("-U", "bob", "--command-tree")):
        result = run(*args)
        assert (result.exit_code, result.stdout, result.stderr) == (0, tree.stdout, ""), args
    write(config_file, "[broken\n")
    assert run("-p", "secret", "--command-tree").stdout == tree.stdout
    assert run("--api-version", "0", "--command-tree").stdout != tree.stdout


# -- TLS --------------------------------------------------------------------------------------------

def test_verify_in_the_profile(config_file, tmp_path_factory, api_token):
    pytest.importorskip("fastapi")
    from tls_certs import make_certificates

    from hatcher.server.runner import EmbeddedBrood

    certificates = make_certificates(tmp_path_factory.mktemp("tls"))
    env = {"REQUESTS_CA_BUNDLE": None, "CURL_CA_BUNDLE": None}
    with EmbeddedBrood(certfile=certificates.cert, keyfile=certificates.key) as https:
        email, password = https.admin_auth
        base = f'url = "{https.url}"\nusername = "{email}"\n'
        write(config_file, f'[profiles.ca]\n{base}verify = "{certificates.ca}"\n'
                           f'[profiles.off]\n{base}verify = false\n[profiles.on]\n{base}')
        for name in ("ca", "off"):
            result = run("--profile", name, "-p", password, "platforms", "list", env=env)
            assert result.exit_code == 0, result.output
            assert "InsecureRequestWarning" not in result.stderr
        refused = run("--profile", "on", "-p", password, "platforms", "list", env=env)
        assert one_line(refused, 1).startswith(f"TLS error talking to {https.url}: ")
        # And -k wins over the profile's verification
        assert run("--profile", "on", "-k", "-p", password, "platforms", "list", env=env).exit_code == 0


# -- the file itself ---------------------------------------------------------------------------------

def test_written_files_read_back_and_are_private(tmp_path):
    awkward = 'quote " backslash \\ newline \n tab \t bell \x07 del \x7f é ✓'
    config = Config(path=tmp_path / "new" / "config.toml", default="we ird", profiles={
        "we ird": Profile(name="we ird", url="https://x.example.com", username=awkward, token=awkward,
                          token_name="n", keyring=False, api_version=0, verify="/ca.pem"),
        "plain": Profile(name="plain", url="http://h", keyring=True, verify=False),
    })
    save_config(config)
    assert os.stat(config.path).st_mode & 0o777 == 0o600
    assert os.stat(config.path.parent).st_mode & 0o777 == 0o700
    assert tomllib.loads(dumps(config))["profiles"]["we ird"]["username"] == awkward
    again = load_config(config.path)
    assert again.default == "we ird"
    assert again.profiles == config.profiles
    assert [name for name in os.listdir(config.path.parent)] == ["config.toml"]


def test_profile_repr_hides_the_token():
    assert "s3cret" not in repr(Profile(name="a", token="s3cret"))


@pytest.mark.parametrize("where", ["option", "profile"])
def test_a_token_with_bad_characters_is_one_line_without_it(brood, config_file, where):
    # requests puts a bad header value in its error message: the token is refused before any request
    secret = "SECRETab\ncd\u2019SECRET"
    if where == "option":
        result = run("-u", brood.url, "-t", secret, "--debug", "api-tokens", "list")
        source = "--token / HATCHER_TOKEN"
    else:
        write(config_file, f'[profiles.work]\nurl = "{brood.url}"\ntoken = "SECRETab\\ncd\u2019SECRET"\n')
        result = run("--profile", "work", "--debug", "api-tokens", "list")
        source = "profile 'work'"
    assert one_line(result, 1) == f"The API token of {source} has characters no API token has (only printable ASCII)"
    assert "SECRET" not in result.output
