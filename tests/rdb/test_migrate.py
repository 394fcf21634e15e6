"""MIGRATE between SentryKV and redis-server in every direction, replies compared with Redis's.

Each scenario runs twice, once with a Redis source and once with a SentryKV
source, against the same kind of target, and the replies must be equal.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from tests.rdb.dataset import contents, digest, populate
from tests.support.procs import RedisProcess, ServerProcess, free_port


@pytest.fixture(scope="module")
def target_redis() -> Iterator[RedisProcess]:
    srv = RedisProcess(args=["--enable-debug-command", "yes", "--requirepass", "pw"]).start()
    yield srv
    srv.stop()
    srv.cleanup()


@pytest.fixture(scope="module")
def target_skv() -> Iterator[ServerProcess]:
    srv = ServerProcess(args=["--appendonly", "no", "--requirepass", "pw"]).start()
    yield srv
    srv.stop()
    srv.cleanup()


def call(c: redis.Redis, *args: object) -> object:
    try:
        return c.execute_command(*args)
    except redis.ResponseError as exc:
        return ("error", str(exc))


def both(r: redis.Redis, ref: redis.Redis, *args: object, target: redis.Redis | None = None,
         fresh: bool = True) -> tuple[object, object]:
    """The same command from both sources; the target is emptied before each when ``fresh``."""
    out = []
    for c in (r, ref):
        if target is not None and fresh:
            target.flushall()
        out.append(call(c, *args))
    return out[0], out[1]


@pytest.mark.parametrize("kind", ["redis", "sentrykv"])
def test_migrate_replies_match(kind: str, r: redis.Redis, ref: redis.Redis,
                               target_redis: RedisProcess, target_skv: ServerProcess) -> None:
    target = target_redis if kind == "redis" else target_skv
    t = redis.Redis(port=target.port, password="pw")
    t.flushall()
    port = target.port
    for c in (r, ref):
        c.set("a", "1")
        c.set("b", "2", px=500_000)
        c.rpush("l", "x", "y")
    cases = [
        ("MIGRATE", "127.0.0.1", port, "a", 0, 1000, "AUTH", "pw"),
        ("MIGRATE", "127.0.0.1", port, "a", 0, 1000, "AUTH", "pw"),  # NOKEY: already moved
        ("MIGRATE", "127.0.0.1", port, "", 0, 1000, "AUTH2", "default", "pw", "KEYS", "b", "l", "zz"),
        ("MIGRATE", "127.0.0.1", port, "x", 0, 1000, "KEYS", "a"),
        ("MIGRATE", "127.0.0.1", port, "a", 0, 1000, "BOGUS"),
        ("MIGRATE", "127.0.0.1", port, "a", 0, 1000, "AUTH"),
        ("MIGRATE", "127.0.0.1", port, "a", "x", 1000),
        ("MIGRATE", "127.0.0.1", port, "a", 0, "y"),
        ("MIGRATE", "127.0.0.1", free_port(), "c", 0, 200),
    ]
    for c in (r, ref):
        c.set("c", "3")
    for args in cases:
        got, want = both(r, ref, *args, target=t)
        assert got == want, f"{args}: redis {want!r}, sentrykv {got!r}"
    # A wrong password and a key the target already has: the target's error is passed on.
    for c in (r, ref):
        c.set("d", "4")
    got, want = both(r, ref, "MIGRATE", "127.0.0.1", port, "d", 0, 1000, "AUTH", "wrong", target=t)
    assert got == want and want[0] == "error", (got, want)
    t.set("d", "other")
    got, want = both(r, ref, "MIGRATE", "127.0.0.1", port, "d", 0, 1000, "AUTH", "pw", target=t, fresh=False)
    assert got == want and "BUSYKEY" in str(want), (got, want)
    assert r.get("d") == b"4"  # not deleted: the target refused it
    got, want = both(r, ref, "MIGRATE", "127.0.0.1", port, "d", 0, 1000, "AUTH", "pw", "REPLACE", "COPY",
                      target=t, fresh=False)
    assert got == want == b"OK"
    assert r.get("d") == b"4" and t.get("d") == b"4"


def test_migrate_every_type_both_ways(r: redis.Redis, ref: redis.Redis, server: ServerProcess,
                                      debug_redis: RedisProcess) -> None:
    keys = populate(ref)
    populate(ref, "want:")
    before = {key: contents(ref, key) for key in keys}  # with the streams' delivery/seen times
    # Redis -> SentryKV with Redis's own MIGRATE, into db 2.
    assert ref.execute_command("MIGRATE", "127.0.0.1", server.port, "", 2, 5000, "KEYS", *keys) == b"OK"
    assert ref.exists(*keys) == 0
    r2 = server.client(db=2)
    for key in keys:
        assert contents(r2, key) == before[key], key
    assert r2.pttl("ttl:str") > 0
    # SentryKV -> Redis, back into db 0.
    assert r2.execute_command("MIGRATE", "127.0.0.1", debug_redis.port, "", 0, 5000, "KEYS", *keys) == b"OK"
    assert r2.dbsize() == 0
    for key in keys:
        ref.persist(key)
        ref.persist("want:" + key)
        assert digest(ref, key) == digest(ref, "want:" + key), key
        assert contents(ref, key) == before[key], key


def test_migrate_sentrykv_to_sentrykv_is_logged(target_skv: ServerProcess) -> None:
    src = ServerProcess(args=["--appendonly", "yes"]).start()
    try:
        c = src.client()
        t = redis.Redis(port=target_skv.port, password="pw")
        t.flushall()
        c.hset("h", mapping={"f": "v"})
        c.set("s", "v", px=900_000)
        c.set("kept", "v")
        assert c.execute_command("MIGRATE", "127.0.0.1", target_skv.port, "", 0, 2000,
                                 "AUTH", "pw", "KEYS", "h", "s") == b"OK"
        assert t.hgetall("h") == {b"f": b"v"} and 0 < t.pttl("s") <= 900_000
        src.kill9()
        src.start()
        c = src.client()
        assert c.exists("h", "s") == 0 and c.get("kept") == b"v"
    finally:
        src.stop()
        src.cleanup()
