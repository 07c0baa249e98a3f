"""An S3 store with no room: a write it refuses for lack of space or quota is a JSON 507, and leaves nothing behind.

What stores answer (``hatcher.server.blobstore.s3.NO_ROOM_CODES``): MinIO ``507 XMinioStorageFull``
below its free-space threshold and ``400 XMinioAdminBucketQuotaExceeded`` past a bucket quota, Ceph's
RADOS Gateway ``403 QuotaExceeded``, any store the status 507. SeaweedFS 4.48 says neither: measured
with a full disk (``no space left on device`` in its log) and with a bucket over its quota
(``s3.bucket.quota`` + ``s3.bucket.quota.enforce -apply``), every write gets ``500 InternalError``
"We encountered an internal error, please try again.", which cannot be told from any other fault
of the store: the server answers it with 503, as any error of the store.

So the 507 tests put a gate (an HTTP proxy of this process) between the server and a real SeaweedFS:
it passes every request on, and when told refuses uploads' writes exactly as MinIO or Ceph do; the
SeaweedFS quota test runs against SeaweedFS itself. Every test checks that nothing is left in the
bucket (no object, no open multipart upload) and that uploads work again once there is room.
"""

from __future__ import annotations

import contextlib
import http.client
import subprocess
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterator, Optional
from urllib.parse import parse_qs, urlsplit
from xml.etree import ElementTree

import obstore
import pytest
import requests
from scale_kit import Egg, create_repository, is_json_error, stored_objects, unique, wait_for
from stack import PostgresCluster, ReplicaSet, SeaweedS3
from stack.fixtures import running_replicas, running_seaweed
from stack.processes import HOST
from stack.seaweed import weed_binary

from hatcher.server.blobstore import BlobStoreError, s3
from hatcher.server.errors import InsufficientStorage

MIB = 1 << 20
#: Bodies of at most 256 KiB are received whole and stored with one PUT; larger ones are multipart
#: uploads of 5 MiB parts, 4 in flight: a refused part of a 30 MiB upload is reported while it is
#: received (the writer aborts the upload when discarded), the refused second and last part of a
#: 7 MiB upload when it is completed (obstore aborts the upload itself).
SMALL, STREAMED, TWO_PARTS = 64 * 1024, 30 * MIB, 7 * MIB
BUCKET = "hatcher-full"
#: Answers of stores that have no room (status, S3 error code), from their sources' error tables.
NO_ROOM = [(507, "XMinioStorageFull"), (400, "XMinioAdminBucketQuotaExceeded"), (403, "QuotaExceeded"),
           (507, "InsufficientStorage")]
#: What SeaweedFS 4.48 answers for a full disk or a bucket over its quota (measured), and other refusals:
#: none says that the store has no room.
NOT_NO_ROOM = [(500, "InternalError"), (503, "SlowDown"), (400, "EntityTooLarge"), (403, "AccessDenied")]
#: Headers that belong to one connection, not to the request or answer passed on.
_HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "te", "upgrade", "server", "date"}


def error_xml(code: str, resource: str) -> bytes:
    """An S3 error document."""
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code><Message>No room left for this '
            f'write (test gate)</Message><Resource>{resource}</Resource><RequestId>gate</RequestId></Error>'
            ).encode()


class _QuietHandler(BaseHTTPRequestHandler):
    """An HTTP/1.1 request handler that logs nothing (the test servers below)."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:
        pass


class Gate:
    """An HTTP proxy in front of an S3 server (``upstream``: its port) on a free loopback port.

    It passes every request on unchanged (the ``Host`` header too, so signatures hold), except, while
    :attr:`refusal` is set, the ``PUT`` requests of uploads' objects under :attr:`objects`: a whole
    object, or a part numbered :attr:`from_part` or higher. Those are read and answered with the
    refusal's status and S3 error code, as a store with no room answers.
    """

    def __init__(self, upstream: int, objects: str) -> None:
        self.upstream, self.objects = upstream, objects
        self.refusal: Optional[tuple[int, str]] = None
        self.from_part = 1
        self.refused = 0
        gate = self

        class Handler(_QuietHandler):
            def relay(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                assert "chunked" not in (self.headers.get("Transfer-Encoding") or ""), "chunked bodies: not handled"
                body = self.rfile.read(length) if length else b""
                refusal = gate.refusing(self.command, self.path)
                if refusal is not None:
                    answer = error_xml(refusal[1], urlsplit(self.path).path)
                    self.send_response(refusal[0])
                    self.send_header("Content-Type", "application/xml")
                    self.send_header("Content-Length", str(len(answer)))
                    self.send_header("Connection", "close")  # one request per connection: no thread lingers
                    self.close_connection = True
                    self.end_headers()
                    self.wfile.write(answer)
                    return
                connection = http.client.HTTPConnection(HOST, gate.upstream, timeout=30)
                try:
                    connection.request(self.command, self.path, body=body,
                                       headers={k: v for k, v in self.headers.items() if k.lower() not in _HOP})
                    reply = connection.getresponse()
                    data = reply.read()
                finally:
                    connection.close()
                self.send_response(reply.status, reply.reason)
                for name, value in reply.getheaders():
                    if name.lower() not in _HOP and (name.lower() != "content-length" or self.command == "HEAD"):
                        self.send_header(name, value)
                if self.command != "HEAD":
                    self.send_header("Content-Length", str(len(data)))
                self.send_header("Connection", "close")
                self.close_connection = True
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = relay

        self.server = ThreadingHTTPServer((HOST, 0), Handler)
        self.server.daemon_threads, self.server.block_on_close = False, True  # server_close() joins them
        self.url = f"http://{HOST}:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, name="s3-gate", daemon=True)

    def refusing(self, method: str, target: str) -> Optional[tuple[int, str]]:
        """The refusal for this request, if it is refused."""
        refusal, parts = self.refusal, urlsplit(target)
        if refusal is None or method != "PUT" or not parts.path.startswith(self.objects):
            return None
        number = parse_qs(parts.query).get("partNumber")
        if number is not None and int(number[0]) < self.from_part:
            return None
        self.refused += 1
        return refusal

    def __enter__(self) -> Gate:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(10)


@pytest.fixture(scope="module")
def weed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedS3]:
    """A SeaweedFS of this module's own: the quota test makes its bucket read-only for a while."""
    yield from running_seaweed(tmp_path_factory.mktemp("s3full"), BUCKET)


@pytest.fixture(scope="module")
def gate(weed: SeaweedS3) -> Iterator[Gate]:
    with Gate(weed.port, f"/{BUCKET}/full/blobs/") as running:
        yield running


@pytest.fixture(scope="module")
def replica(postgres: PostgresCluster, weed: SeaweedS3, gate: Gate, tmp_path_factory: pytest.TempPathFactory
            ) -> Iterator[ReplicaSet]:
    """One server on ``s3://hatcher-full/full``, reaching SeaweedFS through the gate."""
    database_url = postgres.create_database(unique("s3full").replace("-", "_"))
    replicas = ReplicaSet(1, tmp_path_factory.mktemp("s3full-replica"), database_url=database_url, s3=weed,
                          prefix="full", env={"AWS_ENDPOINT_URL": gate.url})
    with running_replicas(replicas, "the full-store tests"):
        yield replicas


def open_uploads(weed: SeaweedS3, prefix: str) -> list[str]:
    """The keys of the multipart uploads open under ``prefix`` in the bucket (S3 ``ListMultipartUploads``)."""
    url = s3._presigned_get(f"{weed.endpoint_url}/{BUCKET}", weed.access_key, weed.secret_key, "", weed.region, 60,
                            {"uploads": "", "prefix": prefix})
    with requests.Session() as session:
        session.trust_env = False
        answer = session.get(url, timeout=10)
    assert answer.status_code == 200, f"ListMultipartUploads: {answer.status_code} {answer.text[:300]}"
    return sorted(element.text or "" for element in ElementTree.fromstring(answer.content).iter()
                  if element.tag.rsplit("}", 1)[-1] == "Key")


def left_behind(weed: SeaweedS3) -> tuple[set[str], list[str]]:
    """The objects under the replica's prefix, and its multipart uploads still open."""
    return stored_objects(weed, "full"), open_uploads(weed, "full/")


def upload(replica: ReplicaSet, egg: Egg, organization: str, repository: str) -> Any:
    return egg.upload(replica[0].url, organization, repository, timeout=60)


@pytest.mark.parametrize("status, code", NO_ROOM, ids=[code for _, code in NO_ROOM])
def test_a_store_that_refuses_uploads_for_lack_of_room_gives_a_json_507_and_keeps_nothing_of_them(
        status: int, code: str, replica: ReplicaSet, gate: Gate, weed: SeaweedS3, tmp_path: Path) -> None:
    # Given a server whose store refuses the writes of uploads as a full (or over-quota) store does
    organization, repository = create_repository(replica[0].url)
    # (names of their own: content the bucket holds already would not be written again)
    eggs = {size: Egg(tmp_path, f"full{uuid.uuid4().hex[:8]}", payload_size=size)
            for size in (SMALL, STREAMED, TWO_PARTS)}
    assert len(eggs[SMALL].data) <= 256 * 1024 < len(eggs[TWO_PARTS].data)
    before = left_behind(weed)
    gate.refusal, gate.refused = (status, code), 0
    try:
        # When an upload received whole, one refused while streaming and one refused at its completion are sent
        answers = {}
        for size, from_part in ((SMALL, 1), (STREAMED, 1), (TWO_PARTS, 2)):
            gate.from_part = from_part
            answers[size] = upload(replica, eggs[size], organization, repository)
    finally:
        gate.refusal = None
    # Then each is answered 507 with the JSON error, which says that the server has no room
    for size, answer in answers.items():
        assert answer.status_code == 507 and is_json_error(answer), \
            f"{size} bytes: {answer.status_code} {answer.text[:300]!r} (expected a JSON 507)"
        assert answer.json()["error"] == "Not enough space on the server for this upload", answer.text
    assert gate.refused >= 3
    # And nothing of them is in the bucket: no object, no multipart upload left open
    assert left_behind(weed) == before
    # And once the store has room again, the same uploads work
    for size, egg in eggs.items():
        answer = upload(replica, egg, organization, repository)
        assert answer.status_code == 201, f"{size} bytes after the refusal: {answer.status_code} {answer.text[:300]}"
    assert eggs[STREAMED].download(replica[0].url, organization, repository).content == eggs[STREAMED].data


def weed_shell(weed: SeaweedS3, *commands: str) -> str:
    """Run ``weed shell`` commands on the module's SeaweedFS; their output."""
    master = f"{HOST}:{weed.ports['master.port']}.{weed.ports['master.port.grpc']}"
    filer = f"{HOST}:{weed.ports['filer.port']}.{weed.ports['filer.port.grpc']}"
    done = subprocess.run([weed_binary(), "shell", f"-master={master}", f"-filer={filer}"],
                          input="\n".join([*commands, "exit"]) + "\n", capture_output=True, text=True, timeout=30,
                          cwd=weed.directory, env={"HOME": str(weed.directory), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, f"weed shell {commands}: {done.returncode} {done.stdout} {done.stderr}"
    return done.stdout


def test_a_seaweedfs_bucket_over_its_quota_refuses_uploads_with_a_503_that_keeps_nothing_and_they_work_once_lifted(
        replica: ReplicaSet, weed: SeaweedS3, tmp_path: Path) -> None:
    """SeaweedFS answers ``500 InternalError`` to writes in a bucket over its quota: a 503 here, never a 500."""
    # Given a bucket holding 3 MiB, with a quota of 1 MiB enforced (SeaweedFS makes it read-only)
    organization, repository = create_repository(replica[0].url)
    small, streamed = (Egg(tmp_path, f"quota{uuid.uuid4().hex[:8]}", payload_size=size) for size in (SMALL, STREAMED))
    obstore.put(weed.store("filler"), "three-mib", b"\0" * 3 * MIB)
    before = left_behind(weed)
    try:
        weed_shell(weed, f"s3.bucket.quota -name={BUCKET} -op=set -sizeMB=1")
        # (the master learns the bucket's size from the volume servers' heartbeats, every few seconds)
        took = wait_for(lambda: "read only" in weed_shell(weed, "s3.bucket.quota.enforce -apply") or
                        weed_is_read_only(weed), timeout=30, interval=1)
        assert took is not None, "SeaweedFS did not make the bucket read-only within 30 s"
        # When an upload received whole and a streamed one are sent
        answers = [upload(replica, egg, organization, repository) for egg in (small, streamed)]
    finally:
        weed_shell(weed, f"s3.bucket.quota -name={BUCKET} -op=remove", "s3.bucket.quota.enforce -apply")
    # Then both get the JSON 503 of a store that fails, never a 500
    for answer in answers:
        assert answer.status_code == 503 and is_json_error(answer), f"{answer.status_code} {answer.text[:300]!r}"
        assert "InternalError" in answer.text, answer.text
    # And nothing of them is in the bucket
    assert left_behind(weed) == before
    # And with the quota lifted, they work
    for egg in (small, streamed):
        answer = upload(replica, egg, organization, repository)
        assert answer.status_code == 201, f"after the quota: {answer.status_code} {answer.text[:300]}"


def weed_is_read_only(weed: SeaweedS3) -> bool:
    """Whether a write in the bucket is refused now."""
    try:
        obstore.put(weed.store("filler", max_retries=0), "probe", b"x")
    except Exception:  # noqa: BLE001 - any refusal
        return True
    return False


# -- which errors say "no room": real obstore errors, from a loopback server answering as a store does -------------


@contextlib.contextmanager
def answering(status: int, code: str) -> Iterator[str]:
    """A loopback HTTP server that answers every request with ``status`` and an S3 error ``code``; its URL."""

    class Handler(_QuietHandler):
        def refuse(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            body = error_xml(code, urlsplit(self.path).path)
            self.send_response(status)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")  # one request per connection: no thread lingers
            self.close_connection = True
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = refuse

    server = ThreadingHTTPServer((HOST, 0), Handler)
    server.daemon_threads, server.block_on_close = False, True  # server_close() joins the request threads
    thread = threading.Thread(target=server.serve_forever, name="s3-refusals", daemon=True)
    thread.start()
    try:
        yield f"http://{HOST}:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def blob_store(url: str) -> Any:
    return s3.S3BlobStore("bucket", "prefix", environ={"AWS_ENDPOINT_URL": url, "AWS_ACCESS_KEY_ID": "key",
                                                       "AWS_SECRET_ACCESS_KEY": "secret"})


def errors_of(url: str) -> list[BaseException]:
    """What obstore raises for a ``put``, and for a multipart upload through a writer, against ``url``."""
    store = blob_store(url).store
    errors: list[BaseException] = []
    with pytest.raises(Exception) as put:
        obstore.put(store, "key", b"x" * 1000)
    errors.append(put.value)
    writer = obstore.open_writer(store, "large", buffer_size=5 * MIB, max_concurrency=1)
    with pytest.raises(Exception) as streamed:
        writer.write(b"x" * 6 * MIB)
        writer.write(b"x" * 6 * MIB)
        writer.close()
    errors.append(streamed.value)
    return errors


@pytest.mark.parametrize("status, code, full", [(*answer, True) for answer in NO_ROOM] + [(507, "Unknown", True)] +
                         [(*answer, False) for answer in NOT_NO_ROOM],
                         ids=[f"{s}-{c}" for s, c in NO_ROOM + [(507, "Unknown")] + NOT_NO_ROOM])
def test_is_store_full_tells_the_refusals_for_lack_of_room_from_the_other_errors(
        status: int, code: str, full: bool) -> None:
    with answering(status, code) as url:
        errors = errors_of(url)
        # A write: 507 with the store's words when it has no room, 503 otherwise
        incoming = blob_store(url).memory_writer()
        incoming.write(b"x" * 1000)
        incoming.finish()
        with pytest.raises((InsufficientStorage, BlobStoreError)) as refused:
            blob_store(url).publish(incoming, "0" * 64)
    assert [type(error).__name__ for error in errors] == ["GenericError", "OSError"] or \
        all(isinstance(error, (obstore.exceptions.BaseError, OSError)) for error in errors), errors
    assert [s3.is_store_full(error) for error in errors] == [full, full], [str(error)[:300] for error in errors]
    assert refused.value.status == (507 if full else 503), refused.value.message
    assert (code in refused.value.message) or not full, refused.value.message
