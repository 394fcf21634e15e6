"""cmsgpack against Redis 7.0: generated values, every type code, offsets and limits."""

from __future__ import annotations

import random
import struct

import pytest

from tests.scripting.luadiff import LuaDiff, generate, generated_tests, lua_str
from tests.scripting.luagen import rand_number, rand_value


def pack_case(rng: random.Random) -> str:
    args = [rand_value(rng, funcs=True) for _ in range(rng.randint(1, 3))]
    return f"return cmsgpack.pack({', '.join(args)})"


def roundtrip_case(rng: random.Random) -> str:
    args = [rand_value(rng) for _ in range(rng.randint(1, 3))]
    # the second pack shows the decoded tables' key order as well
    return (f"local s = cmsgpack.pack({', '.join(args)}) "
            f"return cmsgpack.pack(cmsgpack.unpack(s)), cmsgpack.unpack(s)")


def numbers_case(rng: random.Random) -> str:
    return f"return cmsgpack.pack({rand_number(rng)}, {rand_number(rng)})"


def _header(code: int, rng: random.Random) -> bytes:
    """A first byte followed by plausible (and implausible) bytes."""
    tail = rng.randbytes(rng.choice([0, 1, 2, 3, 4, 5, 8, 9, 12, 20]))
    return bytes([code]) + tail


def type_code_cases(rng: random.Random) -> list[str]:
    return [f"return cmsgpack.unpack({lua_str(_header(code, rng))})" for code in range(256)]


def _enc(obj: object) -> bytes:
    """A hand-built msgpack encoder with every width, for decode tests."""
    if obj is None:
        return b"\xc0"
    if obj is True:
        return b"\xc3"
    if obj is False:
        return b"\xc2"
    if isinstance(obj, tuple):               # ("u8", 5) style explicit encodings
        kind, v = obj
        fmt = {"u8": ">BB", "u16": ">BH", "u32": ">BI", "u64": ">BQ", "i8": ">Bb",
               "i16": ">Bh", "i32": ">Bi", "i64": ">Bq", "f32": ">Bf", "f64": ">Bd"}[kind]
        code = {"u8": 0xCC, "u16": 0xCD, "u32": 0xCE, "u64": 0xCF, "i8": 0xD0, "i16": 0xD1,
                "i32": 0xD2, "i64": 0xD3, "f32": 0xCA, "f64": 0xCB}[kind]
        return struct.pack(fmt, code, v)
    if isinstance(obj, bytes):
        n = len(obj)
        if n < 32 and n % 3:
            return bytes([0xA0 | n]) + obj
        if n < 256 and n % 2:
            return bytes([0xD9, n]) + obj
        if n % 2:
            return b"\xda" + struct.pack(">H", n) + obj
        return b"\xdb" + struct.pack(">I", n) + obj
    if isinstance(obj, list):
        n = len(obj)
        head = bytes([0x90 | n]) if n < 16 and n % 2 else (
            b"\xdc" + struct.pack(">H", n) if n % 3 else b"\xdd" + struct.pack(">I", n))
        return head + b"".join(_enc(x) for x in obj)
    if isinstance(obj, dict):
        n = len(obj)
        head = bytes([0x80 | n]) if n < 16 and n % 2 else (
            b"\xde" + struct.pack(">H", n) if n % 3 else b"\xdf" + struct.pack(">I", n))
        return head + b"".join(_enc(k) + _enc(v) for k, v in obj.items())
    raise TypeError(obj)


def _rand_obj(rng: random.Random, depth: int = 0) -> object:
    pick = rng.random()
    if depth > 3 or pick < 0.5:
        kind = rng.choice(["u8", "u16", "u32", "u64", "i8", "i16", "i32", "i64", "f32", "f64"])
        bits = {"u8": 8, "u16": 16, "u32": 32, "u64": 64, "i8": 8, "i16": 16, "i32": 32,
                "i64": 64}.get(kind)
        if kind == "f32":
            return (kind, struct.unpack(">f", rng.randbytes(4))[0])
        if kind == "f64":
            return (kind, struct.unpack(">d", rng.randbytes(8))[0])
        assert bits is not None
        if kind[0] == "u":
            return (kind, rng.randrange(0, 2**bits))
        return (kind, rng.randrange(-(2 ** (bits - 1)), 2 ** (bits - 1)))
    if pick < 0.6:
        return rng.choice([None, True, False])
    if pick < 0.75:
        return rng.randbytes(rng.choice([0, 1, 5, 31, 32, 33, 255, 256, 300]))
    if pick < 0.88:
        return [_rand_obj(rng, depth + 1) for _ in range(rng.randint(0, 17))]
    return {bytes([65 + i]) * rng.randint(1, 3): _rand_obj(rng, depth + 1)
            for i in range(rng.randint(0, 17))}


def stream_cases(rng: random.Random) -> list[str]:
    data = b"".join(_enc(_rand_obj(rng)) for _ in range(rng.randint(1, 3)))
    s = lua_str(data)
    cut = lua_str(data[:rng.randint(0, len(data))])
    return [f"return cmsgpack.unpack({s})", f"return cmsgpack.unpack({cut})",
            f"return cmsgpack.pack(cmsgpack.unpack({s}))"]


# name: (seed, rounds, case maker)
test_generated = generated_tests({
    "pack_values": (31, 1500, pack_case),
    "roundtrip_values": (32, 800, roundtrip_case),
    "numbers": (33, 600, numbers_case),
    "every_type_code": (34, 4, type_code_cases),
    "hand_built_streams": (35, 500, stream_cases),
})


def test_float_and_int64_edges(luadiff: LuaDiff) -> None:
    raw = [
        b"\xcf\xff\xff\xff\xff\xff\xff\xff\xff", b"\xcf\x80\x00\x00\x00\x00\x00\x00\x00",
        b"\xcf\x7f\xff\xff\xff\xff\xff\xff\xff", b"\xcf\x00\x20\x00\x00\x00\x00\x00\x01",
        b"\xd3\x80\x00\x00\x00\x00\x00\x00\x01", b"\xd3\xff\xdf\xff\xff\xff\xff\xff\xff",
        b"\xca\x7f\x80\x00\x01", b"\xca\xff\xc0\x00\x00", b"\xca\x00\x00\x00\x01",
        b"\xcb\x7f\xf0\x00\x00\x00\x00\x00\x01", b"\xcb\xff\xf8\x00\x00\x00\x00\xab\xcd",
        b"\xcb\x00\x00\x00\x00\x00\x00\x00\x01", b"\xcb\x80\x00\x00\x00\x00\x00\x00\x00",
    ]
    cases = []
    for r in raw:
        s = lua_str(r)
        cases.append(f"return cmsgpack.unpack({s}), cmsgpack.pack(cmsgpack.unpack({s})), "
                     f"struct.pack('>d', cmsgpack.unpack({s}))")
    luadiff.assert_same(cases)


def offset_cases(rng: random.Random) -> list[str]:
    data = b"".join(_enc(_rand_obj(rng, 3)) for _ in range(rng.randint(0, 4)))
    s = lua_str(data)
    off = rng.choice([0, 1, 2, 5, len(data), len(data) + 1, -1, 2**32 + 1, -2**40, 1.5, "'3'"])
    lim = rng.choice([0, 1, 2, 3, 10, -1, 2**32])
    return [f"return cmsgpack.unpack_one({s}, {off})",
            f"return cmsgpack.unpack_limit({s}, {lim}, {off})",
            f"return cmsgpack.unpack_limit({s}, {lim})"]


def test_unpack_one_and_limit_offsets(luadiff: LuaDiff) -> None:
    cases = generate(36, 300, offset_cases)
    cases += [
        # walk a stream the way BullMQ-style scripts do
        "local s = cmsgpack.pack(1, {a=2}, 'x', {3, 4}) local out, off = {}, 0 "
        "while off ~= -1 do local v off, v = cmsgpack.unpack_one(s, off) out[#out+1] = v end "
        "return out",
        "return cmsgpack.unpack_one()", "return cmsgpack.unpack_one('\\1', {})",
        "return cmsgpack.unpack_one({})", "return cmsgpack.unpack_limit('\\1')",
        "return cmsgpack.unpack_limit('\\1', 'x')", "return cmsgpack.unpack_limit('\\1', 1, {})",
        "return cmsgpack.unpack_limit({}, 1)", "return cmsgpack.unpack()", "return cmsgpack.unpack({})",
        "return cmsgpack.unpack(12345)", "return cmsgpack.unpack_one('\\1\\2', nil)",
    ]
    luadiff.assert_same(cases)


LIMITS = [
    "cmsgpack.pack()", "cmsgpack.pack(nil)", "cmsgpack.pack(tostring, cjson.null, nil)",
    "cmsgpack.unpack(string.rep('\\1', 7999))", "select('#', cmsgpack.unpack(string.rep('\\1', 7998)))",
    "cmsgpack.unpack(string.rep('\\1', 8000))", "cmsgpack.unpack(string.rep('\\145', 5000) .. '\\1')",
    "cmsgpack.unpack(string.rep('\\145', 3998) .. '\\1')", "cmsgpack.unpack(string.rep('\\145', 3999) .. '\\1')",
    "cmsgpack.unpack(string.rep('\\129\\1', 3998) .. '\\1')", "cmsgpack.unpack(string.rep('\\129\\1', 4000) .. '\\1')",
    "cmsgpack.unpack(string.rep('\\129\\145', 2000) .. '\\1')",
    "cmsgpack.unpack_limit(string.rep('\\1', 8000), 7999)", "cmsgpack.unpack_limit(string.rep('\\1', 7999), 8000)",
    "cmsgpack.unpack_limit(string.rep('\\1', 7998), 8000)", "cmsgpack.unpack_one(string.rep('\\145', 4000) .. '\\1')",
    "cmsgpack.unpack('\\129\\192\\1')", "cmsgpack.unpack('\\129\\203\\255\\248\\0\\0\\0\\0\\0\\0\\1')",
    "cmsgpack.unpack('\\221\\255\\255\\255\\255\\1')", "cmsgpack.unpack('\\219\\255\\255\\255\\255abc')",
]


def _packs_near_the_argument_limit() -> list[str]:
    out = []
    for n, tail in [(4001, "1"), (4000, "1"), (4000, "{}"), (3997, "{{}}"), (3998, "{{}}"),
                    (3997, "{a={}}"), (3996, "{a={b={}}}"), (3999, "{1}")]:
        out.append(f"local t = {{}} for i = 1, {n - 1} do t[i] = 1 end t[{n}] = {tail} "
                   f"return #cmsgpack.pack(unpack(t))")
    return out


@pytest.mark.parametrize("half", [0, 1])
def test_stack_limits(luadiff: LuaDiff, half: int) -> None:
    cases = ["return " + e for e in LIMITS] + _packs_near_the_argument_limit()
    luadiff.assert_same(cases[half::2], batch=8)


def test_nesting_and_cycles(luadiff: LuaDiff) -> None:
    cases = [
        "local t = {} t[1] = t return cmsgpack.pack(t)",
        "local t = {} t.self = t return cmsgpack.pack(t)",
        "local t = {} local c = t for i = 1, 20 do c[1] = {} c = c[1] end return cmsgpack.pack(t)",
        "local t = {} local c = t for i = 1, 15 do c.k = {} c = c.k end return cmsgpack.pack(t)",
        "local t = {} for i = 1, 70000 do t[i] = i % 300 end return #cmsgpack.pack(t), cmsgpack.pack({t})",
        "local t = {} for i = 1, 20 do t['k' .. i] = i end return cmsgpack.pack(t)",
        "local t = {} for i = 1, 70000 do t['k' .. i] = 1 end return #cmsgpack.pack(t)",
        "return cmsgpack.pack(string.rep('x', 65535), string.rep('y', 65536))",
        "return cmsgpack.pack({[1]=1,[2]=2,[4]=4}), cmsgpack.pack({[2^31-1]=1}), cmsgpack.pack({[-1]=1})",
    ]
    luadiff.assert_same(cases, batch=3)


@pytest.mark.slow
def test_roundtrip_generated_many(luadiff: LuaDiff) -> None:
    luadiff.assert_same(generate(37, 5000, lambda rng: stream_cases(rng) + [pack_case(rng)]),
                        batch=500)
