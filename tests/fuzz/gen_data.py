"""Differential-fuzzer templates for the families that came after the first fuzzer.

Streams, bitmaps/BITFIELD, HyperLogLog, geo, SORT, DUMP/RESTORE, OBJECT/MEMORY and the
keyspace-notification setting (scripting is in gen_scripts.py).  Same rules as
generators.py: tiny alphabets so commands collide, edge values in every alphabet, replies
that legitimately differ normalised in differential.py (each with its reason there).

Determinism choices made here rather than normalised:

- Stream IDs are explicit (``ms-seq`` or ``ms-*``): an ``*`` ID is the server's clock, so
  the reply *and* the state would differ.  ``*`` appears only on ``xauto`` with
  ``MAXLEN 0`` (nothing is kept; the ID reply is normalised) and with ``NOMKSTREAM`` on a
  missing key.  Mutations of stream commands never insert ``*`` (see :data:`NO_STAR`).
- Idle-time arguments (XAUTOCLAIM/XCLAIM min-idle-time, XPENDING IDLE) are 0 or huge,
  never a value a slow run could cross.
- SETBIT/SETRANGE/BITFIELD offsets stay below 2**17 when valid: Redis allocates the
  whole bitmap (an offset of 2**32-1 is 512 MB on each server); 2**32 and beyond, negative
  and junk offsets test the refusal.
- GEOSEARCHSTORE never uses ``ANY`` (which members it keeps is the server's iteration order).
- SORT ``BY nosort`` only reads (a set's order is its hash table's); its reply is unordered.
"""

from __future__ import annotations

import random

from sentrykv_server.persistence.rdb.crc64 import crc64
from tests.fuzz.generators import (
    FLOATS,
    INTS,
    JUNK,
    KEYS,
    SMALL,
    STRINGS,
    Argv,
    key,
    pick,
    register,
    some,
)

# -- streams ----------------------------------------------------------------------------------
_X = [b"x1", b"x2"]
_IDS = [b"0-0", b"0-1", b"1-0", b"1-1", b"1-2", b"2-0", b"2-5", b"3", b"5-1", b"10-0", b"10-*", b"20-*",
        b"18446744073709551615-18446744073709551615", b"18446744073709551615-*", b"x", b"-1", b"1-x",
        b"1-18446744073709551616", b"", b"1--1"]
_RANGE_IDS = [b"-", b"+", b"0", b"1", b"1-1", b"(1-1", b"2", b"(2", b"5-1", b"(5-1", b"10", b"x", b"(",
              b"(-", b"(+", b"18446744073709551615-18446744073709551615", b"(18446744073709551615-18446744073709551615"]
_GROUPS = [b"g1", b"g2", b"nog"]
_CONSUMERS = [b"c1", b"c2", b"c3"]
_FIELDS = [b"f", b"g", b"a", b"1", b""]
_COUNTS = [b"0", b"1", b"2", b"3", b"-1", b"100", b"x", b"9223372036854775807", b"-9223372036854775808"]


def _pairs(r: random.Random) -> list[bytes]:
    return [x for _ in range(r.randint(1, 3)) for x in (pick(r, _FIELDS), pick(r, STRINGS))]


def _trim(r: random.Random) -> list[bytes]:
    strategy = pick(r, [b"MAXLEN", b"MINID", b"maxlen"])
    exact = r.choice([[], [b"="], [b"~"]])
    threshold = pick(r, _COUNTS) if strategy != b"MINID" else pick(r, _IDS[:10])
    limit = r.choice([[], [], [b"LIMIT", pick(r, [b"0", b"1", b"10", b"-1", b"x"])]])
    return [strategy, *exact, threshold, *limit]


def _xadd(r: random.Random) -> Argv:
    opts: list[bytes] = []
    if r.random() < 0.15:
        opts.append(b"NOMKSTREAM")
    if r.random() < 0.25:
        opts += _trim(r)
    return (b"XADD", key(r, _X), *opts, pick(r, _IDS), *_pairs(r))


def _xread(r: random.Random) -> Argv:
    keys = [key(r, _X) for _ in range(r.randint(1, 2))]
    ids = [pick(r, [b"0", b"0-0", b"1-1", b"5", b"$", b"+", b"x"]) for _ in keys]
    count = r.choice([[], [b"COUNT", pick(r, _COUNTS)]])
    return (b"XREAD", *count, b"STREAMS", *keys, *ids)


def _xreadgroup(r: random.Random) -> Argv:
    keys = [key(r, _X) for _ in range(r.randint(1, 2))]
    ids = [pick(r, [b">", b">", b"0", b"1-1", b"$", b"x"]) for _ in keys]
    opts = r.choice([[], [b"COUNT", pick(r, _COUNTS)], [b"NOACK"], [b"COUNT", b"1", b"NOACK"]])
    return (b"XREADGROUP", b"GROUP", pick(r, _GROUPS), pick(r, _CONSUMERS), *opts, b"STREAMS", *keys, *ids)


def _xgroup(r: random.Random) -> Argv:
    k = key(r, _X)
    sub = r.randrange(7)
    if sub == 0:
        return (b"XGROUP", b"CREATE", k, pick(r, _GROUPS), pick(r, [b"$", b"0", b"1-1", b"x", b"5"]),
                *r.choice([[], [b"MKSTREAM"], [b"ENTRIESREAD", pick(r, _COUNTS)], [b"MKSTREAM", b"ENTRIESREAD", b"2"]]))
    if sub == 1:
        return (b"XGROUP", b"SETID", k, pick(r, _GROUPS), pick(r, [b"$", b"0", b"1-1", b"x"]),
                *r.choice([[], [b"ENTRIESREAD", pick(r, _COUNTS)]]))
    if sub == 2:
        return (b"XGROUP", b"DESTROY", k, pick(r, _GROUPS))
    if sub == 3:
        return (b"XGROUP", b"CREATECONSUMER", k, pick(r, _GROUPS), pick(r, _CONSUMERS))
    if sub == 4:
        return (b"XGROUP", b"DELCONSUMER", k, pick(r, _GROUPS), pick(r, _CONSUMERS))
    if sub == 5:
        return (b"XGROUP", pick(r, [b"HELP", b"NOSUCH", b"create"]))
    return (b"XGROUP", b"CREATE", k, pick(r, _GROUPS), b"0")


def _xpending(r: random.Random) -> Argv:
    head = (b"XPENDING", key(r, _X), pick(r, _GROUPS))
    if r.random() < 0.4:
        return head
    idle = r.choice([[], [b"IDLE", pick(r, [b"0", b"99999999", b"-1", b"x"])]])
    tail = r.choice([[], [pick(r, _CONSUMERS)]])
    return (*head, *idle, pick(r, _RANGE_IDS), pick(r, _RANGE_IDS), pick(r, _COUNTS), *tail)


def _xclaim(r: random.Random) -> Argv:
    ids = [pick(r, _IDS[:12]) for _ in range(r.randint(1, 3))]
    opts: list[bytes] = []
    for _ in range(r.randint(0, 2)):
        opts += r.choice([[b"JUSTID"], [b"FORCE"], [b"RETRYCOUNT", pick(r, _COUNTS)], [b"IDLE", pick(r, [b"0", b"-5", b"x"])],
                          [b"LASTID", pick(r, _IDS[:8])], [b"TIME", pick(r, [b"0", b"x"])]])
    return (b"XCLAIM", key(r, _X), pick(r, _GROUPS), pick(r, _CONSUMERS), pick(r, [b"0", b"0", b"99999999999", b"-1", b"x"]),
            *ids, *opts)


register("streams", [
    _xadd, _xadd, _xadd,
    lambda r: (b"XADD", b"xauto", b"MAXLEN", b"0", b"*", *_pairs(r)),
    lambda r: (b"XADD", b"nostream", b"NOMKSTREAM", b"*", *_pairs(r)),
    lambda r: (b"XLEN", key(r, _X)),
    lambda r: (pick(r, [b"XRANGE", b"XREVRANGE"]), key(r, _X), pick(r, _RANGE_IDS), pick(r, _RANGE_IDS),
               *r.choice([[], [b"COUNT", pick(r, _COUNTS)]])),
    lambda r: (b"XDEL", key(r, _X), *some(r, _IDS[:12], 1, 3)),
    lambda r: (b"XTRIM", key(r, _X), *_trim(r)),
    _xread, _xreadgroup, _xreadgroup, _xgroup, _xgroup,
    lambda r: (b"XACK", key(r, _X), pick(r, _GROUPS), *some(r, _IDS[:12], 1, 3)),
    _xpending, _xclaim,
    lambda r: (b"XAUTOCLAIM", key(r, _X), pick(r, _GROUPS), pick(r, _CONSUMERS), pick(r, [b"0", b"99999999999", b"-1"]),
               pick(r, [b"0", b"0-0", b"1-1", b"(1", b"x", b"-", b"+"]),
               *r.choice([[], [b"COUNT", pick(r, _COUNTS)], [b"JUSTID"], [b"COUNT", b"1", b"JUSTID"]])),
    lambda r: (b"XSETID", key(r, _X), pick(r, _IDS[:12]),
               *r.choice([[], [b"ENTRIESADDED", pick(r, _COUNTS)], [b"MAXDELETEDID", pick(r, _IDS[:8])],
                          [b"ENTRIESADDED", b"100", b"MAXDELETEDID", b"1-1"]])),
    lambda r: (b"XINFO", b"STREAM", key(r, _X), *r.choice([[], [b"FULL"], [b"FULL", b"COUNT", pick(r, _COUNTS)]])),
    lambda r: (b"XINFO", pick(r, [b"GROUPS", b"HELP"]), key(r, _X)),
    lambda r: (b"XINFO", b"CONSUMERS", key(r, _X), pick(r, _GROUPS)),
    lambda r: (b"XREAD", b"BLOCK", b"5", b"STREAMS", b"nostream", b"$"),
    lambda r: (b"TYPE", key(r, _X)),
], weight=3)

# -- bitmaps ----------------------------------------------------------------------------------
_B = [b"b1", b"b2", b"str"]
_BITOFFS = [b"0", b"1", b"7", b"8", b"15", b"100", b"1000", b"65535", b"131071", b"-1", b"x", b"4294967295x",
            b"4294967296", b"9223372036854775807", b"", b"1.5"]
_BYTEIDX = [b"0", b"1", b"-1", b"-2", b"2", b"5", b"100", b"-100", b"9223372036854775807", b"-9223372036854775808",
            b"x", b"9223372036854775808"]
_BF_TYPES = [b"u1", b"u8", b"i8", b"u16", b"i16", b"i32", b"u63", b"i64", b"u64", b"i65", b"u0", b"x8", b"I8", b"i"]
_BF_OFFS = [b"0", b"1", b"5", b"#0", b"#1", b"#3", b"100", b"-1", b"#-1", b"x", b"#", b"4294967296", b"131000"]


def _bitfield(r: random.Random, ro: bool = False) -> Argv:
    ops: list[bytes] = []
    for _ in range(r.randint(1, 3)):
        kind = 0 if ro else r.randrange(4)
        if kind == 0:
            ops += [b"GET", pick(r, _BF_TYPES), pick(r, _BF_OFFS)]
        elif kind == 1:
            ops += [b"SET", pick(r, _BF_TYPES), pick(r, _BF_OFFS), pick(r, INTS)]
        elif kind == 2:
            ops += [b"INCRBY", pick(r, _BF_TYPES), pick(r, _BF_OFFS), pick(r, INTS)]
        else:
            ops += [b"OVERFLOW", pick(r, [b"WRAP", b"SAT", b"FAIL", b"fail", b"NONE"])]
    return (b"BITFIELD_RO" if ro else b"BITFIELD", key(r, _B), *ops)


register("bitmaps", [
    lambda r: (b"SETBIT", key(r, _B), pick(r, _BITOFFS), pick(r, [b"0", b"1", b"1", b"2", b"-1", b"x"])),
    lambda r: (b"GETBIT", key(r, _B), pick(r, _BITOFFS)),
    lambda r: (b"BITCOUNT", key(r, _B), *r.choice([[], [pick(r, _BYTEIDX), pick(r, _BYTEIDX)],
                                                   [pick(r, _BYTEIDX), pick(r, _BYTEIDX), pick(r, [b"BIT", b"BYTE", b"bit", b"x"])],
                                                   [pick(r, _BYTEIDX)]])),
    lambda r: (b"BITPOS", key(r, _B), pick(r, [b"0", b"1", b"2", b"x"]),
               *r.choice([[], [pick(r, _BYTEIDX)], [pick(r, _BYTEIDX), pick(r, _BYTEIDX)],
                          [pick(r, _BYTEIDX), pick(r, _BYTEIDX), pick(r, [b"BIT", b"BYTE", b"x"])]])),
    lambda r: (b"BITOP", pick(r, [b"AND", b"OR", b"XOR", b"NOT", b"and", b"NAND"]), key(r, _B), *some(r, _B + [b"nokey", b"h1"], 1, 3)),
    _bitfield, _bitfield,
    lambda r: _bitfield(r, ro=True),
    lambda r: (b"SETRANGE", key(r, _B), pick(r, [b"0", b"3", b"17", b"1000", b"536870912", b"-1"]),
               pick(r, [b"", b"\xff", b"\x00\x01", b"ab"])),
    lambda r: (b"SET", key(r, _B), pick(r, [b"", b"\xff\xf0\x00", b"foobar", b"\x00\x00\x01", b"1"])),
    lambda r: (b"GET", key(r, _B)),
], weight=2)

# -- HyperLogLog ------------------------------------------------------------------------------
_P = [b"p1", b"p2", b"p3"]
_ELEMS = [b"a", b"b", b"c", b"1", b"2", b"", b"foo", b"bar", b"\x00", b"LLLLLLLLLLLLLLLLLLLL"]
_HLL_GARBAGE = [b"HYLL", b"HYLL\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00",
                b"HYLL\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x7f\xff",
                b"HYLL\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x40\x00\x7f\xff\x7f\xfe",
                b"HYLL\x02\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00", b"HYLM", b"notanhll"]


def _pfadd_many(r: random.Random) -> Argv:
    """Enough distinct elements to cross the sparse->dense conversion now and then."""
    base = r.randrange(1000)
    return (b"PFADD", key(r, _P), *[b"e%d" % (base + i) for i in range(r.choice([5, 50, 300]))])


register("hyperloglog", [
    lambda r: (b"PFADD", key(r, _P), *some(r, _ELEMS, 0, 4)),
    _pfadd_many,
    lambda r: (b"PFCOUNT", *[key(r, _P) for _ in range(r.randint(1, 3))]),
    lambda r: (b"PFMERGE", key(r, _P), *[key(r, _P) for _ in range(r.randint(0, 3))]),
    lambda r: (b"PFDEBUG", pick(r, [b"GETREG", b"ENCODING", b"TODENSE", b"DECODE", b"NOSUCH"]), key(r, _P)),
    lambda r: (b"SET", pick(r, _P), pick(r, _HLL_GARBAGE)),
    lambda r: (b"SETRANGE", pick(r, _P), pick(r, [b"4", b"15", b"16", b"20", b"100"]), pick(r, [b"\x01", b"\xff\xff", b"\x00"])),
    # Appended bytes are whole opcodes: a lone XZERO head byte (0x40-0x7f, e.g. "x") at the end
    # makes Redis read its string's NUL terminator as the opcode's second byte, and PFADD then
    # rewrites part of the value before answering INVALIDOBJ; that partial rewrite is not
    # reproduced byte for byte (docs/fuzzing.md, known differences).
    lambda r: (b"APPEND", pick(r, _P), pick(r, [b"\x01", b"\xff" * 20])),
], weight=2)

# -- geo --------------------------------------------------------------------------------------
_G = [b"g1", b"g2"]
_LONS = [b"0", b"13.361389", b"15.087269", b"-180", b"180", b"180.1", b"-122.27652", b"x", b"nan", b"1e3", b"inf"]
_LATS = [b"0", b"38.115556", b"37.502669", b"85.05112878", b"85.06", b"-85.05112878", b"37.8", b"x", b"-90"]
_GMEMBERS = [b"Palermo", b"Catania", b"a", b"b", b"edge", b"nosuch"]
_UNITS = [b"m", b"km", b"mi", b"ft", b"KM", b"yd"]
_RADII = [b"0", b"1", b"100", b"200", b"5000", b"20000000", b"-1", b"x", b"inf"]


def _geoadd(r: random.Random) -> Argv:
    opts = r.choice([[], [], [b"NX"], [b"XX"], [b"CH"], [b"NX", b"XX"], [b"XX", b"CH"]])
    triples = [x for _ in range(r.randint(1, 3)) for x in (pick(r, _LONS), pick(r, _LATS), pick(r, _GMEMBERS))]
    return (b"GEOADD", key(r, _G), *opts, *triples)


def _geo_shape(r: random.Random) -> list[bytes]:
    center = r.choice([[b"FROMMEMBER", pick(r, _GMEMBERS)], [b"FROMLONLAT", pick(r, _LONS), pick(r, _LATS)]])
    shape = r.choice([[b"BYRADIUS", pick(r, _RADII), pick(r, _UNITS)],
                      [b"BYBOX", pick(r, _RADII), pick(r, _RADII), pick(r, _UNITS)]])
    return [*center, *shape]


def _geosearch(r: random.Random, store: bool = False) -> Argv:
    opts: list[bytes] = []
    order = r.choice([[], [b"ASC"], [b"DESC"]])
    count = r.choice([[], [b"COUNT", pick(r, [b"1", b"2", b"0", b"-1", b"x"])]])
    if count and not store and r.random() < 0.3:
        count.append(b"ANY")
    opts = [*order, *count]
    if store:
        opts += r.choice([[], [b"STOREDIST"]])
        return (b"GEOSEARCHSTORE", key(r, _G), key(r, _G), *_geo_shape(r), *opts)
    opts += r.choice([[], [b"WITHCOORD"], [b"WITHDIST"], [b"WITHHASH"], [b"WITHCOORD", b"WITHDIST", b"WITHHASH"]])
    return (b"GEOSEARCH", key(r, _G), *_geo_shape(r), *opts)


register("geo", [
    _geoadd, _geoadd,
    lambda r: (b"GEOPOS", key(r, _G), *some(r, _GMEMBERS, 0, 3)),
    lambda r: (b"GEODIST", key(r, _G), pick(r, _GMEMBERS), pick(r, _GMEMBERS), *r.choice([[], [pick(r, _UNITS)]])),
    lambda r: (b"GEOHASH", key(r, _G), *some(r, _GMEMBERS, 0, 3)),
    _geosearch, _geosearch,
    lambda r: _geosearch(r, store=True),
    lambda r: (pick(r, [b"GEORADIUS", b"GEORADIUS_RO"]), key(r, _G), pick(r, _LONS), pick(r, _LATS), pick(r, _RADII),
               pick(r, _UNITS), *r.choice([[], [b"ASC"], [b"DESC", b"COUNT", b"2"], [b"WITHDIST", b"ASC"]])),
    lambda r: (pick(r, [b"GEORADIUSBYMEMBER", b"GEORADIUSBYMEMBER_RO"]), key(r, _G), pick(r, _GMEMBERS),
               pick(r, _RADII), pick(r, _UNITS), *r.choice([[], [b"ASC", b"WITHCOORD"], [b"COUNT", b"1"],
                                                            [b"STORE", b"g2"], [b"STOREDIST", b"g1"]])),
    lambda r: (b"ZRANGE", key(r, _G), b"0", b"-1", b"WITHSCORES"),
])

# -- SORT -------------------------------------------------------------------------------------
# SORT reads keys of its own (only this family writes them), so it knows their types: a set
# ("so_s", and a sorted set "so_z", which Redis loads from its dict) comes in hash-table order (Redis's hash seed is random per process), so its
# replies are compared as multisets where the order depends on it (tests/fuzz/normalise.py),
# and those two are never STOREd with ALPHA or BY (equal weights, or "" and "\0" under
# ALPHA's C-string compare, keep the load order, which would put the hash-table order into
# the stored list).
_SO = [b"so_l", b"so_z", b"so_s", b"so_str", b"so_none"]  # so_none: never written
_SOVALS = [b"1", b"2", b"10", b"-1", b"3.5", b"a", b"b", b"B", b"", b"007", b"1e1", b"inf", b"nan", b"\xc3\xa9"]
_BY = [b"nosort", b"w_*", b"h*->a", b"k*", b"nosuch_*", b"*", b"h1->a", b"w_*->x", b"so_h_*->f"]
_GET = [b"#", b"w_*", b"h*->a", b"so_h_*->f", b"*->b", b"nosuch"]


def _sort(r: random.Random, ro: bool = False) -> Argv:
    src = pick(r, _SO)
    opts: list[bytes] = []
    by = pick(r, _BY) if r.random() < 0.4 else None
    if by is not None:
        opts += [b"BY", by]
    if r.random() < 0.3:
        opts += [b"LIMIT", pick(r, [b"0", b"1", b"-1", b"2", b"x"]), pick(r, [b"1", b"2", b"-1", b"0", b"10"])]
    for _ in range(r.choice([0, 0, 1, 2])):
        opts += [b"GET", pick(r, _GET)]
    opts += r.choice([[], [b"ASC"], [b"DESC"]])
    alpha = r.random() < 0.4
    if alpha:
        opts.append(b"ALPHA")
    if not ro and r.random() < 0.25 and by != b"nosort" and not (src in (b"so_s", b"so_z") and (alpha or by)):
        opts += [b"STORE", pick(r, [b"so_l", b"sorted", b"so_z"])]
    return (b"SORT_RO" if ro else b"SORT", src, *opts)


register("sort", [
    _sort, _sort, lambda r: _sort(r, ro=True),
    lambda r: (b"RPUSH", b"so_l", *some(r, _SOVALS, 1, 3)),
    lambda r: (b"SADD", b"so_s", *some(r, _SOVALS, 1, 3)),
    lambda r: (b"ZADD", b"so_z", pick(r, [b"1", b"2", b"0", b"-1"]), pick(r, _SOVALS)),
    lambda r: (b"LPOP", b"so_l"),
    lambda r: (b"SREM", b"so_s", pick(r, _SOVALS)),
    lambda r: (b"SET", b"so_str", pick(r, _SOVALS)),
    lambda r: (b"HSET", pick(r, [b"so_h_1", b"so_h_a", b"so_h_b"]), pick(r, [b"f", b"g"]), pick(r, _SOVALS)),
    lambda r: (b"SET", pick(r, [b"w_a", b"w_b", b"w_1", b"w_10", b"w_c", b"w_B"]), pick(r, [b"1", b"-2", b"3.5", b"x", b"10", b""])),
    lambda r: (b"LRANGE", b"sorted", b"0", b"-1"),
    lambda r: (b"DEL", pick(r, [b"so_l", b"so_s", b"so_z", b"sorted"])),
])

# -- DUMP / RESTORE ---------------------------------------------------------------------------
# Payloads redis-server 7.0.15 produced (DUMP of each type and encoding), written once so
# RESTORE is tested without trusting our own DUMP; some with a corrupted body or footer.
_PAYLOADS = [bytes.fromhex(h) for h in (
    "0003666f6f0a00734939db4dc1ba97",  # string "foo"
    "00c07b0a0048e253e1007a67b9",  # int 123
    "00c3094064017878e057000178780a005db7f663bb08625f",  # LZF-compressed 100 x
    "12010210100000000300816102816202816302ff0a00c818b90c9533529e",  # list a b c (quicklist of listpacks)
    "0b0e02000000030000000100020003000a00a5025ce26d6e4d1b",  # intset 1 2 3
    "0202016201610a0075d99d835ef85f65",  # set a b (hash table)
    "111111000000040081610201018162020201ff0a00ba07f224a9d28f55",  # zset listpack a=1 b=2
    "100d0d0000000200816102817802ff0a00239946e67c033f08",  # hash listpack a=x
)]
# A stream (1-1 f=v, group g, one pending entry for consumer c).
STREAM_PAYLOAD = bytes.fromhex(
    "130110000000000000000100000000000000011d1d0000000a0001010001010181660200010201000100018176020401ff01"
    "010101010000010101670101010100000000000000010000000000000001d306d837a201000001010163d306d837a20100"
    "0001000000000000000100000000000000010a00b032179f63566d69")
_PAYLOADS.append(STREAM_PAYLOAD)
_VALID = len(_PAYLOADS)


def _corrupt(rnd: random.Random, payload: bytes) -> bytes:
    """A byte of the body changed and the footer's CRC64 fixed: the decoder, not the checksum,
    must refuse it (both servers run with sanitize-dump-payload yes)."""
    body = bytearray(payload[:-10])
    pos = rnd.randrange(len(body))
    body[pos] = rnd.choice([0, 1, 0x7F, 0x80, 0xFE, 0xFF, body[pos] ^ 1])
    head = bytes(body) + payload[-10:-8]
    return head + crc64(head, 0).to_bytes(8, "little")


_rnd = random.Random(13)
_PAYLOADS += [_corrupt(_rnd, _PAYLOADS[i % _VALID]) for i in range(3 * _VALID)]
_PAYLOADS += [
    _PAYLOADS[0][:-1] + bytes([_PAYLOADS[0][-1] ^ 1]),  # checksum off by one bit
    _PAYLOADS[0][:3 + 1] + b"\x0b" + _PAYLOADS[0][5:],  # RDB version 11 (newer than 7.0's 10)
    b"", b"\x00", b"garbage", b"\x00\x03foo",
]


def _restore(r: random.Random) -> Argv:
    opts: list[bytes] = []
    for _ in range(r.randint(0, 2)):
        opts += r.choice([[b"REPLACE"], [b"ABSTTL"], [b"IDLETIME", pick(r, [b"0", b"10", b"-1", b"x"])],
                          [b"FREQ", pick(r, [b"0", b"255", b"256", b"-1"])]])
    ttl = pick(r, [b"0", b"0", b"0", b"100000000", b"-1", b"x", b"4102444800000"])
    if ttl == b"4102444800000":
        opts.append(b"ABSTTL")
    return (b"RESTORE", key(r, [b"r1", b"r2"]), ttl, pick(r, _PAYLOADS), *opts)


register("dump", [
    _restore, _restore,
    lambda r: (b"DUMP", pick(r, [b"r1", b"r2"])),  # only RESTORE writes these: never a stream (see above)
    lambda r: (b"TYPE", key(r, [b"r1", b"r2"])),
    lambda r: (b"OBJECT", b"ENCODING", key(r, [b"r1", b"r2"])),
    lambda r: (b"RESTORE", key(r), b"0", pick(r, _PAYLOADS[:_VALID]), *r.choice([[], [b"REPLACE"]])),
])

# -- OBJECT / MEMORY / notifications ----------------------------------------------------------
register("object", [
    lambda r: (b"OBJECT", pick(r, [b"ENCODING", b"REFCOUNT", b"IDLETIME", b"FREQ", b"encoding", b"NOSUCH"]), key(r)),
    lambda r: (b"OBJECT", pick(r, [b"HELP", b"help"]), *r.choice([[], [b"x"]])),
    lambda r: (b"MEMORY", b"USAGE", key(r), *r.choice([[], [b"SAMPLES", pick(r, [b"0", b"5", b"-1", b"x"])], [b"SAMPLES"]])),
    lambda r: (b"MEMORY", pick(r, [b"HELP", b"NOSUCH", b"usage"]), *r.choice([[], [b"x"]])),
])

_NOTIFY = [b"", b"KEA", b"Kx", b"E$", b"AKE", b"Elgshz", b"Kt", b"Km", b"Kd", b"n", b"KEA$lshzxegtmd", b"Q", b"xK",
           b"KEn"]
register("notify", [
    lambda r: (b"CONFIG", b"SET", b"notify-keyspace-events", pick(r, _NOTIFY)),
    lambda r: (b"CONFIG", b"GET", b"notify-keyspace-events"),
])

# Stream commands are never mutated with these: an inserted "*" would be an ID from the clock.
NO_STAR = [j for j in JUNK if j != b"*"] + [b"+", b"-", b"$", b">", b"0-0"]
STREAM_COMMANDS = frozenset({b"XADD", b"XTRIM", b"XSETID", b"XGROUP", b"XCLAIM", b"XAUTOCLAIM", b"XDEL", b"XACK",
                             b"XREAD", b"XREADGROUP", b"XRANGE", b"XREVRANGE", b"XPENDING", b"XINFO", b"XLEN"})
__all__ = ["NO_STAR", "STREAM_COMMANDS", "FLOATS", "SMALL", "KEYS"]
