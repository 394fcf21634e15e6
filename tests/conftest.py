"""Shared fixtures: a SentryKV server and a reference redis-server per test module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from tests.support.procs import RedisProcess, ServerProcess


@pytest.fixture(scope="module")
def server() -> Iterator[ServerProcess]:
    """A memory-only SentryKV (appendonly no) shared by the tests of one module."""
    srv = ServerProcess(args=["--appendonly", "no"]).start()
    yield srv
    srv.stop()
    srv.cleanup()


@pytest.fixture(scope="module")
def durable_server() -> Iterator[ServerProcess]:
    srv = ServerProcess(args=["--appendonly", "yes", "--appendfsync", "always"]).start()
    yield srv
    srv.stop()
    srv.cleanup()


@pytest.fixture(scope="module")
def reference() -> Iterator[RedisProcess]:
    """The oracle: a real redis-server.  Missing redis-server fails, never skips."""
    srv = RedisProcess().start()
    yield srv
    srv.stop()
    srv.cleanup()


@pytest.fixture
def r(server: ServerProcess) -> Iterator[redis.Redis]:
    client = server.client()
    client.flushall()
    yield client
    client.close()


@pytest.fixture
def ref(reference: RedisProcess) -> Iterator[redis.Redis]:
    client = reference.client()
    client.flushall()
    yield client
    client.close()
