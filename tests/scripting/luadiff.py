"""Differential runs of Lua snippets: Redis 7.0's EVAL against our libraries in lupa.

A *case* is the body of a Lua function (``return cjson.encode({1, 2})``).  Cases are
batched into one script, run by ``EVAL`` on a real redis-server and, with the same
source and chunk name (``@user_script``, so error positions match), in a sandbox-style
``lupa.lua51.LuaRuntime`` with :func:`sentrykv_server.scripting.libs.install`.  Each
case runs under ``pcall`` and its outcome is turned into a string by a small Lua
serializer that is part of the script, so both sides produce comparable bytes:
``ok``/``err``, the number of results, and each result with a type tag (sorted table
keys, numbers as ``%.17g``, strings raw, ``cjson.null`` as ``NULL``).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import lupa.lua51 as lua51
import pytest
import redis

from sentrykv_server.scripting.libs import install

DUMP = r"""
local __fmt, __sort, __concat, __type = string.format, table.sort, table.concat, type
local __dump
__dump = function(v, depth)
  local t = __type(v)
  if t == "string" then return "s" .. #v .. ":" .. v end
  if t == "number" then return "n" .. __fmt("%.17g", v) end
  if t == "boolean" then return v and "T" or "F" end
  if t == "nil" then return "N" end
  if t == "table" then
    depth = (depth or 0) + 1
    if depth > 1200 then return "{deep}" end
    local items = {}
    for k, x in pairs(v) do items[#items + 1] = { __dump(k, depth), __dump(x, depth) } end
    __sort(items, function(a, b) return a[1] < b[1] end)
    local parts = {}
    for i = 1, #items do parts[i] = items[i][1] .. "=" .. items[i][2] end
    return "{" .. __concat(parts, ",") .. "}"
  end
  if v == cjson.null then return "NULL" end
  return "<" .. t .. ">"
end
local function __id(...) return ... end
local function __result(ok, ...)
  local n = select("#", ...)
  local parts = { ok and "ok" or "err", tostring(n) }
  for i = 1, n do parts[#parts + 1] = __dump((select(i, ...))) end
  return __concat(parts, "|")
end
"""


def new_runtime() -> Any:
    """A runtime created the way the scripting sandbox creates it, libraries installed."""
    lua = lua51.LuaRuntime(register_eval=False, register_builtins=False,
                           unpack_returned_tuples=True, encoding=None)
    install(lua)
    return lua


def no_tail_call(case: str) -> str:
    """``... return EXPRS`` -> ``... return __id(EXPRS)``.

    A library function called in tail position loses its caller's frame in our pure-Lua
    implementation but not in Redis's C one, which changes the position prefix of its
    error messages (a documented difference, tested on its own).  Generated cases keep
    the calls out of tail position so that everything else is compared exactly.
    """
    at = case.rfind("return ")
    if at < 0:
        return case
    return case[:at] + "return __id(" + case[at + 7:] + ")"


def build_script(cases: Sequence[str], tail_calls: bool = False) -> str:
    lines = [DUMP, "local __cases = {"]
    for case in cases:
        lines.append("function() " + (case if tail_calls else no_tail_call(case)) + "\nend,")
    lines.append("}")
    lines.append("local __out = {}")
    lines.append("for __i = 1, #__cases do __out[__i] = __result(pcall(__cases[__i])) end")
    lines.append("return __out")
    return "\n".join(lines)


_RUNNER = b"""
local src = ...
local f = assert(loadstring(src, "@user_script"))
return f()
"""


class LuaDiff:
    """Runs case batches on both sides; ``compare`` returns the mismatches."""

    def __init__(self, client: redis.Redis, lua: Any | None = None) -> None:
        self.client = client
        self.lua = lua if lua is not None else new_runtime()

    def ours(self, script: str) -> list[bytes]:
        table = self.lua.execute(_RUNNER, script.encode("latin-1"))
        return [table[i] for i in range(1, len(table) + 1)]

    def theirs(self, script: str) -> list[bytes]:
        return list(self.client.eval(script, 0))

    def run(self, cases: Sequence[str], tail_calls: bool = False) -> list[tuple[str, bytes, bytes]]:
        script = build_script(cases, tail_calls)
        return list(zip(cases, self.theirs(script), self.ours(script), strict=True))

    def compare(self, cases: Iterable[str], batch: int = 200) -> list[tuple[str, bytes, bytes]]:
        """All (case, redis, ours) whose outcomes differ."""
        cases = list(cases)
        bad: list[tuple[str, bytes, bytes]] = []
        for start in range(0, len(cases), batch):
            for case, want, got in self.run(cases[start:start + batch]):
                if want != got:
                    bad.append((case, want, got))
        return bad

    def assert_same(self, cases: Iterable[str], batch: int = 200) -> None:
        bad = self.compare(cases, batch)
        if bad:
            lines = [f"{len(bad)} case(s) differ from Redis; first ones:"]
            for case, want, got in bad[:8]:
                lines.append(f"  case : {case[:300]!r}")
                lines.append(f"  redis: {want[:300]!r}")
                lines.append(f"  ours : {got[:300]!r}")
            raise AssertionError("\n".join(lines))


def lua_str(b: bytes) -> str:
    """A Lua string literal for arbitrary bytes (decimal escapes, latin-1 safe)."""
    out = ['"']
    for c in b:
        ch = chr(c)
        if ch in '"\\' or c < 32 or c > 126:
            out.append("\\%d" % c if c > 99 else "\\%03d" % c)
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def generate(seed: int, count: int,
             make: Callable[[random.Random], str | list[str]]) -> list[str]:
    """``count`` rounds of ``make`` (one case or several) from a seeded generator."""
    rng = random.Random(seed)
    cases: list[str] = []
    for _ in range(count):
        made = make(rng)
        cases.extend([made] if isinstance(made, str) else made)
    return cases


Maker = Callable[[random.Random], "str | list[str]"]


def generated_tests(table: dict[str, tuple[int, int, Maker]]) -> Callable[..., None]:
    """A test parametrized over ``name: (seed, rounds, case maker)`` corpora."""

    @pytest.mark.parametrize("name", list(table))
    def test_generated(luadiff: LuaDiff, name: str) -> None:
        luadiff.assert_same(generate(*table[name]))

    return test_generated
