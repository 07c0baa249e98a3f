"""No user enumeration by timing: an unknown user's password costs a real check, as a wrong one does.

The server's timing is measured in ``benchmarks/``; here the work itself is counted: each
request with Basic credentials runs exactly one scrypt check, whether the user exists or not.
"""

from __future__ import annotations

from typing import Any, Callable

import pytest
import requests

from hatcher.core.url_templates import URLS_V1
from hatcher.server import security
from hatcher.server.runner import EmbeddedBrood


def _count_checks(monkeypatch: Any) -> list[str]:
    """Record the stored hash of every password check the server makes from now on."""
    checked: list[str] = []
    real = security.verify_password

    def counting(password: str, stored: Any) -> bool:
        checked.append(stored)
        return real(password, stored)

    monkeypatch.setattr(security, "verify_password", counting)
    return checked


@pytest.mark.embedded
def test_an_unknown_user_costs_one_password_check_like_a_wrong_password(brood: EmbeddedBrood, monkeypatch: Any,
                                                                        unique: Callable[[str], str]) -> None:
    # Given the server counts its password checks
    checked = _count_checks(monkeypatch)
    url = brood.url + URLS_V1.user.repositories.format()
    # When a known user sends a wrong password, then an unknown user sends one
    wrong = requests.get(url, auth=(brood.admin_auth[0], "not-the-password"), timeout=30)
    after_known = len(checked)
    unknown = requests.get(url, auth=(f"{unique('nobody')}@example.org", "not-the-password"), timeout=30)
    # Then both are the same 401, and each cost exactly one real (scrypt) check
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
    assert after_known == 1 and len(checked) == 2, checked
    assert checked[1].startswith("scrypt$") and checked[1] != checked[0]
