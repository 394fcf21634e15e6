"""Old encodings and damaged payloads: RESTORE here answers what redis-server 7.0 answers.

Pre-7.0 encodings (linked lists, ziplists, zipmaps, text scores) restore to
the same value and encoding on both servers.  Damaged payloads of every kind
get Redis's error.  A seeded mutation run (part of ``make test``) feeds
thousands of corrupted, re-sealed payloads to the decoder: each must decode or
raise RdbError, nothing else, quickly.
"""

from __future__ import annotations

import random
import struct
import time

import pytest
import redis

from sentrykv_server.persistence.rdb import payload as rdb_payload
from sentrykv_server.persistence.rdb.constants import RdbError
from sentrykv_server.persistence.rdb.crc64 import crc64
from sentrykv_server.persistence.rdb.decode import Limits
from tests.rdb.dataset import contents, populate
from tests.rdb.legacy_build import legacy_objects, ziplist
from tests.rdb.restore import deep_reply, restore_reply


def seal(body: bytes, version: int = 10) -> bytes:
    head = body + struct.pack("<H", version)
    return head + struct.pack("<Q", crc64(head, 0))


@pytest.mark.parametrize("name", sorted(legacy_objects()))
def test_legacy_encodings_restore_like_redis(name: str, r: redis.Redis, ref: redis.Redis) -> None:
    payload = seal(legacy_objects()[name], version=9)
    for c in (r, ref):
        assert c.restore("k", 0, payload) == b"OK"
    assert contents(r, "k") == contents(ref, "k")
    assert r.object("encoding", "k") == ref.object("encoding", "k")


def _reply(c: redis.Redis, payload: bytes) -> object:
    return restore_reply(c, payload, "k")


def test_damaged_structures_get_redis_errors(r: redis.Redis, ref: redis.Redis) -> None:
    good_zl = ziplist([b"a", b"b", b"c"])
    cases = {
        "ziplist bad total": good_zl[:0] + struct.pack("<I", 99) + good_zl[4:],
        "ziplist bad tail": good_zl[:4] + struct.pack("<I", 3) + good_zl[8:],
        "ziplist no end": good_zl[:-1] + b"\x00",
        "ziplist truncated": good_zl[:12],
    }
    payloads = {name: seal(b"\x0a" + bytes((len(zl),)) + zl) for name, zl in cases.items()}
    payloads["intset unsorted"] = seal(b"\x0b\x0c" + struct.pack("<II", 2, 2) + struct.pack("<hh", 5, 1))
    payloads["intset bad width"] = seal(b"\x0b\x0c" + struct.pack("<II", 3, 1) + b"\x00\x00\x00\x00")
    payloads["intset bad size"] = seal(b"\x0b\x0a" + struct.pack("<II", 2, 2) + b"\x00\x00")
    payloads["listpack bad size"] = seal(b"\x10\x09" + struct.pack("<IH", 99, 2) + b"\x01\x01\xff")
    payloads["quicklist bad container"] = seal(b"\x12\x01\x07\x01a")
    payloads["hash duplicate fields"] = seal(b"\x04\x02\x01a\x011\x01a\x012")
    payloads["set duplicate members"] = seal(b"\x02\x02\x01a\x01a")
    payloads["zset duplicate members"] = seal(b"\x05\x02\x01a" + struct.pack("<d", 1) + b"\x01a" + struct.pack("<d", 2))
    payloads["zset nan"] = seal(b"\x05\x01\x01a" + struct.pack("<d", float("nan")))
    payloads["empty set"] = seal(b"\x02\x00")
    payloads["empty hash"] = seal(b"\x04\x00")
    payloads["module"] = seal(b"\x07\x81" + struct.pack(">Q", 12345) + b"rest")
    payloads["lzf bad"] = seal(b"\x00\xc3\x04\x0a\xff\xff\xff\xff")
    payloads["length 64-bit absurd"] = seal(b"\x01\x81" + struct.pack(">Q", 1 << 62))
    # SentryKV always validates deeply: these two pass Redis's default shallow check (and
    # would corrupt its memory) and are refused by Redis with sanitize-dump-payload yes.
    deep_only = {"intset unsorted", "hash duplicate fields"}
    for name, payload in payloads.items():
        want = _reply(ref, payload)
        got = _reply(r, payload)
        if name in deep_only:
            assert want == b"OK", name
            want = deep_reply(ref, payload, "k")
        assert got == want, f"{name}: redis {want!r} sentrykv {got!r}"


def _valid_payloads(ref: redis.Redis) -> list[bytes]:
    keys = populate(ref)
    objs = [seal(o) for o in legacy_objects().values()]
    return [ref.dump(k) for k in keys if k != "str:big"] + objs


def mutate(rnd: random.Random, data: bytes) -> bytes:
    """One corruption of the object part, then a valid footer (so the decoder runs)."""
    body = bytearray(data[:-10])
    op = rnd.randrange(6)
    if op == 0 and body:
        i = rnd.randrange(len(body))
        body[i] ^= 1 << rnd.randrange(8)
    elif op == 1 and body:
        del body[rnd.randrange(len(body)):]
    elif op == 2:
        body.insert(rnd.randrange(len(body) + 1), rnd.randrange(256))
    elif op == 3 and body:
        i = rnd.randrange(len(body))
        body[i] = rnd.choice((0x00, 0x3F, 0x40, 0x7F, 0x80, 0x81, 0xC0, 0xC3, 0xF0, 0xFE, 0xFF))
    elif op == 4 and len(body) > 4:
        i = rnd.randrange(len(body) - 4)
        body[i:i + 4] = rnd.randbytes(4)
    else:
        for _ in range(rnd.randrange(1, 8)):
            if body:
                body[rnd.randrange(len(body))] = rnd.randrange(256)
    return seal(bytes(body))


def test_seeded_mutations_never_crash(ref: redis.Redis) -> None:
    rnd = random.Random(20240615)
    corpus = _valid_payloads(ref)
    limits = Limits()
    started = time.monotonic()
    outcomes = {"ok": 0, "error": 0}
    for i in range(3000):
        data = mutate(rnd, rnd.choice(corpus))
        t0 = time.monotonic()
        try:
            rdb_payload.restore(data, limits)
            outcomes["ok"] += 1
        except RdbError:
            outcomes["error"] += 1
        assert time.monotonic() - t0 < 2.0, f"mutation {i} took too long"
    assert outcomes["error"] > 100 and outcomes["ok"] > 100, outcomes
    assert time.monotonic() - started < 60


def test_mutated_payloads_against_the_server(r: redis.Redis, ref: redis.Redis) -> None:
    """The same mutations through the real command: an error reply or OK, and the server lives."""
    rnd = random.Random(99)
    corpus = _valid_payloads(ref)
    for _ in range(300):
        reply = _reply(r, mutate(rnd, rnd.choice(corpus)))
        assert reply == b"OK" or isinstance(reply, str)
    assert r.ping()
