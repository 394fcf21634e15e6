"""Fixtures for the data-type tests: a Differ over the ``r`` (SentryKV) and ``ref`` (Redis) servers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from tests.types.diff import Differ

# Small encoding limits make listpack->hashtable / intset->hashtable conversions (and
# multi-page SCANs over tables) happen within short generated sequences.
SMALL_LIMITS = {
    "hash-max-listpack-entries": "4",
    "zset-max-listpack-entries": "4",
    "set-max-intset-entries": "4",
}
DEFAULT_LIMITS = {
    "hash-max-listpack-entries": "512",
    "hash-max-listpack-value": "64",
    "zset-max-listpack-entries": "128",
    "zset-max-listpack-value": "64",
    "set-max-intset-entries": "512",
}


def port_of(client: redis.Redis) -> int:
    return int(client.connection_pool.connection_kwargs["port"])


@pytest.fixture
def differ(r: redis.Redis, ref: redis.Redis) -> Iterator[Differ]:
    d = Differ(port_of(r), port_of(ref))
    yield d
    d.reset(DEFAULT_LIMITS)
    d.close()
