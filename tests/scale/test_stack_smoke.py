"""The test stack itself: S3 with credentials, PostgreSQL across a restart, nginx round robin, replicas."""

from __future__ import annotations

import http.client
import json
import os
import sys
import uuid
from pathlib import Path
from typing import Any, Iterator, Optional

import pytest
from service_guard import require_service
from stack import Nginx, PostgresCluster, ReplicaSet, SeaweedS3, ServiceUnavailable
from stack.nginx import nginx_binary
from stack.processes import accepts, free_port, spawn, stop_process, tcp_endpoints, unix_socket_paths, wait_until
from stack.replicas import health

ECHO_BACKEND = str(Path(__file__).with_name("echo_backend.py"))


def start(service: Any) -> Any:
    """``service.start()``; a program that is not installed skips the test (fails it in CI)."""
    try:
        service.start()
    except ServiceUnavailable as error:
        require_service(str(error))
    return service


def request(url: str, method: str = "GET", path: str = "/", body: Optional[bytes] = None) -> tuple[int, Any]:
    """``method path`` on ``url`` (never through a proxy): the status and the decoded JSON body, if any."""
    host, port = url.rsplit("/", 1)[-1].rsplit(":", 1)
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        connection.request(method, path, body=body, headers={"Host": f"lb.example:{port}"})
        response = connection.getresponse()
        data = response.read()
        is_json = response.getheader("Content-Type") == "application/json"
        return response.status, json.loads(data) if is_json else data
    finally:
        connection.close()


# S3 ---------------------------------------------------------------------------------------------------------


def test_s3_stores_and_serves_with_the_credentials_and_refuses_a_wrong_secret(seaweed: SeaweedS3):
    import obstore
    from obstore.exceptions import PermissionDeniedError

    # Given a store on a prefix of our own
    prefix = f"smoke-{uuid.uuid4().hex[:8]}"
    store = seaweed.store(prefix)
    # When an object is put, then it is served back, and listed
    obstore.put(store, "aa/blob", b"payload " * 1000)
    assert bytes(obstore.get(store, "aa/blob").bytes()) == b"payload " * 1000
    assert [meta["path"] for batch in obstore.list(store) for meta in batch] == ["aa/blob"]
    # And a client with a wrong secret can neither read nor write
    intruder = seaweed.store(prefix, secret_key="not-the-secret", max_retries=0)
    with pytest.raises(PermissionDeniedError):
        obstore.get(intruder, "aa/blob")
    with pytest.raises(PermissionDeniedError):
        obstore.put(intruder, "aa/other", b"x")
    # And nor can an anonymous one
    with pytest.raises(PermissionDeniedError):
        obstore.get(seaweed.store(prefix, skip_signature=True, max_retries=0), "aa/blob")
    assert seaweed.env() == {"AWS_ENDPOINT_URL": seaweed.endpoint_url, "AWS_ACCESS_KEY_ID": seaweed.access_key,
                             "AWS_SECRET_ACCESS_KEY": seaweed.secret_key, "AWS_REGION": "us-east-1"}


def test_s3_uses_the_loopback_only(seaweed: SeaweedS3):
    connections = tcp_endpoints(seaweed.process.pid)
    assert connections, "weed holds no TCP socket?"
    assert {local for local, _ in connections} == {"127.0.0.1"}
    assert {remote for _, remote in connections} <= {"127.0.0.1", "0.0.0.0"}  # 0.0.0.0: a listening socket


def test_s3_restart_keeps_the_data_and_the_endpoint_and_stop_removes_the_tmp_sockets(tmp_path: Path):
    import obstore

    server = start(SeaweedS3(tmp_path / "s3", "restart-test"))
    try:
        store = server.store()
        obstore.put(store, "kept", b"kept across restarts")
        endpoint = server.endpoint_url
        # When it restarts (SIGINT and start), or is killed and started again
        server.restart()
        assert server.endpoint_url == endpoint
        assert bytes(obstore.get(store, "kept").bytes()) == b"kept across restarts"
        tmp_sockets = {path for path in unix_socket_paths(server.process.pid) if path.startswith("/tmp/seaweedfs-")}
        services = {path.split("-")[1] for path in tmp_sockets}
        assert {"master", "volume", "filer", "s3"} <= services, tmp_sockets  # and admin, a moment later
        server.kill()
        assert not [path for path in tmp_sockets if os.path.exists(path)]
        server.start()
        assert bytes(obstore.get(store, "kept").bytes()) == b"kept across restarts"
        tmp_sockets = {path for path in unix_socket_paths(server.process.pid) if path.startswith("/tmp/seaweedfs-")}
    finally:
        server.stop()
    # Then a stop leaves no /tmp/seaweedfs-* socket behind
    assert not server.running
    assert not [path for path in tmp_sockets if os.path.exists(path)]


# PostgreSQL -------------------------------------------------------------------------------------------------


def test_postgres_accepts_connections_and_survives_a_restart(postgres: PostgresCluster):
    import sqlalchemy

    url = postgres.create_database(f"smoke_{uuid.uuid4().hex[:8]}")
    assert url.startswith(f"postgresql+psycopg://hatcher@127.0.0.1:{postgres.port}/smoke_")
    engine = sqlalchemy.create_engine(url, pool_pre_ping=True)
    try:
        with engine.begin() as connection:
            connection.execute(sqlalchemy.text("CREATE TABLE kept (value text)"))
            connection.execute(sqlalchemy.text("INSERT INTO kept VALUES ('still here')"))
        port = postgres.port
        postgres.restart()
        assert postgres.port == port
        with engine.connect() as connection:  # the pooled connection was cut: pre-ping replaces it
            assert connection.execute(sqlalchemy.text("SELECT value FROM kept")).scalar() == "still here"
    finally:
        engine.dispose()


# nginx ------------------------------------------------------------------------------------------------------


@pytest.fixture
def echo_backends(tmp_path: Path) -> Iterator[list[str]]:
    """Two echo backends, ``a`` and ``b`` (``b`` drops ``/drop`` requests): their ``127.0.0.1:PORT``."""
    try:
        nginx_binary()  # the backends are for nginx
    except ServiceUnavailable as error:
        require_service(str(error))
    processes, upstreams = [], []
    try:
        for name in ("a", "b"):
            port = free_port()
            drop = ["--drop"] if name == "b" else []
            processes.append(spawn([sys.executable, ECHO_BACKEND, name, str(port), *drop], tmp_path / f"{name}.log"))
            upstreams.append(f"127.0.0.1:{port}")
            wait_until(lambda port=port: accepts(port), processes[-1], 20, f"echo backend {name}")
        yield upstreams
    finally:
        for process in processes:
            stop_process(process)


def test_nginx_alternates_between_the_backends_and_passes_the_client_headers(echo_backends, tmp_path: Path):
    with Nginx(echo_backends, tmp_path / "nginx") as balancer:
        answers = [request(balancer.url, "GET", f"/{index}")[1] for index in range(6)]
        uploaded = request(balancer.url, "POST", "/upload", body=b"x" * 3_000_000)[1]
    assert [answer["name"] for answer in answers] == ["a", "b"] * 3
    assert {answer["host"] for answer in answers} == {f"lb.example:{balancer.port}"}
    assert {answer["forwarded_for"] for answer in answers} == {"127.0.0.1"}
    assert {answer["forwarded_proto"] for answer in answers} == {"http"}
    assert {answer["connection"] for answer in answers} == {None}  # upstream keepalive
    assert uploaded["received"] == 3_000_000  # no body size limit
    assert not balancer.running


@pytest.mark.parametrize(("method", "status"), [("GET", 200), ("POST", 503)])
def test_nginx_retries_only_idempotent_requests_on_another_backend(echo_backends, tmp_path: Path, method, status):
    # Given a fresh nginx: the first request goes to a, the second to b, which drops /drop requests
    with Nginx(echo_backends, tmp_path / "nginx") as balancer:
        assert request(balancer.url, method, "/drop")[1]["name"] == "a"
        # When b drops one, then a GET is answered by a, a POST is not retried: nginx's JSON 503
        answer_status, answer = request(balancer.url, method, "/drop")
    assert answer_status == status
    if status == 200:
        assert answer["name"] == "a"
    else:
        assert "No Brood server is reachable" in answer["error"]
    log = (tmp_path / "nginx" / "access.log").read_text()
    assert f"upstream={echo_backends[1]}, {echo_backends[0]}" in log if method == "GET" else \
        f"upstream={echo_backends[1]} upstream_status=502" in log


# hatcher replicas -------------------------------------------------------------------------------------------


def test_replicas_start_one_then_the_others_and_survive_a_kill(tmp_path: Path):
    # Given two servers, each on its own SQLite database and files (the shared S3 mode comes later)
    replicas = ReplicaSet(2, tmp_path, extra_args=lambda index, here: ["--data-dir", str(here / "data")])
    with replicas:
        assert [health(url) for url in replicas.urls] == [200, 200]
        # When one is killed, then only the other answers
        replicas.kill9(1)
        assert [health(url) for url in replicas.urls] == [200, None]
        # And once restarted, it answers again on the same port
        url = replicas.urls[1]
        replicas.restart(1)
        assert replicas.urls[1] == url and health(url) == 200
    assert [replica.running for replica in replicas] == [False, False]
    assert "Application startup complete" in replicas[0].log()


def test_the_session_replica_set_answers_directly_and_through_nginx(replica_set: ReplicaSet, nginx_lb: Nginx):
    # Given three servers on PostgreSQL and S3, nginx in front of the first two
    assert [health(url) for url in replica_set.urls] == [200, 200, 200]
    log = Path(nginx_lb.directory, "access.log")
    before = log.stat().st_size if log.exists() else 0
    # When /health is asked four times through nginx, then the two servers answer in turn
    assert [request(nginx_lb.url, "GET", "/health")[0] for _ in range(4)] == [200] * 4
    wait_until(lambda: log.read_text()[before:].count("\n") >= 4, None, 5, "nginx's access log")
    served = [line.split("upstream=")[1].split()[0] for line in log.read_text()[before:].splitlines()]
    assert served == served[:2] * 2 and sorted(served[:2]) == sorted(replica_set.upstreams[:2])
