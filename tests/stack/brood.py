"""The replica set seen as one server: what the server and conformance suites run against in ``tox -e scale``.

With ``HATCHER_TEST_STACK=replicas`` the session's ``brood`` fixture (``tests/server/conftest.py``)
and the conformance suite's ``brood_server`` are a :class:`StackBrood`: nginx balancing round
robin over the three servers of ``replica_set`` (PostgreSQL and S3), so that consecutive requests
of a test go to different replicas. It offers what tests use of an
:class:`~hatcher.server.runner.EmbeddedBrood`: ``url``, ``admin_auth``, ``client()`` and
``app.state`` (a database engine, its sessions and the blob store, opened in the test process on
the same database and bucket). Tests that need the server in their own process (its settings, its
thread, its in-process locks) are marked ``embedded`` and are not collected in that mode.
"""

from __future__ import annotations

import os
import types
from typing import TYPE_CHECKING, Any, Optional

if TYPE_CHECKING:
    from .nginx import Nginx
    from .replicas import ReplicaSet
    from .seaweed import SeaweedS3

#: The value of ``HATCHER_TEST_STACK`` that runs the suites against the replica set.
REPLICAS = "replicas"


def stack_mode() -> bool:
    """True when the suites run against the replica set (``HATCHER_TEST_STACK=replicas``)."""
    return os.environ.get("HATCHER_TEST_STACK", "") == REPLICAS


class StackBrood:
    """nginx in front of a :class:`~stack.replicas.ReplicaSet`, used like an ``EmbeddedBrood``.

    Parameters
    ----------
    replicas
        The running servers.
    balancer
        The running nginx in front of all of them.
    s3
        Their S3 server (for the blob store opened in this process).
    """

    def __init__(self, replicas: ReplicaSet, balancer: Nginx, s3: SeaweedS3) -> None:
        from hatcher.server.blobstore import open_blob_store
        from hatcher.server.db import make_engine, make_sessionmaker

        self.replicas = replicas
        self.balancer = balancer
        self.admin_auth = replicas.admin
        self.host, self.port = balancer.url.rsplit("/", 1)[-1].rsplit(":", 1)
        self.port = int(self.port)
        engine = make_engine(replicas.database_url)
        store = open_blob_store(replicas.blob_store, environ=s3.env())
        self.app = types.SimpleNamespace(state=types.SimpleNamespace(
            engine=engine, sessionmaker=make_sessionmaker(engine), store=store))

    @property
    def url(self) -> str:
        """The load balancer's base URL."""
        return self.balancer.url

    def client(self, api_version: int = 1, auth: Optional[Any] = None) -> Any:
        """A :class:`~hatcher.api.BroodClient` through the load balancer (the superuser's by default)."""
        from hatcher.api import BroodClient

        return BroodClient.from_url(self.url, auth=auth or self.admin_auth, api_version=api_version)

    def close(self) -> None:
        """Release the database connections and the store of this process."""
        self.app.state.store.close()
        self.app.state.engine.dispose()
