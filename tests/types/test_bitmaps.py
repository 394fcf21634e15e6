"""Bitmap commands against redis-server: SETBIT GETBIT BITCOUNT BITPOS BITOP BITFIELD BITFIELD_RO.

Scripted edge cases (offset limits, negative ranges, BIT/BYTE units, every
BITFIELD overflow mode at i64/u63, #offsets, wrong types, argument errors) in
RESP2 and RESP3, generated sequences over a small alphabet of keys and offsets,
and the cost of whole-buffer operations on a large value.
"""

from __future__ import annotations

import time

import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.types.diff import Differ
from tests.types.scripted import run_script

SETTINGS = settings(max_examples=120, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

BASICS = """
SETBIT k 7 1
SETBIT k 7 1
SETBIT k 7 0
SETBIT k 100 1
GET k
SETBIT k -1 1
SETBIT k 4294967296 1
SETBIT k 4294967295 2
SETBIT k x 1
SETBIT k 1 x
SETBIT k 1 -1
GETBIT k 100
GETBIT k 7
GETBIT k 1000000
GETBIT nokey 1
GETBIT k -1
SET s foo
BITCOUNT s
BITCOUNT s 0 0
BITCOUNT s 1 1
BITCOUNT s 1 -1
BITCOUNT s -2 -1
BITCOUNT s -1 -2
BITCOUNT s 5 30 BIT
BITCOUNT s 5 30 bit
BITCOUNT s 5 30 BYTE
BITCOUNT s 5 30 x
BITCOUNT s 5
BITCOUNT s 1 2 3 4
BITCOUNT nokey 1
BITCOUNT s a b
BITCOUNT s 0 -1 BIT
BITCOUNT s -7 -3 BIT
BITCOUNT s 9223372036854775807 -9223372036854775808
BITPOS s 1
BITPOS s 0
BITPOS s 2
BITPOS s 1 1
BITPOS s 0 1 2
BITPOS s 1 2 -1 BIT
BITPOS s 0 7 15 BIT
BITPOS s 1 7 15 BIT
BITPOS s 0 20 23 BIT
BITPOS s 1 -5 -1 BIT
BITPOS s 0 -5 -1 bit
BITPOS s 1 5 4
BITPOS s 1 0 1 x
BITPOS s 1 a
BITPOS nokey 1
BITPOS nokey 0
SET ff "\xff\xff\xff"
BITPOS ff 0
BITPOS ff 0 0 -1
BITPOS ff 0 0
BITPOS ff 0 1 BIT
BITPOS ff 0 3 20 BIT
SET zz "\x00\x00\x00"
BITPOS zz 1
BITPOS zz 0 1
BITPOS zz 1 3 20 BIT
BITPOS zz 0 9 BIT
BITOP AND dest s ff
GET dest
BITOP OR dest s zz nokey
GET dest
BITOP XOR dest s ff zz
GET dest
BITOP NOT dest s
GET dest
BITOP NOT dest s ff
BITOP foo dest s
BITOP AND dest nokey nokey2
EXISTS dest
LPUSH lst a
BITOP AND dest s lst
BITCOUNT lst
SETBIT lst 1 1
GETBIT lst 1
BITOP AND lst s
TYPE lst
SET num 12345
BITCOUNT num
SETBIT num 3 1
GET num
"""

BITFIELDS = """
BITFIELD bf SET i8 0 -100 GET i8 0 GET u8 0 INCRBY i8 0 50 INCRBY i8 0 100
BITFIELD bf OVERFLOW SAT INCRBY i8 0 100 INCRBY i8 0 -1000 OVERFLOW FAIL INCRBY i8 0 1000 GET i8 0
BITFIELD bf OVERFLOW WRAP INCRBY u4 3 20 GET u4 3 OVERFLOW SAT INCRBY u4 3 20 INCRBY u4 3 -30 OVERFLOW FAIL INCRBY u4 3 -1 INCRBY u4 3 1
GET bf
BITFIELD bf SET u8 0 -1 OVERFLOW SAT SET u8 8 -1 SET u8 16 300 OVERFLOW FAIL SET u8 24 256 SET i8 32 128 SET i8 40 -129
GET bf
BITFIELD bf SET i64 0 -1 GET i64 0 GET u63 0 INCRBY i64 0 9223372036854775807 INCRBY i64 0 1 INCRBY i64 0 -9223372036854775808
BITFIELD bf OVERFLOW SAT SET i64 64 9223372036854775807 INCRBY i64 64 1 INCRBY i64 64 9223372036854775807 SET i64 64 -9223372036854775808 INCRBY i64 64 -1 INCRBY i64 64 -9223372036854775808
BITFIELD bf OVERFLOW FAIL SET i64 64 9223372036854775807 INCRBY i64 64 1 INCRBY i64 64 -1 SET i64 64 -9223372036854775808 INCRBY i64 64 -1 INCRBY i64 64 9223372036854775807
BITFIELD bf OVERFLOW WRAP SET u63 0 9223372036854775807 INCRBY u63 0 1 INCRBY u63 0 -1 OVERFLOW SAT INCRBY u63 0 9223372036854775807 INCRBY u63 0 -9223372036854775808 OVERFLOW FAIL INCRBY u63 0 1
BITFIELD bf OVERFLOW SAT SET u63 0 -1 SET u63 63 -5 GET u63 63 OVERFLOW WRAP SET u63 0 -1 GET u63 0
BITFIELD bf GET u64 0
BITFIELD bf GET i65 0
BITFIELD bf GET i0 0
BITFIELD bf GET x8 0
BITFIELD bf GET u8
BITFIELD bf GET u8 -1
BITFIELD bf GET u8 #1 GET u8 #2 SET u8 #3 7 GET i16 #1
BITFIELD bf GET u8 #-1
BITFIELD bf GET u8 #
BITFIELD bf GET u8 #536870911
BITFIELD bf GET u8 #536870912
BITFIELD bf GET u8 4294967295
BITFIELD bf GET u8 4294967296
BITFIELD bf GET i64 #67108863
BITFIELD bf GET i64 #9223372036854775807
BITFIELD bf OVERFLOW foo GET u8 0
BITFIELD bf OVERFLOW
BITFIELD bf FOO
BITFIELD bf SET u8 0
BITFIELD bf SET u8 0 x
BITFIELD bf INCRBY u8 0 1.5
BITFIELD bf
BITFIELD nokey GET u8 0 GET i32 100
EXISTS nokey
BITFIELD newk OVERFLOW FAIL INCRBY u2 10 10
EXISTS newk
GET newk
BITFIELD_RO bf GET u8 0 GET i16 3
BITFIELD_RO bf SET u8 0 1
BITFIELD_RO bf GET u8 0 INCRBY u8 0 1
BITFIELD_RO bf
BITFIELD_RO bf GET u99 0
BITFIELD_RO nokey GET u8 0
LPUSH lst a
BITFIELD lst GET u8 0
BITFIELD lst SET u8 0 1
BITFIELD_RO lst GET u8 0
BITFIELD lst FOO
BITFIELD bf SET u8 0 255 SET u8 0 255
GET bf
BITFIELD bf GET u8 0 OVERFLOW
"""


def test_bit_commands_match_redis(differ: Differ) -> None:
    run_script(differ, BASICS)


def test_bitfield_matches_redis(differ: Differ) -> None:
    run_script(differ, BITFIELDS)


KEYS = st.sampled_from([b"a", b"b", b"c", b"str"])
OFFSETS = st.sampled_from([b"0", b"1", b"7", b"8", b"15", b"63", b"64", b"100", b"-1", b"x", b"#1", b"#3"])
INDEXES = st.sampled_from([b"0", b"1", b"2", b"-1", b"-2", b"-3", b"5", b"10", b"-100", b"100"])
TYPES = st.sampled_from([b"u1", b"u3", b"u8", b"i8", b"i5", b"u16", b"i32", b"u63", b"i64", b"u64", b"x8"])
NUMBERS = st.sampled_from([b"0", b"1", b"-1", b"7", b"100", b"-128", b"255", b"9223372036854775807",
                           b"-9223372036854775808", b"x"])
UNITS = st.sampled_from([[], [b"BIT"], [b"BYTE"]])


def _bitfield_ops() -> st.SearchStrategy[list[bytes]]:
    op = st.one_of(
        st.tuples(st.just(b"GET"), TYPES, OFFSETS),
        st.tuples(st.just(b"SET"), TYPES, OFFSETS, NUMBERS),
        st.tuples(st.just(b"INCRBY"), TYPES, OFFSETS, NUMBERS),
        st.tuples(st.just(b"OVERFLOW"), st.sampled_from([b"WRAP", b"SAT", b"FAIL"])),
    )
    return st.lists(op, min_size=1, max_size=4).map(lambda ops: [p for o in ops for p in o])


COMMANDS = st.one_of(
    st.tuples(st.just(b"SETBIT"), KEYS, OFFSETS, st.sampled_from([b"0", b"1", b"2"])),
    st.tuples(st.just(b"SETBIT"), KEYS, OFFSETS, st.sampled_from([b"1"])),
    st.tuples(st.just(b"GETBIT"), KEYS, OFFSETS),
    st.builds(lambda k, a, b, u: (b"BITCOUNT", k, a, b, *u), KEYS, INDEXES, INDEXES, UNITS),
    st.tuples(st.just(b"BITCOUNT"), KEYS),
    st.builds(lambda k, bit, a, b, u: (b"BITPOS", k, bit, a, b, *u), KEYS, st.sampled_from([b"0", b"1"]),
              INDEXES, INDEXES, UNITS),
    st.builds(lambda k, bit, a: (b"BITPOS", k, bit, a), KEYS, st.sampled_from([b"0", b"1"]), INDEXES),
    st.builds(lambda op, d, srcs: (b"BITOP", op, d, *srcs), st.sampled_from([b"AND", b"OR", b"XOR", b"NOT"]),
              KEYS, st.lists(KEYS, min_size=1, max_size=3)),
    st.builds(lambda k, ops: (b"BITFIELD", k, *ops), KEYS, _bitfield_ops()),
    st.builds(lambda k, ops: (b"BITFIELD_RO", k, *ops), KEYS, _bitfield_ops()),
    st.tuples(st.just(b"SET"), KEYS, st.sampled_from([b"", b"\xff", b"\x00\x01", b"foobar", b"12345"])),
    st.tuples(st.just(b"GET"), KEYS),
)


@SETTINGS
@given(seq=st.lists(st.tuples(COMMANDS, st.sampled_from([2, 3])), min_size=5, max_size=30))
def test_generated_bitmap_sequences_match_redis(differ: Differ, seq: list[tuple[tuple[bytes, ...], int]]) -> None:
    differ.reset()
    differ.run((b"RPUSH", b"lst", b"x"))
    for cmd, proto in seq:
        differ.run(cmd, proto)
    differ.compare_state(string_encoding=False)


def test_offsets_up_to_the_limit_and_large_values(r: redis.Redis, ref: redis.Redis) -> None:
    """The last addressable bit of a 512 MB string, and whole-buffer speed on 16 MB."""
    for client in (r, ref):
        assert client.setbit("big", 4294967295, 1) == 0
        assert client.strlen("big") == 536870912
        assert client.bitcount("big") == 1
        assert client.bitpos("big", 1) == 4294967295
        assert client.execute_command("BITFIELD", "big", "GET", "u8", "4294967288") == [1]
        client.delete("big")
    value = bytes(range(256)) * (16 * 4096)  # 16 MB
    results = []
    for client in (r, ref):
        client.set("v16", value)
        began = time.perf_counter()
        results.append([
            client.bitcount("v16"),
            client.bitop("NOT", "n16", "v16"),
            client.bitop("XOR", "x16", "v16", "n16", "missing"),
            client.bitpos("n16", 0, 1),
            client.bitpos("x16", 0),
            client.bitcount("v16", 1000, -1000, "BIT"),
            client.bitpos("v16", 1, -3, -1, "BYTE"),
            client.getbit("x16", 8 * len(value) - 1),
        ])
        elapsed = time.perf_counter() - began
        if client is r:
            # Whole-buffer operations: a per-bit Python loop would take minutes here.
            assert elapsed < 20, elapsed
        client.delete("v16", "n16", "x16")
    assert results[0] == results[1]
