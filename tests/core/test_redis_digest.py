"""DEBUG DIGEST / DIGEST-VALUE are Redis's own (the differential fuzzer compares them)."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest
import redis

from tests.core.helpers import call, raw_client
from tests.support.procs import RedisProcess, ServerProcess


@pytest.fixture(scope="module")
def debug_reference() -> Iterator[RedisProcess]:
    srv = RedisProcess(args=["--enable-debug-command", "yes"]).start()
    yield srv
    srv.stop()
    srv.cleanup()


@pytest.fixture
def pair(server: ServerProcess, debug_reference: RedisProcess) -> Iterator[tuple[redis.Redis, redis.Redis]]:
    mine, theirs = raw_client(server.port), raw_client(debug_reference.port)
    for c in (mine, theirs):
        call(c, "FLUSHALL")
    yield mine, theirs
    for c in (mine, theirs):
        call(c, "SELECT", 0)
        call(c, "FLUSHALL")
        c.close()


def _digests(c: redis.Redis) -> tuple[object, object]:
    keys = sorted(call(c, "KEYS", "*"))
    return call(c, "DEBUG", "DIGEST"), call(c, "DEBUG", "DIGEST-VALUE", *keys, "nosuchkey")


def test_digest_of_every_type_matches_redis(pair: tuple[redis.Redis, redis.Redis]) -> None:
    rnd = random.Random(5)
    script: list[list[object]] = []
    for _ in range(300):
        k = rnd.choice(["a", "b", "c", "d", "e"])
        m = rnd.choice(["1", "2", "x", "007", "-5", "L" * 70, "3.5"])
        script.append(rnd.choice([
            ["SET", "str:" + k, m], ["APPEND", "str:" + k, m], ["RPUSH", "list:" + k, m], ["LPUSH", "list:" + k, m],
            ["SADD", "set:" + k, m], ["SADD", "set:" + k, str(rnd.randint(0, 600))], ["HSET", "hash:" + k, m, k],
            ["ZADD", "zset:" + k, rnd.choice(["1", "1.5", "0.1", "-0", "inf", "-inf", "1e300", "3"]), m],
            ["EXPIRE", rnd.choice(["str:", "set:", "zset:"]) + k, "1000"], ["SELECT", rnd.choice(["0", "0", "1", "2"])],
        ]))
    mine, theirs = pair
    assert _digests(mine) == _digests(theirs) == (b"0" * 40, [b"0" * 40])
    for step, cmd in enumerate(script):
        assert call(mine, *cmd) == call(theirs, *cmd)
        if step % 25 == 0:
            assert _digests(mine) == _digests(theirs), f"after {step}: {cmd}"
    for db in (0, 1, 2):
        call(mine, "SELECT", db)
        call(theirs, "SELECT", db)
        assert _digests(mine) == _digests(theirs)
