"""maxmemory: every policy fills past the limit and keeps what Redis would keep.

A real SentryKV (persistence off unless a test needs it) on a free port; the
limit is always set relative to the server's own used_memory, so the tests
do not depend on the interpreter's start-up footprint.  Redis's LRU clock
ticks once a second, so LRU tests make the keys that should go idle for two.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import redis

from tests.core.helpers import Pair, RawConn, call, encode_command, raw_client
from tests.memory.helpers import compare_script
from tests.support.procs import RedisProcess, ServerProcess

VALUE = "v" * 1000


@pytest.fixture
def r(server: ServerProcess) -> Iterator[redis.Redis]:
    client = server.client()
    client.config_set("maxmemory", 0)
    client.config_set("maxmemory-policy", "noeviction")
    client.config_set("maxmemory-samples", 5)
    client.flushall()
    client.config_resetstat()
    yield client
    client.config_set("maxmemory", 0)
    client.flushall()
    client.close()


def counted(r: redis.Redis) -> int:
    """used_memory as eviction counts it (after a cron tick: the client buffers' share
    is refreshed by the cron and the last pipeline's replies are gone by then)."""
    time.sleep(0.25)
    m = r.info("memory")
    return int(m["used_memory"]) - int(m["mem_not_counted_for_evict"])


def fill(r: redis.Redis, prefix: str, count: int, ttl: int | None = None, start: int = 0) -> None:
    pipe = r.pipeline(transaction=False)
    for i in range(start, start + count):
        if ttl is None:
            pipe.set(f"{prefix}{i}", VALUE)
        else:
            pipe.set(f"{prefix}{i}", VALUE, ex=ttl + i)
        if i % 200 == 199:
            pipe.execute()
    pipe.execute()


def alive(r: redis.Redis, prefix: str, count: int) -> set[int]:
    pipe = r.pipeline(transaction=False)
    for i in range(count):
        pipe.exists(f"{prefix}{i}")
    return {i for i, found in enumerate(pipe.execute()) if found}


def test_allkeys_lru_keeps_recently_used_keys(r: redis.Redis) -> None:
    r.config_set("maxmemory-policy", "allkeys-lru")
    # Sampled LRU is an approximation: with more samples per round (Redis's advice for
    # accuracy) evicting a just-read key while unread ones remain becomes vanishingly rare.
    r.config_set("maxmemory-samples", 10)
    fill(r, "old:", 1000)
    time.sleep(2.2)  # the LRU clock has a one-second resolution, as in Redis
    pipe = r.pipeline(transaction=False)
    for i in range(200):
        pipe.get(f"old:{i}")
    pipe.execute()
    r.config_set("maxmemory", counted(r) + 300_000)
    fill(r, "new:", 600)
    assert r.info("stats")["evicted_keys"] > 200
    assert alive(r, "old:", 200) == set(range(200)), "recently read keys were evicted"
    assert alive(r, "new:", 600) == set(range(600)), "just written keys were evicted"
    # At most the last command's allocation above the limit (eviction runs before commands).
    assert counted(r) <= int(r.config_get("maxmemory")["maxmemory"]) + 4096


def test_allkeys_lfu_keeps_frequently_used_keys(r: redis.Redis) -> None:
    r.config_set("maxmemory-policy", "allkeys-lfu")
    fill(r, "k:", 1000)
    pipe = r.pipeline(transaction=False)
    for _ in range(30):
        for i in range(100):
            pipe.get(f"k:{i}")
        pipe.execute()
    assert int(r.object("freq", "k:0")) > 5 and int(r.object("freq", "k:500")) == 5
    r.config_set("maxmemory", counted(r) + 300_000)
    fill(r, "new:", 800)
    assert r.info("stats")["evicted_keys"] > 200
    assert alive(r, "k:", 100) == set(range(100)), "frequently read keys were evicted"


def test_allkeys_random_evicts_from_every_kind_of_key(r: redis.Redis) -> None:
    r.config_set("maxmemory-policy", "allkeys-random")
    fill(r, "a:", 1000)
    r.config_set("maxmemory", counted(r) + 100_000)
    fill(r, "b:", 1000)
    evicted = r.info("stats")["evicted_keys"]
    assert evicted > 500
    assert len(alive(r, "a:", 1000)) < 1000 and len(alive(r, "b:", 1000)) < 1000
    assert r.dbsize() == 2000 - evicted


@pytest.mark.parametrize("policy", ["volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl"])
def test_volatile_policies_only_evict_keys_with_a_ttl(r: redis.Redis, policy: str) -> None:
    r.config_set("maxmemory-policy", policy)
    fill(r, "ttl:", 600, ttl=10_000)
    fill(r, "keep:", 300)
    r.config_set("maxmemory", counted(r) + 100_000)
    fill(r, "more:", 300)
    assert r.info("stats")["evicted_keys"] >= 150
    assert alive(r, "keep:", 300) == set(range(300))
    assert alive(r, "more:", 300) == set(range(300))
    # Once no key with a TTL is left, writes that need memory are refused.
    r.delete(*[f"ttl:{i}" for i in range(600)])
    with pytest.raises(redis.exceptions.OutOfMemoryError):
        fill(r, "over:", 2000)
    assert r.get("keep:0") == VALUE.encode()  # reads still work
    assert r.delete("keep:0") == 1  # and DEL


def test_volatile_ttl_evicts_the_shortest_ttl_first(r: redis.Redis) -> None:
    r.config_set("maxmemory-policy", "volatile-ttl")
    r.config_set("maxmemory-samples", 10)
    fill(r, "t:", 800, ttl=1000)  # key t:i expires in 1000 + i seconds
    r.config_set("maxmemory", counted(r) + 50_000)
    fill(r, "plain:", 300)
    survivors = alive(r, "t:", 800)
    evicted = set(range(800)) - survivors
    assert len(evicted) >= 200
    # The pool keeps the soonest-expiring sampled keys: the longest TTLs all survive.
    assert set(range(600, 800)) <= survivors
    assert sum(evicted) / len(evicted) < sum(survivors) / len(survivors) - 150


def test_noeviction_refuses_writes_but_serves_reads_and_del(r: redis.Redis) -> None:
    fill(r, "k:", 500)
    r.config_set("maxmemory", counted(r) + 50_000)
    with pytest.raises(redis.exceptions.OutOfMemoryError) as info:
        fill(r, "more:", 500)
    assert str(info.value).endswith("command not allowed when used memory > 'maxmemory'.")
    assert r.get("k:1") == VALUE.encode()
    assert r.info("stats")["evicted_keys"] == 0
    deleted = r.delete(*[f"k:{i}" for i in range(300)])
    assert deleted == 300
    r.set("fits", "now")  # DEL freed memory: writes are accepted again
    assert r.get("fits") == b"now"


def test_config_set_maxmemory_evicts_down_at_once(r: redis.Redis) -> None:
    r.config_set("maxmemory-policy", "allkeys-random")
    fill(r, "k:", 3000)
    before = counted(r)
    target = before - 1_500_000
    r.config_set("maxmemory", target)
    deadline = time.monotonic() + 5
    while counted(r) > target and time.monotonic() < deadline:
        time.sleep(0.05)
    assert counted(r) <= target
    stats = r.info("stats")
    assert stats["evicted_keys"] > 1000
    assert "total_eviction_exceeded_time" in stats and "current_eviction_exceeded_time" in stats


def test_oom_inside_multi_aborts_the_transaction(r: redis.Redis) -> None:
    r.config_set("maxmemory", 1)
    c = raw_client(r.connection_pool.connection_kwargs["port"])
    try:
        assert call(c, "MULTI") == b"OK"
        with pytest.raises(redis.exceptions.OutOfMemoryError):  # any command queued while OOM
            c.execute_command("GET", "x")
        assert call(c, "EXEC")[1].endswith("discarded because of previous errors.")
    finally:
        c.close()


OOM_SCRIPT = [
    ["SET", "k", "v"], ["GET", "k"], ["DEL", "k"], ["INCR", "n"], ["RPUSH", "l", "a"], ["LPOP", "l"],
    ["HSET", "h", "f", "v"], ["APPEND", "k", "x"], ["EXISTS", "k"], ["PING"], ["MULTI"], ["SET", "k", "v"],
    ["EXEC"], ["MULTI"], ["DEL", "k"], ["EXEC"], ["CONFIG", "GET", "maxmemory-policy"],
]


@pytest.mark.parametrize("policy", ["noeviction", "allkeys-lru", "volatile-ttl"])
def test_oom_replies_match_redis(server: ServerProcess, reference: RedisProcess, policy: str) -> None:
    """Below even the empty server's usage nothing can be freed: replies are compared as they are."""
    pair = Pair(raw_client(server.port), raw_client(reference.port))
    try:
        pair.reset()
        for c in (pair.mine, pair.theirs):
            call(c, "CONFIG", "SET", "maxmemory-policy", policy)
            call(c, "CONFIG", "SET", "maxmemory", "1")
        for cmd in OOM_SCRIPT:
            assert call(pair.mine, *cmd) == call(pair.theirs, *cmd), cmd
    finally:
        for c in (pair.mine, pair.theirs):
            call(c, "CONFIG", "SET", "maxmemory", "0")
            call(c, "CONFIG", "SET", "maxmemory-policy", "noeviction")
            c.close()


def test_maxmemory_directives_validate_like_redis(server: ServerProcess, reference: RedisProcess) -> None:
    script = [
        ["CONFIG", "SET", "maxmemory-policy", "foo"], ["CONFIG", "SET", "maxmemory-policy", "ALLKEYS-LRU"],
        ["CONFIG", "GET", "maxmemory-policy"], ["CONFIG", "SET", "maxmemory-samples", "0"],
        ["CONFIG", "SET", "maxmemory-samples", "abc"], ["CONFIG", "SET", "maxmemory-eviction-tenacity", "101"],
        ["CONFIG", "SET", "maxmemory-clients", "5%"], ["CONFIG", "GET", "maxmemory-clients"],
        ["CONFIG", "SET", "maxmemory-clients", "101%"], ["CONFIG", "SET", "maxmemory-clients", "foo"],
        ["CONFIG", "SET", "maxmemory-clients", "1mb"], ["CONFIG", "GET", "maxmemory-clients"],
        ["CONFIG", "SET", "maxmemory-clients", "0"], ["CONFIG", "SET", "maxmemory", "-1"],
        ["CONFIG", "SET", "maxmemory", "1gb"], ["CONFIG", "GET", "maxmemory"], ["CONFIG", "SET", "maxmemory", "0"],
        ["CONFIG", "SET", "lfu-log-factor", "-1"], ["CONFIG", "SET", "lfu-decay-time", "2"],
        ["CONFIG", "GET", "lfu-*"], ["CONFIG", "SET", "lfu-decay-time", "1"],
        ["CONFIG", "SET", "maxmemory-policy", "noeviction"],
    ]
    compare_script(server, reference, script)


def test_client_eviction_spares_no_evict_clients(server: ServerProcess, r: redis.Redis) -> None:
    r.client_no_evict("on")
    with RawConn(server.port) as victim:
        victim.send(encode_command("PING"))
        assert victim.read_replies(1) == [b"PONG"]
        try:
            r.config_set("maxmemory-clients", "8kb")
            assert victim.read_until_closed(3)[1], "the evictable client was not disconnected"
            assert r.info("stats")["evicted_clients"] >= 1
            assert r.ping()
        finally:
            r.config_set("maxmemory-clients", "0")
            r.client_no_evict("off")


def test_evictions_survive_kill9_as_clients_saw_them() -> None:
    """Evictions are logged as DELs: after kill -9 the keyspace is the one clients last saw."""
    srv = ServerProcess(args=["--appendonly", "yes", "--appendfsync", "always"]).start()
    try:
        r = srv.client()
        r.config_set("maxmemory-policy", "allkeys-lru")
        fill(r, "k:", 500)
        r.config_set("maxmemory", counted(r) + 200_000)
        fill(r, "more:", 800)
        r.config_set("maxmemory", 0)  # (any command may evict while above the limit)
        seen = set(r.keys("*"))
        digest = r.execute_command("DEBUG", "DIGEST")
        assert r.info("stats")["evicted_keys"] > 300 and len(seen) < 1300
        r.close()
        srv.kill9()
        srv.args = ["--appendonly", "yes"]  # restart without maxmemory: nothing is evicted on load
        srv.start()
        r = srv.client()
        assert set(r.keys("*")) == seen
        assert r.execute_command("DEBUG", "DIGEST") == digest
        r.close()
    finally:
        srv.stop()
        srv.cleanup()
