"""Fixtures for tests/acl: a SentryKV / redis-server pair reset to Redis's initial ACL state."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.acl.support import AclPair
from tests.support.procs import RedisProcess, ServerProcess
from tests.transactions.wire import server_log_clean  # noqa: F401  (autouse fixture)


@pytest.fixture(scope="module")
def acl_pair(server: ServerProcess, reference: RedisProcess) -> Iterator[AclPair]:
    pair = AclPair(server, reference)
    yield pair
    pair.close()


@pytest.fixture
def pair(acl_pair: AclPair) -> AclPair:
    acl_pair.reset()
    return acl_pair
