"""Scripting defects the differential fuzzer found (tests/fuzz/gen_scripts.py), each compared
with redis-server over RESP2 and RESP3 (error texts byte for byte)."""

from __future__ import annotations

import pytest

from tests.types.diff import Differ


def same2(d: Differ, *args: bytes | str | int) -> object:
    for proto in (2, 3):
        got, want = d.both(*args, proto=proto)
        assert got == want, f"{args!r} (RESP{proto}):\n  redis:    {want}\n  sentrykv: {got}"
    return got


@pytest.mark.parametrize("body", [
    "return cjson.decode(ARGV[1])",
    "return cjson.encode(cjson.decode(ARGV[1]))",
    "return cjson.decode('{\"a\":')",
    "return struct.pack(ARGV[1], 1, 2)",
    "return {struct.unpack(ARGV[1], 'x')}",
    "return cmsgpack.unpack(ARGV[1])",
    "return bit.tohex({})",
    "local t = {}\nt[1] = cjson.decode('[1,')\nreturn t",
])
@pytest.mark.parametrize("arg", ["1", "\x93\x01", "[1,", "Bb", None])
def test_library_errors_point_at_the_script_line(sdiff: Differ, body: str, arg: str | None) -> None:
    same2(sdiff, "EVAL", body, "0", *([] if arg is None else [arg]))


@pytest.mark.parametrize("args", [
    ("EVAL", b"return \xc1", "0"),
    ("EVAL", b"error('\xff\xfe')", "0"),
    ("EVAL", b"return {err='\xe9t\xe9'}", "0"),
    ("FUNCTION", b"\xf5@I#!lua", "FLUSH"),
    ("SCRIPT", b"\xf5x"),
    ("FUNCTION", "LOAD", "\x00", "#!lua name=l\nredis.register_function('f', function() return 1 end)\n"),
    ("FUNCTION", "LOAD", "#!lua name=l\nredis.register_function('f', function() return 1 end)\n", "KEEPTTL"),
    ("FUNCTION", "LOAD", "BOGUS\n", "#!lua name=l\n"),
    ("FUNCTION", "FLUSH", "x", "y"),
    ("FUNCTION", "FLUSH", "nan", "ASYNC"),
    ("FUNCTION", "FLUSH", "x"),
    ("FUNCTION", "LIST", b"\xff"),
    ("EVAL", "return redis.error_reply('trailing\\n')", "0"),
    ("EVAL", "return {err='two\\r\\nlines\\n'}", "0"),
])
def test_error_texts_as_redis_prints_them(sdiff: Differ, args: tuple[bytes | str, ...]) -> None:
    same2(sdiff, *args)
    same2(sdiff, "FUNCTION", "LIST")
