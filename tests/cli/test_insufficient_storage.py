"""A server without room for an upload (507): the command line prints the server's words on one line, exit 1.

The server keeps its whole disk in reserve (``min_free_space="100%"``), so it refuses every
upload before its body, as a full disk would (tests/server/test_disk_full.py fills a real one).
"""

from __future__ import annotations

import logging
from typing import Iterator

import pytest
from click.testing import CliRunner

from hatcher.artefacts.builders import build_egg
from hatcher.cli.main import hatcher
from hatcher.server.runner import EmbeddedBrood

pytestmark = pytest.mark.embedded


@pytest.fixture(scope="module")
def full() -> Iterator[EmbeddedBrood]:
    with EmbeddedBrood(min_free_space="100%") as server:
        server.client().create_organization("acme", "full").create_repository("dev", "full")
        yield server


@pytest.mark.parametrize("payload", [0, 2 * 1024 * 1024], ids=["small", "streamed"])
def test_an_upload_refused_for_lack_of_space_is_one_line_and_exit_1(full, tmp_path, caplog, failed, payload):
    egg = build_egg(str(tmp_path), name="nospace", version="1.0.0", build=1, platform="rh7-x86_64",
                    python_tag="cp38", payload_size=payload)
    email, password = full.admin_auth
    with caplog.at_level(logging.WARNING, logger="hatcher.server"):
        result = CliRunner().invoke(hatcher, ["-u", full.url, "-U", email, "-p", password, "eggs", "upload",
                                              "acme", "dev", "rh7-x86_64", egg], prog_name="hatcher")
    failed(result, "Not enough space on the server for this upload")
    # Asked once: 507 is not among the statuses the client retries
    assert sum("Refused an upload" in record.getMessage() for record in caplog.records) == 1
