"""Test-stack helpers: PostgreSQL, an S3 server (SeaweedFS), nginx and hatcher server replicas, on loopback.

Tests import them as ``from stack import SeaweedS3, PostgresCluster, Nginx, ReplicaSet``
(``tests/`` is on ``sys.path``: ``tests/conftest.py`` is in a directory without ``__init__.py``),
and the session fixtures from :mod:`stack.fixtures`. Each helper starts its service as a child
process on free ports of 127.0.0.1, waits until it is ready, and stops it, leaving nothing behind.
"""

from .nginx import Nginx, render_config
from .postgres import PostgresCluster
from .processes import PortTaken, ServiceUnavailable, StartError
from .replicas import ADMIN_EMAIL, ADMIN_PASSWORD, Replica, ReplicaSet
from .seaweed import SeaweedS3

__all__ = ["ADMIN_EMAIL", "ADMIN_PASSWORD", "Nginx", "PortTaken", "PostgresCluster", "Replica", "ReplicaSet",
           "SeaweedS3", "ServiceUnavailable", "StartError", "render_config"]
