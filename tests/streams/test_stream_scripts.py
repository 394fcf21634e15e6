"""XREAD / XREADGROUP with BLOCK where a client cannot block: scripts and MULTI, against redis-server.

Redis 7.0.15 refuses BLOCK inside EVAL and FCALL outright ("<name as called> command is
not allowed with BLOCK option from scripts", raised while parsing, so before a later
syntax error or a missing group), whether or not data is there; inside MULTI the BLOCK
is ignored and an empty read answers nil.  Nothing may wait: every call is timed.
"""

from __future__ import annotations

import time

import redis

SCRIPTS = [
    "return redis.call('XREAD','BLOCK',0,'STREAMS','s','$')",
    "return redis.call('xread','block',1000,'streams','nokey','0')",
    "return redis.call('XREAD','BLOCK',0,'STREAMS','s','0')",  # data is there: still refused
    "return redis.call('xread','count',1,'block',0,'streams','s')",  # refused before the syntax error
    "return redis.call('XREAD','BLOCK','abc','STREAMS','s','0')",
    "return redis.call('XREAD','COUNT',1,'STREAMS','s','0')",
    "return redis.call('xReadGroup','GROUP','g','c','BLOCK',0,'STREAMS','s','>')",
    "redis.call('XADD','s','5-1','x','y'); return redis.call('XREADGROUP','GROUP','g','c','BLOCK',0,'STREAMS','s','>')",
    "return redis.call('XREADGROUP','GROUP','nogroup','c','BLOCK',0,'STREAMS','s','>')",
    "return redis.call('XREADGROUP','GROUP','g','c','STREAMS','s','>')",
    "return redis.pcall('XREAD','BLOCK',0,'STREAMS','s','$')",
]
LIBRARY = ("#!lua name=blk\n"
           "redis.register_function('rd', function(k, a) return redis.call('XREAD','BLOCK',0,'STREAMS',k[1],'$') end)\n"
           "redis.register_function('rg', function(k, a) "
           "return redis.call('XREADGROUP','GROUP','g','c','BLOCK',100,'STREAMS',k[1],'>') end)")


def _timed(fn: object) -> tuple[object, float]:
    t0 = time.monotonic()
    try:
        out: object = fn()  # type: ignore[operator]
    except redis.ResponseError as exc:
        out = "error: " + str(exc).split(" script: ")[0]
    return out, time.monotonic() - t0


def _run(c: redis.Redis) -> list[object]:
    c.xadd("s", {"a": "b"}, id="1-1")
    c.xgroup_create("s", "g", id="$")
    c.function_load(LIBRARY, replace=True)
    out: list[object] = []
    for script in SCRIPTS:
        out.append(_timed(lambda script=script: c.eval(script, 0)))
    out.append(_timed(lambda: c.fcall("rd", 1, "s")))
    out.append(_timed(lambda: c.fcall("rg", 1, "s")))
    pipe = c.pipeline(transaction=True)
    pipe.xread({"s": "$"}, block=0).xread({"nokey": "0"}, block=100)
    pipe.xreadgroup("g", "c", {"s": ">"}, block=0)
    out.append(_timed(pipe.execute))
    replies = []
    for reply, took in out:
        assert took < 0.5, f"{reply!r} waited {took:.2f}s"
        replies.append(reply)
    return replies


def test_block_in_scripts_and_multi_never_waits(r: redis.Redis, ref: redis.Redis) -> None:
    got, want = _run(r), _run(ref)
    for i, (g, w) in enumerate(zip(got, want, strict=True)):
        assert g == w, f"case {i}: sentrykv {g!r} redis {w!r}"
    assert "not allowed with BLOCK option from scripts" in str(want[0])
