"""OBJECT, MEMORY, DEBUG OBJECT and INFO memory, against redis-server.

Replies that are deterministic in Redis (errors, help, null for missing keys,
LFU counters right after creation and the first access, refcounts) are
compared as they are.  Sizes differ by design (a Python object is not a Redis
object): MEMORY USAGE is compared for shape and order of magnitude, and the
set of MEMORY STATS / INFO memory fields must be Redis's.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable

import redis

from tests.core.helpers import Pair, call, raw_client
from tests.memory.helpers import compare_script, in_parallel
from tests.support.procs import RedisProcess, ServerProcess

OBJECT_SCRIPT = [
    ["OBJECT"], ["OBJECT", "FOO"], ["OBJECT", "HELP"], ["OBJECT", "HELP", "x"], ["OBJECT", "FREQ"],
    ["OBJECT", "ENCODING", "nokey"], ["OBJECT", "FREQ", "nokey"], ["OBJECT", "IDLETIME", "nokey"],
    ["SET", "s", "hello"], ["SET", "n", "100"], ["SET", "big", "123456"], ["RPUSH", "l", "a"],
    ["OBJECT", "REFCOUNT", "s"], ["OBJECT", "REFCOUNT", "n"], ["OBJECT", "REFCOUNT", "big"],
    ["OBJECT", "REFCOUNT", "l"], ["OBJECT", "ENCODING", "n"], ["OBJECT", "FREQ", "s"],
    ["OBJECT", "IDLETIME", "s", "x"],
    # LFU: counters are deterministic up to the first access (5, then 6).
    ["CONFIG", "SET", "maxmemory", "1gb"], ["CONFIG", "SET", "maxmemory-policy", "allkeys-lfu"],
    ["SET", "f", "value"], ["OBJECT", "FREQ", "f"], ["GET", "f"], ["OBJECT", "FREQ", "f"],
    ["OBJECT", "FREQ", "f"], ["OBJECT", "IDLETIME", "f"],
    ["SET", "n2", "100"], ["OBJECT", "REFCOUNT", "n2"], ["HSET", "h", "a", "1"], ["OBJECT", "FREQ", "h"],
    ["HGET", "h", "a"], ["OBJECT", "FREQ", "h"], ["EXISTS", "h"], ["TYPE", "h"], ["OBJECT", "FREQ", "h"],
    ["SET", "g", "1000"], ["APPEND", "g", "x"], ["OBJECT", "FREQ", "g"],
    ["CONFIG", "SET", "maxmemory-policy", "volatile-ttl"], ["SET", "n3", "7"], ["OBJECT", "REFCOUNT", "n3"],
    ["OBJECT", "FREQ", "f"], ["CONFIG", "SET", "maxmemory", "0"],
    ["CONFIG", "SET", "maxmemory-policy", "noeviction"],
]


def test_object_replies_match_redis(server: ServerProcess, reference: RedisProcess) -> None:
    pair = Pair(raw_client(server.port), raw_client(reference.port))
    try:
        pair.run(OBJECT_SCRIPT)
    finally:
        for c in (pair.mine, pair.theirs):
            call(c, "CONFIG", "SET", "maxmemory", "0")
            call(c, "CONFIG", "SET", "maxmemory-policy", "noeviction")
            c.close()


def _on_both(ports: tuple[int, int], scenario: Callable[[redis.Redis], object]) -> list[object]:
    """Run a timed scenario on both servers at once (so sleeps overlap)."""
    results: list[object] = [None, None]

    def run(i: int, port: int) -> None:
        c = raw_client(port)
        try:
            call(c, "FLUSHALL")
            results[i] = scenario(c)
        finally:
            c.close()

    in_parallel(run, list(enumerate(ports)))
    return results


def test_idle_time_follows_accesses_like_redis(server: ServerProcess, reference: RedisProcess) -> None:
    def scenario(c: redis.Redis) -> object:
        for key in ("a", "b", "c", "d", "e"):
            call(c, "SET", key, "v")
        time.sleep(2.2)
        call(c, "GET", "a")  # an access
        call(c, "TOUCH", "b")  # an access
        call(c, "EXISTS", "c")  # not an access (LOOKUP_NOTOUCH)
        call(c, "TYPE", "d")
        call(c, "TTL", "e")
        call(c, "OBJECT", "ENCODING", "e")
        return [call(c, "OBJECT", "IDLETIME", k) for k in ("a", "b", "c", "d", "e")]

    mine, theirs = _on_both((server.port, reference.port), scenario)
    assert isinstance(mine, list) and isinstance(theirs, list)
    assert mine[:2] == theirs[:2] == [0, 0]
    for a, b in zip(mine[2:], theirs[2:], strict=True):
        assert abs(a - b) <= 1 and a >= 1, (mine, theirs)


def test_debug_object_fields_match_redis(server: ServerProcess) -> None:
    def fields(port: int) -> list[str]:
        c = raw_client(port)
        try:
            call(c, "FLUSHALL")
            call(c, "SET", "s", "hello")
            call(c, "RPUSH", "l", "a", "b")
            lines = [call(c, "DEBUG", "OBJECT", k) for k in ("s", "l")]
            lines.append(call(c, "DEBUG", "OBJECT", "missing"))
            out = []
            for line in lines:
                if isinstance(line, tuple):
                    out.append(line[1])
                else:
                    text = line.decode()
                    out.append(" ".join(re.findall(r"(\S+?):", text)))
            out.append(re.search(r"refcount:(\d+) encoding:(\S+)", lines[0].decode()).groups())  # type: ignore[union-attr, arg-type]
            return out
        finally:
            c.close()

    reference = RedisProcess(args=["--enable-debug-command", "yes"]).start()
    try:
        assert fields(server.port) == fields(reference.port)
    finally:
        reference.stop()
        reference.cleanup()


MEMORY_SCRIPT = [
    ["MEMORY"], ["MEMORY", "FOO"], ["MEMORY", "HELP"], ["MEMORY", "HELP", "x"], ["MEMORY", "USAGE"],
    ["MEMORY", "STATS", "x"], ["MEMORY", "DOCTOR", "x"], ["MEMORY", "PURGE"], ["MEMORY", "PURGE", "x"],
    ["MEMORY", "MALLOC-STATS", "x"], ["SET", "k", "v"], ["MEMORY", "USAGE", "nokey"],
    ["MEMORY", "USAGE", "k", "SAMPLES"], ["MEMORY", "USAGE", "k", "SAMPLES", "-1"],
    ["MEMORY", "USAGE", "k", "SAMPLES", "x"], ["MEMORY", "USAGE", "k", "FOO", "1"],
    ["MEMORY", "USAGE", "nokey", "SAMPLES", "x"], ["MEMORY", "USAGE", "nokey", "SAMPLES", "0"],
]


def test_memory_errors_and_help_match_redis(server: ServerProcess, reference: RedisProcess) -> None:
    compare_script(server, reference, MEMORY_SCRIPT)


def _usages(c: redis.Redis) -> dict[str, int]:
    call(c, "FLUSHALL")
    call(c, "SET", "short", "hello")
    call(c, "SET", "long", "x" * 5000)
    call(c, "SADD", "small-set", *range(10))
    call(c, "SADD", "big-set", *(f"member:{i}" for i in range(5000)))
    call(c, "HSET", "big-hash", *[x for i in range(5000) for x in (f"f{i}", f"value{i}")])
    call(c, "RPUSH", "big-list", *(f"element:{i}" for i in range(5000)))
    call(c, "ZADD", "big-zset", *[x for i in range(5000) for x in (i, f"m{i}")])
    out = {}
    for key in ("short", "long", "small-set", "big-set", "big-hash", "big-list", "big-zset"):
        out[key] = call(c, "MEMORY", "USAGE", key)
        out[key + "/all"] = call(c, "MEMORY", "USAGE", key, "SAMPLES", "0")
    return out


def test_memory_usage_has_redis_shape_and_magnitude(server: ServerProcess, reference: RedisProcess) -> None:
    """Python objects cost more than Redis's: within 1x..12x of Redis, growing the same way."""
    c1, c2 = raw_client(server.port), raw_client(reference.port)
    try:
        mine, theirs = _usages(c1), _usages(c2)
    finally:
        c1.close()
        c2.close()
    for key, theirs_value in theirs.items():
        assert isinstance(mine[key], int) and isinstance(theirs_value, int)
        ratio = mine[key] / theirs_value
        # A 10-member intset is 88 bytes in Redis; a Python set of 10 bytes objects ~1.4 KB.
        assert 0.8 <= ratio <= (20 if key.startswith("small") else 12), (key, mine[key], theirs_value)
    # Growth: a 5000-byte string costs ~5000 more than a 5-byte one, in both.
    assert 4900 < mine["long"] - mine["short"] < 5300
    assert 4900 < theirs["long"] - theirs["short"] < 5300
    # Sampling (5 elements) stays within 10% of the exact figure for uniform elements.
    for key in ("big-set", "big-hash", "big-list", "big-zset"):
        assert abs(mine[key] - mine[key + "/all"]) <= mine[key + "/all"] // 10, key


def test_memory_stats_and_info_fields_are_redis_fields(server: ServerProcess, reference: RedisProcess) -> None:
    c1, c2 = raw_client(server.port), raw_client(reference.port)
    try:
        for c in (c1, c2):
            call(c, "FLUSHALL")
            call(c, "SET", "k", "v")
        mine, theirs = call(c1, "MEMORY", "STATS"), call(c2, "MEMORY", "STATS")
        assert mine[::2] == theirs[::2]  # the same fields in the same order (db.0 included)
        assert mine[mine.index(b"db.0") + 1][::2] == theirs[theirs.index(b"db.0") + 1][::2]

        def info_fields(c: redis.Redis) -> list[str]:
            text = call(c, "INFO", "memory").decode()
            return [line.split(":")[0] for line in text.splitlines() if ":" in line]

        assert info_fields(c1) == info_fields(c2)
        doctor = call(c1, "MEMORY", "DOCTOR")
        assert isinstance(doctor, bytes) and doctor.endswith(b"\n")
        assert b"pymalloc allocated blocks" in call(c1, "MEMORY", "MALLOC-STATS")
    finally:
        c1.close()
        c2.close()


def test_used_memory_follows_the_dataset(server: ServerProcess) -> None:
    r = server.client()
    try:
        r.flushall()
        time.sleep(0.3)
        empty = r.info("memory")
        pipe = r.pipeline(transaction=False)
        for i in range(20000):
            pipe.set(f"key:{i}", "v" * 100)
        pipe.execute()
        full = r.info("memory")
        grown = full["used_memory"] - empty["used_memory"]
        # 20000 keys: two bytes objects (~58 and ~148 B), two dict entries, the lru field.
        assert 20000 * 200 < grown < 20000 * 400, grown
        assert full["used_memory_dataset"] - empty["used_memory_dataset"] > 20000 * 190
        usage = r.memory_usage("key:1")
        assert usage is not None and 200 < usage < 400
        r.flushall()
        time.sleep(0.3)
        after = r.info("memory")["used_memory"]
        assert after - empty["used_memory"] < 100_000  # only the WAL buffer may remain
        assert full["used_memory_peak"] >= full["used_memory"]
        assert float(full["mem_fragmentation_ratio"]) > 0
        assert full["maxmemory_policy"] == "noeviction" and full["used_memory_startup"] > 0
    finally:
        r.close()


def test_restore_idletime_and_freq_set_the_access_clock(server: ServerProcess, reference: RedisProcess) -> None:
    def scenario(c: redis.Redis) -> object:
        call(c, "SET", "s", "value")
        payload = call(c, "DUMP", "s")
        out = [call(c, "RESTORE", "r", "0", payload, "IDLETIME", "1000"), call(c, "OBJECT", "IDLETIME", "r"),
               call(c, "RESTORE", "r", "0", payload, "REPLACE", "FREQ", "7"), call(c, "OBJECT", "IDLETIME", "r")]
        call(c, "CONFIG", "SET", "maxmemory", "1gb")
        call(c, "CONFIG", "SET", "maxmemory-policy", "allkeys-lfu")
        try:
            out += [call(c, "RESTORE", "f", "0", payload, "FREQ", "100"), call(c, "OBJECT", "FREQ", "f"),
                    call(c, "RESTORE", "g", "0", payload, "IDLETIME", "5"), call(c, "OBJECT", "FREQ", "g"),
                    call(c, "RESTORE", "h", "0", payload, "FREQ", "256")]
        finally:
            call(c, "CONFIG", "SET", "maxmemory", "0")
            call(c, "CONFIG", "SET", "maxmemory-policy", "noeviction")
        return out

    mine, theirs = _on_both((server.port, reference.port), scenario)
    assert mine == theirs


def test_stream_memory_usage_is_in_redis_range(server: ServerProcess, reference: RedisProcess) -> None:
    results = []
    for port in (server.port, reference.port):
        c = raw_client(port)
        try:
            call(c, "DEL", "st")
            for i in range(2000):
                call(c, "XADD", "st", "*", "field", f"value{i}")
            call(c, "XGROUP", "CREATE", "st", "g", "0")
            call(c, "XREADGROUP", "GROUP", "g", "alice", "COUNT", "500", "STREAMS", "st", ">")
            results.append((call(c, "MEMORY", "USAGE", "st"), call(c, "MEMORY", "USAGE", "st", "SAMPLES", "0")))
        finally:
            c.close()
    (mine, mine_all), (theirs, theirs_all) = results
    assert 0.8 <= mine_all / theirs_all <= 12, results
    assert abs(mine - mine_all) <= mine_all // 5, results
