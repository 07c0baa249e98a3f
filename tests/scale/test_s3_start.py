"""A server whose S3 store cannot be used at start exits at once, with one line that says why.

``python -m hatcher.server run --blob-store s3://...`` writes, reads back and deletes a probe
object before it serves. When the endpoint is unreachable, the credentials are refused or the
bucket is missing, it must exit with status 1 within 30 s, printing one line on stderr (no
traceback) that names the store and the problem, and nothing else.
"""

from __future__ import annotations

import subprocess
import sys
import time
import uuid

import pytest
from stack import ADMIN_EMAIL, PostgresCluster, SeaweedS3
from stack.processes import HOST, accepts, child_env, free_port

#: How long a server that cannot use its store may take to give up.
GIVE_UP_WITHIN = 30.0


@pytest.fixture(scope="module")
def database_url(postgres: PostgresCluster) -> str:
    """A database of this module's own (its schema is made by the first server that gets that far)."""
    return postgres.create_database(f"s3_start_{uuid.uuid4().hex[:8]}")


def closed_port() -> int:
    """A loopback port nobody listens on."""
    port = free_port()
    assert not accepts(port), f"port {port} was taken meanwhile"
    return port


@pytest.mark.parametrize("case", ["unreachable-endpoint", "wrong-secret-key", "missing-bucket"])
def test_a_server_whose_s3_store_cannot_be_used_exits_with_one_line_naming_the_problem(
        case: str, seaweed: SeaweedS3, database_url: str) -> None:
    """Exit status 1 within 30 s; stderr is one line with the store's URL and the reason; no traceback."""
    # Given the session's S3 server, and one thing wrong
    environment = seaweed.env()
    bucket = seaweed.bucket
    if case == "unreachable-endpoint":
        environment["AWS_ENDPOINT_URL"] = f"http://{HOST}:{closed_port()}"
        expected = ["Connection refused", environment["AWS_ENDPOINT_URL"]]
    elif case == "wrong-secret-key":
        environment["AWS_SECRET_ACCESS_KEY"] = "not-the-secret-key"
        expected = ["403", "SignatureDoesNotMatch"]
    else:
        bucket = "no-such-bucket"
        expected = ["404", "NoSuchBucket", "does not exist"]
    store = f"s3://{bucket}/s3-start"
    command = [sys.executable, "-m", "hatcher.server", "run", "--host", HOST, "--port", "0",
               "--database-url", database_url, "--blob-store", store, "--admin", f"{ADMIN_EMAIL}:start-password"]
    # When a server starts with it
    started = time.monotonic()
    try:
        ended = subprocess.run(command, env=child_env(environment, drop_prefixes=("AWS_",)), capture_output=True,
                               text=True, timeout=GIVE_UP_WITHIN * 2, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as error:
        pytest.fail(f"the server still ran after {error.timeout} s: {error.stderr!r}")
    took = time.monotonic() - started
    # Then it exits with status 1 within 30 s
    assert ended.returncode == 1, f"exit status {ended.returncode}; stderr: {ended.stderr!r}"
    assert took < GIVE_UP_WITHIN, f"it gave up after {took:.1f} s"
    # And prints exactly one line, on stderr, naming the store and the problem, without a traceback
    lines = ended.stderr.splitlines()
    assert len(lines) == 1 and not ended.stdout, f"stdout: {ended.stdout!r}; stderr: {ended.stderr!r}"
    assert "Traceback" not in ended.stderr
    line = lines[0]
    assert line.startswith(f"Cannot use the blob store {store} at {environment['AWS_ENDPOINT_URL']}: "), line
    missing = [word for word in expected if word not in line]
    assert not missing, f"the line does not say {missing}: {line!r}"
    assert seaweed.secret_key not in line and "not-the-secret-key" not in line, f"a secret in the message: {line!r}"
