"""Libraries users run, end to end, through kill -9 and restart.

* redis-py's ``Lock``: acquire, extend, release, reacquire (its Lua scripts
  go through EVALSHA, and after a restart through NOSCRIPT -> EVAL);
* the ``limits`` rate limiter: moving window (a Lua script with ZSET work),
  fixed window (INCR + EXPIRE script) and sliding window counters.
"""

from __future__ import annotations

import time

import pytest
import redis
from limits import parse
from limits.storage import RedisStorage
from limits.strategies import (
    FixedWindowRateLimiter,
    MovingWindowRateLimiter,
    SlidingWindowCounterRateLimiter,
)
from redis.lock import Lock

from tests.support.procs import ServerProcess


def test_redis_py_lock_across_kill9(durable: ServerProcess) -> None:
    r = durable.client()
    lock = Lock(r, "resource", timeout=60, blocking_timeout=0.2)
    assert lock.acquire()
    assert not Lock(r, "resource", timeout=60, blocking_timeout=0.2).acquire()
    assert lock.extend(30)  # LUA_EXTEND_SCRIPT: pttl + 30 s
    ttl = r.pttl("resource")
    assert 60_000 < ttl <= 90_000
    assert lock.reacquire()  # LUA_REACQUIRE_SCRIPT: back to 60 s
    assert 0 < r.pttl("resource") <= 60_000
    token = lock.local.token
    durable.kill9()
    durable.start()
    r = durable.client()
    # The lock and its token survived; another owner still cannot take it.
    assert r.get("resource") == token
    assert not Lock(r, "resource", timeout=60, blocking_timeout=0.2).acquire()
    # The original owner, with a new connection (scripts reload after NOSCRIPT).
    lock = Lock(r, "resource", timeout=60, blocking_timeout=0.2)
    lock.local.token = token
    assert lock.owned()
    assert lock.extend(10, replace_ttl=True)
    assert 0 < r.pttl("resource") <= 10_000
    lock.release()
    assert r.get("resource") is None
    with pytest.raises(redis.exceptions.LockError):
        lock.release()
    second = Lock(r, "resource", timeout=5, blocking_timeout=0.5)
    assert second.acquire()
    durable.kill9()
    durable.start()
    r = durable.client()
    assert r.get("resource") == second.local.token
    second = Lock(r, "resource", timeout=5)
    second.local.token = r.get("resource")
    second.release()
    assert r.get("resource") is None


def test_limits_rate_limiter_across_kill9(durable: ServerProcess) -> None:
    uri = f"redis://127.0.0.1:{durable.port}"
    storage = RedisStorage(uri)
    per_minute = parse("5/minute")
    strategies = [MovingWindowRateLimiter(storage), FixedWindowRateLimiter(storage),
                  SlidingWindowCounterRateLimiter(storage)]
    for n, limiter in enumerate(strategies):
        key = f"user{n}"
        for _ in range(3):
            assert limiter.hit(per_minute, key)
        window = limiter.get_window_stats(per_minute, key)
        assert window.remaining == 2
    durable.kill9()
    durable.start()
    storage = RedisStorage(uri)
    strategies = [MovingWindowRateLimiter(storage), FixedWindowRateLimiter(storage),
                  SlidingWindowCounterRateLimiter(storage)]
    for n, limiter in enumerate(strategies):
        key = f"user{n}"
        assert limiter.get_window_stats(per_minute, key).remaining == 2, type(limiter).__name__
        assert limiter.hit(per_minute, key)
        assert limiter.hit(per_minute, key)
        assert not limiter.hit(per_minute, key), f"{type(limiter).__name__} let a 6th hit through"
        assert limiter.test(per_minute, key) is False
    # Clearing a key (the clear_keys script) and a fresh window.
    moving = MovingWindowRateLimiter(storage)
    moving.clear(per_minute, "user0")
    assert moving.hit(per_minute, "user0")
    # A short window expires by itself, TTLs were logged as absolute deadlines.
    per_second = parse("1/second")
    fixed = FixedWindowRateLimiter(storage)
    assert fixed.hit(per_second, "burst")
    assert not fixed.hit(per_second, "burst")
    time.sleep(1.1)
    assert fixed.hit(per_second, "burst")
