"""Fixtures of every test directory: the session fails when its tests leave anything behind."""

from __future__ import annotations

from typing import Iterator

import pytest
from leak_check import LeakCheck


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
