"""The four Lua libraries Redis 7.0 embeds: ``cjson``, ``cmsgpack``, ``struct``, ``bit``.

Redis links lua-cjson 2.1.0, lua-cmsgpack 0.4.0, Roberto Ierusalimschy's struct and
LuaBitOp 1.0.2 into its Lua 5.1 as C code.  lupa ships no such modules, so they are
re-implemented here in pure Lua (the ``*.lua`` files beside this module, package data)
and loaded into the runtime by :func:`install`.  Pure Lua was chosen over Python
callbacks because it is faster for the calls scripts make (a lupa call into Python
costs more than a whole ``bit.band`` in Lua, see bench/lua_libs.py) and because it
leaves no Python object anywhere a script can reach.

The one thing pure Lua cannot do is read or write the payload bits of a NaN, which
Redis's libraries copy byte for byte (``cmsgpack.pack``/``struct.pack`` of a NaN read
back from bytes).  Two tiny Python functions do that; they are handed to the Lua code
as upvalues of its closures only, take and return plain numbers and strings, and never
raise.
"""

from __future__ import annotations

import math
import struct
from importlib import resources
from typing import Any

__all__ = ["install"]

_CHUNKS = ("support", "bit", "struct", "cmsgpack", "cjson")

# Runs once in the fresh runtime: compiles the chunks with readable names, wires the
# support table into every library and publishes the four globals.  debug.getinfo and
# newproxy are taken here, before a sandbox hides them from scripts.
_LOADER = b"""
local sources, nan_bits, nan_from_bits = ...
local loadstring, rawset, assert, type = loadstring, rawset, assert, type
local G = getfenv(0)
assert(type(debug) == "table" and debug.getinfo and newproxy,
  "install() needs debug.getinfo and newproxy: call it before the sandbox removes them")
local function chunk(name)
  return assert(loadstring(sources[name], "=" .. name))
end
local S = chunk("support")(debug.getinfo, newproxy, nan_bits, nan_from_bits)
rawset(G, "bit", chunk("bit")(S))
rawset(G, "struct", chunk("struct")(S))
rawset(G, "cmsgpack", chunk("cmsgpack")(S))
rawset(G, "cjson", chunk("cjson")(S))
"""

_QUIET_NAN = struct.pack(">d", math.nan)


def _nan_bits(x: Any) -> bytes:
    """The 8 big-endian bytes of a double (called for NaNs only)."""
    if not isinstance(x, float):
        return _QUIET_NAN
    return struct.pack(">d", x)


def _nan_from_bits(hi: Any, lo: Any) -> float:
    """The double whose high and low 32-bit words are ``hi`` and ``lo``."""
    try:
        return float(struct.unpack(">d", struct.pack(">II", int(hi), int(lo)))[0])
    except (ValueError, OverflowError, TypeError, struct.error):
        return math.nan


def _sources() -> dict[str, bytes]:
    base = resources.files(__package__)
    return {name: base.joinpath(f"{name}.lua").read_bytes() for name in _CHUNKS}


def install(lua: Any) -> None:
    """Create the globals ``cjson``, ``cmsgpack``, ``struct`` and ``bit`` in ``lua``.

    ``lua`` is a ``lupa.lua51.LuaRuntime``.  Call it on the fresh runtime, before the
    script environment is locked down: the libraries need ``debug.getinfo`` (for
    Redis's error positions) and ``newproxy`` (for ``cjson.null``) at load time and keep
    private references to them.
    """
    sources = lua.table_from({name.encode(): src for name, src in _sources().items()})
    lua.execute(_LOADER, sources, _nan_bits, _nan_from_bits)
