"""Seeded generators of Lua source for the differential library tests.

Everything is produced as Lua *source text* (literals and small statements) so the
very same case runs in Redis's EVAL and in our runtime.  Numbers are written so Lua
reads back the exact double (``repr`` of a Python float is the shortest round-trip
form); NaN, infinities and -0 are written as expressions.
"""

from __future__ import annotations

import math
import random
import struct

from tests.scripting.luadiff import lua_str

# Doubles that sit on the edges the libraries care about.
SPECIAL_NUMBERS: list[float] = [
    0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 1.5, 2.5, -2.5, 0.1, 1e-7, 3.14159, 1 / 3,
    127, 128, 255, 256, -32, -33, -128, -129, 32767, 32768, -32768, -32769,
    65535, 65536, 2**31 - 1, 2**31, -2**31, -2**31 - 1, 2**32 - 1, 2**32, -2**32,
    2**51, 2**52, 2**52 + 2**51, 2**53 - 1, 2**53, 2**53 + 2, -2**53, 2**63, -2**63,
    2**63 - 1024, 2**64, -2**64, 1e15, 1e16, 1e20, 1e300, -1e300, 1e-300, 5e-324,
    2.2250738585072014e-308, 1.7976931348623157e308, 3.4028234663852886e38,
    3.4028235677973366e38, 1.401298464324817e-45, 1.1754943508222875e-38,
    16777216, 16777217, 0.30000000000000004, 123456789.123, -6755399441055744,
    6755399441055744, 4503599627370496.5, 1e14, 99999999999999, 123456789012345678,
]
NUMBER_EXPRS = ["0/0", "-(0/0)", "math.huge", "-math.huge"]


def lua_num(x: float) -> str:
    if math.isnan(x):
        return "(0/0)"
    if math.isinf(x):
        return "math.huge" if x > 0 else "(-math.huge)"
    if x == 0 and math.copysign(1, x) < 0:
        return "(-0.0)"
    if x == int(x) and abs(x) < 2**53:
        return "(%d)" % int(x)
    return "(%r)" % x


def rand_number(rng: random.Random) -> str:
    pick = rng.random()
    if pick < 0.35:
        return lua_num(float(rng.choice(SPECIAL_NUMBERS)))
    if pick < 0.4:
        return "(" + rng.choice(NUMBER_EXPRS) + ")"
    if pick < 0.65:
        return lua_num(float(rng.randint(-2**rng.randint(1, 64), 2**rng.randint(1, 64))))
    if pick < 0.8:
        return lua_num(rng.uniform(-1e6, 1e6))
    if pick < 0.9:
        # any bit pattern: subnormals, huge exponents
        x = struct.unpack("<d", rng.randbytes(8))[0]
        return lua_num(x)
    # exactly representable floats (cmsgpack's float32 path)
    x = struct.unpack("<f", rng.randbytes(4))[0]
    return lua_num(x)


def rand_bytes(rng: random.Random, maxlen: int = 12) -> bytes:
    kind = rng.random()
    n = rng.randint(0, maxlen)
    if kind < 0.4:
        return bytes(rng.choice(b"abcxyz019 _-") for _ in range(n))
    if kind < 0.6:
        return bytes(rng.choice(b'"\\/\b\f\n\r\t\x00\x01\x1f\x7f\x80\xff\xc3\xa9 a') for _ in range(n))
    if kind < 0.7:
        return "héllo€😀".encode()[: n + 2]
    return rng.randbytes(n)


def rand_string(rng: random.Random, maxlen: int = 12) -> str:
    return lua_str(rand_bytes(rng, maxlen))


def rand_key(rng: random.Random) -> str:
    pick = rng.random()
    if pick < 0.5:
        return rand_string(rng, 6)
    if pick < 0.8:
        return lua_num(float(rng.randint(-3, 40)))
    if pick < 0.9:
        # not NaN (an error in the constructor) and not a table (pointer-hashed keys
        # iterate in an address-dependent order, in Redis too)
        return lua_num(float(rng.choice(SPECIAL_NUMBERS)))
    return rng.choice(["true", "false", "math.huge"])


def rand_value(rng: random.Random, depth: int = 0, *, keys: bool = True,
               null: bool = True, funcs: bool = False) -> str:
    """A Lua expression for a random (possibly nested) value."""
    pick = rng.random()
    if depth > 4 or pick < 0.25:
        return rand_number(rng)
    if pick < 0.45:
        return rand_string(rng)
    if pick < 0.5:
        return rng.choice(["true", "false"])
    if pick < 0.53 and null:
        return "cjson.null"
    if pick < 0.55 and funcs:
        return rng.choice(["tostring", "(function() end)", "coroutine.create(function() end)"])
    shape = rng.random()
    n = rng.randint(0, 6)
    items: list[str] = []
    if shape < 0.4:                     # array
        items = [rand_value(rng, depth + 1, keys=keys, null=null, funcs=funcs)
                 for _ in range(n)]
    elif shape < 0.55:                  # sparse / holes / nils
        for _ in range(n):
            k = rng.choice([1, 2, 3, 5, 8, 11, 12, 20, 100, 2**31, 0, -1])
            items.append("[%d]=%s" % (k, rand_value(rng, depth + 1, keys=keys, null=null)))
    elif shape < 0.85 or not keys:      # string-keyed map
        for _ in range(n):
            items.append("[%s]=%s" % (rand_string(rng, 6),
                                      rand_value(rng, depth + 1, keys=keys, null=null)))
    else:                               # mixed keys
        for _ in range(n):
            items.append("[%s]=%s" % (rand_key(rng),
                                      rand_value(rng, depth + 1, keys=keys, null=null)))
    return "{" + ",".join(items) + "}"


def nested(opener: str, closer: str, depth: int, leaf: str = "") -> str:
    return opener * depth + leaf + closer * depth
