"""One dataset of every type and encoding, built the same way on any server.

Names tell the encoding Redis 7.0 picks for them with default settings;
``NONDETERMINISTIC`` lists the keys whose DUMP bytes depend on hash-table
order (hashtable hashes and sets), all others must be byte-identical.
"""

from __future__ import annotations

import random

import redis

NONDETERMINISTIC = {"hash:table", "hash:longvalue", "set:table", "set:strings",
                    # streams with deleted entries: SentryKV writes placeholders for them
                    "stream:deleted", "stream:trimmed", "stream:allgone", "stream:groups"}
# Keys holding times (delivery, seen): equal after a DUMP/RESTORE, not when built twice.
TIMED = {"stream:groups", "stream:empty-groups"}


def populate(r: redis.Redis, prefix: str = "") -> list[str]:
    rnd = random.Random(7)
    p = prefix
    pipe = r.pipeline(transaction=False)
    pipe.set(p + "str:small", "hello")
    pipe.set(p + "str:empty", "")
    for name, value in [("i8", "-5"), ("i16", "300"), ("i32", "70000"), ("i64", "5000000000"),
                        ("neg", "-2147483648"), ("zero", "0"), ("lead0", "007")]:
        pipe.set(p + "str:int:" + name, value)
    pipe.set(p + "str:lzf", "abc" * 100)
    pipe.set(p + "str:text", " ".join(f"word{i % 37}" for i in range(400)))
    pipe.set(p + "str:random", bytes(rnd.randrange(256) for _ in range(300)))
    pipe.set(p + "str:big", "0123456789abcdef" * 5000)
    pipe.rpush(p + "list:small", 1, 2, 300, -70000, "abc", "x" * 100, "")
    pipe.rpush(p + "list:big", *[f"element-{i}" for i in range(3000)])
    pipe.rpush(p + "list:bigelem", "a", "y" * 10000, "b")
    pipe.lpush(p + "list:pushed-left", *range(50))
    pipe.hset(p + "hash:small", mapping={"a": "1", "b": "two", "c": "-12345678901"})
    pipe.hset(p + "hash:table", mapping={f"field:{i}": f"value:{i}" for i in range(600)})
    pipe.hset(p + "hash:longvalue", mapping={"k": "v" * 100, "k2": "v"})
    pipe.sadd(p + "set:intset", 1, 2, 3, -7)
    pipe.sadd(p + "set:intset32", 1, 70000, -70000)
    pipe.sadd(p + "set:intset64", 1, 5000000000)
    pipe.sadd(p + "set:strings", "a", "b", "1")
    pipe.sadd(p + "set:table", *range(600))
    pipe.zadd(p + "zset:small", {"a": 1, "b": 2.5, "c": -3, "inf": float("inf"), "-inf": float("-inf"),
                                 "tenth": 0.1, "big": 1e20, "zero": 0, "huge": 5e18})
    pipe.zadd(p + "zset:skiplist", {f"m{i}": i * 1.5 for i in range(300)})
    pipe.zadd(p + "zset:skiplist-inf", {**{f"m{i}": float(i) for i in range(200)},
                                        "pinf": float("inf"), "ninf": float("-inf"), "negzero": -0.0})
    pipe.zadd(p + "zset:longmember", {"m" * 100: 1, "n": 2})
    pipe.set(p + "ttl:str", "v", px=600_000)
    pipe.hset(p + "ttl:hash", "f", "v")
    pipe.pexpire(p + "ttl:hash", 900_000)
    pipe.execute()
    populate_streams(r, p)
    return sorted(k.decode() for k in r.keys(p + "*"))


def populate_streams(r: redis.Redis, p: str = "") -> None:
    """Streams of every shape the RDB codec has to carry (explicit IDs: same on any server)."""
    pipe = r.pipeline(transaction=False)
    pipe.xadd(p + "stream:small", {"f": "v", "n": "7"}, id="1-1")
    pipe.xadd(p + "stream:small", {"f": "w", "n": "-300"}, id="1-2")
    pipe.xadd(p + "stream:small", {"other": "x" * 70, "n": "5000000000"}, id="2-0")
    for i in range(350):  # several nodes, by count and (long values) by bytes
        pipe.xadd(p + "stream:nodes", {"field": f"value-{i}", "n": i, "pad": "p" * (i % 90)}, id=f"{1000 + i}-{i % 3}")
    for i in range(1, 260):
        pipe.xadd(p + "stream:deleted", {"a": i, "b": "x" * (i % 50)}, id=f"5-{i}")
    pipe.xdel(p + "stream:deleted", "5-1", "5-2", "5-50", "5-150", "5-258", "5-259", *[f"5-{i}" for i in range(201, 230)])
    for i in range(1, 300):
        pipe.xadd(p + "stream:trimmed", {"k": i}, id=f"9-{i}")
    pipe.xtrim(p + "stream:trimmed", maxlen=150, approximate=False)
    pipe.xadd(p + "stream:allgone", {"a": "1"}, id="3-3")
    pipe.xdel(p + "stream:allgone", "3-3")
    pipe.xgroup_create(p + "stream:empty-groups", "g1", id="$", mkstream=True)
    pipe.xgroup_create(p + "stream:empty-groups", "g0", id="0")
    pipe.xgroup_createconsumer(p + "stream:empty-groups", "g0", "idle")
    for i in range(1, 40):
        pipe.xadd(p + "stream:groups", {"job": i}, id=f"7-{i}")
    pipe.xgroup_create(p + "stream:groups", "workers", id="0")
    pipe.xgroup_create(p + "stream:groups", "audit", id="7-30", entries_read=30)
    pipe.xreadgroup("workers", "alice", {p + "stream:groups": ">"}, count=10)
    pipe.xreadgroup("workers", "bob", {p + "stream:groups": ">"}, count=5)
    pipe.xreadgroup("audit", "carol", {p + "stream:groups": ">"}, count=3)
    pipe.xack(p + "stream:groups", "workers", "7-2", "7-4")
    pipe.xclaim(p + "stream:groups", "workers", "bob", 0, ["7-5", "7-6"])
    pipe.xdel(p + "stream:groups", "7-7", "7-39")  # pending entries whose entry is gone
    pipe.xgroup_createconsumer(p + "stream:groups", "workers", "zed")
    pipe.execute()


def contents(r: redis.Redis, key: str) -> object:
    """A comparable rendering of a key's value through ordinary commands."""
    kind = r.type(key).decode()
    if kind == "string":
        return r.get(key)
    if kind == "list":
        return r.lrange(key, 0, -1)
    if kind == "hash":
        return sorted(r.hgetall(key).items())
    if kind == "set":
        return sorted(r.smembers(key))
    if kind == "zset":
        return r.zrange(key, 0, -1, withscores=True)
    if kind == "stream":
        return stream_contents(r, key)
    raise AssertionError(kind)


def digest(r: redis.Redis, key: str) -> bytes:
    return bytes(r.execute_command("DEBUG", "DIGEST-VALUE", key)[0])


def stream_contents(r: redis.Redis, key: str) -> object:
    """XRANGE and XINFO STREAM FULL (everything a client can see of a stream)."""
    full = r.execute_command("XINFO", "STREAM", key, "FULL")
    return r.xrange(key), full
