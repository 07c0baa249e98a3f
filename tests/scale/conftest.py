"""Fixtures of the scale-out tests: the stack of ``tests/stack`` (PostgreSQL, S3, hatcher replicas, nginx)."""

from stack.fixtures import nginx_lb, postgres, replica_set, seaweed  # noqa: F401 - re-exported fixtures
