"""Fixtures for tests/notify: one SentryKV and one redis-server (DEBUG enabled) for the package.

The modules here restore what they change (notify-keyspace-events,
tracking-table-max-keys) and close their connections, so the two servers are
shared by all of them rather than started per module.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.procs import RedisProcess, ServerProcess
from tests.transactions.wire import server_log_clean  # noqa: F401  (autouse fixture)


@pytest.fixture(scope="package")
def server() -> Iterator[ServerProcess]:
    srv = ServerProcess(args=["--appendonly", "no"]).start()
    yield srv
    srv.stop()
    srv.cleanup()


@pytest.fixture(scope="package")
def reference() -> Iterator[RedisProcess]:
    """The oracle with DEBUG enabled (SET-ACTIVE-EXPIRE makes lazy expiry deterministic)."""
    srv = RedisProcess(args=["--enable-debug-command", "yes"]).start()
    yield srv
    srv.stop()
    srv.cleanup()
