"""What the per-call speed work (docs/scripting.md, "The cost of a call") must not change,
compared with redis-server: KEYS/ARGV are fresh tables on every call even though they are
now built from one constructor, redis.call's fast path keeps INFO commandstats and the
SLOWLOG as dispatch.call does, and its replies (bulk, integer, status, nil, errors) are
Redis's in both protocols."""

from __future__ import annotations

import pytest
import redis

from tests.scripting.conftest import same
from tests.types.diff import Differ

SHAPE = (
    "local n = 0 for _ in pairs(KEYS) do n = n + 1 end "
    "local m = 0 for _ in pairs(ARGV) do m = m + 1 end "
    "local out = {#KEYS, #ARGV, n, m, select('#', unpack(KEYS)), select('#', unpack(ARGV)), "
    "tostring(next(KEYS, #KEYS)), tostring(next(ARGV, #ARGV)), tostring(KEYS[#KEYS + 1])} "
    "for i = 1, #KEYS do out[#out + 1] = KEYS[i] end "
    "for i = 1, #ARGV do out[#out + 1] = ARGV[i] end "
    "KEYS[#KEYS + 3] = 'junk' ARGV[1] = 'changed' table.insert(ARGV, 'more') "
    "return out"
)


@pytest.mark.parametrize("nkeys,args", [(0, []), (1, ["k"]), (1, ["k", "a"]), (2, ["k1", "k2", "a1", "a2", "a3"]),
                                        (3, ["k1", "k2", "k3"]), (0, ["a1", "a2"])])
def test_keys_and_argv_are_fresh_every_call(sdiff: Differ, nkeys: int, args: list[str]) -> None:
    sha = same(sdiff, "SCRIPT", "LOAD", SHAPE)[1]
    for _ in range(3):  # the script's changes to KEYS/ARGV never reach the next call
        same(sdiff, "EVALSHA", sha, nkeys, *args)
        same(sdiff, "EVAL", SHAPE, nkeys, *args)


def test_function_keeping_its_tables_across_calls(sdiff: Differ) -> None:
    lib = ("#!lua name=keeper\n"
           "local saved_k, saved_a\n"
           "redis.register_function('keep', function(keys, args) "
           "local out = {#keys, #args, saved_k and saved_k[1] or 'none', saved_a and saved_a[1] or 'none', "
           "saved_k and #saved_k or -1} "
           "saved_k, saved_a = keys, args return out end)")
    same(sdiff, "FUNCTION", "LOAD", lib)
    same(sdiff, "FCALL", "keep", 1, "first", "a1")
    same(sdiff, "FCALL", "keep", 2, "second", "k2", "a2")
    same(sdiff, "FCALL", "keep", 0, "a3")
    same(sdiff, "FCALL", "keep", 0)


REPLIES = (
    "local r = {} "
    "r[1] = redis.call('SET', KEYS[1], ARGV[1]) "          # status
    "r[2] = redis.call('GET', KEYS[1]) "                    # bulk
    "r[3] = redis.call('GET', 'missing:key') "              # nil -> false
    "r[4] = redis.call('INCR', KEYS[2]) "                   # integer
    "r[5] = redis.call('EXPIRE', KEYS[1], 60) "             # number argument
    "r[6] = redis.pcall('INCR', KEYS[1]) "                  # error table
    "r[7] = redis.call('SET', KEYS[1], 3.5) "               # float argument
    "r[8] = redis.call('GET', KEYS[1]) "
    "r[9] = redis.call('EXPIRE', KEYS[1], 0 * -1) "         # -0: formatted by Lua
    "r[10] = redis.call('EXISTS', KEYS[1]) "
    "r[11] = redis.pcall('GET') "                           # arity (the slow path)
    "r[12] = redis.pcall('NOSUCH') "
    "r[13] = type(redis.call('GET', 'missing:key')) "
    "return r"
)


@pytest.mark.parametrize("proto", [2, 3])
def test_replies_through_the_fast_path(sdiff: Differ, proto: int) -> None:
    for _ in range(2):
        same(sdiff, "EVAL", REPLIES, 2, "fp:k", "fp:n", "val", proto=proto)
        same(sdiff, "EVAL", "redis.setresp(3) " + REPLIES, 2, "fp:k", "fp:n", "val", proto=proto)
    sdiff.compare_state()


def _stats(client: redis.Redis, names: tuple[str, ...]) -> dict[str, tuple[int, int, int]]:
    info = client.info("commandstats")
    out = {}
    for name in names:
        entry = info.get(f"cmdstat_{name}", {})
        out[name] = (entry.get("calls", 0), entry.get("failed_calls", 0), entry.get("rejected_calls", 0))
    return out


def test_commandstats_count_script_calls(r: redis.Redis, ref: redis.Redis, sdiff: Differ) -> None:
    body = ("redis.call('SET', KEYS[1], ARGV[1]) redis.call('GET', KEYS[1]) "
            "redis.call('EXPIRE', KEYS[1], 60) redis.pcall('INCR', KEYS[1]) "
            "return redis.call('EXISTS', KEYS[1])")
    names = ("set", "get", "expire", "incr", "exists", "eval")
    for client in (r, ref):
        client.config_resetstat()
        for i in range(5):
            client.eval(body, 1, f"cs:{i}", "v")
    assert _stats(r, names) == _stats(ref, names)
    assert _stats(r, names)["set"][0] == 5


def test_slowlog_records_script_calls(r: redis.Redis, ref: redis.Redis, sdiff: Differ) -> None:
    body = "redis.call('SET', KEYS[1], ARGV[1]) return redis.call('GET', KEYS[1])"
    got = {}
    for name, client in (("sentrykv", r), ("redis", ref)):
        old = client.config_get("slowlog-log-slower-than")["slowlog-log-slower-than"]
        client.slowlog_reset()
        client.config_set("slowlog-log-slower-than", 0)
        try:
            client.eval(body, 1, "sl:k", "v")
            entries = client.execute_command("SLOWLOG", "GET", 10)
        finally:
            client.config_set("slowlog-log-slower-than", old)
            client.slowlog_reset()
        got[name] = [entry[3] for entry in entries]
    assert got["sentrykv"] == got["redis"]
    assert [b"SET", b"sl:k", b"v"] in got["sentrykv"]
