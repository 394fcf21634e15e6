"""Differential testing: hypothesis-generated command sequences on SentryKV and redis-server.

Every reply must match exactly.  Only what is truly nondeterministic is
normalised: remaining TTLs (the two servers run the same command a few
milliseconds apart), the order of KEYS/SCAN results (hash-table order) and
RANDOMKEY (any existing key is right).  Expiry times are either far in the
future or already in the past, so no key expires *during* a sequence on one
server but not on the other.

After each sequence the whole dataset (keys, types, string values, TTL
presence in databases 0-2) is compared as well.

OBJECT ENCODING is left out: Redis's string encoding depends on how the value
was written (APPEND and INCRBYFLOAT make "raw"/"embstr" even for "12"), which
SentryKV derives from the bytes instead; test_strings_keys.py checks the SET path.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.core.helpers import Pair, raw_client, same_reply
from tests.support.procs import RedisProcess, ServerProcess

KEYS = ["k1", "k2", "k3"]
VALUES = ["", "0", "1", "-1", "7", "10", "-0", "007", "abc", "3.5", "-2.25", "1e3", " 1", "1 ",
          "9223372036854775807", "-9223372036854775808", "99999999999999999999", "inf", "x" * 50]
NOW = int(time.time())

key = st.sampled_from(KEYS)
value = st.sampled_from(VALUES)
small_int = st.sampled_from(["0", "1", "-1", "2", "5", "-3", "100", "abc", "1.5", "9223372036854775807",
                             "-9223372036854775808", ""])
float_arg = st.sampled_from(["0", "1", "-1", "0.1", "1.5", "-2.25", "1e3", "3e-5", "inf", "-inf", "abc",
                             "1e309", "", "5.0e3", "10.5", "0.3"])
# Expiry arguments that cannot race: far in the future, zero/negative, or absolute in the past.
rel_seconds = st.one_of(st.integers(1000, 10**8), st.integers(-5, 0)).map(str)
rel_millis = st.one_of(st.integers(10**6, 10**11), st.integers(-5, 0)).map(str)
abs_seconds = st.one_of(st.integers(1, NOW - 1000), st.integers(NOW + 10**4, NOW + 10**8)).map(str)
abs_millis = st.one_of(st.integers(1, (NOW - 1000) * 1000),
                       st.integers((NOW + 10**4) * 1000, (NOW + 10**8) * 1000)).map(str)
expire_flags = st.lists(st.sampled_from(["NX", "XX", "GT", "LT"]), max_size=2, unique=True)
db_index = st.sampled_from(["0", "1", "2", "16", "-1", "abc", "2147483648", "-2147483649"])
glob = st.sampled_from(["*", "k*", "k?", "k[12]", "k[^1]", "x*", "k\\1", "*1"])


def _set_options() -> st.SearchStrategy[list[str]]:
    expiry = st.one_of(
        st.tuples(st.just("EX"), rel_seconds), st.tuples(st.just("PX"), rel_millis),
        st.tuples(st.just("EXAT"), abs_seconds), st.tuples(st.just("PXAT"), abs_millis),
        st.tuples(st.just("KEEPTTL")),
    ).map(list)
    cond = st.sampled_from([[], ["NX"], ["XX"], ["GET"], ["NX", "GET"], ["XX", "GET"], ["NX", "XX"]])
    return st.tuples(cond, st.one_of(st.just([]), expiry)).map(lambda t: t[0] + t[1])


def _getex_options() -> st.SearchStrategy[list[str]]:
    return st.one_of(
        st.just([]), st.just(["PERSIST"]),
        st.tuples(st.just("EX"), rel_seconds).map(list), st.tuples(st.just("PX"), rel_millis).map(list),
        st.tuples(st.just("EXAT"), abs_seconds).map(list), st.tuples(st.just("PXAT"), abs_millis).map(list),
        st.just(["EX"]), st.just(["PERSIST", "EX", "100"]), st.just(["FOO"]),
    )


def c(*parts: Any) -> st.SearchStrategy[list[str]]:
    """A command whose parts are constants, strategies, or strategies of lists (spliced in)."""
    strategies = [p if isinstance(p, st.SearchStrategy) else st.just(p) for p in parts]

    def flatten(values: tuple[Any, ...]) -> list[str]:
        out: list[str] = []
        for v in values:
            out.extend(v if isinstance(v, list) else [v])
        return out

    return st.tuples(*strategies).map(flatten)


STRING_COMMANDS = [
    c("GET", key), c("SET", key, value), c("SET", key, value, _set_options()),
    c("SETNX", key, value), c("SETEX", key, rel_seconds, value), c("PSETEX", key, rel_millis, value),
    c("GETSET", key, value), c("GETDEL", key), c("GETEX", key, _getex_options()),
    c("MGET", st.lists(key, min_size=1, max_size=4)),
    c("MSET", key, value, key, value), c("MSETNX", key, value, key, value),
    c("APPEND", key, value), c("STRLEN", key),
    c("INCR", key), c("DECR", key), c("INCRBY", key, small_int), c("DECRBY", key, small_int),
    c("INCRBYFLOAT", key, float_arg),
    c("GETRANGE", key, small_int, small_int), c("SUBSTR", key, small_int, small_int),
    c("SETRANGE", key, st.sampled_from(["0", "1", "3", "10", "-1", "abc"]), value),
    c("LCS", key, key), c("LCS", key, key, "LEN"), c("LCS", key, key, "IDX", "WITHMATCHLEN"),
]
KEY_COMMANDS = [
    c("DEL", st.lists(key, min_size=1, max_size=3)), c("UNLINK", key), c("EXISTS", st.lists(key, min_size=1, max_size=3)),
    c("TYPE", key), c("KEYS", glob), c("SCAN", "0", "COUNT", "1000"), c("SCAN", "0", "MATCH", glob, "COUNT", "1000"),
    c("SCAN", "0", "TYPE", st.sampled_from(["string", "hash", "list"]), "COUNT", "1000"),
    c("RANDOMKEY"), c("DBSIZE"), c("RENAME", key, key), c("RENAMENX", key, key),
    c("COPY", key, key), c("COPY", key, key, "REPLACE"), c("COPY", key, key, "DB", db_index),
    c("MOVE", key, db_index), c("SELECT", db_index), c("SWAPDB", db_index, db_index),
    c("EXPIRE", key, rel_seconds, expire_flags), c("PEXPIRE", key, rel_millis, expire_flags),
    c("EXPIREAT", key, abs_seconds, expire_flags), c("PEXPIREAT", key, abs_millis, expire_flags),
    c("TTL", key), c("PTTL", key), c("EXPIRETIME", key), c("PEXPIRETIME", key), c("PERSIST", key),
    c("TOUCH", st.lists(key, min_size=1, max_size=3)),
    c("FLUSHDB"), c("ECHO", value), c("PING"),
]
CONTAINER_WRITES = {
    "hset": c("HSET", key, "f", value), "lpush": c("LPUSH", key, value),
    "sadd": c("SADD", key, value), "zadd": c("ZADD", key, "1", value),
}


def with_wrong_arity(cmd: st.SearchStrategy[list[str]]) -> st.SearchStrategy[list[str]]:
    """The same command with an argument dropped or an extra one appended."""
    return st.tuples(cmd, st.booleans(), value).map(
        lambda t: (t[0][:-1] if len(t[0]) > 1 else t[0]) if t[1] else [*t[0], t[2]]
    )


def sequences(commands: list[st.SearchStrategy[list[str]]]) -> st.SearchStrategy[list[list[str]]]:
    one = st.one_of(*commands)
    return st.lists(st.one_of(one, one, one, with_wrong_arity(one)), min_size=1, max_size=25)


def _pair(server: ServerProcess, reference: RedisProcess, protocol: int) -> Iterator[Pair]:
    mine, theirs = raw_client(server.port, protocol), raw_client(reference.port, protocol)
    yield Pair(mine, theirs)
    mine.close()
    theirs.close()


@pytest.fixture(scope="module")
def pair(server: ServerProcess, reference: RedisProcess) -> Iterator[Pair]:
    yield from _pair(server, reference, 2)


@pytest.fixture(scope="module")
def pair3(server: ServerProcess, reference: RedisProcess) -> Iterator[Pair]:
    yield from _pair(server, reference, 3)


@pytest.fixture(scope="module")
def container_writes(server: ServerProcess) -> list[st.SearchStrategy[list[str]]]:
    """Type-creating commands SentryKV already implements (others are tested elsewhere)."""
    probe = server.client()
    try:
        known = probe.execute_command("COMMAND", "INFO", *CONTAINER_WRITES)
    finally:
        probe.close()
    present = {name for name, info in zip(CONTAINER_WRITES, known, strict=True) if info}
    return [strategy for name, strategy in CONTAINER_WRITES.items() if name in present]


SETTINGS = settings(deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))


@settings(SETTINGS, max_examples=600)
@given(script=sequences(STRING_COMMANDS + KEY_COMMANDS))
def test_strings_and_keys_resp2(pair: Pair, script: list[list[str]]) -> None:
    pair.run(script)


@settings(SETTINGS, max_examples=200)
@given(script=sequences(STRING_COMMANDS + KEY_COMMANDS))
def test_strings_and_keys_resp3(pair3: Pair, script: list[list[str]]) -> None:
    pair3.run(script)


@settings(SETTINGS, max_examples=500)
@given(data=st.data())
def test_wrong_types(pair: Pair, container_writes: list[st.SearchStrategy[list[str]]], data: st.DataObject) -> None:
    script = data.draw(sequences(STRING_COMMANDS + KEY_COMMANDS + container_writes * 3))
    pair.run(script)


def test_the_comparison_can_fail(pair: Pair) -> None:
    """Guard against a comparator that accepts anything."""
    assert not same_reply(["GET", "k"], b"1", b"2")
    assert not same_reply(["TTL", "k"], 100, 98)
    assert not same_reply(["TTL", "k"], -1, 5)
    assert not same_reply(["KEYS", "*"], [b"a"], [b"a", b"b"])
    assert not same_reply(["RANDOMKEY"], None, b"k1")
    assert same_reply(["TTL", "k"], 100, 99)


# Long-double arithmetic: INCRBYFLOAT must print exactly what Redis's strtold/%.17Lf print.
_digits = st.text("0123456789", min_size=1, max_size=22)
float_literal = st.one_of(
    st.builds(lambda sign, whole, frac, exp: f"{sign}{whole}{'.' + frac if frac else ''}{exp}",
              st.sampled_from(["", "-", "+"]), _digits, st.one_of(st.just(""), _digits),
              st.one_of(st.just(""), st.integers(-330, 330).map(lambda e: f"e{e}"),
                        st.integers(4900, 4940).map(lambda e: f"e{e}"),
                        st.integers(-4960, -4930).map(lambda e: f"e{e}"))),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.integers(-(2**70), 2**70).map(str),
    st.builds(lambda m, p: f"0x{m:x}p{p}", st.integers(0, 2**70), st.integers(-80, 80)),
)


@settings(SETTINGS, max_examples=300)
@given(start=float_literal, steps=st.lists(float_literal, min_size=1, max_size=3))
def test_incrbyfloat_long_double_arithmetic(pair: Pair, start: str, steps: list[str]) -> None:
    pair.run([["SET", "f", start], *(["INCRBYFLOAT", "f", step] for step in steps), ["GET", "f"]])
