"""Fixtures for tests/notify (the shared ones live in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.procs import RedisProcess
from tests.transactions.wire import server_log_clean  # noqa: F401  (autouse fixture)


@pytest.fixture(scope="module")
def reference() -> Iterator[RedisProcess]:
    """redis-server with DEBUG enabled (SET-ACTIVE-EXPIRE makes lazy expiry deterministic)."""
    srv = RedisProcess(args=["--enable-debug-command", "yes"]).start()
    yield srv
    srv.stop()
    srv.cleanup()
