"""Login throttling: 10 wrong passwords of one account from one address, and its logins from there get 429.

These tests start servers of their own with the default limits (the suite's shared server
allows far more wrong passwords, for the authorization matrix).
"""

from __future__ import annotations

import time
from typing import Any, Callable, Iterator

import pytest
import requests
from click.testing import CliRunner
from server_world import PASSWORD, World, build_world

from hatcher.cli.main import hatcher
from hatcher.core.url_templates import TOKENS_AUTH_PATH, URLS_V0, URLS_V1
from hatcher.server.runner import EmbeddedBrood

REPOSITORIES = URLS_V1.user.repositories.format()
LIMIT = 10


@pytest.fixture(scope="module")
def strict() -> Iterator[EmbeddedBrood]:
    """A server with the default throttle: 10 failures in 15 minutes."""
    with EmbeddedBrood() as server:
        assert (server.settings.login_failure_limit, server.settings.login_window) == (LIMIT, 900)
        yield server


@pytest.fixture
def people(strict: EmbeddedBrood, unique: Callable[[str], str]) -> World:
    return build_world(strict, unique)


def _get(brood: EmbeddedBrood, auth: Any = None, headers: Any = None, path: str = REPOSITORIES) -> requests.Response:
    return requests.get(brood.url + path, auth=auth, headers=headers, timeout=30)


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _audit(brood: EmbeddedBrood, **query: Any) -> list[dict[str, Any]]:
    response = requests.get(brood.url + URLS_V1.admin.audit.format(), params=query, auth=brood.admin_auth, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()["events"]


def test_thirty_wrong_guesses_lock_the_password_out_but_not_the_token(strict: EmbeddedBrood, people: World) -> None:
    # Given a user with an API token, and another user of the same organization
    victim = people.reader_email
    token = requests.post(strict.url + URLS_V1.tokens.api.format(), json={"name": "ci"}, auth=people.auth(victim),
                          timeout=30).json()["token"]
    # When someone makes 30 wrong guesses of the user's password
    answers = [_get(strict, auth=(victim, f"guess-{n}")) for n in range(30)]
    # Then the first 10 are plain 401s, and the other 20 are 429s with Retry-After and a JSON error
    assert [answer.status_code for answer in answers] == [401] * LIMIT + [429] * 20
    locked = answers[-1]
    assert 850 <= int(locked.headers["Retry-After"]) <= 900
    assert locked.headers["Content-Type"] == "application/json"
    assert "Too many failed logins" in locked.json()["error"] and victim in locked.json()["error"]
    # And the right password is refused too, on every API version and at the token exchange
    for path in (REPOSITORIES, URLS_V0.user.repositories.format()):
        assert _get(strict, auth=people.auth(victim), path=path).status_code == 429
    exchange = requests.post(strict.url + TOKENS_AUTH_PATH, auth=people.auth(victim), timeout=30)
    assert exchange.status_code == 429 and "Retry-After" in exchange.headers
    # But the user's API token still works, and so does another account's password
    assert _get(strict, headers=_bearer(token)).status_code == 200
    assert _get(strict, auth=people.auth(people.plain_email)).status_code == 200
    # And the audit log holds the 10 failures and the lockout (the refused attempts are not counted)
    failures = _audit(strict, action="login.failed", limit=1000)
    assert len([event for event in failures if event["target"] == f"user:{victim}"]) == LIMIT
    lockouts = [event for event in _audit(strict, action="login.locked") if event["target"] == f"user:{victim}"]
    assert len(lockouts) == 1 and lockouts[0]["address"] == "127.0.0.1" and lockouts[0]["outcome"] == "failure"
    # When an administrator unlocks the account / Then the right password works at once
    result = CliRunner().invoke(hatcher, ["server", "unlock", "--data-dir", strict.settings.data_dir, victim])
    assert result.exit_code == 0, result.output
    assert result.output == f"Unlocked {victim} (failed logins cleared for 1 address).\n"
    assert _get(strict, auth=people.auth(victim)).status_code == 200


def test_an_unknown_account_is_locked_out_the_same_way(strict: EmbeddedBrood, unique: Callable[[str], str]) -> None:
    # A lockout must not tell who has an account: unknown e-mails are counted as known ones are.
    nobody = f"{unique('nobody')}@example.org"
    statuses = [_get(strict, auth=(nobody, "guess")).status_code for _ in range(LIMIT + 1)]
    assert statuses == [401] * LIMIT + [429]


def test_a_right_password_clears_the_count(strict: EmbeddedBrood, people: World) -> None:
    # Failures count when they are consecutive: a success in between starts the count again.
    user = people.plain_email
    assert {_get(strict, auth=(user, "wrong")).status_code for _ in range(LIMIT - 1)} == {401}
    assert _get(strict, auth=people.auth(user)).status_code == 200
    assert {_get(strict, auth=(user, "wrong")).status_code for _ in range(LIMIT - 1)} == {401}
    assert _get(strict, auth=people.auth(user)).status_code == 200


def test_the_lockout_ends_when_the_window_passes(unique: Callable[[str], str]) -> None:
    with EmbeddedBrood(login_failure_limit=3, login_window=2) as brood:
        world = build_world(brood, unique)
        user = world.indexer_email
        assert [_get(brood, auth=(user, "wrong")).status_code for _ in range(4)] == [401, 401, 401, 429]
        assert _get(brood, auth=world.auth(user)).status_code == 429
        time.sleep(2.2)
        assert _get(brood, auth=world.auth(user)).status_code == 200


def test_forwarded_addresses_count_only_from_a_trusted_proxy(strict: EmbeddedBrood, unique: Callable[[str], str]
                                                             ) -> None:
    with EmbeddedBrood(trusted_proxies=["127.0.0.0/8"]) as proxied:
        for brood, separate in ((proxied, True), (strict, False)):
            world = build_world(brood, unique)
            user = world.plain_email
            # Given a client behind the proxy (as X-Forwarded-For says) that guessed 10 times
            attacker = {"X-Forwarded-For": "198.51.100.7"}
            for _ in range(LIMIT):
                assert _get(brood, auth=(user, "wrong"), headers=attacker).status_code == 401
            assert _get(brood, auth=world.auth(user), headers=attacker).status_code == 429
            # Then, behind a trusted proxy, the user at another address still logs in;
            # a server that does not trust the peer ignores the header: everyone is one address
            colleague = {"X-Forwarded-For": "198.51.100.8, 127.0.0.1"}
            assert _get(brood, auth=world.auth(user), headers=colleague).status_code == (200 if separate else 429)
            # And the audit log names the address the throttle counted
            locked = [event for event in _audit(brood, action="login.locked") if event["target"] == f"user:{user}"]
            assert [event["address"] for event in locked] == ["198.51.100.7" if separate else "127.0.0.1"]


def test_the_counters_are_shared_by_replicas_on_one_database(postgres: Any, tmp_path: Any,
                                                             unique: Callable[[str], str]) -> None:
    # Given two servers on one PostgreSQL database
    database = postgres.create_database(f"throttle_{time.monotonic_ns()}")
    with EmbeddedBrood(str(tmp_path / "a"), database_url=database) as first, \
            EmbeddedBrood(str(tmp_path / "b"), database_url=database) as second:
        world = build_world(first, unique)
        user = world.reader_email
        # When half the guesses go to one and half to the other
        for brood in (first, second) * (LIMIT // 2):
            assert _get(brood, auth=(user, "wrong")).status_code == 401
        # Then both refuse the account's logins from this address
        assert _get(first, auth=world.auth(user)).status_code == 429
        assert _get(second, auth=world.auth(user)).status_code == 429


def test_unlock_of_an_account_without_failures(strict: EmbeddedBrood, people: World) -> None:
    result = CliRunner().invoke(hatcher, ["server", "unlock", "--data-dir", strict.settings.data_dir,
                                          people.outsider_email])
    assert (result.exit_code, result.output) == (0, f"Unlocked {people.outsider_email} "
                                                    "(failed logins cleared for 0 addresses).\n")
    assert _get(strict, auth=(people.outsider_email, PASSWORD)).status_code == 200
