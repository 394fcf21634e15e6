"""cjson against Redis 7.0: generated values and JSON texts, every option, every error."""

from __future__ import annotations

import random

import pytest

from tests.scripting.luadiff import LuaDiff, generate, generated_tests, lua_str
from tests.scripting.luagen import nested, rand_number, rand_value

CONFIGS = [
    "",
    "c.encode_sparse_array(true)",
    "c.encode_sparse_array(false, 1, 0)",
    "c.encode_sparse_array(true, 0)",
    "c.encode_sparse_array('on', 3, 2)",
    "c.encode_number_precision(1)",
    "c.encode_number_precision(6)",
    "c.encode_number_precision(17 - 3)",
    "c.encode_invalid_numbers(true)",
    "c.encode_invalid_numbers('null')",
    "c.encode_max_depth(2)",
    "c.encode_keep_buffer(false)",
]


def encode_case(rng: random.Random) -> str:
    return f"return cjson.encode({rand_value(rng, funcs=True)})"


def encode_number_case(rng: random.Random) -> str:
    p, x = rng.randint(1, 14), rand_number(rng)
    return (f"local c = cjson.new() c.encode_number_precision({p}) "
            f"c.encode_invalid_numbers('on') return c.encode({x}), c.encode({{[{x}] = 1}})")


def encode_option_case(rng: random.Random) -> str:
    return f"local c = cjson.new() {rng.choice(CONFIGS)} return c.encode({rand_value(rng)})"


def test_encode_strings_every_byte(luadiff: LuaDiff) -> None:
    cases = [f"return cjson.encode({lua_str(bytes(range(i, i + 16)))})" for i in range(0, 256, 16)]
    key, value = lua_str(bytes(range(256))), lua_str(b'/\\"')
    cases.append(f"return cjson.encode({{[{key}] = {value}}})")
    luadiff.assert_same(cases)


def _json_number(rng: random.Random) -> str:
    forms = ["0", "-0", "1", "-1", "12.5", "1e5", "1E-5", "-3.25e+2", "1.", "-.5", ".5", "00012",
             "012", "0x1F", "-0x1f", "0X10", "0x", "0x.8", "0x1p4", "0x1P-2", "0x1p", "1e", "1e+",
             "+1", "+inf", "-inf", "inf", "Infinity", "-Infinity", "INF", "iNfInItY", "infinit",
             "nan", "-nan", "NaN", "nan(123)", "nan(0x7)", "nan(", "nan()", "1e400", "-1e400",
             "1e-400", "4.9e-324", "123456789012345678901234567890", "1.7976931348623157e308",
             "-", "--1", "1-", "0.1.2", "1e5.5", "2.5e3e4", "0e", "0.e1", "1_000"]
    if rng.random() < 0.5:
        return rng.choice(forms)
    return repr(rng.uniform(-1e9, 1e9)) if rng.random() < 0.5 else str(rng.randint(-10**18, 10**18))


VALID_ESCAPES = [r"\"", r"\\", r"\/", r"\b", r"\f", r"\n", r"\r", r"\t", r"\u0041", r"\u00e9",
                 r"\u20AC", r"\u0000", r"\uffff", r"\ud83d\ude00", r"\uD83D\uDE00", r"\u007F"]
BAD_ESCAPES = [r"\ud800", r"\udc00", r"\ud800\u0041", r"\ud800x", r"\u12", r"\u12g4", r"\x", r"\a",
               "\\"]


def _json_string(rng: random.Random) -> str:
    parts = ['"']
    for _ in range(rng.randint(0, 8)):
        p = rng.random()
        if p < 0.45:
            parts.append(rng.choice(["a", "b", "xyz", " ", "/", "é", "\x01", "\x7f", "\xff"]))
        elif p < 0.85:
            parts.append(rng.choice(VALID_ESCAPES))
        elif p < 0.88:
            parts.append(rng.choice(BAD_ESCAPES))
        else:
            parts.append("%04x" % rng.randrange(65536))
    if rng.random() < 0.98:
        parts.append('"')
    return "".join(parts)


def _ws(rng: random.Random) -> str:
    return rng.choice(["", "", "", " ", "\n", "\t ", "\r\n  ", "\x0b", "\x0c"]) if rng.random() < 0.4 else ""


def _json_value(rng: random.Random, depth: int = 0) -> str:
    p = rng.random()
    if depth > 4 or p < 0.3:
        return _json_number(rng)
    if p < 0.5:
        return _json_string(rng)
    if p < 0.6:
        return rng.choice(["true", "false", "null"] * 5 + ["tru", "nul", "nullx", "True", "NULL"])
    n = rng.randint(0, 5)
    if p < 0.8:
        items = [_ws(rng) + _json_value(rng, depth + 1) + _ws(rng) for _ in range(n)]
        text = "[" + ",".join(items) + ("," if rng.random() < 0.05 else "") + "]"
    else:
        items = [_ws(rng) + (_json_string(rng) if rng.random() < 0.95 else _json_number(rng)) +
                 _ws(rng) + (":" if rng.random() < 0.97 else "") + _ws(rng) +
                 _json_value(rng, depth + 1) for _ in range(n)]
        text = "{" + ",".join(items) + "}"
    if rng.random() < 0.03:
        text = text[:-1]
    return text


def _mutate(rng: random.Random, text: str) -> str:
    if not text or rng.random() < 0.7:
        return text
    i = rng.randrange(len(text))
    op = rng.random()
    if op < 0.3:
        return text[:i]
    if op < 0.6:
        return text[:i] + rng.choice(list('{}[],:"\\ 0-+.eE\x00xn')) + text[i:]
    return text[:i] + text[i + 1:]


def decode_case(rng: random.Random) -> str:
    text = _ws(rng) + _mutate(rng, _json_value(rng)) + _ws(rng)
    return f"return cjson.decode({lua_str(text.encode('latin-1', errors='replace'))})"


def strict_number_cases(rng: random.Random) -> list[str]:
    text = "[" + _json_number(rng) + "]" if rng.random() < 0.5 else _json_number(rng)
    s = lua_str(text.encode())
    return [f"local c = cjson.new() c.decode_invalid_numbers(false) return c.decode({s})",
            f"return cjson.decode({s})"]


def roundtrip_case(rng: random.Random) -> str:
    v = rand_value(rng, keys=False, null=True)
    return (f"local ok, s = pcall(cjson.encode, {v}) if not ok then return s end "
            f"return cjson.encode(cjson.decode(s)), cmsgpack.pack(cjson.decode(s))")


# name: (seed, rounds, case maker)
test_generated = generated_tests({
    "encode_values": (41, 1500, encode_case),
    "encode_with_options": (42, 1200, encode_option_case),
    "encode_numbers": (43, 500, encode_number_case),
    "decode_texts": (44, 1500, decode_case),
    "decode_strict_numbers": (45, 400, strict_number_cases),
    "roundtrip_key_order": (46, 600, roundtrip_case),
})


def test_options_and_their_errors(luadiff: LuaDiff) -> None:
    fns = {
        "encode_sparse_array": ["", "true", "false", "'on'", "'off'", "'x'", "{}", "1", "nil, 5",
                                "true, -1", "true, 2^31", "true, 2^32 + 7", "true, 1, -1",
                                "true, 1, 2, 3", "true, 'x'", "true, '4', '5'", "nil, nil, 3"],
        "encode_max_depth": ["", "1", "0", "-1", "2^31", "2^31 - 1", "'7'", "'x'", "{}", "1, 2",
                             "nil", "2.9"],
        "decode_max_depth": ["", "1", "0", "2^32 + 1", "'x'", "1, 2"],
        "encode_number_precision": ["", "1", "14", "15", "0", "'3'", "3.99", "{}", "1, 2"],
        "encode_keep_buffer": ["", "true", "false", "'on'", "'off'", "'maybe'", "1", "{}", "1, 2"],
        "encode_invalid_numbers": ["", "true", "false", "'on'", "'off'", "'null'", "'nil'", "0",
                                   "{}", "1, 2"],
        "decode_invalid_numbers": ["", "true", "false", "'on'", "'off'", "'null'", "{}", "1, 2"],
    }
    cases = []
    for fn, argsets in fns.items():
        for a in argsets:
            cases.append(f"local c = cjson.new() return c.{fn}({a})")
            cases.append(f"local c = cjson.new() return pcall(c.{fn}, {a or 'nil'})")
        cases.append(f"local c = cjson.new() local t = {{f = c.{fn}}} return t:f({{}})")
    cases += [
        "local c = cjson.new() c.encode_sparse_array(true, 1, 1) return c.encode({[1]=1, [3]=3})",
        "local c = cjson.new() return c.encode_sparse_array(true, 2^30), c.encode({1, 2, [20] = 3})",
        "local c = cjson.new() c.encode_sparse_array(false, 1, 0) return c.encode({[1]=1, [3]=3})",
        "local c = cjson.new() c.encode_max_depth(3) return c.encode({{{}}}), pcall(c.encode, {{{{}}}})",
        "local c = cjson.new() c.decode_max_depth(3) return c.decode('[[[]]]'), pcall(c.decode, '[[[[]]]]')",
        "local c = cjson.new() local d = c.new() c.encode_number_precision(2) return c.encode(1/3), d.encode(1/3)",
        "return cjson.new ~= nil, cjson.new().new ~= nil, cjson.new().null == cjson.null, cjson._NAME, cjson._VERSION",
        "return cjson.encode(), cjson.encode(1, 2)", "return pcall(cjson.encode)", "return pcall(cjson.decode)",
        "return cjson.decode('1', 2)", "return cjson.decode(nil)", "return cjson.decode({})",
        "return cjson.decode(true)", "return cjson.decode(42)", "return cjson.decode(-1.5e300)",
    ]
    luadiff.assert_same(cases, batch=50)


_OBJ = '{"a":'
DEPTH_CASES = [
    f"return #cjson.encode(cjson.decode('{nested('[', ']', 1000)}'))",
    "local t = {} local c = t for i = 1, 999 do c[1] = {} c = c[1] end return #cjson.encode(t)",
    "local t = {} local c = t for i = 1, 1000 do c[1] = {} c = c[1] end return cjson.encode(t)",
    "local t = {} local c = t for i = 1, 1000 do c.a = {} c = c.a end return cjson.encode(t)",
    "local t = {} t[1] = t return cjson.encode(t)",
    "local t = {} t.x = {t} return cjson.encode(t)",
    "local c = cjson.new() c.encode_max_depth(100000) local t = {} local x = t "
    "for i = 1, 8000 do x[1] = {} x = x[1] end return c.encode(t)",
    "local c = cjson.new() c.encode_max_depth(100000) local t = {} local x = t "
    "for i = 1, 8000 do x.a = {} x = x.a end return c.encode(t)",
    "local c = cjson.new() c.encode_max_depth(100000) local t = {} local x = t "
    "for i = 1, 8000 do if i % 3 == 0 then x.a = {} x = x.a else x[1] = {} x = x[1] end end return c.encode(t)",
    f"return cjson.decode('{nested('[', ']', 1001)}')",
    f"return cjson.decode('{nested(_OBJ, '}', 1001, '1')}')",
    f"local c = cjson.new() c.decode_max_depth(100000) return c.decode('{nested('[', ']', 8000)}')",
    f"local c = cjson.new() c.decode_max_depth(100000) return c.decode('{nested(_OBJ, '}', 8000, '1')}')",
    f"local c = cjson.new() c.decode_max_depth(100000) return c.decode('{nested('[' + _OBJ, '}]', 3000, '1')}')",
]


@pytest.mark.parametrize("half", [0, 1])
def test_depth_limits(luadiff: LuaDiff, half: int) -> None:
    luadiff.assert_same(DEPTH_CASES[half::2], batch=4)


def test_decode_special_inputs(luadiff: LuaDiff) -> None:
    cases = [f"return cjson.decode({lua_str(t)})" for t in [
        b"", b" ", b"\x00", b"\x00\x00", b"1\x00", b"\x001", b"[1]\x00garbage", b"7\x00", b'"a\x00b"',
        b"\xef\xbb\xbf[1]", b"[1]\x0b", b"\x0c[1]", b"[1,\n2,\r\n3\t]", b'{"a":1,"a":2}',
        b'{"":""}', b'{"1":1,"2":2}', b'[[],{},[{}]]', b'"\\u0000"', b"[" * 5 + b"]" * 4,
        b'{"a":[1,2,{"b":null}],"c":"x\\u00e9\\ud83d\\ude00\\/\\n"}', b"true false", b"null null",
    ]]
    luadiff.assert_same(cases)


@pytest.mark.slow
def test_decode_and_encode_generated_many(luadiff: LuaDiff) -> None:
    luadiff.assert_same(generate(47, 10000, lambda rng: [decode_case(rng), encode_case(rng),
                                                        roundtrip_case(rng)]), batch=500)


def test_metatables_holes_and_coroutines(luadiff: LuaDiff) -> None:
    # raw access only (rawgeti / lua_next), holes, emptied tables, calls from coroutines
    cases = [
        "local t = setmetatable({}, {__index = function(t, k) return k * 2 end}) "
        "return cjson.encode(t), cmsgpack.pack(t)",
        "local t = setmetatable({[1]=1, [3]=3}, {__index = function() return 99 end}) "
        "return cjson.encode(t), cmsgpack.pack(t)",
        "local t = setmetatable({a = 1}, {__len = function() return 5 end}) "
        "return cjson.encode(t), cmsgpack.pack(t)",
        "local t = setmetatable({[1]=1, [3]=3}, {__index = function() error('boom') end}) "
        "return cjson.encode(t), cmsgpack.pack(t)",
        "return cjson.encode(setmetatable({}, {__metatable = false}))",
        "local co = coroutine.wrap(function() return cjson.encode({1, {a = 2}}), "
        "cmsgpack.pack({1}), bit.band(3, 1), struct.pack('>h', 1) end) return co()",
        "local co = coroutine.wrap(function() local x = cjson.decode('x') return x end) return co()",
        "local f = coroutine.wrap(function() local x = bit.band({}) return x end) return pcall(f)",
        "local t = {} for i = 1, 100 do t[i] = i end t[50] = nil return cjson.encode(t), #cmsgpack.pack(t)",
        "local t = {} for i = 1, 10 do t[i] = i end for i = 1, 10 do t[i] = nil end t.x = 1 "
        "t.x = nil return cjson.encode(t), cmsgpack.pack(t)",
        "return cjson.encode({1, 2, nil, 4}), cmsgpack.pack({1, 2, nil, 4}), "
        "cjson.encode({nil, nil, 3}), cmsgpack.pack({nil, nil, 3})",
        "return cjson.encode({[1]=1, [2]=2, [3]=3, [4]=4, [5]=5, [6]=6, [7]=7, [8]=8, [9]=9, "
        "[10]=10, [11]=11, [30]=30})",
        "local ok = pcall(cjson.encode, {1, tostring, string.rep('x', 100000)}) "
        "return ok, cjson.encode({1})",
    ]
    luadiff.assert_same(cases)
