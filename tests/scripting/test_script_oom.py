"""Scripts under maxmemory against redis-server: the declared flags decide up front
(plain OOM for a writing shebang script or function, FUNCTION LOAD refused), a script
without a shebang refuses its first deny-OOM write inside the script, and allow-oom /
no-writes scripts run."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.scripting.conftest import same
from tests.types.diff import Differ

LIB = (
    "#!lua name=oomlib\n"
    "redis.register_function('w', function(keys) return redis.call('set', keys[1], 'z') end)\n"
    "redis.register_function{function_name='ok', callback=function(keys) "
    "return redis.call('set', keys[1], 'o') end, flags={'allow-oom'}}\n"
    "redis.register_function{function_name='ro', callback=function(keys) "
    "return redis.call('get', keys[1]) end, flags={'no-writes'}}\n"
)

CASES: list[tuple[str | int, ...]] = [
    ("SET", "a", "b"),
    ("EVAL", "return redis.call('set', KEYS[1], 'y')", 1, "x"),
    ("EVAL", "return redis.pcall('set', KEYS[1], 'y')", 1, "x"),
    ("EVAL", "redis.call('get', KEYS[1]) return redis.call('del', KEYS[1])", 1, "x"),
    ("EVAL", "#!lua\nreturn redis.call('set', KEYS[1], 'y')", 1, "x"),
    ("EVAL", "#!lua\nreturn 1", 0),
    ("EVAL", "#!lua flags=allow-oom\nreturn redis.call('set', KEYS[1], 'y')", 1, "x"),
    ("EVAL", "#!lua flags=no-writes\nreturn redis.call('get', KEYS[1])", 1, "x"),
    ("EVAL", "return 1", 0),
    ("EVAL_RO", "return redis.call('get', KEYS[1])", 1, "x"),
    ("FCALL", "w", 1, "x"),
    ("FCALL", "ok", 1, "x"),
    ("FCALL", "ro", 1, "x"),
    ("FCALL_RO", "ro", 1, "x"),
    ("FUNCTION", "LOAD", "#!lua name=other\nredis.register_function('f', function() return 1 end)"),
    ("FUNCTION", "DELETE", "oomlib"),
]


@pytest.fixture
def oom(sdiff: Differ) -> Iterator[Differ]:
    same(sdiff, "SET", "x", "v")
    same(sdiff, "FUNCTION", "LOAD", LIB)
    same(sdiff, "CONFIG", "SET", "maxmemory-policy", "noeviction")
    same(sdiff, "CONFIG", "SET", "maxmemory", "1")
    yield sdiff
    same(sdiff, "CONFIG", "SET", "maxmemory", "0")


@pytest.mark.parametrize("proto", [2, 3])
def test_scripts_under_oom(oom: Differ, proto: int) -> None:
    for case in CASES:
        same(oom, *case, proto=proto)
    # EVALSHA of cached scripts: the cache remembers each script's flags.
    for body in ("#!lua\nreturn redis.call('set', KEYS[1], 'y')", "return redis.call('set', KEYS[1], 'y')",
                 "#!lua flags=no-writes\nreturn 7"):
        oom.both("CONFIG", "SET", "maxmemory", "0")
        sha = same(oom, "SCRIPT", "LOAD", body, proto=proto)
        oom.both("CONFIG", "SET", "maxmemory", "1")
        assert isinstance(sha, tuple)
        same(oom, "EVALSHA", sha[1], 1, "x", proto=proto)
    same(oom, "GET", "x", proto=proto)
