"""Streams in the RDB format against redis-server 7.0.15: node layout, the 6.x type 15, hostile payloads.

The dataset tests (test_dump_restore.py, test_migrate.py, test_rdb_files.py) carry the
stream keys of tests/rdb/dataset.py both ways; this module checks what they cannot:

* after a RESTORE the node boundaries are Redis's (later XADDs and ``MAXLEN ~``
  trims answer the same on both servers), in both directions, with deleted entries;
* a type-15 payload (Redis 5 - 6.2) loads with the counters Redis 7.0 derives for it;
* malformed stream payloads get Redis's "ERR Bad data format" and never hurt the server.
"""

from __future__ import annotations

import struct

import pytest
import redis

from sentrykv_server.persistence.rdb import listpack
from sentrykv_server.persistence.rdb.crc64 import crc64
from sentrykv_server.persistence.rdb.encode import encode_len
from tests.rdb.dataset import populate_streams, stream_contents
from tests.rdb.restore import deep_reply, restore_reply

BAD_FORMAT = "Bad data format"


def seal(body: bytes) -> bytes:
    head = body + struct.pack("<H", 10)
    return head + struct.pack("<Q", crc64(head, 0))


def _s(data: bytes) -> bytes:
    return encode_len(len(data)) + data


def _id(ms: int, seq: int) -> bytes:
    return struct.pack(">QQ", ms, seq)


Pel = list[tuple[tuple[int, int], int, int]]
Consumers = list[tuple[bytes, int, list[tuple[int, int]]]]


def stream_payload(nodes: list[tuple[bytes, list[bytes | int]]], length: int, last: tuple[int, int],
                   groups: list[tuple[bytes, tuple[int, int], int, Pel, Consumers]],
                   rdb_type: int = 19, first: tuple[int, int] = (0, 0), max_deleted: tuple[int, int] = (0, 0),
                   added: int | None = None) -> bytes:
    """A stream object written field by field from the format description (not by the codec)."""
    out = [bytes((rdb_type,)), encode_len(len(nodes))]
    for key, items in nodes:
        out += [_s(key), _s(listpack.encode(items))]
    out += [encode_len(length), encode_len(last[0]), encode_len(last[1])]
    if rdb_type == 19:
        out += [encode_len(v) for v in (*first, *max_deleted, length if added is None else added)]
    out.append(encode_len(len(groups)))
    for name, glast, entries_read, pel, consumers in groups:
        out += [_s(name), encode_len(glast[0]), encode_len(glast[1])]
        if rdb_type == 19:
            out.append(encode_len(entries_read & ((1 << 64) - 1)))
        out.append(encode_len(len(pel)))
        for (ms, seq), time, count in pel:
            out += [_id(ms, seq), struct.pack("<q", time), encode_len(count)]
        out.append(encode_len(len(consumers)))
        for cname, seen, ids in consumers:
            out += [_s(cname), struct.pack("<q", seen), encode_len(len(ids))]
            out += [_id(*i) for i in ids]
    return seal(b"".join(out))


# One node, master 5-1: entries 5-1 {f: a} and 5-3 {f: b, g: c}, and a deleted 5-2 {f: x}.
NODE: list[bytes | int] = [2, 1, 1, b"f", 0,
                           2, 0, 0, b"a", 4,
                           3, 0, 1, b"x", 4,
                           0, 0, 2, 2, b"f", b"b", b"g", b"c", 8]
GROUP = (b"g", (5, 3), 2, [((5, 1), 1700000000000, 2), ((5, 2), 1700000000001, 1)],
         [(b"alice", 1700000000002, [(5, 1), (5, 2)]), (b"bob", 1700000000003, [])])


def _reply(c: redis.Redis, payload: bytes, key: str = "hostile") -> bytes | str:
    return restore_reply(c, payload, key)


def test_valid_handmade_payloads_restore_alike(r: redis.Redis, ref: redis.Redis) -> None:
    for rdb_type in (19, 15):
        payload = stream_payload([(_id(5, 1), NODE)], 2, (5, 3), [GROUP], rdb_type=rdb_type,
                                 first=(5, 1), max_deleted=(5, 2), added=3)
        assert _reply(r, payload, "s") == _reply(ref, payload, "s") == b"OK"
        assert stream_contents(r, "s") == stream_contents(ref, "s"), rdb_type
        assert r.dump("s")[0] == ref.dump("s")[0] == 19  # both write it as type 19 now
        assert _reply(ref, r.dump("s"), "back") == b"OK"
        assert stream_contents(ref, "back") == stream_contents(ref, "s")
        assert r.execute_command("DEBUG", "DIGEST-VALUE", "s") == ref.execute_command("DEBUG", "DIGEST-VALUE", "s")


def test_type15_dump_of_a_redis_stream(r: redis.Redis, ref: redis.Redis) -> None:
    """A Redis-made stream rewritten as type 15: entries-read / lag estimated as Redis 7.0 does."""
    populate_streams(ref)
    for key in ("stream:groups", "stream:deleted", "stream:empty-groups", "stream:nodes"):
        v19 = ref.dump(key)
        assert v19[0] == 19
        v15 = _to_type15(v19[:-10])
        assert _reply(ref, v15, "t15") == b"OK", key
        assert _reply(r, v15, "t15") == b"OK", key
        got, want = stream_contents(r, "t15"), stream_contents(ref, "t15")
        if key == "stream:empty-groups":
            # Known difference: Redis records an empty type-15 stream's first ID as the
            # largest ID (streamGetEdgeID of nothing); SentryKV derives it: 0-0.
            assert want[1].pop(b"recorded-first-entry-id") == b"18446744073709551615-18446744073709551615"
            assert got[1].pop(b"recorded-first-entry-id") == b"0-0"
        assert got == want, key


def _to_type15(body: bytes) -> bytes:
    """Drop what type 19 added (first ID, max-deleted ID, entries-added, entries-read)."""
    from sentrykv_server.persistence.rdb.decode import read_len, read_string
    from sentrykv_server.persistence.rdb.source import BufferSource

    src = BufferSource(body)
    src.byte()
    out = [b"\x0f"]

    def copy(fn: object) -> None:
        start = src.offset()
        fn(src)  # type: ignore[operator]
        out.append(body[start:src.offset()])

    def skip(fn: object) -> None:
        fn(src)  # type: ignore[operator]

    start = src.offset()
    nodes = read_len(src)
    for _ in range(2 * nodes):
        read_string(src)
    for _ in range(3):
        read_len(src)
    out.append(body[start:src.offset()])
    for _ in range(5):
        skip(read_len)
    start = src.offset()
    groups = read_len(src)
    out.append(body[start:src.offset()])
    for _ in range(groups):
        start = src.offset()
        read_string(src)
        read_len(src)
        read_len(src)
        out.append(body[start:src.offset()])
        skip(read_len)  # entries-read
        start = src.offset()
        pel = read_len(src)
        for _ in range(pel):
            src.read(24)
            read_len(src)
        for _ in range(read_len(src)):
            read_string(src)
            src.read(8)
            src.read(16 * read_len(src))
        out.append(body[start:src.offset()])
    assert src.left() == 0
    return seal(b"".join(out))


def _grow(c: redis.Redis, key: str) -> object:
    """Appends and approximate trims whose results depend on where nodes end."""
    replies: list[object] = []
    for i in range(230):
        c.xadd(key, {"a": i, "pad": "z" * (i % 60)}, id=f"{10**6 + i}-0")
        if i % 50 == 49:
            replies.append(c.xtrim(key, maxlen=150 + i, approximate=True))
    replies.append(c.xtrim(key, minid=f"{10**6 + 100}-0", approximate=True))
    info = c.xinfo_stream(key)
    return replies, info["length"], info["radix-tree-keys"], info["first-entry"], c.xrange(key, count=3)


@pytest.mark.parametrize("key", ["stream:deleted", "stream:trimmed", "stream:nodes", "stream:groups"])
def test_node_layout_survives_restore_both_ways(r: redis.Redis, ref: redis.Redis, key: str) -> None:
    populate_streams(ref)
    populate_streams(r)
    assert r.restore("from-redis", 0, ref.dump(key)) == b"OK"
    assert ref.restore("from-skv", 0, r.dump(key)) == b"OK"
    want = _grow(ref, key)
    assert _grow(r, "from-redis") == want
    assert _grow(ref, "from-skv") == want
    assert _grow(r, key) == want


def _hostile() -> dict[str, tuple[bytes, str]]:
    """name -> (payload, how Redis 7.0.15 takes it: "always", "deep" (refused only with
    sanitize-dump-payload yes) or "accepts" (SentryKV refuses what Redis loads))."""
    node = [(_id(5, 1), NODE)]
    ok = {"length": 2, "last": (5, 3), "groups": [GROUP]}

    def make(**kw: object) -> bytes:
        args: dict[str, object] = {"nodes": node, **ok, "first": (5, 1), "max_deleted": (5, 2), "added": 3, **kw}
        return stream_payload(**args)  # type: ignore[arg-type]

    g_name, g_last, g_read, g_pel, g_cons = GROUP
    cases: dict[str, tuple[bytes, str]] = {
        "consumer PEL entry not in the group PEL":
            (make(groups=[(g_name, g_last, g_read, g_pel[:1], g_cons)]), "always"),
        "group PEL entry without consumer":
            (make(groups=[(g_name, g_last, g_read, g_pel, [(b"alice", 1, [(5, 1)])])]), "deep"),
        "duplicated global PEL entry":
            (make(groups=[(g_name, g_last, g_read, g_pel + g_pel[:1], g_cons)]), "always"),
        "duplicated consumer": (make(groups=[(g_name, g_last, g_read, g_pel, g_cons + g_cons[1:])]), "always"),
        "duplicated group": (make(groups=[GROUP, GROUP]), "always"),
        "node key of 15 bytes": (make(nodes=[(_id(5, 1)[:15], NODE)]), "always"),
        "empty listpack": (make(nodes=[(_id(5, 1), [])]), "always"),
        "same node key twice": (make(nodes=node * 2, length=4), "always"),
        "absurd node count": (seal(b"\x13\x81" + struct.pack(">Q", 1 << 60)), "always"),
        "absurd PEL count": (seal(make(groups=[(g_name, g_last, g_read, [], [])])[:-10].replace(
            b"\x01g\x05\x03\x02\x00", b"\x01g\x05\x03\x02\x81" + struct.pack(">Q", 1 << 50))), "always"),
        "truncated": (seal(make()[:-30]), "always"),
        "entry element count wrong": (make(nodes=[(_id(5, 1), NODE[:-1] + [7])]), "deep"),
        "deleted counter too high": (make(nodes=[(_id(5, 1), [2, 2] + NODE[2:])]), "deep"),
        "master entry without terminator": (make(nodes=[(_id(5, 1), NODE[:4] + [1] + NODE[5:])]), "deep"),
        "trailing listpack element": (make(nodes=[(_id(5, 1), NODE + [1])]), "deep"),
        "entry IDs out of order": (make(nodes=[(_id(5, 1), NODE[:5] + [2, 0, 5, b"a", 4] + NODE[10:])]),
                                   "accepts"),
        "length larger than the entries": (make(length=5, added=5), "accepts"),
        "last ID below the entries": (make(last=(5, 2)), "accepts"),
        "nodes out of order": (make(nodes=[(_id(9, 1), [1, 0, 1, b"f", 0, 2, 0, 0, b"a", 4])] + node,
                                    length=3, last=(9, 1), added=4), "accepts"),
    }
    return cases


def test_hostile_stream_payloads(r: redis.Redis, ref: redis.Redis) -> None:
    for name, (payload, redis_takes) in _hostile().items():
        got = _reply(r, payload)
        assert got == BAD_FORMAT, f"{name}: sentrykv answered {got!r}"
        want = _reply(ref, payload)
        if redis_takes == "deep":
            assert want == b"OK", name
            want = deep_reply(ref, payload, "hostile")
        if redis_takes == "accepts":
            assert want == b"OK", f"{name}: redis now refuses it ({want!r}): make it 'always'"
            ref.delete("hostile")
            continue
        assert want == got, f"{name}: redis {want!r} sentrykv {got!r}"
    assert r.ping() and r.exists("hostile") == 0


def test_restored_streams_survive_kill9(ref: redis.Redis) -> None:
    """RESTORE is logged; its replay after a kill -9 rebuilds every stream exactly
    (seen-times and delivery times included: they travel in the payload)."""
    from tests.support.procs import ServerProcess

    populate_streams(ref)
    keys = sorted(k.decode() for k in ref.keys("stream:*"))
    srv = ServerProcess(args=["--appendonly", "yes", "--appendfsync", "always"]).start()
    try:
        c = srv.client()
        for key in keys:
            assert c.restore(key, 0, ref.dump(key)) == b"OK"
        want = {key: stream_contents(ref, key) for key in keys}
        srv.kill9()
        srv.start()
        c = srv.client()
        assert {key: stream_contents(c, key) for key in keys} == want
    finally:
        srv.stop()
        srv.cleanup()
