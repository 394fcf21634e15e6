"""Per-call cost of the Lua libraries Redis embeds: ``python -m bench.lua_libs``.

Times typical calls of cjson / cmsgpack / struct / bit in a loop *inside* Lua, on our
pure-Lua libraries in a lupa ``lua51`` runtime, and (unless ``--no-redis``) the same
loop in a real redis-server through ``EVAL`` (Redis's C libraries).  The loop's own
cost (an empty body) is measured and subtracted on both sides, so the figures are
microseconds per library call.  A third column shows what one call from Lua into a
Python function costs in lupa, the price a Python-callback design would pay on top of
the work itself.

Figures are absolute and the machine may be shared: compare runs made close together.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import lupa.lua51 as lua51

from bench.resp import Connection
from bench.servers import install_signal_handlers, redis_kind, start_server, stop_all
from sentrykv_server.scripting.libs import install

SETUP = r"""
local obj = {id = "job:1234", name = "send-email", attempts = 3, delay = 0,
  priority = 10, timestamp = 1712345678901, progress = 0.5, queue = "default",
  data = "hello/world", done = false}
local json = cjson.encode(obj)
local small = {"job:1234", 3, "default", 1712345678901, true}
local packed = cmsgpack.pack(small)
local spacked = struct.pack(">I4i4d", 123456, -42, 1.5)
local opts = cmsgpack.pack({jobId = "abc123", delay = 0, priority = 0, attempts = 3,
  lifo = false, timestamp = 1712345678901, removeOnComplete = true, name = "email"})
"""

#: name -> Lua expression evaluated once per iteration (``i`` is the loop counter)
CASES: dict[str, str] = {
    "cjson.encode (10-field object)": "cjson.encode(obj)",
    "cjson.decode (10-field object)": "cjson.decode(json)",
    "cmsgpack.pack (5-element array)": "cmsgpack.pack(small)",
    "cmsgpack.unpack (5-element array)": "cmsgpack.unpack(packed)",
    "cmsgpack.unpack (8-field option map)": "cmsgpack.unpack(opts)",
    "bit.band": "bit.band(i, 0xff)",
    "bit.bxor": "bit.bxor(i, 0x5a5a)",
    "struct.pack (>I4i4d)": "struct.pack('>I4i4d', i, -i, 1.5)",
    "struct.unpack (>I4i4d)": "struct.unpack('>I4i4d', spacked)",
}


def loop_script(expr: str, n: int) -> str:
    return SETUP + f"""
local x
for i = 1, {n} do x = {expr} end
return x
"""


def time_ours(lua: object, expr: str, n: int, repeat: int) -> float:
    """Best wall time (s) of n iterations in our runtime."""
    fn = lua.eval("function() " + loop_script(expr, n) + " end")  # type: ignore[attr-defined]
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def time_redis(conn: Connection, expr: str, n: int, repeat: int) -> float:
    script = loop_script(expr, n)
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        conn.call("EVAL", script, "0")
        best = min(best, time.perf_counter() - start)
    return best


def python_call_cost(lua: object, n: int, repeat: int) -> float:
    """Microseconds of one Lua -> Python call through lupa (Python body returns its arg)."""
    fn = lua.eval("function(f, n) local x for i = 1, n do x = f(i) end return x end")  # type: ignore[attr-defined]
    empty = lua.eval("function(f, n) local x for i = 1, n do x = i end return x end")  # type: ignore[attr-defined]
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn(lambda v: v, n)
        mid = time.perf_counter()
        empty(None, n)
        best = min(best, (mid - start) - (time.perf_counter() - mid))
    return best / n * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", "--iterations", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=5, help="runs per case (best is kept)")
    parser.add_argument("--no-redis", action="store_true", help="skip the redis-server column")
    args = parser.parse_args()
    n, repeat = args.iterations, args.repeat

    lua = lua51.LuaRuntime(register_eval=False, register_builtins=False,
                           unpack_returned_tuples=True, encoding=None)
    install(lua)
    conn = None
    if not args.no_redis:
        install_signal_handlers()
        server = start_server(redis_kind(), "none", Path("/tmp") / "sentrykv-bench-lua-libs")
        conn = Connection(server.port)
    try:
        base_ours = time_ours(lua, "i", n, repeat)
        base_redis = time_redis(conn, "i", n, repeat) if conn else 0.0
        print(f"{n} iterations per case, best of {repeat}; microseconds per call")
        print(f"{'call':36} {'ours':>8} {'redis':>8} {'ratio':>7}")
        for name, expr in CASES.items():
            ours = (time_ours(lua, expr, n, repeat) - base_ours) / n * 1e6
            line = f"{name:36} {ours:8.3f}"
            if conn:
                theirs = (time_redis(conn, expr, n, repeat) - base_redis) / n * 1e6
                line += f" {theirs:8.3f} {ours / theirs if theirs > 0 else float('nan'):6.1f}x"
            print(line)
        print(f"{'(one Lua -> Python call in lupa)':36} {python_call_cost(lua, n, repeat):8.3f}")
    finally:
        if conn:
            conn.close()
        stop_all()


if __name__ == "__main__":
    main()
