"""The libraries in a sandboxed runtime: nothing of Python is reachable, and the known
differences from Redis are exactly the documented ones."""

from __future__ import annotations

import math
from typing import Any

import lupa.lua51 as lua51
import pytest

from sentrykv_server.scripting.libs import _nan_bits, _nan_from_bits, install
from tests.scripting.luadiff import LuaDiff, build_script, new_runtime

# Redis 7.0's script globals (the lead's sandbox removes everything else).
REDIS_GLOBALS = {
    "ARGV", "KEYS", "_G", "_VERSION", "assert", "bit", "cjson", "cmsgpack", "collectgarbage",
    "coroutine", "error", "gcinfo", "getmetatable", "ipairs", "load", "loadstring", "math",
    "next", "pairs", "pcall", "rawequal", "rawget", "rawset", "redis", "select",
    "setmetatable", "string", "struct", "table", "tonumber", "tostring", "type", "unpack",
    "xpcall",
}


def _deny(obj: object, name: object, is_setting: bool) -> object:
    raise AttributeError("access to Python attributes is denied")


def locked_down_runtime() -> Any:
    """Created and stripped the way a script sandbox would be, libraries installed first."""
    lua = lua51.LuaRuntime(register_eval=False, register_builtins=False,
                           unpack_returned_tuples=True, encoding=None, attribute_filter=_deny)
    install(lua)
    lua.execute(b"""
        local keep = ...
        for name in pairs(_G) do
          if not keep[name] then rawset(_G, name, nil) end
        end
    """, lua.table_from({name.encode(): True for name in REDIS_GLOBALS}))
    return lua


# A walk over everything a script can reach without the debug library: globals, table
# contents and keys, metatables, function environments, and the values the library
# functions return for inputs that take every code path that involves Python (NaNs).
WALK = rb"""
local roots = ...
local seen, bad, count = {}, {}, 0
local function visit(v, path)
  if v == nil or seen[v] then return end
  local t = type(v)
  if t == "number" or t == "string" or t == "boolean" then return end
  seen[v] = true
  count = count + 1
  if t == "userdata" and v ~= cjson.null then bad[#bad + 1] = path .. " is userdata" end
  if t == "thread" then bad[#bad + 1] = path .. " is a thread" end
  local mt = getmetatable(v)
  if mt ~= nil then visit(mt, path .. "<mt>") end
  -- (a library function's environment is the global table itself: walked from _G in
  -- the sandbox, skipped when only the libraries are walked)
  if t == "function" and getfenv and roots ~= "libs" then visit(getfenv(v), path .. "<env>") end
  if t == "table" then
    for k, x in pairs(v) do
      visit(k, path .. "<key>")
      visit(x, path .. "." .. tostring(k))
    end
  end
end
if roots == "libs" then
  for _, lib in ipairs({"cjson", "cmsgpack", "struct", "bit"}) do visit(_G[lib], lib) end
else
  visit(_G, "_G")
end
local nan_payload = struct.unpack("<d", "\1\2\3\4\5\6\248\127")
local signalling = struct.unpack(">d", "\127\240\0\0\0\0\0\1")
local results = {
  { cmsgpack.pack(nan_payload, signalling, 0/0) },
  { struct.pack(">d>f", nan_payload, signalling) },
  { bit.tobit(nan_payload), bit.band(nan_payload, signalling) },
  { cmsgpack.unpack(cmsgpack.pack(nan_payload, {signalling}, cjson.null)) },
  { struct.unpack(">f>d", "\127\128\0\1\255\248\0\0\0\0\0\7") },
  { cjson.decode('[null, nan, "x", {"a": -inf}]') },
  { pcall(cjson.encode, nan_payload) },
  { pcall(cmsgpack.unpack, "\193") },
  { pcall(struct.pack, "i", {}) },
}
for i, r in ipairs(results) do
  for j = 1, table.maxn(r) do
    local x = r[j]
    if type(x) == "number" or type(x) == "string" or type(x) == "boolean" or x == nil then
    else visit(x, "result" .. i .. "." .. j) end
  end
end
return table.concat(bad, "\n"), count
"""


@pytest.mark.parametrize(("factory", "roots"), [(new_runtime, b"libs"),
                                                (locked_down_runtime, b"globals")])
def test_nothing_of_python_is_reachable(factory: Any, roots: bytes) -> None:
    # an unstripped runtime still has io's file handles and lupa's python table in _G,
    # so there only the libraries are walked; the sandboxed one is walked from _G
    lua = factory()
    bad, count = lua.execute(WALK, roots)
    assert bad == b""
    assert count > 20   # the walk did visit the libraries


def test_python_helpers_are_only_closure_upvalues() -> None:
    """With the debug library (which scripts never get) the two Python callables show up
    as upvalues of two support functions, and nowhere else."""
    lua = new_runtime()
    found = lua.execute(rb"""
        local getupvalue, seen, found = debug.getupvalue, {}, {}
        local function visit(v, path)
          if v == nil or seen[v] then return end
          local t = type(v)
          if t ~= "table" and t ~= "function" and t ~= "userdata" then return end
          seen[v] = true
          if t == "userdata" and v ~= cjson.null then found[#found + 1] = path end
          if t == "table" then for k, x in pairs(v) do visit(x, path .. "." .. tostring(k)) end end
          if t == "function" then
            local i = 1
            while true do
              local name, x = getupvalue(v, i)
              if name == nil then break end
              visit(x, path .. "^" .. name)
              i = i + 1
            end
          end
        end
        for _, lib in ipairs({"cjson", "cmsgpack", "struct", "bit"}) do visit(_G[lib], lib) end
        table.sort(found)
        return table.concat(found, " ")
    """)
    paths = found.decode().split()
    assert paths, "the NaN helpers should be found through upvalues"
    # every path ends with an upvalue step: no table field holds a Python object
    assert all(p.endswith("^py_nan_bits") or p.endswith("^py_nan_from_bits") for p in paths)


def test_python_helpers_never_raise() -> None:
    for value in [math.nan, -math.nan, 1.5, 7, "x", b"x", None, [], 2**80]:
        assert len(_nan_bits(value)) == 8
    for hi, lo in [(0x7FF80000, 1), (-1, 0), (2**40, 0), ("a", 1), (None, None), (1.5, 2.5)]:
        assert isinstance(_nan_from_bits(hi, lo), float)


def test_libraries_work_in_a_locked_down_runtime() -> None:
    lua = locked_down_runtime()
    out = lua.execute(rb"""
        local x = struct.unpack("<d", "\1\2\3\4\5\6\248\127")
        return type(python), type(debug), type(newproxy),
          cjson.encode({a = {1, 2, cjson.null}}), cmsgpack.pack(x), bit.tohex(bit.tobit(x)),
          struct.pack(">f", x), cjson.decode('{"k": [true]}').k[1]
    """)
    assert out == (b"nil", b"nil", b"nil", b'{"a":[1,2,null]}',
                   b"\xcb\x7f\xf8\x06\x05\x04\x03\x02\x01", b"04030201",
                   b"\x7f\xc0\x30\x28", True)


def test_install_refuses_a_runtime_without_debug() -> None:
    lua = lua51.LuaRuntime(register_eval=False, register_builtins=False)
    lua.execute("debug = nil")
    with pytest.raises(lua51.LuaError, match="before the sandbox removes them"):
        install(lua)


def test_libraries_ignore_later_changes_to_the_standard_library() -> None:
    lua = new_runtime()
    out = lua.execute(rb"""
        string.format, string.find, math.floor, table.concat = nil, nil, nil, nil
        return cjson.encode({1.5, "a/b"}), cmsgpack.pack(300), struct.pack(">h", -2), bit.band(6, 3)
    """)
    assert out == (b'[1.5,"a\\/b"]', b"\xcd\x01\x2c", b"\xff\xfe", 2)


def test_null_behaves_like_a_light_userdata(luadiff: LuaDiff) -> None:
    cases = [
        "return cjson.null.__class__", "return cjson.null.foo", "return cjson.null()",
        "return #cjson.null", "return cjson.null < 1", "return cjson.null .. 'x'",
        "return type(cjson.null), tostring(cjson.null), cjson.null == cjson.null",
        "return cjson.decode('null') == cjson.new().null, rawequal(cjson.null, cjson.null)",
        "local t = {[cjson.null] = 1} return t[cjson.null], cmsgpack.pack(cjson.null)",
        "return cjson.encode({[cjson.null] = 1})", "return not cjson.null",
        "return pcall(setmetatable, cjson.null, {})",
    ]
    luadiff.assert_same(cases)


# ---- the documented differences, pinned so that any change is noticed -----------------

def test_known_difference_tail_called_errors_lose_the_position(luadiff: LuaDiff) -> None:
    cases = ["return bit.band({})", "return cjson.decode('x')"]
    script = build_script(cases, tail_calls=True)
    assert luadiff.theirs(script) == [
        b"err|1|s70:user_script:32: bad argument #1 to 'band' (number expected, got table)",
        b"err|1|s69:user_script:34: Expected value but found invalid token at character 1",
    ]
    assert luadiff.ours(script) == [
        b"err|1|s54:bad argument #1 to 'band' (number expected, got table)",
        b"err|1|s53:Expected value but found invalid token at character 1",
    ]


def test_known_difference_getmetatable_of_null(luadiff: LuaDiff) -> None:
    script = build_script(["return getmetatable(cjson.null)"])
    assert luadiff.theirs(script) == [b"ok|1|N"]
    assert luadiff.ours(script) == [b"ok|1|F"]


def test_install_works_with_lupas_default_string_encoding() -> None:
    lua = lua51.LuaRuntime()          # encoding="utf-8": Python str <-> Lua string
    install(lua)
    assert lua.eval("cjson.encode({1, 'é'})") == '[1,"é"]'
    assert lua.eval("cmsgpack.unpack(cmsgpack.pack(0/0)) ~= cmsgpack.unpack(cmsgpack.pack(0/0))")
    assert lua.eval("bit.tohex(bit.tobit(struct.unpack('<d', '\\1\\0\\0\\0\\0\\0\\248\\127')))") == "00000001"
