"""HTTPS from the command line: ``hatcher server run --certfile --keyfile``, and ``--insecure`` against it."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from typing import Any, Iterator

import pytest
import requests
from click.testing import CliRunner, Result

pytest.importorskip("fastapi")

from tls_certs import CertificateFiles, make_certificates  # noqa: E402

from hatcher.cli.main import hatcher  # noqa: E402
from hatcher.server.runner import EmbeddedBrood  # noqa: E402

SERVING = re.compile(r"Brood serving .* on (https://127\.0\.0\.1:\d+)")
ADMIN = ("root@example.com", "Tr0ub4dor-3-sekret")


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> CertificateFiles:
    return make_certificates(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def stranger(tmp_path_factory: pytest.TempPathFactory) -> CertificateFiles:
    """Another authority's files: a CA bundle that does not vouch for the server."""
    return make_certificates(tmp_path_factory.mktemp("tls-other"))


@pytest.fixture(scope="module")
def https(certificates: CertificateFiles) -> Iterator[EmbeddedBrood]:
    with EmbeddedBrood(certfile=certificates.cert, keyfile=certificates.key) as server:
        server.client(verify_ssl=certificates.ca).create_organization("tls-org", "over TLS")
        yield server


def hatcher_cli(brood: EmbeddedBrood, *args: str, env: dict[str, str]) -> Result:
    email, password = brood.admin_auth
    argv = ["-u", brood.url, "-U", email, "-p", password, "--api-version", "1", *args]
    return CliRunner().invoke(hatcher, argv, env=env, catch_exceptions=False, prog_name="hatcher",
                              auto_envvar_prefix="HATCHER")


def test_the_client_verifies_the_certificate_unless_insecure(https: EmbeddedBrood, certificates: CertificateFiles,
                                                              stranger: CertificateFiles) -> None:
    # Given a CA bundle in the environment that does not vouch for the server (requests used to
    # let it win over --insecure)
    env = {"REQUESTS_CA_BUNDLE": stranger.ca, "CURL_CA_BUNDLE": None}
    # When the client runs without --insecure: one line naming the server and the way out, exit 1
    refused = hatcher_cli(https, "organizations", "list", env=env)
    assert refused.exit_code == 1, refused.output
    assert refused.stdout == ""
    lines = refused.stderr.splitlines()
    assert len(lines) == 1 and "Traceback" not in refused.stderr, refused.stderr
    assert lines[0].startswith(f"TLS error talking to {https.url}: ")
    assert "certificate verify failed" in lines[0]
    assert lines[0].endswith("(use --insecure to skip certificate verification)")
    # And with --insecure (-k) it works, without a warning
    for flag in ("--insecure", "-k"):
        insecure = CliRunner().invoke(hatcher, [flag, "-u", https.url, "-U", https.admin_auth[0], "-p",
                                                https.admin_auth[1], "organizations", "list"],
                                      env=env, catch_exceptions=False, prog_name="hatcher")
        assert insecure.exit_code == 0, insecure.output
        assert "tls-org" in insecure.stdout.split()
        assert "InsecureRequestWarning" not in insecure.stderr
    # And verifying against the server's authority works too
    trusted = hatcher_cli(https, "organizations", "list", env={"REQUESTS_CA_BUNDLE": certificates.ca,
                                                                "CURL_CA_BUNDLE": None})
    assert trusted.exit_code == 0, trusted.output
    assert "tls-org" in trusted.stdout.split()


def _serve(tmp_path: Any, *args: str) -> subprocess.Popen[bytes]:
    with open(tmp_path / "stdout.txt", "wb") as out, open(tmp_path / "stderr.txt", "wb") as err:
        return subprocess.Popen([sys.executable, "-m", "hatcher", "server", "run", *args], stdout=out, stderr=err)


def _url(process: subprocess.Popen[bytes], tmp_path: Any, timeout: float = 30.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        match = SERVING.search((tmp_path / "stderr.txt").read_text())
        if match:
            return match.group(1)
        assert process.poll() is None, (tmp_path / "stderr.txt").read_text()
        time.sleep(0.05)
    raise AssertionError("the server did not announce an https:// URL: " + (tmp_path / "stderr.txt").read_text())


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
def test_server_run_serves_https(tmp_path: Any, certificates: CertificateFiles) -> None:
    # Given `hatcher server run` with a certificate and its key, on a free port
    process = _serve(tmp_path, "--data-dir", str(tmp_path / "data"), "--port", "0", "--admin", ":".join(ADMIN),
                     "--certfile", certificates.cert, "--keyfile", certificates.key)
    try:
        url = _url(process, tmp_path)
        # When it is ready (polled without verification)
        deadline = time.monotonic() + 30
        while True:
            try:
                health = requests.get(url + "/health", verify=False, timeout=10)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline, "GET /health never answered"
                time.sleep(0.05)
        # Then it answers over HTTPS, with the certificate it was given
        assert health.status_code == 200
        organizations = requests.get(url + "/api/v1/json/admin/organizations", auth=ADMIN, verify=certificates.ca,
                                     timeout=10)
        assert organizations.status_code == 200, organizations.text
        # And it stops cleanly
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
        assert "Traceback" not in (tmp_path / "stderr.txt").read_text()
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()


def test_certfile_and_keyfile_go_together(tmp_path: Any, certificates: CertificateFiles) -> None:
    for option, path in (("--certfile", certificates.cert), ("--keyfile", certificates.key)):
        result = CliRunner().invoke(hatcher, ["server", "run", "--data-dir", str(tmp_path / "data"), "--port", "0",
                                              option, path], prog_name="hatcher")
        assert result.exit_code == 2, result.output
        assert "Error: --certfile and --keyfile go together" in result.output
        assert not (tmp_path / "data").exists()


def test_an_unusable_certificate_is_one_line_and_exit_1(tmp_path: Any, certificates: CertificateFiles,
                                                         stranger: CertificateFiles) -> None:
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
    cases = [
        (str(tmp_path / "missing.pem"), certificates.key, f"Cannot read {tmp_path / 'missing.pem'}: "),
        (str(garbage), certificates.key, f"Cannot use the certificate {garbage} with the key {certificates.key}: "),
        (certificates.cert, stranger.key, f"Cannot use the certificate {certificates.cert} with the key "),
    ]
    for certfile, keyfile, message in cases:
        command = [sys.executable, "-m", "hatcher", "server", "run", "--data-dir", str(tmp_path / "data"),
                   "--port", "0", "--certfile", certfile, "--keyfile", keyfile]
        completed = subprocess.run(command, capture_output=True, text=True, timeout=60)
        assert completed.returncode == 1, completed.stderr
        lines = completed.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith(message), completed.stderr
        assert not (tmp_path / "data").exists()  # failed before anything was created
