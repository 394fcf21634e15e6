"""Fixtures for tests/notify (the shared ones live in tests/conftest.py)."""

from __future__ import annotations

import pytest

from tests.rdb.conftest import debug_redis  # noqa: F401  (module fixture: redis-server with DEBUG)
from tests.support.procs import RedisProcess
from tests.transactions.wire import server_log_clean  # noqa: F401  (autouse fixture)


@pytest.fixture(scope="module")
def reference(debug_redis: RedisProcess) -> RedisProcess:  # noqa: F811
    """The oracle with DEBUG enabled (SET-ACTIVE-EXPIRE makes lazy expiry deterministic)."""
    return debug_redis
