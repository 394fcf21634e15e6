"""Stream defects the differential fuzzer found (tests/fuzz/gen_data.py), each against redis-server.

Every case runs on both servers over RESP2 and RESP3 and the replies must be identical.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from tests.support.procs import ServerProcess
from tests.types.conftest import port_of
from tests.types.diff import Differ


@pytest.fixture
def d(r: redis.Redis, ref: redis.Redis) -> Iterator[Differ]:
    differ = Differ(port_of(r), port_of(ref))
    yield differ
    differ.close()


def same(d: Differ, *args: bytes | str | int) -> object:
    for proto in (2, 3):
        got, want = d.both(*args, proto=proto)
        assert got == want, f"{args!r} (RESP{proto}):\n  redis:    {want}\n  sentrykv: {got}"
    return got


def test_digest_of_a_stream_is_redis_s(d: Differ) -> None:
    same(d, "XADD", "s", "1-1", "a", "b")
    same(d, "XADD", "s", "2-1", "c", "d", "e", "")
    same(d, "XGROUP", "CREATE", "s", "g", "0")  # groups are not part of the digest
    same(d, "XADD", "empty", "MAXLEN", "0", "5-5", "f", "v")
    assert same(d, "DEBUG", "DIGEST-VALUE", "s", "empty") != ("array", [])
    same(d, "DEBUG", "DIGEST")


@pytest.mark.parametrize("args", [
    ("XTRIM", "missing", "~", "x"),
    ("XTRIM", "missing", "MAXLEN", "-1"),
    ("XTRIM", "missing", "MAXLEN", "=", "5", "LIMIT", "10"),
    ("XTRIM", "missing", "MAXLEN", "~", "0", "LIMIT", "-1"),
    ("XTRIM", "str", "MAXLEN", "~", "0", "junk"),
    ("XTRIM", "str", "MAXLEN", "0"),
])
def test_xtrim_checks_arguments_before_the_key(d: Differ, args: tuple[str, ...]) -> None:
    same(d, "SET", "str", "v")
    same(d, *args)


def test_xsetid_below_max_deleted_id_is_accepted_as_in_7_0(d: Differ) -> None:
    same(d, "XADD", "s", "3-0", "a", "b")
    same(d, "XDEL", "s", "3-0")
    same(d, "XSETID", "s", "0-1")
    same(d, "XINFO", "STREAM", "s")
    same(d, "XADD", "s", "4-0", "a", "b")
    same(d, "XSETID", "s", "3-5")  # below the top item: refused by both
    same(d, "XSETID", "s", "5-0", "MAXDELETEDID", "6-0")  # below the given max-deleted: refused


def test_a_key_named_twice_is_answered_twice(d: Differ) -> None:
    same(d, "XADD", "s", "1-1", "a", "b")
    same(d, "XREAD", "STREAMS", "s", "s", "0", "0")
    same(d, "XREAD", "COUNT", "1", "STREAMS", "s", "missing", "s", "0", "0", "0")
    same(d, "XGROUP", "CREATE", "s", "g", "0")
    same(d, "XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", "s", ">", "0")


def test_nogroup_errors_print_names_as_c_strings(d: Differ) -> None:
    same(d, "XADD", "s", "1-1", "a", "b")
    same(d, "XPENDING", "s", "g\x00hidden")
    same(d, "XREADGROUP", "GROUP", "g\x00x", "c", "STREAMS", "s", ">")
    same(d, "XINFO", "CONSUMERS", "s", "\x00g")
    same(d, "XGROUP", "SETID", "s", "n\x00", "0")


def test_counters_wrap_past_2_63_like_a_long_long(d: Differ) -> None:
    same(d, "XADD", "s", "1-1", "a", "b")
    same(d, "XSETID", "s", "5-0", "ENTRIESADDED", "9223372036854775807")
    same(d, "XADD", "s", "6-0", "a", "b")
    same(d, "XGROUP", "CREATE", "s", "g", "0", "ENTRIESREAD", "9223372036854775807")
    same(d, "XREADGROUP", "GROUP", "g", "c", "COUNT", "1", "STREAMS", "s", ">")
    same(d, "XINFO", "GROUPS", "s")
    for proto in (2, 3):  # the stream part (no clock readings in it)
        got, want = d.both("XINFO", "STREAM", "s", proto=proto)
        assert got == want


def test_a_wrapped_entries_read_survives_a_restart() -> None:
    """Before the fix the WAL held ``XGROUP SETID ... ENTRIESREAD 9223372036854775808``,
    which failed to replay: the server refused to start."""
    srv = ServerProcess(args=["--appendonly", "yes", "--appendfsync", "always"]).start()
    try:
        c = srv.client(decode_responses=True)
        c.xadd("s", {"a": "b"}, id="1-1")
        c.xadd("s", {"a": "b"}, id="2-1")
        c.execute_command("XGROUP", "CREATE", "s", "g", "0", "ENTRIESREAD", "9223372036854775807")
        c.execute_command("XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", ">")
        c.execute_command("XSETID", "s", "3-0", "ENTRIESADDED", "9223372036854775807")
        c.xadd("s", {"a": "b"}, id="4-0")
        before = c.execute_command("XINFO", "GROUPS", "s"), c.execute_command("XINFO", "STREAM", "s")
        c.close()
        srv.restart()
        c = srv.client(decode_responses=True)
        after = c.execute_command("XINFO", "GROUPS", "s"), c.execute_command("XINFO", "STREAM", "s")
        c.close()
        assert after == before
        assert before[0][0]["entries-read"] == -9223372036854775807  # wrapped, then one more
        assert before[1]["entries-added"] == -9223372036854775808
    finally:
        srv.stop()
        srv.cleanup()
