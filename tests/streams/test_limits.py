"""docs/limits.md, streams: the biggest counts, offsets and IDs a small request can carry,
each answered as redis-server answers it and in bounded time."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import redis

from tests.fuzz.normalise import mask_times
from tests.types.conftest import port_of
from tests.types.diff import Differ

LONG_MAX = "9223372036854775807"
MAX_ID = "18446744073709551615-18446744073709551615"


@pytest.fixture
def d(r: redis.Redis, ref: redis.Redis) -> Iterator[Differ]:
    differ = Differ(port_of(r), port_of(ref))
    for side in (differ.skv, differ.ref):
        for i in range(1, 6):
            side.call("XADD", "s", f"{i}-1", "f", str(i))
        side.call("XGROUP", "CREATE", "s", "g", "0")
        side.call("XREADGROUP", "GROUP", "g", "c", "COUNT", "3", "STREAMS", "s", ">")
    yield differ
    differ.close()


CASES = [
    ("XADD", "s", "MAXLEN", "-1", "9-1", "f", "v"),
    ("XADD", "s", "MAXLEN", LONG_MAX, "9-1", "f", "v"),
    ("XADD", "s", "MAXLEN", "~", "0", "LIMIT", LONG_MAX, "9-1", "f", "v"),
    ("XADD", "s", "MAXLEN", "=", "0", "LIMIT", "1", "9-1", "f", "v"),
    ("XADD", "s", "MINID", MAX_ID, "9-1", "f", "v"),
    ("XADD", "s", MAX_ID, "f", "v"),
    ("XTRIM", "s", "MAXLEN", "~", "0", "LIMIT", "1"),
    ("XTRIM", "s", "MINID", "~", MAX_ID),
    ("XRANGE", "s", "-", "+", "COUNT", LONG_MAX),
    ("XRANGE", "s", "-", "+", "COUNT", "-1"),
    ("XREVRANGE", "s", "+", "-", "COUNT", "0"),
    ("XREAD", "COUNT", LONG_MAX, "STREAMS", "s", "0"),
    ("XREAD", "COUNT", "-" + LONG_MAX, "STREAMS", "s", "0"),
    ("XREAD", "BLOCK", "-1", "STREAMS", "s", "$"),
    ("XREADGROUP", "GROUP", "g", "c", "COUNT", LONG_MAX, "STREAMS", "s", "0"),
    ("XAUTOCLAIM", "s", "g", "c2", "0", "0", "COUNT", LONG_MAX),
    ("XAUTOCLAIM", "s", "g", "c2", "0", "0", "COUNT", "0"),
    ("XAUTOCLAIM", "s", "g", "c2", "0", "0", "COUNT", "1"),
    ("XPENDING", "s", "g", "-", "+", LONG_MAX),
    ("XPENDING", "s", "g", "-", "+", "-" + LONG_MAX),
    ("XPENDING", "s", "g", "IDLE", LONG_MAX, "-", "+", "10"),
    ("XCLAIM", "s", "g", "c2", "0", "1-1", "RETRYCOUNT", LONG_MAX, "JUSTID"),
    ("XCLAIM", "s", "g", "c2", LONG_MAX, "1-1"),
    ("XINFO", "STREAM", "s", "FULL", "COUNT", "-1"),
    ("XSETID", "s", MAX_ID, "ENTRIESADDED", LONG_MAX),
    ("XGROUP", "CREATE", "s", "g2", "$", "ENTRIESREAD", LONG_MAX),
    ("XGROUP", "CREATE", "s", "g2", "$", "ENTRIESREAD", "-2"),
]


def _idle_masked(reply: object) -> object:
    """XPENDING's extended entries carry the idle time (a clock reading) third."""
    if isinstance(reply, tuple) and reply[0] == "array" and isinstance(reply[1], list):
        return [e[1][:2] + e[1][3:] if e[0] == "array" and len(e[1]) == 4 else e for e in reply[1]]
    return reply


@pytest.mark.parametrize("args", CASES, ids=lambda a: " ".join(a)[:60])
def test_stream_bound_matches_redis(d: Differ, args: tuple[str, ...]) -> None:
    began = time.monotonic()
    for proto in (2, 3):
        got, want = d.both(*args, proto=proto)
        if args[0] == "XPENDING":
            got, want = _idle_masked(got), _idle_masked(want)
        if args[0] == "XINFO":  # consumers' seen-time and delivery times are clock readings
            got, want = mask_times(got), mask_times(want)
        assert got == want, f"{args!r} (RESP{proto}):\n  redis:    {want}\n  sentrykv: {got}"
    assert time.monotonic() - began < 5
    for proto in (2, 3):  # the state afterwards too (no clock readings in these)
        got, want = d.both("XRANGE", "s", "-", "+", proto=proto)
        assert got == want


def test_xinfo_full_count_0_is_every_entry_and_default_is_10(d: Differ) -> None:
    for side in (d.skv, d.ref):
        for i in range(10, 40):
            side.call("XADD", "s", f"{i}-1", "f", "v")
    for args, n in ((("XINFO", "STREAM", "s", "FULL", "COUNT", "0"), 35), (("XINFO", "STREAM", "s", "FULL"), 10)):
        for side in (d.skv, d.ref):
            reply = side.call(*args, proto=3)
            entries = dict(reply[1])[("bulk", b"entries")]
            assert len(entries[1]) == n
