"""EVALSHA and FCALL of a small script (GET + SET + EXPIRE), side by side with Redis.

The script is the shape of a typical lock/cache/rate-limit script: one read,
one write, one TTL, on a random key of a 100k key space.  Every server is
prepared once per repetition (SCRIPT LOAD, FUNCTION LOAD), then
redis-benchmark sends the same EVALSHA / FCALL at ``-P 1`` and ``-P 16``.
What it measures on SentryKV beyond a plain command: the crossing into Lua
and back (one Python -> Lua call for the script, one Lua -> Python call per
redis.call) and the conversions of arguments and replies.
"""

from __future__ import annotations

import hashlib

from bench import resp
from bench.redis_benchmark import BenchCase
from bench.throughput import throughput_suite

BODY = ("local v = redis.call('GET', KEYS[1]) "
        "redis.call('SET', KEYS[1], ARGV[1]) "
        "redis.call('EXPIRE', KEYS[1], 60) "
        "return v")
SHA = hashlib.sha1(BODY.encode()).hexdigest()
LIBRARY = ("#!lua name=benchlib\n"
           "redis.register_function('getsetex', function(keys, args) "
           "local v = redis.call('GET', keys[1]) "
           "redis.call('SET', keys[1], args[1]) "
           "redis.call('EXPIRE', keys[1], 60) "
           "return v end)")
KEYSPACE = 100_000


def load_scripts(port: int) -> None:
    """SCRIPT LOAD + FUNCTION LOAD on a freshly started server."""
    sha = resp.command(port, "SCRIPT", "LOAD", BODY)
    assert sha == SHA.encode(), sha
    resp.command(port, "FUNCTION", "LOAD", "REPLACE", LIBRARY)


def _cases(requests: int, pipeline: int) -> list[BenchCase]:
    evalsha = ("EVALSHA", SHA, "1", "key:__rand_int__", "value")
    fcall = ("FCALL", "getsetex", "1", "key:__rand_int__", "value")
    return [
        BenchCase(f"evalsha-c50-P{pipeline}", ("evalsha",), 50, requests, pipeline, KEYSPACE, None, evalsha),
        BenchCase(f"fcall-c50-P{pipeline}", ("fcall",), 50, requests, pipeline, KEYSPACE, None, fcall),
    ]


SCRIPTING = throughput_suite(
    "scripting",
    "EVALSHA and FCALL of a GET + SET + EXPIRE script, -P 1 and -P 16",
    "`EVALSHA <sha> 1 key:__rand_int__ value` and `FCALL getsetex 1 key:__rand_int__ value` "
    "(`-c 50 -r 100000`), the script loaded beforehand with SCRIPT LOAD / FUNCTION LOAD. "
    "Goal: SentryKV at least 0.5x Redis at `-P 16`.",
    {
        "smoke": [("everysec", _cases(2000, 16))],
        "quick": [("everysec", _cases(50_000, 1) + _cases(100_000, 16))],
        "full": [(mode, _cases(100_000, 1) + _cases(200_000, 16)) for mode in ("none", "everysec")],
    },
    order=15,
    setup=load_scripts,
)
