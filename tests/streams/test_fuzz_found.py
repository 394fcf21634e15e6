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



def test_digest_of_a_stream_is_redis_s(d: Differ) -> None:
    d.same("XADD", "s", "1-1", "a", "b")
    d.same("XADD", "s", "2-1", "c", "d", "e", "")
    d.same("XGROUP", "CREATE", "s", "g", "0")  # groups are not part of the digest
    d.same("XADD", "empty", "MAXLEN", "0", "5-5", "f", "v")
    assert d.same("DEBUG", "DIGEST-VALUE", "s", "empty") != ("array", [])
    d.same("DEBUG", "DIGEST")


@pytest.mark.parametrize("args", [
    ("XTRIM", "missing", "~", "x"),
    ("XTRIM", "missing", "MAXLEN", "-1"),
    ("XTRIM", "missing", "MAXLEN", "=", "5", "LIMIT", "10"),
    ("XTRIM", "missing", "MAXLEN", "~", "0", "LIMIT", "-1"),
    ("XTRIM", "str", "MAXLEN", "~", "0", "junk"),
    ("XTRIM", "str", "MAXLEN", "0"),
])
def test_xtrim_checks_arguments_before_the_key(d: Differ, args: tuple[str, ...]) -> None:
    d.same("SET", "str", "v")
    d.same(*args)


def test_xsetid_below_max_deleted_id_is_accepted_as_in_7_0(d: Differ) -> None:
    d.same("XADD", "s", "3-0", "a", "b")
    d.same("XDEL", "s", "3-0")
    d.same("XSETID", "s", "0-1")
    d.same("XINFO", "STREAM", "s")
    d.same("XADD", "s", "4-0", "a", "b")
    d.same("XSETID", "s", "3-5")  # below the top item: refused by both
    d.same("XSETID", "s", "5-0", "MAXDELETEDID", "6-0")  # below the given max-deleted: refused


def test_a_key_named_twice_is_answered_twice(d: Differ) -> None:
    d.same("XADD", "s", "1-1", "a", "b")
    d.same("XREAD", "STREAMS", "s", "s", "0", "0")
    d.same("XREAD", "COUNT", "1", "STREAMS", "s", "missing", "s", "0", "0", "0")
    d.same("XGROUP", "CREATE", "s", "g", "0")
    d.same("XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", "s", ">", "0")


def test_nogroup_errors_print_names_as_c_strings(d: Differ) -> None:
    d.same("XADD", "s", "1-1", "a", "b")
    d.same("XPENDING", "s", "g\x00hidden")
    d.same("XREADGROUP", "GROUP", "g\x00x", "c", "STREAMS", "s", ">")
    d.same("XINFO", "CONSUMERS", "s", "\x00g")
    d.same("XGROUP", "SETID", "s", "n\x00", "0")


def test_counters_wrap_past_2_63_like_a_long_long(d: Differ) -> None:
    d.same("XADD", "s", "1-1", "a", "b")
    d.same("XSETID", "s", "5-0", "ENTRIESADDED", "9223372036854775807")
    d.same("XADD", "s", "6-0", "a", "b")
    d.same("XGROUP", "CREATE", "s", "g", "0", "ENTRIESREAD", "9223372036854775807")
    d.same("XREADGROUP", "GROUP", "g", "c", "COUNT", "1", "STREAMS", "s", ">")
    d.same("XINFO", "GROUPS", "s")
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
