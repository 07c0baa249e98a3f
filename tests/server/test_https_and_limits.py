"""HTTPS (``certfile``/``keyfile``), and the bounds on what one client may send or hold.

Each bound is checked with both of uvicorn's HTTP protocols (httptools, the default when
importable, and h11): the head size (431), the head time (408), the keep-alive time-out,
the 1 MiB bound on JSON bodies (413; uploads are not bound by it), and the JSON body of the
protocol's own errors.
"""

from __future__ import annotations

import base64
import contextlib
import json
import socket
import threading
import time
import uuid
from typing import Any, Iterator, Optional

import pytest
import requests
from tls_certs import CertificateFiles, make_certificates

from hatcher.api import BroodClientAuth
from hatcher.artefacts import builders
from hatcher.core.brood_client import BroodClient
from hatcher.server.deps import MAX_JSON_BODY
from hatcher.server.runner import EmbeddedBrood
from hatcher.server.settings import ServerSettings
from hatcher.server.transport import TLSConfigError, uvicorn_options

#: A short head time and keep-alive, so that the tests of time-outs are quick.
REQUEST_TIMEOUT = 1.0
KEEP_ALIVE = 1.0
HEAD_LIMIT = 64 * 1024
ORGANIZATIONS = "/api/v1/json/admin/organizations"

insecure_warnings = pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")


@pytest.fixture(scope="module", params=["httptools", "h11"])
def bounded(request: pytest.FixtureRequest) -> Iterator[EmbeddedBrood]:
    """A server with the default limits but short time-outs, for each HTTP protocol."""
    if request.param == "httptools":
        pytest.importorskip("httptools")
    with EmbeddedBrood(protocol=request.param, request_timeout=REQUEST_TIMEOUT,
                       keep_alive_timeout=KEEP_ALIVE) as server:
        yield server


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> CertificateFiles:
    return make_certificates(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def https(certificates: CertificateFiles) -> Iterator[EmbeddedBrood]:
    """A server on HTTPS with the test authority's certificate."""
    with EmbeddedBrood(certfile=certificates.cert, keyfile=certificates.key, request_timeout=REQUEST_TIMEOUT,
                       keep_alive_timeout=KEEP_ALIVE) as server:
        yield server


# -- raw HTTP -----------------------------------------------------------------------------


class Answer:
    """One HTTP answer read off a socket: status, headers (lower-case names), body."""

    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status, self.headers, self.body = status, headers, body

    def error(self) -> str:
        """The JSON error text; fails unless the answer is exactly ``application/json`` ``{"error": str}``."""
        assert self.headers.get("content-type") == "application/json", self.headers
        document = json.loads(self.body)
        assert list(document) == ["error"] and isinstance(document["error"], str), document
        return document["error"]


def read_answer(sock: socket.socket) -> Optional[Answer]:
    """The next answer on ``sock``, or None when the server closed it without one."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            assert data == b"", data
            return None
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict((name.strip().lower(), value.strip()) for name, _, value in
                   (line.partition(":") for line in lines[1:]))
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = sock.recv(65536)
        assert chunk, "the answer was cut short"
        body += chunk
    return Answer(int(lines[0].split()[1]), headers, body)


def closed_by_server(sock: socket.socket) -> bool:
    """Whether the server closed the connection (end of file, or reset) rather than answering more."""
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True


def connect(brood: EmbeddedBrood, timeout: float = 10.0) -> socket.socket:
    return socket.create_connection((brood.host, brood.port), timeout=timeout)


def basic(brood: EmbeddedBrood) -> str:
    return "Basic " + base64.b64encode(":".join(brood.admin_auth).encode()).decode()


def padded_head(request_line: str, size: int, *headers: str) -> bytes:
    """A request head of exactly ``size`` bytes: ``headers`` and an ``X-Pad`` header filling the rest."""
    fixed = "".join(f"{line}\r\n" for line in (request_line, "Host: test", *headers))
    pad = size - len(fixed) - len("X-Pad: \r\n\r\n")
    assert pad >= 0
    return (fixed + "X-Pad: " + "p" * pad + "\r\n\r\n").encode("ascii")


def new_organization_body(size: Optional[int] = None) -> bytes:
    """A JSON body creating a new organization, padded with blanks to ``size`` bytes."""
    body = json.dumps({"name": f"org-{uuid.uuid4().hex[:12]}", "description": "bounds"}).encode()
    return body if size is None else body + b" " * (size - len(body))


# -- the head -----------------------------------------------------------------------------


def test_default_limits() -> None:
    # Given the default settings
    settings = ServerSettings("/tmp/unused")
    # Then the bounds are those documented, and they reach uvicorn
    assert (settings.max_header_size, settings.request_timeout, settings.keep_alive_timeout) == (HEAD_LIMIT, 30, 5)
    options = uvicorn_options(settings, "h11")
    assert options["timeout_keep_alive"] == 5
    assert options["h11_max_incomplete_event_size"] == HEAD_LIMIT
    assert options["http"].max_header_size == HEAD_LIMIT and options["http"].request_timeout == 30
    assert options["ssl_certfile"] is None and options["ssl_keyfile"] is None


def test_a_head_of_the_limit_passes_and_one_byte_more_gets_431(bounded: EmbeddedBrood) -> None:
    for size, status in ((HEAD_LIMIT, 200), (HEAD_LIMIT + 1, 431)):
        with connect(bounded) as sock:
            # When a GET has a head of that size
            sock.sendall(padded_head("GET /health HTTP/1.1", size))
            answer = read_answer(sock)
            # Then one of exactly the limit passes; one byte more is refused in JSON, and the
            # connection closed
            assert answer is not None and answer.status == status, (size, answer and answer.body)
            if status == 431:
                assert "65536" in answer.error()
                assert answer.headers["connection"] == "close"
                assert closed_by_server(sock)


def test_a_head_sent_with_its_body_in_one_write_is_measured_alone(bounded: EmbeddedBrood) -> None:
    # Given a POST whose body follows its head in the same write (one read for the server)
    for size, status in ((HEAD_LIMIT, 201), (HEAD_LIMIT + 1, 431)):
        body = new_organization_body(8 * 1024)
        head = padded_head(f"POST {ORGANIZATIONS} HTTP/1.1", size, f"Authorization: {basic(bounded)}",
                           "Content-Type: application/json", f"Content-Length: {len(body)}")
        with connect(bounded) as sock:
            sock.sendall(head + body)
            answer = read_answer(sock)
        # Then only the head counts against its bound
        assert answer is not None and answer.status == status, (size, answer and answer.body)


def test_an_endless_header_gets_431_and_does_not_hold_the_server(bounded: EmbeddedBrood) -> None:
    # Given a client sending header bytes without end (up to 64 MiB)
    with connect(bounded) as sock:
        def send() -> None:
            try:
                sock.sendall(b"GET /health HTTP/1.1\r\nX-Endless: ")
                for _ in range(1024):
                    sock.sendall(b"e" * 65536)
            except OSError:
                pass  # the server closed the connection

        sender = threading.Thread(target=send)
        sender.start()
        try:
            started = time.monotonic()
            answer = read_answer(sock)
            # Then it is refused at once, in JSON, and the connection is closed
            assert answer is not None and answer.status == 431
            answer.error()
            assert time.monotonic() - started < 5
        finally:
            with contextlib.suppress(OSError):  # the server may have reset it already
                sock.shutdown(socket.SHUT_RDWR)
            sender.join(timeout=10)
    # And the server still answers others
    assert requests.get(bounded.url + "/health", timeout=10).status_code == 200


def test_a_malformed_request_gets_400_in_json(bounded: EmbeddedBrood) -> None:
    with connect(bounded) as sock:
        sock.sendall(b"NOT HTTP AT ALL\r\n\r\n")
        answer = read_answer(sock)
        assert answer is not None and answer.status == 400
        assert answer.error()
        assert closed_by_server(sock)


# -- time -------------------------------------------------------------------------------


def test_a_slow_head_gets_408_and_does_not_hold_other_clients(bounded: EmbeddedBrood) -> None:
    # Given ten clients sending a head a byte at a time (slowloris)
    slow = [connect(bounded) for _ in range(10)]
    head = padded_head("GET /health HTTP/1.1", 4096)
    stop = threading.Event()

    def trickle() -> None:
        for index in range(len(head)):
            for sock in slow:
                try:
                    sock.send(head[index:index + 1])
                except OSError:
                    pass
            if stop.wait(0.05):
                return

    trickler = threading.Thread(target=trickle)
    trickler.start()
    try:
        # When other clients make requests meanwhile
        latencies = []
        deadline = time.monotonic() + REQUEST_TIMEOUT * 0.8
        while time.monotonic() < deadline:
            started = time.monotonic()
            assert requests.get(bounded.url + "/health", timeout=10).status_code == 200
            latencies.append(time.monotonic() - started)
        # Then they are answered at once
        assert len(latencies) >= 5 and max(latencies) < 0.5, latencies
        # And each slow client gets 408, in JSON, once its time is up, and is disconnected
        for sock in slow:
            answer = read_answer(sock)
            assert answer is not None and answer.status == 408
            assert "did not arrive" in answer.error()
            assert closed_by_server(sock)
    finally:
        stop.set()
        trickler.join(timeout=10)
        for sock in slow:
            sock.close()


def test_a_silent_connection_is_closed_after_the_request_timeout(bounded: EmbeddedBrood) -> None:
    # Given a client that connects and sends nothing
    with connect(bounded) as sock:
        started = time.monotonic()
        # Then the server closes the connection, without an answer, once the time is up
        assert read_answer(sock) is None
        assert REQUEST_TIMEOUT * 0.9 < time.monotonic() - started < REQUEST_TIMEOUT + 2


def test_an_idle_keep_alive_connection_is_closed_after_its_timeout(bounded: EmbeddedBrood) -> None:
    with connect(bounded) as sock:
        # Given a kept-alive connection that made two requests
        for _ in range(2):
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: test\r\n\r\n")
            answer = read_answer(sock)
            assert answer is not None and answer.status == 200
        started = time.monotonic()
        # Then, idle, it is closed after the keep-alive time-out (uvicorn's default is 5 s)
        assert closed_by_server(sock)
        assert KEEP_ALIVE * 0.9 < time.monotonic() - started < KEEP_ALIVE + 2


def test_a_slow_json_body_gets_408(bounded: EmbeddedBrood) -> None:
    # Given a JSON request whose body stops coming
    body = new_organization_body()
    with connect(bounded) as sock:
        sock.sendall(f"POST {ORGANIZATIONS} HTTP/1.1\r\nHost: test\r\nAuthorization: {basic(bounded)}\r\n"
                     f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body[:5])
        started = time.monotonic()
        # Then it is answered 408 once the time is up, and the connection is closed
        answer = read_answer(sock)
        assert answer is not None and answer.status == 408, answer and answer.body
        assert "did not arrive" in answer.error()
        assert REQUEST_TIMEOUT * 0.9 < time.monotonic() - started < REQUEST_TIMEOUT + 2
        assert closed_by_server(sock)


# -- JSON bodies ---------------------------------------------------------------------------


def test_json_bodies_up_to_1_mib_are_read_and_larger_ones_get_413(bounded: EmbeddedBrood) -> None:
    session = requests.Session()
    session.auth = bounded.admin_auth
    headers = {"Content-Type": "application/json"}
    # Given a JSON body of exactly 1 MiB: it is read and parsed
    assert MAX_JSON_BODY == 1024 * 1024
    created = session.post(bounded.url + ORGANIZATIONS, data=new_organization_body(MAX_JSON_BODY),
                           headers=headers, timeout=30)
    assert created.status_code == 201, created.text
    # When a body is one byte larger, declared or sent without a length (chunked)
    declared = session.post(bounded.url + ORGANIZATIONS, data=new_organization_body(MAX_JSON_BODY + 1),
                            headers=headers, timeout=30)
    chunked = session.post(bounded.url + ORGANIZATIONS, headers=headers, timeout=30,
                           data=iter([new_organization_body(), b" " * MAX_JSON_BODY]))
    # Then it is refused, in JSON
    for response in (declared, chunked):
        assert response.status_code == 413, response.text
        assert response.headers["Content-Type"] == "application/json"
        assert "larger than 1048576 bytes" in response.json()["error"]
    # And the kept-alive connection still serves the next request
    assert session.get(bounded.url + ORGANIZATIONS, timeout=30).status_code == 200


def test_a_huge_declared_json_body_is_refused_before_it_is_sent(bounded: EmbeddedBrood) -> None:
    # Given a JSON request declaring 10 GiB, of which nothing is sent
    with connect(bounded) as sock:
        sock.sendall(f"POST {ORGANIZATIONS} HTTP/1.1\r\nHost: test\r\nAuthorization: {basic(bounded)}\r\n"
                     f"Content-Type: application/json\r\nContent-Length: {10 * 1024 ** 3}\r\n\r\n".encode())
        # Then it is answered 413 at once
        answer = read_answer(sock)
        assert answer is not None and answer.status == 413
        assert "larger than" in answer.error()


def test_uploads_are_not_bound_by_the_json_limit(bounded: EmbeddedBrood, tmp_path: Any) -> None:
    # Given an egg of 3 MiB
    client = bounded.client(api_version=1)
    organization = f"org-{uuid.uuid4().hex[:12]}"
    client.create_organization(organization, "uploads").create_repository("dev", "dev")
    egg = builders.build_egg(str(tmp_path), name="big", payload_size=3 * 1024 * 1024)
    # When it is uploaded
    platform = client.organization(organization).repository("dev").platform("rh5-x86_64")
    platform.upload_egg(egg)
    # Then it is stored
    assert platform.egg_metadata("cp27", "big", "1.0.1-1")["name"] == "big"


# -- HTTPS --------------------------------------------------------------------------------


def test_embedded_brood_serves_https(https: EmbeddedBrood, certificates: CertificateFiles) -> None:
    # Given a server started with a certificate
    assert https.url.startswith("https://127.0.0.1:")
    # Then it answers over TLS with that certificate
    assert requests.get(https.url + "/health", verify=certificates.ca, timeout=10).json()["status"] == "ok"
    # And not over plain HTTP
    with pytest.raises(requests.ConnectionError):
        requests.get(https.url.replace("https://", "http://") + "/health", timeout=10)


def test_the_client_verifies_the_certificate_by_default(https: EmbeddedBrood) -> None:
    # Given a client with the default verify_ssl=True, the authority being unknown to the system
    client = BroodClient.from_url(https.url, auth=https.admin_auth, api_version=1)
    # Then its first request fails on the certificate
    with pytest.raises(requests.exceptions.SSLError, match="CERTIFICATE_VERIFY_FAILED"):
        client.list_organizations()


@insecure_warnings
def test_the_client_without_verification(https: EmbeddedBrood) -> None:
    client = https.client(verify_ssl=False)
    name = f"org-{uuid.uuid4().hex[:12]}"
    client.create_organization(name, "over TLS")
    assert name in client.list_organizations()


def test_the_client_verifies_against_a_ca_bundle_path(https: EmbeddedBrood, certificates: CertificateFiles) -> None:
    # Given a client verifying against the authority's certificate, with session tokens
    auth = BroodClientAuth(https.url, https.admin_auth, verify_ssl=certificates.ca)
    client = BroodClient.from_url(https.url, auth=auth, verify_ssl=certificates.ca, api_version=1)
    name = f"org-{uuid.uuid4().hex[:12]}"
    # Then it works, the token exchange included
    client.create_organization(name, "verified")
    assert name in client.list_organizations()
    assert auth.session_token


def test_the_bounds_hold_over_https(https: EmbeddedBrood, certificates: CertificateFiles) -> None:
    # Given an oversized JSON body over TLS: 413
    response = requests.post(https.url + ORGANIZATIONS, data=new_organization_body(MAX_JSON_BODY + 1),
                             auth=https.admin_auth, verify=certificates.ca, timeout=30,
                             headers={"Content-Type": "application/json"})
    assert response.status_code == 413 and "larger than" in response.json()["error"]
    # And an oversized head: 431
    response = requests.get(https.url + "/health", headers={"X-Pad": "p" * HEAD_LIMIT}, verify=certificates.ca,
                            timeout=30)
    assert response.status_code == 431 and response.headers["Content-Type"] == "application/json"


def test_unusable_certificates_fail_at_start(tmp_path: Any, certificates: CertificateFiles) -> None:
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate\n")
    other = make_certificates(tmp_path)
    cases = [
        ({"certfile": certificates.cert}, "needs both"),
        ({"certfile": str(tmp_path / "missing.pem"), "keyfile": certificates.key}, "Cannot read"),
        ({"certfile": str(garbage), "keyfile": certificates.key}, "Cannot use the certificate"),
        ({"certfile": certificates.cert, "keyfile": other.key}, "Cannot use the certificate"),
    ]
    for files, message in cases:
        brood = EmbeddedBrood(**files)
        with pytest.raises(TLSConfigError, match=message) as raised:
            brood.start()
        assert "\n" not in str(raised.value)
        assert brood._thread is None and brood._sock is None  # nothing was started
