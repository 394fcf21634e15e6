"""HyperLogLog against redis-server: Redis's byte format, estimator, errors and corruption.

The bytes GET returns must equal Redis's after any mix of PFADD / PFMERGE /
PFCOUNT (sparse and dense, promotions under several hll-sparse-max-bytes
limits), values made by one server must count the same on the other, and
damaged strings must give Redis's errors without crashing anything.
"""

from __future__ import annotations

import random
import time

import pytest
import redis

from tests.types.diff import Differ
from tests.types.scripted import run_script

COMMANDS = """
PFADD h a
GET h
PFADD h a
PFADD h b c d e f g h i j k l m n o p
GET h
PFCOUNT h
GET h
PFCOUNT h
PFADD h2
GET h2
PFADD h2 x y z 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20
PFCOUNT h h2
PFCOUNT h h2 nokey
PFMERGE m h h2
GET m
PFCOUNT m
PFDEBUG ENCODING m
PFDEBUG DECODE m
PFDEBUG DECODE h
PFDEBUG TODENSE h
PFDEBUG TODENSE h
PFDEBUG ENCODING h
GET h
PFCOUNT h
PFMERGE m2 h h2
GET m2
PFDEBUG DECODE h
PFDEBUG DECODE nokey
PFDEBUG FOO h
PFDEBUG foo nokey
SET str hello
PFADD str a
PFCOUNT str
PFCOUNT h str
PFMERGE x str
LPUSH lst a
PFADD lst a
PFCOUNT lst
PFDEBUG ENCODING lst
PFDEBUG ENCODING str
PFCOUNT
PFMERGE m3
GET m3
PFADD nokey2
PFCOUNT nokey2
PFCOUNT nokey3
"""

CORRUPTED = """
SET c1 "HYLL\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80\x7f\xff"
PFCOUNT c1
PFADD c1 a
SET c2 "HYLL\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80\x7f\xfe"
PFCOUNT c2
PFADD c2 a b c
GET c2
PFMERGE d c2
PFCOUNT c2 c1
SET c3 "HYLL\x02\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80\x7f\xff"
PFCOUNT c3
SET c4 "HYLL\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80\x7f\xff"
PFCOUNT c4
SET c5 "HYLL\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x7f\xfe"
PFCOUNT c5
SET c6 "HYLL\x01\x00\x00\x00\x05\x00\x00\x00\x00\x00\x00\x00\x7f"
PFCOUNT c6
PFDEBUG DECODE c6
PFADD c6 a
SET c7 "HYLL\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80\xff\xff\xff\xff\x7f\xff"
PFCOUNT c7
PFDEBUG DECODE c7
PFDEBUG GETREG c7
PFDEBUG TODENSE c7
PFMERGE c7
SET c8 "HYLL\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80\x3f\xff"
PFCOUNT c8
PFADD c8 foo
SET c9 "HYLL\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80\x7f\xff\x00"
PFADD c9 foo bar
PFCOUNT c9
PFADD c9 foo bar
SET c10 "HYLL\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80\x7f\xff\x7f\xff"
PFADD c10 a b c d e
GET c10
PFCOUNT c10
SET c11 "HYLL"
PFADD c11 a
SET c12 "HYLL\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80"
PFCOUNT c12
PFADD c12 a
PFDEBUG DECODE c12
SET c13 "HYLL\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80\x7f"
PFCOUNT c13
PFDEBUG DECODE c13
PFADD c13 a
SET c14 "HYLL\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80\x40\x00\x7f\xfe"
PFCOUNT c14
PFADD c14 a
GET c14
"""


@pytest.fixture
def hll_differ(differ: Differ):  # type: ignore[no-untyped-def]
    yield differ
    for side in (differ.skv, differ.ref):
        side.call("CONFIG", "SET", "hll-sparse-max-bytes", "3000")


def test_hll_commands_match_redis(hll_differ: Differ) -> None:
    run_script(hll_differ, COMMANDS)


def test_corrupted_hll_errors_match_redis(hll_differ: Differ) -> None:
    run_script(hll_differ, CORRUPTED)


@pytest.mark.parametrize("sparse_limit", ["3000", "300", "40"])
def test_hll_bytes_equal_redis_after_adds_and_merges(hll_differ: Differ, sparse_limit: str) -> None:
    d = hll_differ
    d.reset({"hll-sparse-max-bytes": sparse_limit})
    rng = random.Random(int(sparse_limit))
    keys = [f"h{i}".encode() for i in range(4)]
    for i, key in enumerate(keys):
        n = [3, 60, 400, 2500][i]
        batch = [1, 5, 40, 250][i]
        for _start in range(0, n, batch):
            d.run((b"PFADD", key, *[b"e%d" % rng.randrange(10**6) for _ in range(batch)]))
            if rng.random() < 0.2:
                d.run((b"PFCOUNT", key))
        for cmd in ((b"GET", key), (b"PFCOUNT", key), (b"GET", key), (b"PFDEBUG", b"ENCODING", key)):
            d.run(cmd)
    for t in range(8):
        sources = rng.sample(keys, rng.randrange(1, 4))
        dst = rng.choice(keys + [b"m%d" % t])
        for cmd in ((b"PFMERGE", dst, *sources), (b"GET", dst), (b"PFCOUNT", dst, *sources),
                    (b"PFCOUNT", dst), (b"GET", dst)):
            d.run(cmd, rng.choice([2, 3]))
    d.run((b"PFDEBUG", b"GETREG", keys[2]))
    d.compare_state(string_encoding=False)


def test_values_move_between_servers(r: redis.Redis, ref: redis.Redis) -> None:
    """A HyperLogLog made by Redis counts the same here, and the other way round."""
    for maker, taker in ((ref, r), (r, ref)):
        for n in (10, 700, 20000):
            key = f"moved{n}"
            pipe = maker.pipeline(transaction=False)
            for start in range(0, n, 500):
                pipe.pfadd(key, *[f"x{i}" for i in range(start, min(n, start + 500))])
            pipe.execute()
            raw = maker.get(key)
            assert raw is not None and raw[:4] == b"HYLL"
            taker.set(key, raw)
            assert taker.pfcount(key) == maker.pfcount(key)
            taker.pfadd(key, "extra")
            maker.pfadd(key, "extra")
            assert taker.get(key) == maker.get(key)
            assert taker.pfcount(key) == maker.pfcount(key)


def test_pfselftest_is_bounded(r: redis.Redis) -> None:
    start = time.perf_counter()
    assert r.execute_command("PFSELFTEST") == b"OK"
    assert time.perf_counter() - start < 5
