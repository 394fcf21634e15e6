"""Strings, keys and expiry: hand-written edge cases compared with redis-server, and the
guarantees a differential run cannot show (SCAN under growth, active expiry, databases).
"""

from __future__ import annotations

import shlex
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from tests.core.helpers import Pair, call, raw_client
from tests.support.procs import RedisProcess, ServerProcess


@pytest.fixture(scope="module")
def pair(server: ServerProcess, reference: RedisProcess) -> Iterator[Pair]:
    mine, theirs = raw_client(server.port), raw_client(reference.port)
    yield Pair(mine, theirs)
    mine.close()
    theirs.close()


def script(text: str) -> list[list[str]]:
    return [shlex.split(line) for line in text.strip().splitlines() if line.strip()]


# Each block runs on a fresh FLUSHALL; every reply must match redis-server's.
SCRIPTS = {
    "set-options": """
        SET a 1
        SET a 1 EX 0
        SET a 1 EX -1
        SET a 1 PX 100 EX 100
        SET a 1 KEEPTTL EX 10
        SET a 1 EX 10 KEEPTTL
        SET a 1 NX XX
        SET a 2 NX GET
        SET a 3 XX GET
        SET b 3 XX GET
        SET a 1 GET GET
        SET a 1 EX
        SET a 1 EX abc
        SET a 1 EX 9223372036854775807
        SET a 1 PX 9223372036854775807
        SET a 1 EX 9223372036854776
        SET a 1 EXAT 1
        GET a
        SET a 1 PXAT 1
        EXISTS a
        SET a 1 EX 0 junk
        SET a v ex 100
        TTL a
        SET a w KEEPTTL
        TTL a
        SET a x
        TTL a
        SET
        SET a
    """,
    "set-get-on-wrong-type": """
        SET s v
        SET s w GET
        MSET m1 a m2 b m3
        MSETNX m1 x m9 y
        MSETNX n1 x n2 y
        MGET m1 m2 n1 n2 nosuch
    """,
    "counters": """
        INCR n
        INCRBY n 9223372036854775806
        INCR n
        DECRBY n -1
        DECRBY x -9223372036854775808
        SET n -9223372036854775808
        DECR n
        INCRBY n abc
        INCRBY n 01
        INCRBY n +1
        INCRBY n " 1"
        SET z 007
        INCR z
        SET z "1 "
        INCR z
        SET z -0
        INCR z
        SET z 99999999999999999999
        INCR z
        SET z ""
        INCR z
        SET t 5
        EXPIRE t 1000
        INCR t
        TTL t
    """,
    "incrbyfloat": """
        INCRBYFLOAT f 1.5
        INCRBYFLOAT f 0.1
        INCRBYFLOAT f -1.6
        INCRBYFLOAT g 1e309
        INCRBYFLOAT h 1000.1
        INCRBYFLOAT h 1000.1
        INCRBYFLOAT i 0x10
        INCRBYFLOAT i 0x1p-3
        INCRBYFLOAT j 1e5000
        INCRBYFLOAT j 1e-5000
        INCRBYFLOAT j 1e-4940
        INCRBYFLOAT k inf
        INCRBYFLOAT k nan
        INCRBYFLOAT k abc
        INCRBYFLOAT k " 1"
        INCRBYFLOAT k 1_0
        INCRBYFLOAT k .5
        INCRBYFLOAT k 5.
        SET w abc
        INCRBYFLOAT w inf
        SET w inf
        INCRBYFLOAT w 1
        INCRBYFLOAT m 1.18973149535723176502e+4932
        INCRBYFLOAT m 1.18973149535723176502e+4932
        INCRBYFLOAT n 123456789012345678901234567890
        INCRBYFLOAT o 0.1
        INCRBYFLOAT o 0.2
        INCRBYFLOAT o -0.3
        INCRBYFLOAT p -1e-20
        INCRBYFLOAT q 9007199254740993
        INCRBYFLOAT q 0.5
        INCRBYFLOAT r 0.000003814697265625
        SET e 5
        EXPIRE e 1000
        INCRBYFLOAT e 1
        TTL e
    """,
    "ranges": """
        SET s "Hello World"
        GETRANGE s 0 4
        GETRANGE s -5 -1
        GETRANGE s -1 -5
        GETRANGE s 0 -100
        GETRANGE s 100 200
        GETRANGE s -100 100
        GETRANGE s 5 3
        GETRANGE nosuch 0 -1
        GETRANGE s a 1
        SUBSTR s 0 2
        SETRANGE s 6 Redis
        GET s
        SETRANGE r 5 x
        GET r
        SETRANGE r -1 x
        SETRANGE r 0 ""
        SETRANGE none 0 ""
        EXISTS none
        SETRANGE none 3 ""
        SETRANGE r 536870912 x
        SETRANGE r 536870911 ""
        APPEND s !
        APPEND new ""
        EXISTS new
        STRLEN s
        STRLEN nosuch
    """,
    "getex-getdel-getset": """
        SET a v
        GETEX a EX 100
        TTL a
        GETEX a PERSIST
        TTL a
        GETEX a PX 0
        GETEX nosuch EX 0
        GETEX a EX 0
        GETEX a EXAT 1
        EXISTS a
        SET a v
        GETEX a FOO
        GETEX a EX
        GETEX a PERSIST EX 10
        GETEX a EX 10 PX 10
        GETDEL a
        GETDEL a
        GETSET a x
        GETSET a y
        EXPIRE a 100
        GETSET a z
        TTL a
    """,
    "lcs": """
        SET k1 ohmytext
        SET k2 mynewtext
        LCS k1 k2
        LCS k1 k2 LEN
        LCS k1 k2 IDX
        LCS k1 k2 IDX MINMATCHLEN 4 WITHMATCHLEN
        LCS k1 k2 IDX MINMATCHLEN abc
        LCS k1 k2 LEN IDX
        LCS k1 k2 FOO
        LCS k1 nosuch
        LCS nosuch1 nosuch2 IDX
    """,
    "expire-flags": """
        SET a 1
        EXPIRE a 100
        EXPIRE a 100 NX
        EXPIRE a 200 XX
        EXPIRE a 50 GT
        EXPIRE a 500 GT
        EXPIRE a 50 LT
        EXPIRE a 5000 LT
        TTL a
        EXPIRE a 50 NX XX
        EXPIRE a 50 GT LT
        EXPIRE a 50 NX GT
        EXPIRE a 50 FOO
        EXPIRE a abc
        EXPIRE a 9223372036854775807
        EXPIRE a -9223372036854775808
        PEXPIRE a 9223372036854775807
        EXPIREAT a 9223372036854775807
        PEXPIREAT a 9223372036854775807
        SET b 1
        EXPIRE b 100 XX
        EXPIRE b 100 GT
        EXPIRE b 100 LT
        TTL b
        PERSIST b
        PERSIST nosuch
        EXPIRE nosuch 10
        EXPIRE b -1
        EXISTS b
        SET c 1
        PEXPIREAT c 1
        EXISTS c
        SET d 1
        EXPIREAT d 4102444800
        EXPIRETIME d
        PEXPIRETIME d
        TTL nosuch
        PTTL nosuch
        EXPIRETIME nosuch
        SET e 1
        TTL e
        EXPIRETIME e
    """,
    "keys-and-types": """
        MSET a 1 b 2 ab 3 abc 4 "x y" 5 "*" 6 "h[i]" 7
        KEYS *
        KEYS a*
        KEYS a?
        KEYS [ab]
        KEYS [^a]*
        KEYS [a-b]
        KEYS \\*
        KEYS h\\[i\\]
        KEYS "x *"
        KEYS [
        KEYS a[
        EXISTS a a nosuch
        TYPE a
        TYPE nosuch
        DEL a a nosuch b
        UNLINK ab abc
        TOUCH "x y" nosuch
        DBSIZE
        RANDOMKEY
        SCAN 0 COUNT 100
        SCAN 0 MATCH x* COUNT 100
        SCAN 0 TYPE string COUNT 100
        SCAN 0 TYPE hash COUNT 100
        SCAN abc
        SCAN 0 COUNT 0
        SCAN 0 COUNT -1
        SCAN 0 MATCH
        SCAN 0 FOO bar
        SCAN 18446744073709551616
        SCAN 0 COUNT abc
    """,
    "rename-copy-move": """
        SET a 1
        EXPIRE a 100
        SET b 2
        RENAME a b
        TTL b
        RENAME nosuch x
        RENAME b b
        RENAMENX b b
        RENAMENX nosuch b
        SET c 3
        RENAMENX b c
        RENAMENX b d
        COPY d d
        COPY d e
        COPY d e
        COPY d e REPLACE
        TTL e
        COPY d e DB 2
        COPY d e DB 99
        COPY d e DB abc
        COPY d e DB
        COPY d e FOO
        COPY nosuch e
        MOVE d 1
        MOVE d 1
        MOVE c 0
        MOVE c 99
        MOVE c abc
        MOVE c -1
        SELECT 1
        GET d
        TTL d
        SELECT 2
        GET e
        SELECT 0
    """,
    "databases": """
        SET a 0
        SELECT 1
        SET a 1
        SELECT 16
        SELECT -1
        SELECT abc
        SELECT 2147483648
        SWAPDB 0 1
        GET a
        SELECT 0
        GET a
        SWAPDB 0 16
        SWAPDB abc 1
        SWAPDB 1 abc
        SWAPDB -1 0
        SWAPDB 0 0
        SWAPDB 2147483648 0
        FLUSHDB
        SELECT 1
        DBSIZE
        FLUSHDB foo
        FLUSHDB ASYNC
        FLUSHALL SYNC
        FLUSHALL SYNC extra
        DBSIZE
    """,
    "object": """
        SET i 123
        OBJECT ENCODING i
        SET i -9223372036854775808
        OBJECT ENCODING i
        SET i 12345678901234567890
        OBJECT ENCODING i
        SET i 0123
        OBJECT ENCODING i
        SET s aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
        OBJECT ENCODING s
        SET s aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
        OBJECT ENCODING s
        OBJECT ENCODING nosuch
        OBJECT REFCOUNT i
        OBJECT FREQ i
        OBJECT FOO i
        OBJECT ENCODING
        OBJECT ENCODING i j
        OBJECT HELP
    """,
    "arity-errors": """
        GET
        GET a b
        MGET
        MSET a
        INCR
        EXPIRE a
        TTL
        DEL
        KEYS
        RENAME a
        ECHO
        PING a b
        STRLEN a b
        APPEND a
        SETEX a 10
        GETRANGE a 0
    """,
}


@pytest.mark.parametrize("name", list(SCRIPTS))
def test_script_matches_redis(pair: Pair, name: str) -> None:
    pair.run(script(SCRIPTS[name]))


# ---------------------------------------------------------------------------------------------
# Guarantees


def test_scan_returns_every_key_present_throughout_while_keys_are_added(r: redis.Redis) -> None:
    stable = {f"stable:{i}".encode() for i in range(500)}
    r.mset({k: b"1" for k in stable})
    seen: set[Any] = set()
    cursor = 0
    added = 0
    calls = 0
    while True:
        cursor, keys = r.scan(cursor=cursor, count=50)
        seen.update(keys)
        calls += 1
        if added < 10_000:  # grow the table between calls: 10k new keys over the scan
            pipe = r.pipeline(transaction=False)
            for j in range(1000):
                pipe.set(f"new:{added + j}", "x")
            pipe.execute()
            added += 1000
        if cursor == 0:
            break
    assert calls > 1
    assert stable <= seen, f"{len(stable - seen)} keys present for the whole scan were never returned"
    assert r.dbsize() == 500 + added


def test_scan_skips_deleted_keys_and_honours_match_and_type(r: redis.Redis) -> None:
    r.mset({f"m:{i}": i for i in range(100)})
    cursor, first = r.scan(0, count=10)
    r.delete(*[f"m:{i}" for i in range(50, 100)])
    seen: set[Any] = set(first)
    while cursor:
        cursor, keys = r.scan(cursor, count=10, match="m:*")
        seen.update(keys)
    assert all(int(k.split(b":")[1]) < 50 for k in seen - set(first))
    assert {f"m:{i}".encode() for i in range(50)} <= seen
    assert list(r.scan_iter(match="m:1?", count=7)) and all(k.startswith(b"m:1") for k in r.scan_iter(match="m:1?"))
    assert list(r.scan_iter(_type="hash")) == []


def test_active_expiry_reclaims_keys_nobody_reads(r: redis.Redis) -> None:
    pipe = r.pipeline(transaction=False)
    for i in range(2000):
        pipe.set(f"short:{i}", "v", px=150)
    for i in range(100):
        pipe.set(f"long:{i}", "v", ex=1000)
    pipe.execute()
    assert r.dbsize() == 2100
    expired_before = int(r.info("stats")["expired_keys"])
    deadline = time.monotonic() + 5
    while r.dbsize() > 100 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert r.dbsize() == 100, "expired keys were not reclaimed without being accessed"
    assert int(r.info("stats")["expired_keys"]) - expired_before == 2000
    assert r.info("keyspace")["db0"]["expires"] == 100


def test_expired_key_is_invisible_before_reclaim(r: redis.Redis) -> None:
    r.set("blink", "v", px=50)
    time.sleep(0.08)
    assert r.get("blink") is None
    assert r.exists("blink") == 0
    assert r.ttl("blink") == -2


def test_move_and_swapdb_keep_ttls(r: redis.Redis) -> None:
    r.set("mv", "v", ex=1000)
    assert r.move("mv", 3) is True
    r.execute_command("SELECT", 3)
    assert 990 < r.ttl("mv") <= 1000
    assert r.execute_command("SWAPDB", 3, 4)
    assert r.exists("mv") == 0
    r.execute_command("SELECT", 4)
    assert r.get("mv") == b"v" and r.ttl("mv") > 990
    r.execute_command("SELECT", 0)


def test_swapdb_is_seen_by_other_connections(server: ServerProcess, r: redis.Redis) -> None:
    other = server.client()
    try:
        other.execute_command("SELECT", 5)
        r.execute_command("SELECT", 6)
        r.set("from6", "x")
        r.execute_command("SELECT", 0)
        r.execute_command("SWAPDB", 5, 6)
        assert other.get("from6") == b"x"
    finally:
        other.close()


def test_string_size_limit(r: redis.Redis) -> None:
    with pytest.raises(redis.ResponseError, match="string exceeds maximum allowed size"):
        r.setrange("big", 512 * 1024 * 1024, "x")
    assert r.exists("big") == 0


def test_call_helper_reports_errors() -> None:
    """call() must turn errors into tuples, not swallow them as None (guards every comparison)."""
    class Boom:
        def execute_command(self, *args: object) -> object:
            raise redis.ResponseError("ERR nope")

    assert call(Boom(), "GET", "x") == ("ERR", "ERR nope")  # type: ignore[arg-type]
