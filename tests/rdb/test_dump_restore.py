"""DUMP / RESTORE against redis-server 7.0, in both directions, for every type and encoding.

* Redis -> SentryKV: Redis's DUMP restores here with the same contents, TTL and
  encoding; our DUMP of it is byte-identical to Redis's wherever Redis's output
  is deterministic, and restores on Redis to the same DEBUG DIGEST-VALUE.
* SentryKV -> Redis: the same dataset built on SentryKV, dumped here, restores
  on Redis to exactly the value Redis built itself (DIGEST-VALUE, encoding).
* Every error RESTORE can answer is compared with Redis's reply.
"""

from __future__ import annotations

import struct
import time

import pytest
import redis

from sentrykv_server.persistence.rdb.crc64 import crc64
from tests.rdb.dataset import NONDETERMINISTIC, TIMED, contents, digest, populate, stream_contents
from tests.support.procs import ServerProcess


def _reseal(body: bytes, version: int = 10) -> bytes:
    """A payload with a valid footer around ``body`` (type byte + object)."""
    head = body + struct.pack("<H", version)
    return head + struct.pack("<Q", crc64(head, 0))


def test_redis_dump_restores_here_and_back(r: redis.Redis, ref: redis.Redis) -> None:
    keys = populate(ref)
    for key in keys:
        payload = ref.dump(key)
        ttl = max(ref.pttl(key), 0)
        assert r.restore(key, ttl, payload) == b"OK"
        assert contents(r, key) == contents(ref, key), key
        assert r.object("encoding", key) == ref.object("encoding", key), key
        if ttl:
            assert abs(r.pttl(key) - ttl) < 5000, key
        mine = r.dump(key)
        if key not in NONDETERMINISTIC and key != "str:big":  # str:big: LZF is not tried above 64 KiB
            assert mine == payload, f"DUMP bytes differ for {key}"
        ref.restore("back:" + key, 0, mine)
        ref.persist(key)  # the digest counts a TTL; "back:" has none
        assert digest(ref, "back:" + key) == digest(ref, key), key


def test_sentrykv_dump_restores_on_redis(r: redis.Redis, ref: redis.Redis) -> None:
    keys = populate(r)
    populate(ref, "want:")
    for key in keys:
        payload = r.dump(key)
        ref.restore("got:" + key, 0, payload)
        ref.persist("want:" + key)
        assert digest(ref, "got:" + key) == digest(ref, "want:" + key), key
        assert ref.object("encoding", "got:" + key) == ref.object("encoding", "want:" + key), key
        assert ref.dump("got:" + key) == ref.dump("want:" + key) or key in NONDETERMINISTIC | TIMED, key
        if key.startswith("stream:"):  # groups, PELs, times, node layout: all as they were here
            assert stream_contents(ref, "got:" + key) == stream_contents(r, key), key


def test_small_limits_change_encodings_like_redis(r: redis.Redis, ref: redis.Redis) -> None:
    """Thresholds apply on load: a listpack hash restored under a smaller limit converts."""
    for c in (r, ref):
        c.hset("h", mapping={f"f{i}": i for i in range(10)})
        c.zadd("z", {f"m{i}": i for i in range(10)})
        c.sadd("s", *range(10))
    payloads = {k: ref.dump(k) for k in ("h", "z", "s")}
    try:
        for c in (r, ref):
            c.config_set("hash-max-listpack-entries", 4)
            c.config_set("zset-max-listpack-entries", 4)
            c.config_set("set-max-intset-entries", 4)
            for key, payload in payloads.items():
                c.restore(key, 0, payload, replace=True)
        for key in payloads:
            assert r.object("encoding", key) == ref.object("encoding", key), key
    finally:
        for c in (r, ref):
            c.config_set("hash-max-listpack-entries", 512)
            c.config_set("zset-max-listpack-entries", 128)
            c.config_set("set-max-intset-entries", 512)


def _both(r: redis.Redis, ref: redis.Redis, *args: object) -> tuple[object, object]:
    out = []
    for c in (r, ref):
        try:
            out.append(c.execute_command(*args))
        except redis.ResponseError as exc:
            out.append(("error", str(exc)))
    return out[0], out[1]


def test_restore_errors_match_redis(r: redis.Redis, ref: redis.Redis) -> None:
    ref.set("src", "value")
    good = ref.dump("src")
    assert good is not None
    flipped = good[:-1] + bytes([good[-1] ^ 1])
    newer = _reseal(good[:-10], 11)
    bad_type = _reseal(b"\x63\x03abc")
    truncated = _reseal(good[:3])
    empty_list = _reseal(b"\x12\x00")
    huge = _reseal(b"\x00\x81" + struct.pack(">Q", 1 << 60) + b"xx")
    huge_lzf = _reseal(b"\x00\xc3\x05\x81" + struct.pack(">Q", 1 << 60) + b"\x00abcde")
    cases = [
        ("RESTORE", "k", 0, b""),
        ("RESTORE", "k", 0, b"short"),
        ("RESTORE", "k", 0, flipped),
        ("RESTORE", "k", 0, newer),
        ("RESTORE", "k", 0, bad_type),
        ("RESTORE", "k", 0, truncated),
        ("RESTORE", "k", 0, empty_list),
        ("RESTORE", "k", 0, huge),
        ("RESTORE", "k", 0, huge_lzf),
        ("RESTORE", "k", -1, good),
        ("RESTORE", "k", "x", good),
        ("RESTORE", "k", 0, good, "IDLETIME", -1),
        ("RESTORE", "k", 0, good, "IDLETIME", "x"),
        ("RESTORE", "k", 0, good, "FREQ", 256),
        ("RESTORE", "k", 0, good, "FREQ", -1),
        ("RESTORE", "k", 0, good, "IDLETIME", 1, "FREQ", 1),
        ("RESTORE", "k", 0, good, "FREQ", 1, "IDLETIME", 1),
        ("RESTORE", "k", 0, good, "IDLETIME"),
        ("RESTORE", "k", 0, good, "BOGUS"),
        ("RESTORE", "src", 0, good),
        ("RESTORE", "src", -1, b"junk"),
        ("RESTORE", "k"),
        ("DUMP", "missing"),
        ("DUMP",),
    ]
    r.set("src", "value")
    for args in cases:
        got, want = _both(r, ref, *args)
        assert got == want, f"{args!r}: redis {want!r}, sentrykv {got!r}"


def test_restore_ttl_forms(r: redis.Redis, ref: redis.Redis) -> None:
    ref.set("src", "value")
    payload = ref.dump("src")
    now = int(time.time() * 1000)
    for c in (r, ref):
        assert c.restore("rel", 50_000, payload)
        assert c.restore("abs", now + 80_000, payload, absttl=True)
        assert c.restore("past", now - 1000, payload, absttl=True)
        c.set("old", "x")
        assert c.restore("old", now - 1000, payload, absttl=True, replace=True)
        assert c.restore("idle", 0, payload, idletime=100)
        assert c.restore("freq", 0, payload, frequency=5)
    for c in (r, ref):
        assert 45_000 < c.pttl("rel") <= 50_000
        assert abs(c.pexpiretime("abs") - (now + 80_000)) <= 1
        assert c.exists("past", "old") == 0
        assert c.get("idle") == c.get("freq") == b"value"


def test_resp3_shapes(server: ServerProcess, debug_redis: object) -> None:
    from tests.types.rawresp import RawConnection

    skv, red = RawConnection(server.port), RawConnection(debug_redis.port)  # type: ignore[attr-defined]
    try:
        for conn in (skv, red):
            conn.call("HELLO", "3")
            conn.call("SET", "k3", "v")
        for args in (("DUMP", "k3"), ("DUMP", "none3"), ("RESTORE", "k3", "0", "x"),
                     ("DEL", "k4")):
            assert skv.call(*args) == red.call(*args), args
        payload = red.call("DUMP", "k3")[1]
        assert skv.call("RESTORE", "k4", "0", payload) == red.call("RESTORE", "k4", "0", payload)
    finally:
        skv.close()
        red.close()


@pytest.fixture
def durable(tmp_path: object) -> object:
    srv = ServerProcess(args=["--appendonly", "yes", "--appendfsync", "always"]).start()
    yield srv
    srv.stop()
    srv.cleanup()


def test_restore_is_logged_and_survives_kill9(durable: ServerProcess, ref: redis.Redis) -> None:
    keys = populate(ref)
    c = durable.client()
    for key in keys:
        c.restore(key, max(ref.pttl(key), 0), ref.dump(key))
    c.set("replaced", "x")
    ref.set("tmp", "v")
    c.restore("replaced", int(time.time() * 1000) - 10, ref.dump("tmp"), absttl=True, replace=True)
    before = {k: (contents(c, k), c.pexpiretime(k)) for k in keys}
    durable.kill9()
    durable.start()
    c = durable.client()
    assert c.exists("replaced") == 0
    after = {k: (contents(c, k), c.pexpiretime(k)) for k in keys}
    assert after == before
