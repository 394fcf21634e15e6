"""Fixtures for the RDB tests: redis-server with DEBUG enabled (DIGEST-VALUE is the oracle)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from tests.support.procs import RedisProcess


@pytest.fixture(scope="module")
def debug_redis() -> Iterator[RedisProcess]:
    srv = RedisProcess(args=["--enable-debug-command", "yes"]).start()
    yield srv
    srv.stop()
    srv.cleanup()


@pytest.fixture
def ref(debug_redis: RedisProcess) -> Iterator[redis.Redis]:
    client = debug_redis.client()
    client.flushall()
    yield client
    client.close()
