"""MULTI / EXEC / DISCARD / WATCH against SentryKV, with redis-server as the oracle."""

from __future__ import annotations

import time

import pytest
import redis

from tests.support.procs import RedisProcess, ServerProcess
from tests.transactions.wire import Wire, assert_same_script, lines

SCRIPTS = {
    "nesting_and_misplaced": "MULTI; MULTI; WATCH x; SET a 1; EXEC; EXEC; DISCARD; UNWATCH; GET a",
    "queue_errors_abort": "MULTI; FOO bar; SET a; SET a 1; EXEC; GET a; EXEC",
    "runtime_errors_do_not_roll_back": "MULTI; SET a 1; INCR a; LPUSH a 1; INCR a; EXEC; GET a",
    "exec_arity_aborts": "MULTI; SET a 1; EXEC x; EXEC; GET a; EXEC x",
    "empty_and_reads": "MULTI; EXEC; SET k v; MULTI; GET k; GET nope; PING; ECHO hi; DISCARD; GET k",
    "discard_drops_queue": "MULTI; SET d 1; DISCARD; GET d; DISCARD",
    "no_multi_command": "MULTI; SET a 1; SHUTDOWN; EXEC; GET a",
    "arity_of_multi_discard": "MULTI x; DISCARD x; WATCH; MULTI; UNWATCH; EXEC",
    "blocking_inside_multi": (
        "MULTI; BLPOP l 0; BRPOP l 0; BLMOVE l m LEFT LEFT 0; BRPOPLPUSH l m 0; BZPOPMIN z 0; "
        "BZPOPMAX z 0; BLMPOP 0 1 l LEFT; BZMPOP 0 1 z MIN; BLPOP l -1; BLPOP l abc; EXEC"
    ),
    "blocking_inside_multi_with_data": (
        "RPUSH l a b c; ZADD z 1 x 2 y; MULTI; BLPOP l 0; BLMOVE l m RIGHT LEFT 0; BZPOPMAX z 0; "
        "BLMPOP 0 1 l LEFT COUNT 5; BZMPOP 0 1 z MIN COUNT 3; EXEC; LRANGE m 0 -1"
    ),
    # UNSUBSCRIBE names its channels: without arguments Redis replies in the order of its
    # seeded hash table, which differs between runs.
    "subscribe_inside_exec": "MULTI; SUBSCRIBE c1 c2; EXEC; GET x; EXEC; UNSUBSCRIBE c1 c2",
    "watch_then_own_write": "WATCH w; SET w 1; MULTI; SET w 2; EXEC; GET w",
    "watch_unwatch": "WATCH w; SET w 1; UNWATCH; MULTI; SET w 2; EXEC; GET w",
    "watch_discard_clears": "WATCH w; MULTI; DISCARD; SET w 1; MULTI; SET w 3; EXEC; GET w",
    "watch_read_only_is_not_a_change": "SET w 1; WATCH w; GET w; EXISTS w; MULTI; INCR w; EXEC",
    "watch_missing_key_deleted": "WATCH w; DEL w; MULTI; SET w 1; EXEC",
    "watch_same_value_still_breaks": "SET w 1; WATCH w; SET w 1; MULTI; GET w; EXEC",
}


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_replies_identical_to_redis(name: str, r: redis.Redis, ref: redis.Redis,
                                    server: ServerProcess, reference: RedisProcess) -> None:
    assert_same_script(server.port, reference.port, lines(SCRIPTS[name]))


@pytest.mark.parametrize("name", ["runtime_errors_do_not_roll_back", "blocking_inside_multi",
                                  "blocking_inside_multi_with_data", "empty_and_reads"])
def test_resp3_replies_identical_to_redis(name: str, r: redis.Redis, ref: redis.Redis,
                                          server: ServerProcess, reference: RedisProcess) -> None:
    # HELLO's reply carries the connection id: switch with it, then compare from there on.
    script = lines(SCRIPTS[name])
    ours, theirs = Wire(server.port), Wire(reference.port)
    try:
        for w in (ours, theirs):
            w.call("HELLO", "3")
        for cmd in script:
            assert ours.call(*cmd) == theirs.call(*cmd), cmd
    finally:
        ours.close()
        theirs.close()


def _both(r: redis.Redis, ref: redis.Redis, port: int, ref_port: int) -> list[tuple[redis.Redis, redis.Redis]]:
    """(client, second client) for SentryKV and for redis-server."""
    return [(r, redis.Redis(port=port)), (ref, redis.Redis(port=ref_port))]


def test_watch_broken_by_another_client(r: redis.Redis, ref: redis.Redis,
                                        server: ServerProcess, reference: RedisProcess) -> None:
    results = []
    for a, b in _both(r, ref, server.port, reference.port):
        out = []
        for writer in (["SET", "k", "2"], ["DEL", "k"], ["EXPIRE", "k", "100"], ["LPUSH", "q", "x"],
                       ["INCR", "other"]):
            a.set("k", "1")
            a.execute_command("WATCH", "k", "q")
            b.execute_command(*writer)
            a.execute_command("MULTI")
            a.execute_command("SET", "k", "mine")
            out.append((writer[0], a.execute_command("EXEC"), a.get("k")))
            a.delete("q")
        results.append(out)
        b.close()
    assert results[0] == results[1]
    # Only the unrelated INCR let the transaction through.
    assert [row[1] is None for row in results[0]] == [True, True, True, True, False]


def test_watch_broken_by_in_place_container_change(r: redis.Redis, ref: redis.Redis,
                                                   server: ServerProcess, reference: RedisProcess) -> None:
    results = []
    for a, b in _both(r, ref, server.port, reference.port):
        out = []
        for setup, change in ((["HSET", "h", "f", "1"], ["HSET", "h", "g", "2"]),
                              (["SADD", "s", "a"], ["SREM", "s", "a"]),
                              (["ZADD", "z", "1", "a"], ["ZINCRBY", "z", "1", "a"]),
                              (["RPUSH", "l", "a", "b"], ["LPOP", "l"]),
                              (["RPUSH", "l2", "a"], ["LSET", "l2", "0", "b"])):
            a.execute_command(*setup)
            a.execute_command("WATCH", setup[1])
            b.execute_command(*change)
            a.execute_command("MULTI")
            a.execute_command("PING")
            out.append(a.execute_command("EXEC"))
        results.append(out)
        b.close()
    assert results[0] == results[1] == [None] * 5


def test_watch_broken_by_expiry(r: redis.Redis, ref: redis.Redis) -> None:
    results = []
    for c in (r, ref):
        out = []
        # Expires while watched, before anyone touched it (still in memory at EXEC).
        c.set("e1", "v", px=150)
        c.execute_command("WATCH", "e1")
        time.sleep(0.25)
        c.execute_command("MULTI")
        c.execute_command("SET", "x", "1")
        out.append(c.execute_command("EXEC"))
        # Expires and is already deleted by a read before EXEC.
        c.set("e2", "v", px=100)
        c.execute_command("WATCH", "e2")
        time.sleep(0.2)
        out.append(c.get("e2"))
        c.execute_command("MULTI")
        c.execute_command("SET", "x", "2")
        out.append(c.execute_command("EXEC"))
        # A TTL far away does not matter.
        c.set("e3", "v", ex=100)
        c.execute_command("WATCH", "e3")
        c.execute_command("MULTI")
        c.execute_command("SET", "x", "3")
        out.append(c.execute_command("EXEC"))
        results.append(out)
    assert results[0] == results[1] == [None, None, None, [b"OK"]]


def test_watch_of_already_expired_key_is_not_a_change(r: redis.Redis, ref: redis.Redis) -> None:
    results = []
    for c in (r, ref):
        c.set("gone", "v", px=50)
        time.sleep(0.1)
        c.execute_command("WATCH", "gone")  # already expired when watched
        c.get("gone")  # its (lazy) deletion is not a modification
        c.execute_command("MULTI")
        c.execute_command("SET", "y", "1")
        results.append(c.execute_command("EXEC"))
    assert results[0] == results[1] == [b"OK"]


@pytest.mark.parametrize("flush", [["FLUSHALL"], ["FLUSHDB"], ["SWAPDB", "0", "1"]])
def test_watch_and_whole_database_changes(flush: list[str], r: redis.Redis, ref: redis.Redis,
                                          server: ServerProcess, reference: RedisProcess) -> None:
    """Like Redis, only watched keys that existed (in either db for SWAPDB) are touched."""
    results = []
    for a, b in _both(r, ref, server.port, reference.port):
        out = []
        for existing in (True, False):
            a.flushall()
            if existing:
                a.set("k", "1")
            a.execute_command("WATCH", "k")
            b.execute_command(*flush)
            a.execute_command("MULTI")
            a.execute_command("SET", "other", "1")
            out.append(a.execute_command("EXEC"))
        # SWAPDB also breaks a watch on a key that only exists in the other db.
        a.flushall()
        a.execute_command("SELECT", "1")
        a.set("k", "in-db1")
        a.execute_command("SELECT", "0")
        a.execute_command("WATCH", "k")
        b.execute_command(*flush)
        a.execute_command("MULTI")
        a.execute_command("PING")
        out.append(a.execute_command("EXEC"))
        results.append(out)
        b.close()
    assert results[0] == results[1]
    assert results[0][0] is None and results[0][1] == [b"OK"]


def test_watch_in_other_db_is_separate(r: redis.Redis, ref: redis.Redis,
                                       server: ServerProcess, reference: RedisProcess) -> None:
    results = []
    for a, b in _both(r, ref, server.port, reference.port):
        a.execute_command("WATCH", "k")
        b.execute_command("SELECT", "3")
        b.set("k", "other-db")
        a.execute_command("MULTI")
        a.execute_command("SET", "k", "1")
        results.append(a.execute_command("EXEC"))
        b.close()
    assert results[0] == results[1] == [b"OK"]


def test_exec_isolated_from_other_clients(r: redis.Redis, server: ServerProcess) -> None:
    """Commands of other clients never interleave with a transaction's."""
    other = server.client()
    pipe = r.pipeline(transaction=True)
    for i in range(2000):
        pipe.rpush("seq", i)
    other_result = []
    import threading

    def hammer() -> None:
        for _ in range(200):
            other_result.append(other.rpush("seq", "x"))

    t = threading.Thread(target=hammer)
    t.start()
    pipe.execute()
    t.join()
    values = r.lrange("seq", 0, -1)
    first = values.index(b"0")
    assert values[first:first + 2000] == [str(i).encode() for i in range(2000)]
    other.close()
