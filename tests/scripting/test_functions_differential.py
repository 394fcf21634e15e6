"""FUNCTION / FCALL against redis-server: loading, errors, LIST, DUMP/RESTORE, STATS.

Redis lists libraries and functions in hash-table order, which depends on a
random seed; those replies are compared with their arrays sorted.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.scripting.conftest import same
from tests.types.diff import Differ

LIB = (
    "#!lua name=lib1\n"
    "redis.register_function{function_name='f1', callback=function(keys, args) "
    "return redis.call('set', keys[1], args[1]) end, description='setter', flags={'allow-oom'}}\n"
    "redis.register_function{function_name='ro', callback=function(keys) return redis.call('get', keys[1]) end, "
    "flags={'no-writes', 'ALLOW-STALE'}}\n"
    "redis.register_function('f2', function() return 2 end)\n"
    "redis.register_function('sneaky', function(keys) return redis.call('set', keys[1], 'x') end)\n"
    "redis.register_function{function_name='ro_writer', callback=function(keys) return redis.call('set', keys[1], 'x') end, "
    "flags={'no-writes'}}\n"
    "redis.register_function('err', function() error('boom') end)\n"
    "redis.register_function('glob', function() return x end)\n"
    "redis.register_function('env', function() local t = {} for k in pairs(_G) do t[#t+1] = k end "
    "table.sort(t) return t end)\n"
    "redis.register_function('api', function() local t = {} for k in pairs(redis) do t[#t+1] = k end "
    "table.sort(t) return t end)\n"
    "redis.register_function('kv', function(keys, args) return {#keys, #args, keys[1], args[1]} end)\n"
    "redis.register_function('resp3', function() redis.setresp(3) return redis.call('hgetall', 'h') end)\n"
)

LOAD_ERRORS = [
    "local x",
    "#!lua",
    "#!lua name=a b",
    "#!lua name=a x=b\n",
    "#!luax name=a\n",
    "#!lua name=a-b\n",
    "#!lua\nredis.register_function('f', function() end)",
    "#!lua name=p\nreturn 1",
    "#!lua name=p\nsyntax error",
    "#!lua name=p\nlocal t = {} for k in pairs(_G) do end",
    "#!lua name=p\nlocal t = redis.call",
    "#!lua name=p\nredis.call('ping')",
    "#!lua name=p\nx = 1",
    "#!lua name=p\nreturn string",
    "#!lua name=p\nredis.register_function('f', function() end) redis.register_function('f', function() end)",
    "#!lua name=p\nredis.register_function('F', function() end) redis.register_function('f', function() end)",
    "#!lua name=p\nredis.register_function('1-x', function() end)",
    "#!lua name=p\nredis.register_function('f', 'x')",
    "#!lua name=p\nredis.register_function('f')",
    "#!lua name=p\nredis.register_function()",
    "#!lua name=p\nredis.register_function('f', function() end, 3)",
    "#!lua name=p\nredis.register_function{function_name='f', callback=function() end, flags={'bad'}}",
    "#!lua name=p\nredis.register_function{function_name='f', callback=function() end, flags='no-writes'}",
    "#!lua name=p\nredis.register_function{function_name='f', callback=function() end, foo=1}",
    "#!lua name=p\nredis.register_function{callback=function() end}",
    "#!lua name=p\nredis.register_function{function_name='f'}",
    "#!lua name=p\nredis.register_function{function_name='f', callback=1}",
    "#!lua name=p\nredis.register_function{function_name={}, callback=function() end}",
    "#!lua name=p\nredis.register_function{function_name='f', description={}, callback=function() end}",
    "#!lua name=p\nredis.register_function{[1]='f', callback=function() end}",
    "#!lua name=p\nredis.log(redis.LOG_WARNING, 'loading p') redis.register_function('pf', function() return redis.REDIS_VERSION end)",
    "#!lua name=p\nerror('load failed')",
    "#!lua name=p\nerror({err='MY custom'})",
]


def sorted_reply(reply: Any) -> Any:
    """Arrays sorted recursively by repr (hash-table order is not comparable)."""
    tag = reply[0]
    if tag in ("array", "set"):
        return (tag, sorted((sorted_reply(x) for x in reply[1]), key=repr))
    if tag == "map":
        return (tag, sorted(((sorted_reply(k), sorted_reply(v)) for k, v in reply[1]), key=repr))
    return reply


def same_unordered(d: Differ, *args: Any, proto: int = 2) -> Any:
    got, want = d.both(*args, proto=proto)
    assert sorted_reply(got) == sorted_reply(want), f"{args!r}:\n  redis:    {want}\n  sentrykv: {got}"
    return got


@pytest.mark.parametrize("code", LOAD_ERRORS)
def test_function_load_errors(sdiff: Differ, code: str) -> None:
    same(sdiff, "FUNCTION", "LOAD", code)
    same_unordered(sdiff, "FUNCTION", "LIST")


@pytest.mark.parametrize("proto", [2, 3])
def test_fcall(sdiff: Differ, proto: int) -> None:
    same(sdiff, "FUNCTION", "LOAD", LIB, proto=proto)
    same(sdiff, "HSET", "h", "a", "1", proto=proto)
    for args in (
        ("FCALL", "f1", 1, "k", "v"),
        ("FCALL", "F1", 1, "k", "v2"),
        ("FCALL_RO", "ro", 1, "k"),
        ("FCALL", "ro", 1, "k"),
        ("FCALL_RO", "f1", 1, "k", "v"),
        ("FCALL_RO", "f2", 0),
        ("FCALL", "ro_writer", 1, "k"),
        ("FCALL", "sneaky", 1, "k"),
        ("FCALL_RO", "sneaky", 1, "k"),
        ("FCALL", "err", 0),
        ("FCALL", "glob", 0),
        ("FCALL", "env", 0),
        ("FCALL", "api", 0),
        ("FCALL", "kv", 1, "a", "b"),
        ("FCALL", "kv", 0),
        ("FCALL", "resp3", 0),
        ("FCALL", "nosuch", 0),
        ("FCALL", "f1", -1),
        ("FCALL", "f1", 5, "a"),
        ("FCALL", "f1", "x"),
        ("FCALL", "nosuch", "x"),
        ("FCALL",),
    ):
        same(sdiff, *args, proto=proto)
    sdiff.compare_state()


@pytest.mark.parametrize("proto", [2, 3])
def test_function_management(sdiff: Differ, proto: int) -> None:
    lib2 = "#!lua name=lib2\nredis.register_function('g', function() return 'g' end)"
    same(sdiff, "FUNCTION", "LOAD", LIB, proto=proto)
    same(sdiff, "FUNCTION", "LOAD", LIB, proto=proto)
    same(sdiff, "FUNCTION", "LOAD", "REPLACE", LIB, proto=proto)
    same(sdiff, "FUNCTION", "LOAD", "BOGUS", LIB, proto=proto)
    # (with several collisions Redis names the first in its hash order: one collision here)
    same(sdiff, "FUNCTION", "LOAD", "#!lua name=lib3\nredis.register_function('F2', function() end)", proto=proto)
    same(sdiff, "FUNCTION", "LOAD", lib2, proto=proto)
    same_unordered(sdiff, "FUNCTION", "LIST", proto=proto)
    same_unordered(sdiff, "FUNCTION", "LIST", "WITHCODE", proto=proto)
    same_unordered(sdiff, "FUNCTION", "LIST", "LIBRARYNAME", "LIB*", "WITHCODE", proto=proto)
    same_unordered(sdiff, "FUNCTION", "LIST", "libraryname", "*2", proto=proto)
    same(sdiff, "FUNCTION", "LIST", "LIBRARYNAME", proto=proto)
    same(sdiff, "FUNCTION", "LIST", "WITHCODE", "WITHCODE", proto=proto)
    same(sdiff, "FUNCTION", "LIST", "bogus", proto=proto)
    same(sdiff, "FUNCTION", "STATS", proto=proto)
    same(sdiff, "FUNCTION", "DELETE", "LIB1", proto=proto)
    same(sdiff, "FUNCTION", "DELETE", "lib1", proto=proto)
    same(sdiff, "FUNCTION", "DELETE", "lib1", proto=proto)
    same(sdiff, "FCALL", "f1", 1, "k", "v", proto=proto)
    same(sdiff, "FCALL", "g", 0, proto=proto)
    same(sdiff, "FUNCTION", "STATS", proto=proto)
    same(sdiff, "FUNCTION", "KILL", proto=proto)
    same(sdiff, "FUNCTION", "FLUSH", "bogus", proto=proto)
    same(sdiff, "FUNCTION", "FLUSH", "ASYNC", proto=proto)
    same(sdiff, "FUNCTION", "LIST", proto=proto)
    same(sdiff, "FCALL", "g", 0, proto=proto)
    same(sdiff, "FUNCTION", "HELP", proto=proto)
    same(sdiff, "FUNCTION", "NOSUCH", proto=proto)
    same(sdiff, "FUNCTION", "DELETE", proto=proto)
    same(sdiff, "FUNCTION", "DUMP", "x", proto=proto)


def test_dump_and_restore(sdiff: Differ) -> None:
    lib2 = "#!lua name=lib2\nredis.register_function('g', function() return 'g' end)"
    for side in (sdiff.skv, sdiff.ref):
        assert side.call("FUNCTION", "LOAD", LIB)[0] == "bulk"
    ours = sdiff.skv.call("FUNCTION", "DUMP")[1]
    theirs = sdiff.ref.call("FUNCTION", "DUMP")[1]
    assert ours == theirs  # the same RDB bytes, LZF compression included
    for payload in (ours, theirs):
        same(sdiff, "FUNCTION", "RESTORE", payload)
        same(sdiff, "FUNCTION", "RESTORE", payload, "APPEND")
        same(sdiff, "FUNCTION", "RESTORE", payload, "BOGUS")
        same(sdiff, "FUNCTION", "RESTORE", payload, "REPLACE", "x")
        same(sdiff, "FUNCTION", "RESTORE", payload, "REPLACE")
        same(sdiff, "FUNCTION", "LOAD", lib2)
        same(sdiff, "FUNCTION", "RESTORE", payload, "FLUSH")
        same_unordered(sdiff, "FUNCTION", "LIST", "WITHCODE")
        same(sdiff, "FCALL", "g", 0)
        same(sdiff, "FUNCTION", "FLUSH")
        same(sdiff, "FUNCTION", "RESTORE", payload)
        same_unordered(sdiff, "FUNCTION", "LIST", "WITHCODE")
        same(sdiff, "FCALL", "f2", 0)
    # Two libraries, each way.
    same(sdiff, "FUNCTION", "LOAD", lib2)
    ours = sdiff.skv.call("FUNCTION", "DUMP")[1]
    theirs = sdiff.ref.call("FUNCTION", "DUMP")[1]
    for payload in (ours, theirs):
        same(sdiff, "FUNCTION", "FLUSH")
        same(sdiff, "FUNCTION", "RESTORE", payload)
        same_unordered(sdiff, "FUNCTION", "LIST", "WITHCODE")
    same(sdiff, "FUNCTION", "RESTORE", "abc")
    same(sdiff, "FUNCTION", "RESTORE", "abcdefghijkl")
    same(sdiff, "FUNCTION", "RESTORE", theirs[:-1] + bytes([theirs[-1] ^ 1]))
    # A collision with a function of another library refuses the whole payload.
    same(sdiff, "FUNCTION", "DELETE", "lib2")
    same(sdiff, "FUNCTION", "LOAD", "#!lua name=other\nredis.register_function('g', function() end)")
    same(sdiff, "FUNCTION", "RESTORE", ours, "REPLACE")
    same_unordered(sdiff, "FUNCTION", "LIST")
    same(sdiff, "FUNCTION", "FLUSH")
    assert same(sdiff, "FUNCTION", "DUMP") == ("bulk", b"\n\x00]\x9b\\@\x0f\x7f\xa2\xda")
