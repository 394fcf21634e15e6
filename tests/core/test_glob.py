"""Glob patterns: Redis's stringmatchlen semantics, in bounded time, everywhere patterns match.

The oracle is redis-server: a generated corpus of patterns (classes, ranges,
negation, escapes, unterminated classes, stars, bytes >= 0x80) is run through
KEYS, SCAN MATCH, HSCAN MATCH, PUBSUB CHANNELS, PSUBSCRIBE delivery and
CONFIG GET (nocase) on both servers.  The pathological patterns that used to
pin the loop (the glob was a backtracking regex) must answer at once, while
another client is still served.
"""

from __future__ import annotations

import random
import threading
import time

import pytest
import redis

from sentrykv_server.store.glob import _compile, _match_long, compile_glob
from tests.support.procs import RedisProcess, ServerProcess

ALPHABET = [b"a", b"b", b"A", b"-", b"]", b"[", b"^", b"\\", b"*", b"?", b"\x00", b"\xe9", b"\xff", b"z", b"0"]
PATTERN_PIECES = ALPHABET + [b"*", b"?", b"[a-c]", b"[^a]", b"[z-a]", b"[\\]]", b"[a-]", b"[", b"[^",
                             b"\\*", b"\\", b"[\x80-\xff]", b"[\x00-a]", b"[A-Z]", b"[]a]", b"[^]", b"**"]


def _corpus(seed: int, n_patterns: int, n_keys: int) -> tuple[list[bytes], list[bytes]]:
    rng = random.Random(seed)
    keys = {b"".join(rng.choice(ALPHABET) for _ in range(rng.randint(1, 6))) for _ in range(n_keys)}
    patterns = [b"".join(rng.choice(PATTERN_PIECES) for _ in range(rng.randint(0, 5)))
                for _ in range(n_patterns)]
    return sorted(keys), patterns


def test_long_pattern_path_agrees_with_compiled_path() -> None:
    """_match_long (patterns over 2 KB) and the regex path implement one semantics."""
    keys, patterns = _corpus(7, 1500, 200)
    for pattern in patterns:
        for nocase in (False, True):
            compiled = _compile(pattern, nocase)
            for key in keys:
                assert compiled(key) == _match_long(pattern, key, nocase), (pattern, key, nocase)


def test_pathological_patterns_are_fast_in_process() -> None:
    key = b"a" * 40
    for stars in (10, 20, 200):
        pattern = b"a*" * stars + b"b"
        start = time.perf_counter()
        assert not compile_glob(pattern)(key)
        assert not compile_glob(pattern * 20)(key * 100)  # the long-pattern path
        assert time.perf_counter() - start < 0.5


@pytest.fixture(scope="module")
def pair() -> tuple[redis.Redis, redis.Redis]:
    skv = ServerProcess(args=["--appendonly", "no"]).start()
    ref = RedisProcess().start()
    yield skv.client(), ref.client()
    skv.stop()
    ref.stop()
    skv.cleanup()
    ref.cleanup()


def test_keys_and_scan_match_redis(pair: tuple[redis.Redis, redis.Redis]) -> None:
    skv, ref = pair
    keys, patterns = _corpus(1, 1500, 400)
    keys.append(b"")  # the empty key: only "*" (KEYS' allkeys) and "" find it
    long_patterns = [b"*" * 3000 + b"a", b"[a-z]" * 500 + b"*", b"?*" * 1500]
    for side in (skv, ref):
        side.flushall()
        side.mset({k: b"v" for k in keys})
        side.hset("h", mapping={k: b"v" for k in keys})
    for pattern in patterns + long_patterns + [b"*", b""]:
        got = sorted(skv.keys(pattern))
        want = sorted(ref.keys(pattern))
        assert got == want, pattern
    for pattern in patterns[:300] + long_patterns:
        assert sorted(skv.scan_iter(match=pattern, count=1000)) == sorted(ref.scan_iter(match=pattern, count=1000)), pattern
        assert sorted(skv.hscan_iter("h", match=pattern, count=1000)) == sorted(
            ref.hscan_iter("h", match=pattern, count=1000)), pattern


def test_pubsub_patterns_match_redis(pair: tuple[redis.Redis, redis.Redis]) -> None:
    skv, ref = pair
    channels, patterns = _corpus(2, 200, 60)
    channels = [c for c in channels if c]
    results = []
    for side in (skv, ref):
        listener = side.pubsub()
        for c in channels:
            listener.subscribe(c)
        got = {p: sorted(side.pubsub_channels(p)) for p in patterns}
        listener.close()
        # PSUBSCRIBE delivery: which patterns hear which channel.
        sub = side.pubsub()
        unique = sorted(set(p for p in patterns if p))
        sub.psubscribe(*unique)
        sub.subscribe(b"__end__")  # delivered after every pmessage published before it
        for _ in range(len(unique) + 1):
            sub.get_message(timeout=2)
        for c in channels:
            side.publish(c, b"x")
        side.publish(b"__end__", b"x")
        heard = []
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            msg = sub.get_message(timeout=1)
            if msg is None:
                continue
            if msg["type"] == "message":
                break
            if msg["type"] == "pmessage" and msg["channel"] != b"__end__":
                heard.append((msg["pattern"], msg["channel"]))
        sub.close()
        results.append((got, sorted(heard)))
    assert results[0][0] == results[1][0]
    assert results[0][1] == results[1][1]
    assert len(results[1][1]) > 50  # the corpus really exercises delivery


def test_config_get_patterns_match_redis(pair: tuple[redis.Redis, redis.Redis]) -> None:
    skv, ref = pair
    redis_names = set(ref.config_get("*"))  # SentryKV has a few parameters of its own
    for pattern in ["*max*", "MAXMEM*", "[a-c]*", "[^a-z]*", "*-[lm]*", "?ort", "\\port", "*[", "[z-a]ppend*"]:
        got = set(skv.config_get(pattern)) & redis_names
        assert got == set(ref.config_get(pattern)), pattern


def test_pathological_keys_answer_at_once_and_others_are_served(pair: tuple[redis.Redis, redis.Redis]) -> None:
    skv, _ = pair
    skv.flushall()
    skv.set(b"a" * 40, b"v")
    pattern = b"a*" * 20 + b"b"
    stop = threading.Event()
    served: list[float] = []

    def other_client() -> None:
        c = redis.Redis(port=skv.connection_pool.connection_kwargs["port"], socket_timeout=5)
        while not stop.is_set():
            t0 = time.perf_counter()
            c.ping()
            served.append(time.perf_counter() - t0)
        c.close()

    t = threading.Thread(target=other_client)
    t.start()
    try:
        start = time.perf_counter()
        for _ in range(20):
            assert skv.keys(pattern) == []
            assert skv.scan(0, match=pattern, count=100)[1] == []
            assert skv.pubsub_channels(pattern) == []
        assert time.perf_counter() - start < 5
    finally:
        stop.set()
        t.join()
    assert served and max(served) < 1.0
