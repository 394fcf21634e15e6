"""Escape attempts: a script must reach nothing of Python (lupa) and leave nothing behind.

Each attempt runs as a script; it must fail (or find nothing) and the server
must go on serving.  Where Redis answers the same way the reply is compared
with redis-server too.
"""

from __future__ import annotations

import pytest
import redis

from tests.scripting.conftest import same
from tests.types.diff import Differ

# Every one of these must come back nil / false / an error: never a Python object.
ESCAPES = [
    "return python",
    "return python.eval('1+1')",
    "return rawget(_G, 'python')",
    "return python.builtins.open('/etc/passwd').read()",
    "return require('os')",
    "return package.loaded.os",
    "return debug.getregistry()",
    "return debug.getupvalue(redis.call, 1)",
    "return os.execute('true')",
    "return io.open('/etc/passwd')",
    "return dofile('/etc/passwd')",
    "return loadfile('/etc/passwd')",
    "return getfenv(redis.call)",
    "return setfenv(1, {})",
    "return newproxy(true)",
    "return module('x')",
    "return getmetatable(redis.call)",
    "return getmetatable(_G).__index('python')",
    "return rawget(getmetatable(_G), '__index')",
    "return getmetatable(string).__index",
    "return getmetatable('').__metatable",
    "return rawget(getmetatable(''), '__index').dump",
    "local f = loadstring(string.dump(function() return 1 end)) return f",
    "return load(function() return string.dump(function() return 1 end) end)",
    "return loadstring('\\27Lua')",
    "return rawget(rawget(_G, 'redis'), 'call')",
]


@pytest.mark.parametrize("script", ESCAPES)
def test_escape_attempts_fail(r: redis.Redis, script: str) -> None:
    try:
        result = r.eval(script.replace("\\27", "\x1b"), 0)
    except redis.ResponseError as exc:
        assert "python" not in str(exc).lower() or "nonexistent global variable 'python'" in str(exc)
    else:
        assert result in (None, 0, []), f"{script!r} reached {result!r}"
    assert r.ping()


# Not compared: where Redis's answer shows details of its own Lua build (addresses, bytecode).
COMPARABLE = [s for s in ESCAPES if not ("dump" in s or "27Lua" in s or "__metatable" in s)]


@pytest.mark.parametrize("script", COMPARABLE)
def test_escape_attempts_answer_as_redis(sdiff: Differ, script: str) -> None:
    got, want = sdiff.both("EVAL", script, 0)
    if want[0] == "bulk" and want[1].startswith(b"function: "):
        assert got[0] == "bulk" and got[1].startswith(b"function: ")
    else:
        assert got == want


def test_callbacks_are_unreachable_from_lua_values(r: redis.Redis) -> None:
    """Whatever a script can get hold of is a plain Lua value with no Python behind it."""
    script = """
    local seen, found = {}, {}
    local function walk(v, path, depth)
      if depth > 6 or seen[v] then return end
      local t = type(v)
      if t == 'userdata' then found[#found + 1] = path .. ':' .. tostring(v) end
      if t ~= 'table' then return end
      seen[v] = true
      for k, x in pairs(v) do walk(x, path .. '.' .. tostring(k), depth + 1) end
      local mt = getmetatable(v)
      if type(mt) == 'table' then walk(mt, path .. '<mt>', depth + 1) end
    end
    walk(_G, '_G', 0)
    walk(getmetatable(''), 'string<mt>', 0)
    return found
    """
    found = [x.decode() for x in r.eval(script, 0)]
    # cjson.null is the only userdata Redis itself exposes.
    assert all(path.startswith("_G.cjson.null") for path in found), found


def test_global_state_does_not_leak_between_scripts(sdiff: Differ) -> None:
    for attempt in (
        "string.upper = function() return 'pwned' end",
        "rawset(string, 'upper', function() return 'pwned' end)",
        "table.insert(_G, 'x')",
        "setmetatable(_G, {__index = function() return 'pwned' end})",
        "getmetatable('').__index = {upper = function() return 'pwned' end}",
        "local mt = getmetatable(_G) if mt then mt.__index = function() return 'pwned' end end",
        "redis.call = function() return 'pwned' end",
        "math.random = nil",
        "KEYS.x = 'kept?'",
    ):
        same(sdiff, "EVAL", attempt, 0)
    same(sdiff, "EVAL", "return {string.upper('ok'), type(math.random), tostring(KEYS.x), redis.call('ping')}", 0)
    same(sdiff, "EVAL", "return nosuch", 0)


def test_python_exceptions_never_reach_scripts(r: redis.Redis) -> None:
    # Hostile arguments to every API function: errors come back as Redis errors.
    for script in (
        "return redis.call(string.rep('x', 100000))",
        "return redis.sha1hex({})",
        "return redis.log(redis.LOG_WARNING, {}, function() end)",
        "return redis.setresp({})",
        "return redis.set_repl('x')",
        "return redis.acl_check_cmd({})",
        "return redis.status_reply({})",
        "return redis.error_reply({})",
        "return {pcall(redis.call, 'set', 'k', {})}",
        "local t = setmetatable({}, {__index = function() error('boom') end}) return t",
        "return setmetatable({}, {__index = function(t, k) return k end})",
        "local t = {} t[1] = t return t",
    ):
        try:
            r.eval(script, 0)
        except redis.ResponseError as exc:
            assert "Traceback" not in str(exc)
    assert r.ping()


def test_deep_and_big_values(r: redis.Redis) -> None:
    nested = r.eval("local t = {} local c = t for i = 1, 200 do c[1] = {} c = c[1] end return t", 0)
    depth = 0
    while nested:
        nested = nested[0]
        depth += 1
    assert depth == 200
    assert len(r.eval("local t = {} for i = 1, 100000 do t[i] = i end return t", 0)) == 100000
    assert r.eval("return #string.rep('x', 1000000)", 0) == 1000000
