"""Encodings at Redis's default limits, SCAN guarantees and large containers.

The encoding transitions are compared with a real redis-server at the default
limits (512 hash fields / 64-byte values, 512 intset entries, 128 zset
members / 64 bytes), including the one-way nature of each switch.
"""

from __future__ import annotations

import time

import redis

from tests.types.conftest import DEFAULT_LIMITS, port_of
from tests.types.rawresp import RawConnection


def _both(r: redis.Redis, ref: redis.Redis, *args: object) -> object:
    got, want = r.execute_command(*args), ref.execute_command(*args)
    assert got == want, (args, got, want)
    return got


def _set_defaults(*clients: redis.Redis) -> None:
    for c in clients:
        for name, value in DEFAULT_LIMITS.items():
            c.config_set(name, value)


def test_encoding_transitions_at_default_limits(r: redis.Redis, ref: redis.Redis) -> None:
    _set_defaults(r, ref)
    for c in (r, ref):
        c.hset("h", mapping={f"f{i}": "v" for i in range(512)})
        c.hset("hv", "f", "x" * 64)
        c.sadd("s", *range(512))
        c.sadd("s2", *range(10))
        c.zadd("z", {f"m{i}": i for i in range(128)})
        c.zadd("zv", {"m" * 64: 1})
        c.rpush("l", *range(1000))
    for key in ("h", "hv", "s", "s2", "z", "zv", "l"):
        _both(r, ref, "OBJECT", "ENCODING", key)
    for c in (r, ref):
        c.hset("h", "one-more", "v")
        c.hset("hv", "g", "y" * 65)
        c.sadd("s", 512)
        c.sadd("s2", "not-a-number")
        c.zadd("z", {"one-more": 0})
        c.zadd("zv", {"n" * 65: 2})
    for key in ("h", "hv", "s", "s2", "z", "zv"):
        _both(r, ref, "OBJECT", "ENCODING", key)
    # The switch is one-way: shrinking back does not restore the compact encoding.
    for c in (r, ref):
        c.hdel("h", "one-more", "f0", "f1")
        c.srem("s2", "not-a-number")
        c.zpopmin("z", 5)
    for key in ("h", "s2", "z"):
        _both(r, ref, "OBJECT", "ENCODING", key)
    # Results computed by *STORE commands are encoded from their size.
    for c in (r, ref):
        c.zunionstore("zu", ["z"])
        c.zrangestore("zr", "z", 0, 9)
        c.sinterstore("si", ["s", "s"])
        c.sunionstore("su", ["s2"])
        c.copy("h", "hcopy")
    for key in ("zu", "zr", "si", "su", "hcopy"):
        _both(r, ref, "OBJECT", "ENCODING", key)
    # Small sets of integers reply in numeric order, like an intset.
    for c in (r, ref):
        c.sadd("ints", 30, 2, -5, 100, 7)
    _both(r, ref, "SMEMBERS", "ints")
    _both(r, ref, "SSCAN", "ints", 0)


def test_sscan_hscan_zscan_never_miss_stable_elements(r: redis.Redis) -> None:
    """Elements present for the whole iteration are returned, despite concurrent writes."""
    r.sadd("s", *[f"m{i}" for i in range(3000)])
    r.hset("h", mapping={f"f{i}": i for i in range(3000)})
    r.zadd("z", {f"m{i}": i for i in range(3000)})
    for scan, key, add, remove in (
        ("SSCAN", "s", lambda i: r.sadd("s", f"new{i}"), lambda i: r.srem("s", f"m{i}")),
        ("HSCAN", "h", lambda i: r.hset("h", f"new{i}", 1), lambda i: r.hdel("h", f"f{i}")),
        ("ZSCAN", "z", lambda i: r.zadd("z", {f"new{i}": -i}), lambda i: r.zrem("z", f"m{i}")),
    ):
        seen: set[bytes] = set()
        cursor: object = 0
        step = 0
        while True:
            cursor, items = r.execute_command(scan, key, cursor, "COUNT", 50)
            # redis-py folds replies: a list (SSCAN), a dict (HSCAN), (member, score) pairs (ZSCAN)
            names = list(items) if scan != "ZSCAN" else [m for m, _s in items]
            seen.update(names)
            add(step)
            remove(2999 - step)  # only ever removes elements that are not "stable"
            step += 1
            if int(cursor) == 0:  # type: ignore[call-overload]
                break
        stable = {(b"m%d" if scan != "HSCAN" else b"f%d") % i for i in range(0, 2999 - step)}
        assert stable <= seen, (scan, len(stable - seen))
        assert step > 10  # it really was paged


def test_big_list_ends_and_ranges_are_fast(r: redis.Redis) -> None:
    n = 200_000
    pipe = r.pipeline(transaction=False)
    for start in range(0, n, 10_000):
        pipe.rpush("big", *range(start, start + 10_000))
    pipe.execute()
    begin = time.perf_counter()
    for _ in range(200):
        assert r.lrange("big", 0, 9)[0] == b"0"
        assert r.lrange("big", -10, -1)[-1] == b"%d" % (n - 1)
        assert r.lindex("big", -1) == b"%d" % (n - 1)
        r.rpush("big", "x")
        r.rpop("big")
        r.lpush("big", "y")
        r.lpop("big")
    elapsed = time.perf_counter() - begin
    assert elapsed < 5.0, elapsed  # 1400 round trips; copying the list each time would not fit


def test_zset_rank_and_range_on_a_large_set(r: redis.Redis) -> None:
    n = 100_000
    pipe = r.pipeline(transaction=False)
    for start in range(0, n, 10_000):
        pipe.zadd("bigz", {f"m{i}": i for i in range(start, start + 10_000)})
    pipe.execute()
    begin = time.perf_counter()
    for i in range(0, n, 500):
        assert r.zrank("bigz", f"m{i}") == i
        assert r.zrange("bigz", i, i + 4) == [b"m%d" % j for j in range(i, min(i + 5, n))]
        assert r.zcount("bigz", i, f"({i + 100}") == min(100, n - i)
        assert r.zrangebyscore("bigz", i, "+inf", start=0, num=3)[0] == b"m%d" % i
    elapsed = time.perf_counter() - begin
    assert elapsed < 5.0, elapsed


def test_wrongtype_and_empty_keys_disappear(r: redis.Redis, ref: redis.Redis) -> None:
    for c in (r, ref):
        c.set("str", "x")
        c.rpush("l", "a")
        c.sadd("s", "a")
        c.hset("h", "a", "1")
        c.zadd("z", {"a": 1})
    for cmd in (("LPUSH", "s", "x"), ("SADD", "l", "x"), ("HSET", "z", "a", "b"), ("ZADD", "h", 1, "a"),
                ("LRANGE", "str", 0, -1), ("SMEMBERS", "h"), ("HGETALL", "l"), ("ZRANGE", "s", 0, -1),
                ("LPOP", "z"), ("SPOP", "str"), ("ZPOPMIN", "l"), ("HINCRBY", "s", "a", 1)):
        for c in (r, ref):
            try:
                c.execute_command(*cmd)
                raise AssertionError(f"{cmd} should fail")
            except redis.ResponseError as exc:
                assert str(exc) == "WRONGTYPE Operation against a key holding the wrong kind of value"
    for c in (r, ref):
        c.lpop("l")
        c.srem("s", "a")
        c.hdel("h", "a")
        c.zrem("z", "a")
    _both(r, ref, "EXISTS", "l", "s", "h", "z")
    _both(r, ref, "DBSIZE")


def test_spop_rebuild_can_turn_a_table_back_into_an_intset(r: redis.Redis, ref: redis.Redis) -> None:
    """Redis rebuilds a set from its few survivors (remaining*5 <= count): the new set
    is an intset when they are all integers.  Otherwise the encoding is kept."""
    _set_defaults(r, ref)
    for c in (r, ref):
        for attempt in range(8):
            c.delete("s")
            c.sadd("s", "a", "b", "c", *range(10))
            c.spop("s", 11)  # 2 survivors: rebuilt
            survivors = c.smembers("s")
            expected = b"intset" if all(m.isdigit() for m in survivors) else b"hashtable"
            assert c.object("encoding", "s") == expected, (c, attempt, survivors)
            c.delete("s")
            c.sadd("s", "a", *range(10))
            c.spop("s", 5)  # 6 survivors: popped one by one, encoding kept
            assert c.object("encoding", "s") == b"hashtable"


def test_keyspace_commands_work_for_every_type(r: redis.Redis, ref: redis.Redis) -> None:
    for c in (r, ref):
        c.hset("h", mapping={"a": "1", "b": "2"})
        c.rpush("l", "x", "y")
        c.sadd("s", "m", "n")
        c.zadd("z", {"p": 1.5, "q": -2})
        c.set("str", "v")
    for kind in ("hash", "list", "set", "zset", "string"):
        got = sorted(r.scan(0, _type=kind, count=1000)[1])
        want = sorted(ref.scan(0, _type=kind, count=1000)[1])
        assert got == want, kind
    for key in ("h", "l", "s", "z"):
        _both(r, ref, "TYPE", key)
        _both(r, ref, "COPY", key, key + "-copy")
        _both(r, ref, "RENAME", key + "-copy", key + "-renamed")
        _both(r, ref, "MOVE", key + "-renamed", 1)
        _both(r, ref, "EXPIRE", key, 100)
        _both(r, ref, "OBJECT", "ENCODING", key)
        _both(r, ref, "EXISTS", key + "-renamed")
    mine, theirs = RawConnection(port_of(r)), RawConnection(port_of(ref))
    try:
        for conn in (mine, theirs):
            conn.call("SELECT", 1)
        for key in ("h", "l", "s", "z"):
            for cmd in (("TYPE", key + "-renamed"), ("OBJECT", "ENCODING", key + "-renamed"),
                        ("DEL", key + "-renamed")):
                assert mine.call(*cmd) == theirs.call(*cmd), cmd
    finally:
        mine.close()
        theirs.close()
    # DEBUG DIGEST-VALUE is independent of insertion order for unordered types.
    r.hset("h2", mapping={"b": "2", "a": "1"})
    r.sadd("s2", "n", "m")
    r.zadd("z2", {"q": -2, "p": 1.5})
    r.rpush("l2", "y", "x")
    for key in ("h2", "s2", "z2"):  # h, s, z have a TTL, and Redis's digest marks it
        r.expire(key, 100)
    digest = r.execute_command("DEBUG", "DIGEST-VALUE", "h", "h2", "s", "s2", "z", "z2", "l", "l2")
    assert digest[0] == digest[1] and digest[2] == digest[3] and digest[4] == digest[5]
    assert digest[6] != digest[7]  # a list is ordered
