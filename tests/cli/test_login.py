"""``hatcher login`` / ``logout`` against the embedded Brood: the keyring and the 0600 file, revocation,
and secrets that never show, not even with ``--debug``.

The keyring is ``keyrings.alt``'s plain-text file backend in tmp_path (``PYTHON_KEYRING_BACKEND``,
``XDG_DATA_HOME``), so the keyring path is really exercised; "no keyring" is keyring's own fail backend.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from hatcher.cli.main import hatcher
from hatcher.cli.profiles import load_config

DOWN = "http://127.0.0.1:1"
NO_KEYRING = "keyring.backends.fail.Keyring"
FILE_KEYRING = "keyrings.alt.file.PlaintextKeyring"
ISOLATE = ("HATCHER_URL", "HATCHER_USERNAME", "HATCHER_PASSWORD", "HATCHER_TOKEN", "HATCHER_PROFILE",
           "HATCHER_API_VERSION", "HATCHER_INSECURE", "HATCHER_DEBUG", "HATCHER_LOGIN_STORE")


@pytest.fixture
def config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``HATCHER_CONFIG`` and the keyring's data in tmp_path; no keyring unless a test picks one."""
    path = tmp_path / "config" / "config.toml"
    monkeypatch.setenv("HATCHER_CONFIG", str(path))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", NO_KEYRING)
    for name in ISOLATE:
        monkeypatch.delenv(name, raising=False)
    return path


@pytest.fixture
def with_keyring(config_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A real file-based keyring backend (keyrings.alt); returns its file."""
    pytest.importorskip("keyrings.alt")
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", FILE_KEYRING)
    return tmp_path / "data" / "python_keyring" / "keyring_pass.cfg"


def run(*args: str, input: str | None = None, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(hatcher, list(args), input=input, env=env, catch_exceptions=False,
                              prog_name="hatcher", auto_envvar_prefix="HATCHER")


def login(brood: Any, *args: str, profile: str = "work") -> Result:
    email, password = brood.admin_auth
    return run("-u", brood.url, "login", "-U", email, "--profile", profile, *args, input=password + "\n")


def token_names(brood: Any) -> set[str]:
    return {token["name"] for token in brood.client(api_version=1).list_api_tokens()}


def assert_refused(brood: Any, secret: str) -> None:
    """A request with ``secret`` as API token gets 401 (one line, exit 1)."""
    result = run("-u", brood.url, "-t", secret, "api-tokens", "list")
    assert (result.exit_code, result.stderr) == (1, "Invalid token\n"), result.output


def test_login_to_the_file_then_logout_revokes(brood, config_file):
    # When logging in with no keyring (the password typed at the hidden prompt)
    result = login(brood, "--token-name", "file-login")
    assert result.exit_code == 0, result.output
    line = f"Logged in to {brood.url} as {brood.admin_auth[0]}: API token 'file-login' stored in {config_file} " \
           f"(mode 0600) for profile 'work'."
    assert result.stdout.splitlines()[-1] == line
    # Then the token is in a private file, with the URL and user name, never the password
    assert os.stat(config_file).st_mode & 0o777 == 0o600
    assert os.stat(config_file.parent).st_mode & 0o777 == 0o700
    profile = load_config(config_file).profiles["work"]
    assert (profile.url, profile.username, profile.token_name, profile.keyring) == (
        brood.url, brood.admin_auth[0], "file-login", False)
    secret = profile.token
    assert secret and secret not in result.output
    assert brood.admin_auth[1] not in config_file.read_text() + result.stdout
    assert "file-login" in token_names(brood)
    # And commands use it with --profile alone
    listed = run("--profile", "work", "api-tokens", "list")
    assert listed.exit_code == 0, listed.output
    assert "file-login" in listed.stdout
    # When logging out
    out = run("--profile", "work", "logout")
    assert out.exit_code == 0, out.output
    assert out.stdout == (f"Logged out of profile 'work': API token 'file-login' revoked on {brood.url} and "
                          f"removed from {config_file}.\n")
    # Then the server refuses the token, and the file no longer has it (the URL and user name stay)
    assert "file-login" not in token_names(brood)
    assert_refused(brood, secret)
    after = load_config(config_file).profiles["work"]
    assert (after.url, after.username, after.token, after.token_name) == (brood.url, brood.admin_auth[0], None, None)
    assert secret not in config_file.read_text()
    # And logging out again says there is nothing to do
    again = run("--profile", "work", "logout")
    assert (again.exit_code, again.stderr) == (1, "Profile 'work' holds no token: not logged in\n")


def test_login_to_the_keyring(brood, with_keyring, config_file):
    result = login(brood, "--token-name", "keyring-login")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1] == (
        f"Logged in to {brood.url} as {brood.admin_auth[0]}: API token 'keyring-login' stored in the system "
        f"keyring ({FILE_KEYRING}) for profile 'work'.")
    # The file says where the token is, but does not hold it; the keyring does
    profile = load_config(config_file).profiles["work"]
    assert profile.keyring is True and profile.token is None
    assert os.stat(config_file).st_mode & 0o777 == 0o600
    import keyring

    secret = keyring.get_password("hatcher", f"work@{brood.url}")
    assert secret and secret not in config_file.read_text() and secret not in result.output
    assert with_keyring.exists()
    # Commands read the token from the keyring
    listed = run("--profile", "work", "api-tokens", "list")
    assert listed.exit_code == 0, listed.output
    # Logout revokes it and removes it from the keyring
    out = run("--profile", "work", "logout")
    assert out.exit_code == 0, out.output
    assert out.stdout == (f"Logged out of profile 'work': API token 'keyring-login' revoked on {brood.url} and "
                          f"removed from the system keyring.\n")
    assert keyring.get_password("hatcher", f"work@{brood.url}") is None
    assert load_config(config_file).profiles["work"].keyring is False
    assert_refused(brood, secret)
    # A profile that says "keyring" while the entry is gone: one line saying how to fix it
    config_file.write_text(f'[profiles.work]\nurl = "{brood.url}"\nkeyring = true\n')
    missing = run("--profile", "work", "api-tokens", "list")
    assert (missing.exit_code, missing.stderr) == (1, "The token of profile 'work' is missing from the system "
                                                      "keyring: run 'hatcher --profile work login'\n")


def test_store_keyring_without_one_fails_and_leaves_no_token(brood, config_file):
    result = login(brood, "--token-name", "no-keyring", "--store", "keyring")
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1] == ("No system keyring is available (install hatcher[keyring], "
                                              "or use --store file)")
    assert "no-keyring" not in token_names(brood)
    assert not config_file.exists()


def test_store_file_even_with_a_keyring(brood, with_keyring, config_file):
    # HATCHER_LOGIN_STORE=file is --store file; with no profile named, the profile is "default"
    result = run("-u", brood.url, "login", "-U", brood.admin_auth[0], "--token-name", "forced-file",
                 input=brood.admin_auth[1] + "\n", env={"HATCHER_LOGIN_STORE": "file"})
    assert result.exit_code == 0, result.output
    profile = load_config(config_file).profiles["default"]
    assert profile.token and not profile.keyring
    assert run("api-tokens", "list").exit_code == 0
    assert run("logout").exit_code == 0


def test_login_again_replaces_and_revokes_the_previous_token(brood, config_file):
    assert login(brood, "--token-name", "first").exit_code == 0
    first = load_config(config_file).profiles["work"].token
    result = login(brood, "--token-name", "second")
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    assert "first" not in token_names(brood) and "second" in token_names(brood)
    assert_refused(brood, first)
    assert run("--profile", "work", "logout").exit_code == 0


def test_login_wrong_password_is_one_line(brood, config_file):
    result = run("-u", brood.url, "login", "-U", brood.admin_auth[0], input="not-the-password\n")
    assert (result.exit_code, result.stderr) == (1, "Invalid user name or password\n")
    assert "not-the-password" not in result.output
    assert not config_file.exists()


def test_login_does_not_silently_repoint_the_default_profile(brood, config_file):
    config_file.parent.mkdir(parents=True)
    config_file.write_text('default = "work"\n[profiles.work]\nurl = "http://elsewhere.example.com"\n')
    result = run("-u", brood.url, "login", "-U", brood.admin_auth[0], input=brood.admin_auth[1] + "\n")
    assert (result.exit_code, result.stderr.splitlines()[-1]) == (
        1, f"Profile 'work' is for http://elsewhere.example.com: name a profile with --profile to log in to "
           f"{brood.url}")


def test_logout_with_the_server_down_still_removes_the_token(brood, config_file):
    assert login(brood, "--token-name", "orphan").exit_code == 0
    text = config_file.read_text().replace(brood.url, DOWN)
    config_file.write_text(text)
    result = run("--profile", "work", "logout")
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == (f"Removed the token of profile 'work' from {config_file}, but could not revoke it on "
                             f"the server: Cannot connect to {DOWN}: connection refused\n")
    assert load_config(config_file).profiles["work"].token is None
    brood.client(api_version=1).delete_api_token("orphan")


def test_logout_of_an_unknown_profile(config_file):
    result = run("--profile", "ghost", "logout")
    assert (result.exit_code, result.stderr) == (2, f"No profile 'ghost': {config_file} does not exist\n")


# -- secrets never show --------------------------------------------------------------------------------

def _process(*args: str, env: dict[str, str], input: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hatcher", *args], input=input, capture_output=True, text=True,
                          env={**os.environ, **env}, timeout=120)


def test_secrets_never_show_even_with_debug(brood, config_file):
    email, password = brood.admin_auth
    assert login(brood, "--token-name", "debugged").exit_code == 0
    secret = load_config(config_file).profiles["work"].token
    env = {"HATCHER_CONFIG": str(config_file)}
    outputs = []
    # The profile's token against a server that is down, with --debug: a traceback, without the token
    down_config = config_file.parent / "down.toml"
    down_config.write_text(config_file.read_text().replace(brood.url, DOWN))
    os.chmod(down_config, 0o600)
    down = _process("--debug", "--profile", "work", "api-tokens", "list", env={"HATCHER_CONFIG": str(down_config)})
    assert down.returncode == 1 and "Traceback" in down.stderr, down.stderr
    outputs.append(down)
    # A password on the command line against a server that is down, and a wrong one (401), with --debug
    for url, given in ((DOWN, password), (brood.url, "wrong-" + password)):
        failed = _process("--debug", "-u", url, "-U", email, "-p", given, "api-tokens", "list", env=env)
        assert failed.returncode == 1 and "Traceback" in failed.stderr, failed.stderr
        assert given not in failed.stdout + failed.stderr
        outputs.append(failed)
    # A wrong token with --debug (401 at the session-token exchange)
    wrong = _process("--debug", "-u", brood.url, "-t", "wrong-" + secret, "api-tokens", "list", env=env)
    assert wrong.returncode == 1 and "Traceback" in wrong.stderr
    assert "wrong-" + secret not in wrong.stdout + wrong.stderr
    outputs.append(wrong)
    # login with a wrong password, and logout with the server down, with --debug
    bad_login = _process("--debug", "-u", brood.url, "login", "-U", email, "--profile", "other",
                         input="wrong-password-xyz\n", env=env)
    assert bad_login.returncode == 1 and "wrong-password-xyz" not in bad_login.stdout + bad_login.stderr
    outputs.append(bad_login)
    logout_down = _process("--debug", "--profile", "work", "logout", env={"HATCHER_CONFIG": str(down_config)})
    assert logout_down.returncode == 1, logout_down.stderr
    outputs.append(logout_down)
    # And the successful commands print neither
    outputs.append(_process("--debug", "--profile", "work", "api-tokens", "list", env=env))
    outputs.append(_process("--debug", "--profile", "work", "logout", env=env))
    assert outputs[-1].returncode == 0, outputs[-1].stderr
    for result in outputs:
        assert secret not in result.stdout + result.stderr, result.args
        assert password not in result.stdout + result.stderr, result.args


def test_login_with_the_global_options(brood, config_file):
    # --profile, -u, -U and -p before the command; the profile does not exist yet, -p is not a usage error
    email, password = brood.admin_auth
    result = run("--profile", "fresh", "-u", brood.url, "-U", email, "-p", password, "login", "--token-name", "g")
    assert result.exit_code == 0, result.output
    assert load_config(config_file).profiles["fresh"].token_name == "g"
    # and the password from HATCHER_PASSWORD, the user from the profile, for a second login
    again = run("--profile", "fresh", "login", "--token-name", "g2", env={"HATCHER_PASSWORD": password})
    assert again.exit_code == 0, again.output
    assert "g" not in token_names(brood) and "g2" in token_names(brood)
    assert run("--profile", "fresh", "logout").exit_code == 0
    # Without a URL anywhere: the usual usage error
    missing = run("login", "-U", email, input=password + "\n")
    assert missing.exit_code == 2 and "Missing option '-u' / '--url'" in missing.stderr
