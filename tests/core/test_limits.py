"""The worst-case audit (docs/limits.md): one test per bounded case, Redis's limits and wording.

Each case is the most work a small request can ask for.  Where Redis bounds it, both
servers must answer the same; where Redis builds whatever was asked and SentryKV refuses
(documented as an intended difference), the test says so.  Timing bounds here are hang
checks (seconds), never speed assertions.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator

import pytest
import redis

from sentrykv_server.store.lcs import lcs_length, lcs_walk
from tests.core.helpers import call, raw_client
from tests.support.procs import RedisProcess, ServerProcess


@pytest.fixture
def pair(server: ServerProcess, reference: RedisProcess) -> Iterator[tuple[redis.Redis, redis.Redis]]:
    mine, theirs = raw_client(server.port), raw_client(reference.port)
    for c in (mine, theirs):
        call(c, "FLUSHALL")
    yield mine, theirs
    for c in (mine, theirs):
        call(c, "CONFIG", "SET", "proto-max-bulk-len", "512mb")
        c.close()


def both(pair: tuple[redis.Redis, redis.Redis], *args: bytes | str | int) -> object:
    mine, theirs = pair
    got, want = call(mine, *args), call(theirs, *args)
    assert got == want, f"{args}: sentrykv {got!r} redis {want!r}"
    return got


# -- LCS ------------------------------------------------------------------------------------------


def _reference_lcs(a: bytes, b: bytes) -> tuple[bytes, list[object], int]:
    """Redis's table walk, cell by cell (the algorithm store/lcs.py must reproduce)."""
    n, m = len(a), len(b)
    t = [[0] * (m + 1) for _ in range(n + 1)]
    for x in range(1, n + 1):
        for y in range(1, m + 1):
            t[x][y] = t[x - 1][y - 1] + 1 if a[x - 1] == b[y - 1] else max(t[x - 1][y], t[x][y - 1])
    out = bytearray(t[n][m])
    idx, x, y = t[n][m], n, m
    matches: list[object] = []
    ar: list[int] | None = None
    br: list[int] = []
    while x > 0 and y > 0:
        if a[x - 1] == b[y - 1]:
            idx -= 1
            out[idx] = a[x - 1]
            if ar is not None and ar[0] == x and br[0] == y:
                ar[0] -= 1
                br[0] -= 1
            else:
                if ar is not None:
                    matches.append([list(ar), list(br), ar[1] - ar[0] + 1])
                ar, br = [x - 1, x - 1], [y - 1, y - 1]
            x, y = x - 1, y - 1
        else:
            if t[x - 1][y] > t[x][y - 1]:
                x -= 1
            else:
                y -= 1
            if ar is not None:
                matches.append([list(ar), list(br), ar[1] - ar[0] + 1])
                ar = None
    if ar is not None:
        matches.append([list(ar), list(br), ar[1] - ar[0] + 1])
    return bytes(out), matches, t[n][m]


def test_bit_parallel_lcs_walks_redis_path() -> None:
    rnd = random.Random(7)
    for _ in range(3000):
        alphabet = rnd.choice([b"ab", b"abc", b"abcdefgh", bytes(range(256))])
        a = bytes(rnd.choice(alphabet) for _ in range(rnd.randint(0, 25)))
        b = bytes(rnd.choice(alphabet) for _ in range(rnd.randint(0, 25)))
        assert lcs_walk(a, b, 0, True) == _reference_lcs(a, b), (a, b)
        assert lcs_length(a, b) == _reference_lcs(a, b)[2]


def test_lcs_matches_redis(pair: tuple[redis.Redis, redis.Redis]) -> None:
    rnd = random.Random(11)
    for _ in range(40):
        a = bytes(rnd.choice(b"ACGT") for _ in range(rnd.randint(0, 300)))
        b = bytes(rnd.choice(b"ACGT") for _ in range(rnd.randint(0, 300)))
        both(pair, "MSET", "a", a, "b", b)
        both(pair, "LCS", "a", "b")
        both(pair, "LCS", "a", "b", "LEN")
        both(pair, "LCS", "a", "b", "IDX", "MINMATCHLEN", rnd.randint(0, 4), "WITHMATCHLEN")


def test_lcs_table_limit_is_proto_max_bulk_len(pair: tuple[redis.Redis, redis.Redis]) -> None:
    both(pair, "CONFIG", "SET", "proto-max-bulk-len", "1mb")
    both(pair, "MSET", "a", "x" * 511, "b", "y" * 511)  # 512*512*4 = exactly 1 MiB: allowed
    assert both(pair, "LCS", "a", "b", "LEN") == 0
    both(pair, "SET", "a", "x" * 512)  # 513*512*4 > 1 MiB
    assert both(pair, "LCS", "a", "b") == (
        "ERR", "Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len")


def test_lcs_at_the_default_limit_answers_promptly(pair: tuple[redis.Redis, redis.Redis]) -> None:
    """11000 x 11000 (484 MB of table in Redis): a cell-by-cell Python loop took minutes."""
    mine, _ = pair
    rnd = random.Random(3)
    a = bytes(rnd.choice(b"ACGT") for _ in range(11000))
    b = bytes(rnd.choice(b"ACGT") for _ in range(11000))
    call(mine, "MSET", "a", a, "b", b)
    start = time.monotonic()
    reply = call(mine, "LCS", "a", "b", "IDX")
    assert time.monotonic() - start < 5, "hang check"
    assert isinstance(reply, list) and reply[-1] == lcs_length(a, b)
    call(mine, "MSET", "a", b"x" * 1_000_000 + b"y", "b", b"y")  # skewed: one char vs 1 MB
    start = time.monotonic()
    assert call(mine, "LCS", "a", "b") == b"y"
    assert time.monotonic() - start < 5, "hang check"


# -- negative counts that repeat elements ---------------------------------------------------------


@pytest.mark.parametrize("cmd", [["SRANDMEMBER", "s"], ["HRANDFIELD", "h"], ["HRANDFIELD", "h", None, "WITHVALUES"],
                                 ["ZRANDMEMBER", "z"], ["ZRANDMEMBER", "z", None, "WITHSCORES"]])
def test_random_repeat_count_is_capped(pair: tuple[redis.Redis, redis.Redis], cmd: list[str | None]) -> None:
    mine, theirs = pair
    for c in (mine, theirs):
        call(c, "SADD", "s", "a")
        call(c, "HSET", "h", "a", "1")
        call(c, "ZADD", "z", "1", "a")

    def with_count(count: int) -> list[str | int]:
        out: list[str | int] = [cmd[0] or "", cmd[1] or "", count]
        return out + [x for x in cmd[3:] if x]

    assert len(call(mine, *with_count(-500_000))) in (500_000, 1_000_000)  # the cap itself is allowed
    # Intended difference: Redis would build 2**62 elements; SentryKV refuses.
    assert call(mine, *with_count(-500_001)) == ("ERR", "value is out of range")
    assert call(mine, *with_count(-(1 << 62))) == ("ERR", "value is out of range")
    # A missing key is still an empty reply, whatever the count (as Redis).
    call(mine, "DEL", cmd[1] or "")
    assert call(mine, *with_count(-(1 << 62))) == []
    # Redis's own bound for the WITH* forms is unchanged.
    if len(cmd) > 3:
        both(pair, *with_count(-(1 << 62) - 1))


# -- RANDOMKEY in a keyspace of expired keys ------------------------------------------------------


def test_randomkey_among_expired_keys_is_bounded(pair: tuple[redis.Redis, redis.Redis]) -> None:
    """Redis re-picks until a live key; a dict has no O(1) pick, so SentryKV walks once at most."""
    mine, theirs = pair
    for c in (mine, theirs):
        for start in range(0, 20000, 1000):
            pipe = c.pipeline(transaction=False)
            for i in range(start, start + 1000):
                pipe.execute_command("SET", f"gone{i}", "x", "PXAT", "1")  # expired, not yet reclaimed
            pipe.execute()
    both(pair, "SET", "alive", "1")
    start = time.monotonic()
    for _ in range(20):
        assert call(mine, "RANDOMKEY") == b"alive"
    assert time.monotonic() - start < 10, "hang check"
    assert call(theirs, "RANDOMKEY") == b"alive"
    both(pair, "DEL", "alive")
    call(mine, "SELECT", 0)


# -- the audit's other rows: the same answer as Redis, promptly ------------------------------------

LONG_MAX = "9223372036854775807"
AUDIT_CASES = [
    ([], ["SETRANGE", "sr", "536870912", "x"]),  # offset + length over proto-max-bulk-len
    ([], ["SETRANGE", "sr", "-1", "x"]),
    ([["SET", "ap", "x"]], ["APPEND", "ap", "y"]),
    ([["SET", "g", "abc"]], ["GETRANGE", "g", "0", LONG_MAX]),
    ([["SET", "g", "abc"]], ["GETRANGE", "g", "-" + LONG_MAX, LONG_MAX]),
    ([["SET", "f", "1"]], ["INCRBYFLOAT", "f", "1e4900"]),
    ([["SET", "f", "1"]], ["INCRBYFLOAT", "f", "9" * 6000]),
    ([["RPUSH", "l", "a", "b", "a"]], ["LPOS", "l", "a", "COUNT", "0", "MAXLEN", "0"]),
    ([["RPUSH", "l", "a", "b", "a"]], ["LPOS", "l", "a", "RANK", "-" + LONG_MAX]),
    ([["RPUSH", "l", "a", "b", "a"]], ["LRANGE", "l", "-" + LONG_MAX, LONG_MAX]),
    ([["RPUSH", "l", "a"]], ["LMPOP", "1", "l", "LEFT", "COUNT", LONG_MAX]),
    ([["RPUSH", "l", "a"]], ["LPOP", "l", LONG_MAX]),
    ([["SADD", "s", "a"]], ["SPOP", "s", LONG_MAX]),
    ([["SADD", "s", "a"]], ["SPOP", "s", "-1"]),
    ([["SADD", "s", "a"]], ["SINTERCARD", "1", "s", "LIMIT", LONG_MAX]),
    ([["SADD", "s", "a"]], ["SINTERCARD", "2147483647", "s"]),
    ([["SADD", "s", "a"]], ["SINTERCARD", "0", "s"]),
    ([["ZADD", "z", "1", "a"]], ["ZRANGESTORE", "dst", "z", "0", LONG_MAX]),
    ([["ZADD", "z", "1", "a"]], ["ZRANGE", "z", "-inf", "+inf", "BYSCORE", "LIMIT", LONG_MAX, "1"]),
    ([["ZADD", "z", "1", "a"]], ["ZUNIONSTORE", "d", "2147483647", "z"]),
    ([["ZADD", "z", "1", "a"]], ["ZINTERCARD", "2147483647", "z"]),
    ([["ZADD", "z", "1", "a"]], ["ZMPOP", "1", "z", "MIN", "COUNT", LONG_MAX]),
    ([["ZADD", "z", "1", "a"]], ["ZRANDMEMBER", "z", "-" + LONG_MAX, "WITHSCORES"]),
    ([["HSET", "h", "a", "1"]], ["HRANDFIELD", "h", "-" + LONG_MAX, "WITHVALUES"]),
    ([["SET", "k", "1"]], ["EXPIRE", "k", LONG_MAX]),
    ([["SET", "k", "1"]], ["SET", "k", "1", "PX", LONG_MAX]),
    ([], ["SCAN", "0", "COUNT", LONG_MAX]),
    ([], ["SCAN", "0", "COUNT", "0"]),
    ([], ["SLOWLOG", "LEN"]),  # GET LONG_MAX: at most slowlog-max-len entries (below)
    ([], ["SELECT", "2147483648"]),
    ([], ["CONFIG", "SET", "hash-max-listpack-entries", "-1"]),
    ([], ["CONFIG", "SET", "proto-max-bulk-len", "1"]),
    ([], ["CONFIG", "SET", "client-query-buffer-limit", "-1"]),
]


@pytest.mark.parametrize(("setup", "cmd"), AUDIT_CASES, ids=lambda v: " ".join(v)[:48] if v and isinstance(v[0], str) else "")
def test_audit_case_matches_redis(pair: tuple[redis.Redis, redis.Redis], setup: list[list[str]], cmd: list[str]) -> None:
    for step in setup:
        both(pair, *step)
    start = time.monotonic()
    if cmd[0] == "SLOWLOG":  # entries differ by server; the reply is bounded by slowlog-max-len
        mine, _ = pair
        assert isinstance(call(mine, "SLOWLOG", "GET", LONG_MAX), list)
        return
    both(pair, *cmd)
    assert time.monotonic() - start < 5, "hang check"


@pytest.mark.parametrize(("name", "value"), [("hz", "0"), ("hz", "1000"), ("hz", "-1"), ("hz", "500"),
                                             ("client-output-buffer-limit", "normal -1 0 0"),
                                             ("client-output-buffer-limit", "normal 0 -5 0"),
                                             ("client-output-buffer-limit", "pubsub 1mb 1mb -1")])
def test_config_values_bounded_as_redis(pair: tuple[redis.Redis, redis.Redis], name: str, value: str) -> None:
    """hz is clamped to 1..500 (not refused); negative output limits are refused."""
    both(pair, "CONFIG", "SET", name, value)
    both(pair, "CONFIG", "GET", name)
    for c in pair:
        call(c, "CONFIG", "SET", "hz", "10")
        call(c, "CONFIG", "SET", "client-output-buffer-limit",
             "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60")


# -- a client that goes away while blocked without keys --------------------------------------------


@pytest.mark.parametrize("command", [b"SAVE\r\n", b"WAITAOF 1 0 0\r\n"])
def test_disconnect_while_blocked_without_keys(command: bytes) -> None:
    """SAVE / WAITAOF block the client on a state without keys: its disconnect raised
    AttributeError in connection_lost (a traceback, and the rest of the cleanup skipped)."""
    import socket

    srv = ServerProcess(args=["--appendonly", "yes", "--appendfsync", "always"],
                        env={"SENTRYKV_CHECKPOINT_SLOW_MS": "300", "SENTRYKV_FAULT_FILE": "/nonexistent"}).start()
    try:
        client = srv.client()
        client.set("k", "v")
        sock = socket.create_connection(("127.0.0.1", srv.port))
        sock.sendall(b"WATCH k\r\n" + command)
        time.sleep(0.05)
        sock.close()
        time.sleep(0.5)
        assert client.ping() and client.get("k") == b"v"
        assert "Traceback" not in srv.log_text(), srv.log_text()[-2000:]
    finally:
        srv.stop()
        srv.cleanup()
