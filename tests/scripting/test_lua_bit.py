"""bit (LuaBitOp) against Redis 7.0: generated numbers, every function, every error."""

from __future__ import annotations

import random

import pytest

from tests.scripting.luadiff import LuaDiff, generate
from tests.scripting.luagen import NUMBER_EXPRS, SPECIAL_NUMBERS, lua_num, rand_number

FUNCS1 = ["tobit", "bnot", "bswap", "tohex"]
FUNCSN = ["band", "bor", "bxor"]
SHIFTS = ["lshift", "rshift", "arshift", "rol", "ror"]


def numbers() -> list[str]:
    out = [lua_num(float(x)) for x in SPECIAL_NUMBERS]
    out += ["(" + e + ")" for e in NUMBER_EXPRS]
    out += ['"0x10"', '" 12 "', '"1e3"', '"-7"', '"0"']
    return out


def test_every_function_on_edge_numbers(luadiff: LuaDiff) -> None:
    nums = numbers()
    cases = []
    for f in FUNCS1:
        cases += [f"return bit.{f}({x})" for x in nums]
    for x in nums:
        cases.append(f"return bit.tobit({x} + 0.5), bit.tobit(-{x} - 0.5)")
    luadiff.assert_same(cases)


def random_call(rng: random.Random) -> str:
    f = rng.choice(FUNCS1 + FUNCSN + SHIFTS)
    if f in FUNCSN:
        args = [rand_number(rng) for _ in range(rng.randint(1, 5))]
    elif f in SHIFTS:
        args = [rand_number(rng), str(rng.randint(-40, 70))]
    elif f == "tohex":
        args = [rand_number(rng)] + ([str(rng.randint(-12, 12))] if rng.random() < 0.7 else [])
    else:
        args = [rand_number(rng)]
    return f"return bit.{f}({', '.join(args)})"


def test_random_operands(luadiff: LuaDiff) -> None:
    luadiff.assert_same(generate(11, 1500, random_call))


def test_tohex_widths(luadiff: LuaDiff) -> None:
    cases = [f"return bit.tohex({x}, {n})" for x in ("0x1234abcd", "-1", "255")
             for n in (-2147483648, -2147483647, -9, -8, -3, -1, 0, 1, 7, 8, 9, 2**31 - 1, 2**32 + 3)]
    luadiff.assert_same(cases)


@pytest.mark.parametrize("f", FUNCS1 + FUNCSN + SHIFTS)
def test_argument_errors(luadiff: LuaDiff, f: str) -> None:
    bad = ["nil", "{}", '"x"', "true", "tostring", '""', '"0x"', "coroutine.running()"]
    cases = [f"return bit.{f}()"]
    cases += [f"return bit.{f}({b})" for b in bad]
    cases += [f"return bit.{f}(1, {b})" for b in bad]
    cases += [f"return bit.{f}(1, 2, {b})" for b in bad]
    cases += [f"return bit.{f}({b}, {b})" for b in bad]
    # names as the call site spells them: local alias, method call, called from C
    cases += [
        f"local g = bit.{f} return g({{}})",
        f"local t = {{m = bit.{f}}} return t:m()",
        f"local t = {{m = bit.{f}}} return t.m({{}})",
        f"return pcall(bit.{f}, {{}})",
        f"return pcall(bit.{f})",
    ]
    luadiff.assert_same(cases)


def test_operand_order_of_errors(luadiff: LuaDiff) -> None:
    # argument 1 is checked first, then the others from the last one down
    cases = [
        "return bit.band({}, 1, {})", "return bit.band(1, {}, 2, true)",
        "return bit.bor(1, 2, 3, nil)", "return bit.bxor(1, nil, 3)",
        "return bit.band(1, 2, 3, 4, 5, 6, 7, 8)", "return bit.bor(2^40, -2^40, 1.5, -1.5)",
    ]
    luadiff.assert_same(cases)


@pytest.mark.slow
def test_random_operands_many(luadiff: LuaDiff) -> None:
    luadiff.assert_same(generate(12, 30000, random_call), batch=500)
