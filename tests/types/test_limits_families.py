"""docs/limits.md, bitmaps / HyperLogLog / geo / SORT: the biggest offsets, ranges and counts a
small request can carry, answered as redis-server answers them and in bounded time.

Nothing here allocates a 512 MB bitmap (tests/types/test_bitmaps.py does that once): the
refusals at 2**32 bits / 512 MB, the clamping of ranges and counts, and amplification by
many keys or patterns are what is checked.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import redis

from tests.types.conftest import port_of
from tests.types.diff import Differ

LONG_MAX = "9223372036854775807"


@pytest.fixture
def d(r: redis.Redis, ref: redis.Redis) -> Iterator[Differ]:
    differ = Differ(port_of(r), port_of(ref))
    for side in (differ.skv, differ.ref):
        side.call("SET", "b", "foobar")
        side.call("PFADD", "p", "a", "b", "c")
        side.call("GEOADD", "g", "13.361389", "38.115556", "Palermo", "15.087269", "37.502669", "Catania",
                  "-122.27652", "37.805186", "Oakland")
        side.call("RPUSH", "l", *[str(i) for i in range(50)])
        for i in range(0, 50, 3):
            side.call("SET", f"w_{i}", str(50 - i))
    yield differ
    differ.close()



CASES = [
    ("SETBIT", "b", "4294967296", "1"), ("SETBIT", "b", "-1", "1"), ("GETBIT", "b", "4294967296"),
    ("GETBIT", "b", "4294967295"), ("SETRANGE", "b", "536870912", "x"), ("SETRANGE", "b", "536870911", "xy"),
    ("BITFIELD", "b", "SET", "u8", "4294967296", "1"), ("BITFIELD", "b", "GET", "u8", "#536870912"),
    ("BITFIELD", "missing", "GET", "i64", "4294967232"), ("BITFIELD", "b", "GET", "u64", "0"),
    ("BITFIELD", "b", "GET", "i65", "0"), ("BITFIELD", "b", "INCRBY", "u63", "0", LONG_MAX),
    ("BITFIELD_RO", "b", "GET", "u8", "4294967296"),
    ("BITCOUNT", "b", "-" + LONG_MAX, LONG_MAX), ("BITCOUNT", "b", "0", LONG_MAX, "BIT"),
    ("BITPOS", "b", "0", LONG_MAX), ("BITPOS", "b", "1", "-" + LONG_MAX, LONG_MAX, "BIT"),
    ("BITPOS", "missing", "0", "0", "-1"),
    ("PFCOUNT", *["p"] * 200), ("PFMERGE", "p2", *["p"] * 200),
    ("GEOSEARCH", "g", "FROMLONLAT", "0", "0", "BYRADIUS", "1e300", "m", "ASC", "COUNT", LONG_MAX),
    ("GEOSEARCH", "g", "FROMLONLAT", "0", "0", "BYBOX", "1e300", "1e300", "km", "DESC"),
    ("GEOSEARCH", "g", "FROMMEMBER", "Palermo", "BYRADIUS", "100", "km", "COUNT", "0"),
    ("GEOSEARCH", "g", "FROMMEMBER", "Palermo", "BYRADIUS", "100", "km", "COUNT", "-1"),
    ("GEORADIUS", "g", "15", "37", "1e300", "km", "ASC", "COUNT", LONG_MAX, "WITHDIST"),
    ("GEOSEARCHSTORE", "g2", "g", "FROMLONLAT", "0", "0", "BYRADIUS", "inf", "m", "ASC", "COUNT", LONG_MAX),
    ("SORT", "l", "LIMIT", LONG_MAX, "1"), ("SORT", "l", "LIMIT", "0", LONG_MAX),
    ("SORT", "l", "LIMIT", "-" + LONG_MAX, LONG_MAX, "DESC"),
    ("SORT", "l", "BY", "w_*", "LIMIT", "5", LONG_MAX, *["GET", "w_*"] * 50, "GET", "#"),
    ("SORT", "l", "BY", "w_*", "STORE", "dst"),
]


@pytest.mark.parametrize("args", CASES, ids=lambda a: " ".join(a)[:60])
def test_bound_matches_redis(d: Differ, args: tuple[str, ...]) -> None:
    began = time.monotonic()
    d.same(*args)
    assert time.monotonic() - began < 5
    d.same("STRLEN", "b")


def test_work_of_a_large_sort_and_many_hll_keys_is_bounded(d: Differ) -> None:
    """SORT of 10,000 elements by an external key, and PFCOUNT of 1,000 keys (each merged
    from 16,384 registers): bounded by the data, well under a second each in Redis."""
    for side in (d.skv, d.ref):
        side.call("RPUSH", "big", *[str(i) for i in range(10000)])
        side.call("PFADD", "dense", *[f"e{i}" for i in range(5000)])
    for args in (("SORT", "big", "BY", "w_*", "LIMIT", "0", "10"), ("SORT", "big", "DESC", "LIMIT", "0", "5"),
                 ("PFCOUNT", *["dense"] * 1000), ("PFMERGE", "m", *["dense", "p"] * 500)):
        began = time.monotonic()
        d.same(*args)
        assert time.monotonic() - began < 10, args
