"""struct against Redis 7.0: generated formats for pack / unpack / size, and every error."""

from __future__ import annotations

import random

import pytest

from tests.scripting.luadiff import LuaDiff, generate, generated_tests, lua_str
from tests.scripting.luagen import lua_num, rand_bytes, rand_number

INT_OPTS = ["b", "B", "h", "H", "l", "L", "T", "i", "I"]


def rand_int_arg(rng: random.Random) -> str:
    pick = rng.random()
    if pick < 0.5:
        return rand_number(rng)
    return lua_num(float(rng.randint(-(2**rng.randint(1, 64)), 2**rng.randint(1, 64))))


def rand_format(rng: random.Random, for_unpack: bool = False) -> tuple[str, list[str]]:
    """A format and the Lua arguments pack() needs for it."""
    fmt: list[str] = []
    args: list[str] = []
    for _ in range(rng.randint(1, 7)):
        pick = rng.random()
        if pick < 0.08:
            fmt.append(rng.choice(["<", ">", " "]))
            continue
        if pick < 0.14:
            fmt.append("!" + rng.choice(["", "1", "2", "4", "8", "16"]))
            continue
        if pick < 0.55:
            opt = rng.choice(INT_OPTS)
            if opt in "iI" and rng.random() < 0.6:
                opt += str(rng.choice([1, 2, 3, 4, 5, 7, 8, 9, 12, 16, 32]))
            fmt.append(opt)
            args.append(rand_int_arg(rng))
        elif pick < 0.7:
            fmt.append(rng.choice(["f", "d"]))
            args.append(rand_number(rng))
        elif pick < 0.75:
            fmt.append("x")
        elif pick < 0.9:
            n = rng.randint(0 if not for_unpack else 1, 6)
            fmt.append("c%d" % n)
            args.append(lua_str(rand_bytes(rng, 8) + b"........")[: 0] or lua_str(
                (rand_bytes(rng, 8) + b"........")[: max(n, rng.randint(0, 8))]))
        else:
            fmt.append("s")
            args.append(lua_str(rand_bytes(rng, 6).replace(b"\0", b"z")))
    return "".join(fmt), args


def pack_case(rng: random.Random) -> str:
    fmt, args = rand_format(rng)
    return f"return struct.pack({lua_str(fmt.encode())}, {', '.join(args) or 'nil'})"


def roundtrip_cases(rng: random.Random) -> list[str]:
    fmt, args = rand_format(rng, for_unpack=True)
    f = lua_str(fmt.encode())
    cases = [f"local s = struct.pack({f}, {', '.join(args) or 'nil'}) "
             f"return s, struct.unpack({f}, s), struct.unpack({f}, s .. 'tail', 1)"]
    if "s" not in fmt:
        cases.append(f"return struct.size({f})")
    return cases


def unpack_bytes_case(rng: random.Random) -> str:
    fmt, _args = rand_format(rng, for_unpack=True)
    data = rng.randbytes(rng.randint(0, 40))
    init = rng.choice(["", ", 1", ", 2", ", 5", ", -1", ", 0", ", 100", ", 3.7", ", '2'"])
    return f"return struct.unpack({lua_str(fmt.encode())}, {lua_str(data)}{init})"


def bit_pattern_cases(rng: random.Random) -> list[str]:
    # round trips expose NaN payloads, signalling NaNs and subnormals byte for byte
    d, f = lua_str(rng.randbytes(8)), lua_str(rng.randbytes(4))
    return [f"local x = struct.unpack('>d', {d}) "
            f"return x, struct.pack('>d', x), struct.pack('<f', x), struct.pack('>I8', x)",
            f"local x = struct.unpack('<f', {f}) return x, struct.pack('<f', x), struct.pack('>d', x)"]


# name: (seed, rounds, case maker)
test_generated = generated_tests({
    "pack": (21, 1200, pack_case),
    "pack_unpack_size": (22, 800, roundtrip_cases),
    "unpack_random_bytes": (23, 1200, unpack_bytes_case),
})


def test_float_and_double_bit_patterns(luadiff: LuaDiff) -> None:
    cases = generate(24, 400, bit_pattern_cases)
    for x in ["3.4028235677973366e38", "3.4028234663852886e38", "1e39", "1.401298464324817e-45",
              "7e-46", "7.1e-46", "1.1754942e-38", "0.1", "-(0/0)", "0/0", "math.huge", "-0.0"]:
        cases.append(f"return struct.pack('>f', {x}), struct.pack('<d', {x})")
    luadiff.assert_same(cases)


def test_integer_conversions(luadiff: LuaDiff) -> None:
    values = ["2^64", "1e20", "0/0", "-(0/0)", "-1e20", "2^63 + 2048", "2^63", "-2^63",
              "-0.5", "0.99", "-1.99", "math.huge", "-math.huge", "2^53 + 1", "-1", "255.9"]
    cases = [f"return struct.pack('>{opt}', {v})" for opt in ["L", "l", "I4", "i2", "b", "i16", "I9"]
             for v in values]
    cases += [f"return struct.unpack('{e}{opt}', {lua_str(bytes(range(250, 256)) * 6)})"
              for e in "<>" for opt in ["i9", "I9", "i12", "i16", "I16", "i32", "i0", "I0", "l", "L"]]
    luadiff.assert_same(cases)


ERRORS = [
    "struct.pack('=i', 1)", "struct.pack('i33', 1)", "struct.pack('I0')", "struct.pack('!3i', 1)",
    "struct.pack('!0i', 1)", "struct.pack('i99999999999', 1)", "struct.pack('c2147483648', 'x')",
    "struct.pack('c5', 'ab')", "struct.pack('i')", "struct.pack('ii', 1)", "struct.pack('s')",
    "struct.pack('c', {})", "struct.pack('d', 'x')", "struct.pack('d', '1.5')", "struct.pack()",
    "struct.pack({})", "struct.pack(5)", "struct.pack('i\\0garbage', 1)", "struct.pack('\\200', 1)",
    "struct.pack('z')", "struct.pack('', 1, 2)", "struct.pack(' < > ! ')",
    "struct.unpack('c0', 'abc')", "struct.unpack('s', 'abc')", "struct.unpack('i', 'abc')",
    "struct.unpack('i', 'abcd', 0)", "struct.unpack('!4i', '\\1\\0\\0\\0', -1)",
    "struct.unpack('!4i', '\\1\\0\\0\\0\\2\\0\\0\\0', -1)", "struct.unpack('', 'abc', -5)",
    "struct.unpack('', 'abc', 10)", "struct.unpack('', '', 1e300)", "struct.unpack('b', 'abc', 1e300)",
    "struct.unpack('bc0', '\\3abcdef')", "struct.unpack('bc0', '\\255abc')",
    "struct.unpack('c1c0', '3abcd')", "struct.unpack('c1c0', 'xabcd')", "struct.unpack('dc0', '\\0\\0\\0\\0\\0\\0\\240\\127abc')",
    "struct.unpack('c0')", "struct.unpack('i', {})", "struct.unpack('i', 'abcd', {})",
    "struct.unpack('i', 'abcd', nil)", "struct.unpack('x', '')", "struct.unpack('xs', 'ab\\0')",
    "struct.unpack(' ', '', 2)", "struct.unpack(' ', '', 1)",
    "struct.size('s')", "struct.size('c0')", "struct.size('z5=')", "struct.size('=')", "struct.size('!3')",
    "struct.size('!4 b i d c3 x')", "struct.size('i40')", "struct.size()", "struct.size('i\\0d')",
    "struct.unpack(string.rep('b', 7998), string.rep('\\1', 8000))",
    "struct.unpack(string.rep('b', 7997), string.rep('\\1', 8000))",
    "struct.unpack(string.rep('b', 7996), string.rep('\\1', 8000), 1)",
    "struct.unpack(string.rep('b', 7995), string.rep('\\1', 8000), 1)",
    "struct.unpack(string.rep('x', 9000), string.rep('\\1', 9000))",
    "#struct.pack(string.rep('c8000', 3) .. 'i', string.rep('a', 8000), string.rep('b', 8000), string.rep('c', 8000))",
]


@pytest.mark.parametrize("batch", range(0, len(ERRORS), 16))
def test_errors_and_limits(luadiff: LuaDiff, batch: int) -> None:
    cases = ["return " + e for e in ERRORS[batch:batch + 16]]
    cases += ["return pcall(" + e.replace("(", ", ", 1).replace(", )", ")")
              for e in ERRORS[batch:batch + 16] if e.startswith("struct.")]
    luadiff.assert_same(cases)


@pytest.mark.slow
def test_pack_unpack_generated_many(luadiff: LuaDiff) -> None:
    luadiff.assert_same(generate(25, 15000, roundtrip_cases), batch=500)
