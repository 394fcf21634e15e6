"""docs/limits.md, scripting: recursion, C-stack depth and big values, each as redis-server
answers them (script time is tests/scripting/test_busy.py's: BUSY, SCRIPT KILL,
FUNCTION KILL, SHUTDOWN NOSAVE)."""

from __future__ import annotations

import time

import pytest

from tests.types.diff import Differ


@pytest.mark.parametrize("body", [
    "local function f(n) return 1 + f(n + 1) end return f(1)",          # Lua stack: 'stack overflow'
    "local s = string.rep('x', 100) return #s",
    "local t = {} for i = 1, 200 do t = {t} end return cjson.encode(t)",  # cjson depth limit
    "return #table.concat({string.rep('ab', 100000), string.rep('c', 100000)})",
    "local function f(n) if n == 0 then return 0 end return pcall(f, n - 1) end return f(250)",  # C stack
    "return {unpack({1, 2, 3}, 1, 8000)}",
    "return {unpack({}, 1, 1e7)}",
    "return string.rep('x', -1)",
    "return redis.call('SET', 'k', string.rep('v', 1000000)) and #redis.call('GET', 'k')",
])
def test_script_bound_matches_redis(sdiff: Differ, body: str) -> None:
    began = time.monotonic()
    for proto in (2, 3):
        got, want = sdiff.both("EVAL", body, "0", proto=proto)
        if want[0] == "error":  # stack errors name the same line; the texts must agree
            assert got[0] == "error" and got[1].split(b" script:")[0] == want[1].split(b" script:")[0], (got, want)
        else:
            assert got == want, (body, got, want)
    assert time.monotonic() - began < 10
