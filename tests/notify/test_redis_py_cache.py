"""redis-py's own client-side cache (RESP3, ``cache_config``) driven against SentryKV and Redis.

redis-py (5.1+) keeps read replies in a local cache, turns CLIENT TRACKING on
for its connections and drops entries when invalidation pushes arrive.  It
refuses servers older than 7.4 by policy (``MIN_ALLOWED_VERSION``), which
includes Redis 7.0.15 itself, so the test lowers that floor: everything else
is redis-py's real code path.  The same sequence runs on both servers and
must observe the same values and the same cache contents at every step.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from redis.cache import CacheConfig
from redis.connection import CacheProxyConnection

from tests.support.procs import RedisProcess, ServerProcess


@pytest.fixture
def cache_floor(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(CacheProxyConnection, "MIN_ALLOWED_VERSION", "7.0.0")
    yield


def _cached_keys(r: redis.Redis) -> list[tuple[str, tuple[Any, ...]]]:
    cache = r.get_cache()
    assert cache is not None
    return sorted((key.command, tuple(key.redis_keys)) for key in cache.collection)


def _session(port: int) -> list[Any]:
    r = redis.Redis(port=port, protocol=3, cache_config=CacheConfig(), decode_responses=True)
    w = redis.Redis(port=port, decode_responses=True)
    seen: list[Any] = []
    try:
        w.flushall()
        w.set("a", "1")
        w.hset("h", mapping={"f": "1", "g": "2"})
        seen += [r.get("a"), r.get("a"), r.hgetall("h"), r.get("missing"), _cached_keys(r)]
        w.set("a", "2")  # invalidates the cached GET a
        seen += [r.get("a"), _cached_keys(r)]
        w.hset("h", "f", "9")
        seen += [r.hgetall("h"), r.hget("h", "g"), _cached_keys(r)]
        r.set("a", "3")  # the client's own write: its cache must not serve the old value
        seen += [r.get("a"), _cached_keys(r)]
        w.set("missing", "now")
        seen += [r.get("missing")]
        w.flushdb()  # a null invalidation empties the whole cache
        seen += [r.ping(), _cached_keys(r), r.get("a")]
        w.set("t", "v", px=50)
        seen += [r.get("t"), r.get("t")]  # the second one from the cache
        time.sleep(0.5)  # the active expiry cycle deletes t and invalidates it
        seen += [r.ping(), _cached_keys(r), r.get("t")]
    finally:
        r.close()
        w.close()
    return seen


def test_redis_py_cache_same_on_both(cache_floor: None, server: ServerProcess, reference: RedisProcess) -> None:
    ours = _session(server.port)
    theirs = _session(reference.port)
    assert ours == theirs
    assert ours[0] == "1" and ours[5] == "2" and ours[10] == "3" and ours[12] == "now"
    assert ours[4] == [("GET", ("a",)), ("HGETALL", ("h",))]  # redis-py does not cache nil
