"""Fixtures of every test directory: the session fails when its tests leave anything behind."""

from __future__ import annotations

import os
from typing import Iterator

import pytest
from leak_check import LeakCheck
from stack.brood import REPLICAS, stack_mode


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--against-replicas", action="store_true",
                     help="run the server or conformance suite against three replicas on PostgreSQL and S3 "
                          "behind nginx (the same as HATCHER_TEST_STACK=replicas)")


def pytest_configure(config: pytest.Config) -> None:
    # The command line reads profiles from ~/.config/hatcher/config.toml: a developer's own file (or
    # HATCHER_PROFILE) must not change what the tests run. Tests of profiles set their own file.
    os.environ["HATCHER_CONFIG"] = os.devnull
    os.environ.pop("HATCHER_PROFILE", None)
    if config.getoption("--against-replicas"):
        os.environ["HATCHER_TEST_STACK"] = REPLICAS
    config.addinivalue_line("markers", "embedded: the test needs the server in its own process (its settings, "
                                       "thread or in-process locks); not collected against the replica set")


def pytest_collection_modifyitems(config: pytest.Config, items: list) -> None:
    """Against the replica set (``HATCHER_TEST_STACK=replicas``), keep the tests of the shared server.

    That is the ``brood`` of the server suite, or the ``brood_server`` of the conformance suite: their
    requests are the ones the load balancer spreads over the replicas. A test that starts a server
    of its own, or that is marked ``embedded``, would only repeat the ordinary run.
    """
    if not stack_mode():
        return
    kept, dropped = [], []
    for item in items:
        shared = {"brood", "brood_server"} & set(getattr(item, "fixturenames", ()))
        uses_shared = bool(shared) and item.get_closest_marker("embedded") is None
        (kept if uses_shared else dropped).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


@pytest.fixture(scope="session", autouse=True)
def nothing_left_behind() -> Iterator[None]:
    """Fail the session when its tests leave a listening socket, a process, a thread or a temp file.

    Autouse and session-scoped in the top-level conftest, it is set up before, and torn down after,
    every other fixture (the shared embedded servers included), so what it sees at the end is what
    the tests themselves did not release. A failure here is an error in the teardown of the last
    test, which makes pytest's exit status non-zero. What it compares (see ``leak_check.py``):

    * the listening TCP sockets (IPv4, IPv6) of this process, from ``/proc/self/net/tcp{,6}`` and
      the ``socket:[inode]`` links of ``/proc/self/fd``;
    * the live processes this session started: its descendants (``/proc/*/stat``) and, for daemons
      that detached, the processes whose environment holds this session's ``LEAK_CHECK_SESSION``;
    * the live threads of this process (an :class:`~hatcher.server.runner.EmbeddedBrood` that was
      stopped has joined its thread and closed its socket, so it leaves nothing);
    * the entries of the system temp directory created by this session and still there: those this
      process made (seen by an audit hook) and those child processes made (children get ``TMPDIR``
      pointing at a private directory inside the temp directory, which must be empty at the end).
      Entries that other programs create meanwhile are not attributed to the session, so they never
      count; pytest's own ``pytest-of-<user>`` directory does not count either.

    Anything still being released at the end (a thread joining, a process exiting) gets a few seconds.
    """
    check = LeakCheck()
    yield
    leaks = check.finish()
    if leaks:
        pytest.fail("the tests left behind:\n  " + "\n  ".join(leaks), pytrace=False)


@pytest.fixture(params=["streamed", "buffer-ring"])
def receiver(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Both ways the client receives a download: through requests, and the buffer ring (4 MiB buffers)."""
    from hatcher.core import download

    threshold = 0 if request.param == "buffer-ring" else 1 << 62
    monkeypatch.setattr(download, "BUFFER_RING_MIN_SIZE", threshold)
    return request.param
