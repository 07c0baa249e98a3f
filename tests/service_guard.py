"""Skip on a developer's machine, fail in CI: what a test does when a service it needs is not there."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest

#: Values of the ``CI`` environment variable that mean "this is a CI run" (``.ci/run`` sets ``CI=true``).
CI_VALUES = ("1", "true", "yes")


def in_ci() -> bool:
    """Whether this run is a CI run (``CI`` is ``1``, ``true`` or ``yes``, in any case)."""
    return os.environ.get("CI", "").strip().lower() in CI_VALUES


def require_service(reason: str) -> NoReturn:
    """Give up on a test because a service it needs (PostgreSQL, S3, nginx, a browser...) is unavailable.

    On a developer's machine the test is skipped with ``reason``; in CI, where every service is meant
    to be there, it fails with ``reason`` instead, so a broken CI machine cannot pass by skipping.
    Call it from a test, a fixture or a ``pytest_runtest_setup`` hook.
    """
    if in_ci():
        pytest.fail(f"{reason} (CI is set: a missing service fails instead of skipping)", pytrace=False)
    pytest.skip(reason)
