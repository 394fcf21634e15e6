"""sentrykv-cli prints replies exactly like redis-cli (the oracle), in both styles."""

from __future__ import annotations

import pytest
import redis

from tests.clients.clitools import run_cli, run_redis_cli
from tests.support.procs import RedisProcess

NESTED = "return {1, {2, {'a', 'b'}, {}}, 'x', false, {err='inner'}, {ok='fine'}}"
ELEVEN = "return {" + ",".join(f"'{c}'" for c in "abcdefghijk") + "}"

CASES = [
    ["get", "str"],
    ["get", "missing"],
    ["get", "bin"],
    ["exists", "str", "missing", "str"],
    ["set", "k", "v"],
    ["ping"],
    ["nosuchcommand", "x"],
    ["eval", NESTED, "0"],
    ["eval", ELEVEN, "0"],
    ["eval", "return {}", "0"],
    ["lrange", "nolist", "0", "-1"],
    ["mget", "str", "missing", "bin"],
    ["info", "keyspace"],
    ["memory", "doctor"],
    ["latency", "doctor"],
    ["cluster", "info"],
    ["echo", "tab\there \"quoted\" back\\slash \x01 \u00e9"],
]


@pytest.fixture
def loaded(ref: redis.Redis) -> redis.Redis:
    ref.set("str", "hello world")
    ref.set("bin", b"a\tb\nc\\d\"e\x01\xff\x7f end")
    return ref


@pytest.mark.parametrize("style", ["--no-raw", "--raw"])
@pytest.mark.parametrize("command", CASES, ids=lambda c: " ".join(c)[:30])
def test_same_output_as_redis_cli(reference: RedisProcess, loaded: redis.Redis, command: list[str],
                                  style: str) -> None:
    port = str(reference.port)
    expected = run_redis_cli("-p", port, style, *command)
    ours = run_cli("-p", port, style, *command)
    assert ours.stdout == expected.stdout, (ours.stdout, expected.stdout, ours.stderr)


def test_raw_is_the_default_when_stdout_is_a_pipe(reference: RedisProcess, loaded: redis.Redis) -> None:
    # What `v=$(sentrykv-cli get k)` relies on: the bare value.
    result = run_cli("-p", str(reference.port), "get", "str")
    assert result.stdout == b"hello world\n"
    assert result.returncode == 0


def test_missing_key_prints_nil(reference: RedisProcess, loaded: redis.Redis) -> None:
    result = run_cli("-p", str(reference.port), "--no-raw", "get", "missing")
    assert result.stdout == b"(nil)\n"
    assert result.returncode == 0


LINES = [
    'set k1 "a b"',
    'set k2 "esc\\n\\t\\r\\a\\b\\\\\\"q\\x41\\xff\\x4"',
    "set k3 'single \\' quote \"dq\" \\n'",
    "set k4 plain\\x41",
    'set k5 ""',
    "set k6 a\"b c\"",
    "   set    k7    spaced   ",
    'set k8 "unterminated',
    'set k9 "glued"x',
    "set k10 'glued'x",
    "set k11 \u00e9t\u00e9",
]


def test_quoting_matches_redis_cli(reference: RedisProcess, ref: redis.Redis) -> None:
    """Each line sets a key through redis-cli, then through sentrykv-cli: same bytes stored."""
    port = str(reference.port)
    script = ("\n".join(LINES) + "\n").encode()
    expected_run = run_redis_cli("-p", port, stdin=script)
    expected = {k: ref.get(k) for k in ref.keys()}
    ref.flushall()
    ours = run_cli("-p", port, stdin=script)
    got = {k: ref.get(k) for k in ref.keys()}
    assert got == expected
    assert b"k2" in got and b"k8" not in got and b"k9" not in got  # sanity: the oracle parsed them
    assert ours.stderr.count(b"Invalid argument(s)") == expected_run.stdout.count(b"Invalid argument(s)") == 3
