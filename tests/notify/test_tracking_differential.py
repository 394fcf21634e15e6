"""CLIENT TRACKING against redis-server: replies, invalidation pushes and redirect messages.

Each scenario runs on both servers through tracking_wire.compare, which
records everything every connection receives after every step; the two
transcripts must be identical (client ids normalised).  Connections whose
name ends in 3 speak RESP3.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from tests.notify.tracking_wire import compare
from tests.support.procs import RedisProcess, ServerProcess
from tests.transactions.wire import Wire


@pytest.fixture(autouse=True)
def fresh(server: ServerProcess, reference: RedisProcess) -> Iterator[None]:
    for port in (server.port, reference.port):
        r = redis.Redis(port=port)
        r.flushall()
        r.config_set("tracking-table-max-keys", 1000000)
        r.close()
    yield


def test_validation_errors(server: ServerProcess, reference: RedisProcess) -> None:
    steps = [
        ("a3", "CLIENT", "TRACKING"),
        ("a3", "CLIENT", "TRACKING", "maybe"),
        ("a3", "CLIENT", "TRACKING", "on", "foo"),
        ("a3", "CLIENT", "TRACKING", "on", "redirect", "999999"),
        ("a3", "CLIENT", "TRACKING", "on", "redirect", "x"),
        ("a3", "CLIENT", "TRACKING", "on", "redirect"),
        ("a3", "CLIENT", "TRACKING", "on", "redirect", "{id:w}", "redirect", "{id:w}"),
        ("a3", "CLIENT", "TRACKING", "on", "prefix", "a"),
        ("a3", "CLIENT", "TRACKING", "on", "bcast", "prefix"),
        ("a3", "CLIENT", "TRACKING", "on", "optin", "optout"),
        ("a3", "CLIENT", "TRACKING", "on", "bcast", "optin"),
        ("a3", "CLIENT", "TRACKING", "on", "bcast", "prefix", "ab", "prefix", "a"),
        ("a3", "CLIENT", "TRACKING", "off", "zzz"),
        ("a3", "CLIENT", "CACHING", "yes"),
        ("a3", "CLIENT", "CACHING"),
        ("a3", "CLIENT", "GETREDIR", "x"),
        ("a3", "CLIENT", "GETREDIR"),
        ("a3", "CLIENT", "TRACKINGINFO"),
        ("a3", "CLIENT", "TRACKING", "on"),
        ("a3", "CLIENT", "CACHING", "yes"),
        ("a3", "CLIENT", "CACHING", "no"),
        ("a3", "CLIENT", "TRACKING", "on", "bcast"),
        ("a3", "CLIENT", "TRACKING", "on", "optin"),
        ("a3", "CLIENT", "TRACKING", "on", "optout"),
        ("a3", "CLIENT", "CACHING", "maybe"),
        ("a3", "CLIENT", "CACHING", "no"),
        ("a3", "CLIENT", "CACHING", "yes"),
        ("a3", "CLIENT", "TRACKINGINFO"),
        ("a3", "CLIENT", "TRACKING", "off", "bcast", "prefix", "x"),
        ("a3", "CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "x", "PREFIX", "a", "PREFIX", "ab"),
        ("a3", "CLIENT", "TRACKINGINFO"),
        ("a3", "CLIENT", "TRACKING", "on", "bcast", "prefix", "abc"),
        ("a3", "CLIENT", "TRACKING", "on", "bcast", "prefix", "c", "noloop"),
        ("a3", "CLIENT", "TRACKINGINFO"),
        ("a3", "CLIENT", "TRACKING", "off"),
        ("a3", "CLIENT", "TRACKING", "on", "optout", "noloop", "redirect", "{id:w}"),
        ("a3", "CLIENT", "GETREDIR"),
        ("a3", "CLIENT", "CACHING", "no"),
        ("a3", "CLIENT", "TRACKINGINFO"),
        ("w", "CLIENT", "TRACKINGINFO"),
        ("a3", "CLIENT", "TRACKING", "off"),
        ("a3", "CLIENT", "HELP"),
    ]
    compare(server.port, reference.port, ["a3", "w"], steps)


def test_default_mode_invalidations(server: ServerProcess, reference: RedisProcess) -> None:
    steps = [
        ("a3", "CLIENT", "TRACKING", "on"),
        ("w", "SET", "k", "1"),
        ("a3", "GET", "k"),
        ("w", "SET", "k", "2"),  # a is told, once
        ("w", "SET", "k", "3"),
        ("a3", "GET", "k"),
        ("a3", "SET", "k", "4"),  # own write: the push follows the reply
        ("a3", "MGET", "k", "j", "missing"),
        ("w", "DEL", "k", "j", "missing"),
        ("a3", "MGET", "k", "j"),
        ("a3", "MULTI"),
        ("a3", "SET", "k", "5"),
        ("a3", "SET", "j", "6"),
        ("a3", "GET", "k"),
        ("a3", "SET", "k", "7"),
        ("a3", "EXEC"),  # all three invalidations after the EXEC reply, in order
        ("pipe", "a3", ["GET", "k"], ["SET", "k", "8"], ["PING"]),
        ("w", "RPUSH", "lst", "a"),
        ("a3", "GET", "lst"),  # WRONGTYPE reads are tracked too
        ("w", "RPUSH", "lst", "b"),
        ("a3", "GET", "q", "r"),  # arity errors are not
        ("w", "SET", "q", "1"),
        ("a3", "SELECT", "3"),
        ("a3", "GET", "other"),  # keys are not per database
        ("w", "SET", "other", "x"),
        ("a3", "SELECT", "0"),
        ("a3", "EXISTS", "e1"),
        ("a3", "TYPE", "e2"),
        ("a3", "TTL", "e3"),
        ("a3", "STRLEN", "e4"),
        ("a3", "OBJECT", "ENCODING", "e5"),
        ("a3", "LCS", "e6", "e7"),
        ("a3", "SINTERCARD", "2", "e8", "e9", "LIMIT", "1"),
        ("a3", "ZUNION", "2", "z1", "z2"),
        ("a3", "HGET", "h", "f"),
        ("a3", "LRANGE", "l", "0", "-1"),
        ("w", "MSET", "e1", "1", "e2", "1", "e3", "1", "e4", "1", "e5", "1", "e6", "1", "e7", "1"),
        ("w", "SADD", "e8", "1"),
        ("w", "SADD", "e9", "1"),
        ("w", "ZADD", "z1", "1", "a"),
        ("w", "ZADD", "z2", "1", "a"),
        ("w", "HSET", "h", "f", "v"),
        ("w", "RPUSH", "l", "x"),
        ("a3", "GET", "x"),
        ("w", "RENAME", "h", "x"),  # both names
        ("a3", "GET", "n"),
        ("a3", "CLIENT", "TRACKING", "off"),
        ("w", "SET", "n", "1"),  # nothing: tracking is off
        ("a3", "GET", "n"),
    ]
    compare(server.port, reference.port, ["a3", "w"], steps)


def test_flush_and_expiry(server: ServerProcess, reference: RedisProcess) -> None:
    steps = [
        ("a3", "CLIENT", "TRACKING", "on"),
        ("a3", "MGET", "x", "y", "z"),
        ("w", "SELECT", "5"),
        ("w", "FLUSHDB"),  # any database: a null invalidation, the whole table forgotten
        ("w", "SELECT", "0"),
        ("w", "SET", "x", "1"),
        ("a3", "GET", "k"),
        ("a3", "FLUSHDB"),  # own flush: after the reply
        ("a3", "GET", "k"),
        ("w", "FLUSHALL"),
        ("a3", "GET", "k"),
        ("a3", "MULTI"),
        ("a3", "FLUSHDB"),
        ("a3", "SET", "x", "1"),
        ("a3", "EXEC"),
        ("a3", "GET", "k"),
        ("w", "SWAPDB", "0", "1"),  # no invalidation
        ("w", "SWAPDB", "0", "1"),
        ("w", "DEBUG", "SET-ACTIVE-EXPIRE", "0"),
        ("a3", "SET", "e", "1", "PX", "20"),
        ("a3", "GET", "e"),
        ("sleep", 40),
        ("a3", "GET", "e"),  # lazy expiry by its own read: nil, then the push
        ("w", "SET", "e2", "1", "PX", "20"),
        ("a3", "GET", "e2"),
        ("sleep", 40),
        ("w", "GET", "e2"),  # expired by another client's read
        ("w", "DEBUG", "SET-ACTIVE-EXPIRE", "1"),
        ("w", "SET", "e3", "1", "PX", "20"),
        ("a3", "GET", "e3"),
        ("sleep", 400),  # the active cycle
    ]
    compare(server.port, reference.port, ["a3", "w"], steps)


def test_redirection(server: ServerProcess, reference: RedisProcess) -> None:
    steps = [
        ("r", "SUBSCRIBE", "__redis__:invalidate"),
        ("a", "CLIENT", "TRACKING", "on", "REDIRECT", "{id:r}"),
        ("a", "CLIENT", "GETREDIR"),
        ("a", "GET", "k"),
        ("w", "SET", "k", "1"),  # RESP2 Pub/Sub message on __redis__:invalidate
        ("a", "GET", "k"),
        ("a", "SET", "k", "2"),
        ("a", "GET", "k"),
        ("w", "FLUSHDB"),  # a null payload in the tracking client's protocol
        ("a", "CLIENT", "TRACKING", "on", "REDIRECT", "{id:u}"),
        ("a", "GET", "k"),
        ("w", "SET", "k", "1"),  # u is RESP2 and not subscribed: nothing
        ("u", "SUBSCRIBE", "unrelated"),
        ("a", "GET", "k"),
        ("w", "SET", "k", "2"),  # any subscription will do
        ("a", "CLIENT", "TRACKING", "on", "REDIRECT", "{id:t3}"),
        ("a", "GET", "k"),
        ("w", "SET", "k", "3"),  # a RESP3 target gets a push, subscribed or not
        ("b3", "CLIENT", "TRACKING", "on", "REDIRECT", "{id:t3}"),
        ("b3", "GET", "k"),
        ("a", "GET", "k"),
        ("w", "SET", "k", "4"),
        ("close", "t3"),
        ("a", "GET", "k"),
        ("b3", "GET", "k"),
        ("w", "SET", "k", "5"),  # b3 (RESP3) is told the redirect is broken, a (RESP2) is not
        ("a", "CLIENT", "TRACKINGINFO"),
        ("b3", "CLIENT", "TRACKINGINFO"),
        ("b3", "GET", "k"),
        ("b3", "SET", "k", "6"),
        ("b3", "FLUSHDB"),
        ("b3", "CLIENT", "TRACKING", "on", "REDIRECT", "{id:w}"),
        ("b3", "CLIENT", "TRACKINGINFO"),
    ]
    compare(server.port, reference.port, ["a", "b3", "r", "t3", "u", "w"], steps)


def test_bcast_and_noloop(server: ServerProcess, reference: RedisProcess) -> None:
    steps = [
        ("a3", "CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "a", "PREFIX", "b"),
        ("pipe", "w", ["SET", "a1", "1"], ["SET", "b1", "1"], ["SET", "c1", "1"], ["SET", "a2", "x"],
         ["DEL", "a1"]),  # one pass: one message per prefix, keys sorted
        ("w", "SET", "a1", "1"),
        ("a3", "MSET", "a3", "1", "b3", "2"),
        ("a3", "GET", "a3"),  # BCAST clients do not track reads
        ("n3", "CLIENT", "TRACKING", "on", "BCAST", "NOLOOP"),
        ("n3", "SET", "a9", "1"),
        ("w", "SET", "zz", "1"),
        ("pipe", "n3", ["SET", "q", "1"], ["SET", "r", "1"]),
        ("b3", "CLIENT", "TRACKING", "on", "REDIRECT", "{id:r}", "BCAST", "PREFIX", "x"),
        ("r", "SUBSCRIBE", "__redis__:invalidate"),
        ("w", "SET", "x1", "1"),
        ("w", "FLUSHALL"),  # BCAST clients get the null too
        ("l3", "CLIENT", "TRACKING", "on", "NOLOOP"),
        ("l3", "GET", "k"),
        ("l3", "SET", "k", "1"),  # no loop ...
        ("l3", "GET", "k"),
        ("w", "SET", "k", "2"),  # ... but others' writes are reported
        ("a3", "CLIENT", "TRACKING", "off"),
        ("n3", "CLIENT", "TRACKING", "off"),
    ]
    compare(server.port, reference.port, ["a3", "b3", "l3", "n3", "r", "w"], steps)


def test_optin_optout(server: ServerProcess, reference: RedisProcess) -> None:
    steps = [
        ("a3", "CLIENT", "TRACKING", "on", "OPTIN"),
        ("a3", "GET", "k"),
        ("w", "SET", "k", "1"),  # not cached: nothing
        ("a3", "CLIENT", "CACHING", "yes"),
        ("a3", "GET", "k"),
        ("a3", "GET", "k2"),
        ("w", "MSET", "k", "2", "k2", "2"),  # only the read right after CACHING yes
        ("a3", "CLIENT", "CACHING", "yes"),
        ("a3", "MULTI"),
        ("a3", "GET", "k"),
        ("a3", "GET", "k2"),
        ("a3", "EXEC"),
        ("a3", "GET", "k3"),
        ("w", "MSET", "k", "3", "k2", "3", "k3", "3"),  # the whole transaction was cached
        ("a3", "MULTI"),
        ("a3", "CLIENT", "CACHING", "yes"),
        ("a3", "GET", "k"),
        ("a3", "EXEC"),
        ("w", "SET", "k", "4"),
        ("a3", "CLIENT", "CACHING", "yes"),
        ("a3", "PING"),
        ("a3", "GET", "k"),
        ("w", "SET", "k", "5"),  # PING used up CACHING yes
        ("a3", "CLIENT", "CACHING", "yes"),
        ("a3", "CLIENT", "ID"),
        ("a3", "GET", "k"),
        ("w", "SET", "k", "6"),  # a CLIENT command does not
        ("a3", "CLIENT", "TRACKING", "off"),
        ("a3", "CLIENT", "TRACKING", "on", "OPTOUT"),
        ("a3", "CLIENT", "CACHING", "no"),
        ("a3", "GET", "k"),
        ("a3", "GET", "k2"),
        ("w", "MSET", "k", "7", "k2", "7"),
        ("a3", "CLIENT", "CACHING", "no"),
        ("a3", "CLIENT", "TRACKINGINFO"),
    ]
    compare(server.port, reference.port, ["a3", "w"], steps)


def test_scripts(server: ServerProcess, reference: RedisProcess) -> None:
    """Redis 7.0 remembers the keys a script *declares* once it reads anything, and holds
    the invalidations of the caller's own keys written by the script until after the reply."""
    steps = [
        ("a3", "CLIENT", "TRACKING", "on"),
        ("a3", "EVAL", "return redis.call('get', KEYS[1])", "1", "k1"),
        ("a3", "EVAL", "return redis.call('get', 'k2')", "0"),
        ("a3", "EVAL", "redis.call('get', 'k3') return 1", "1", "k4"),
        ("a3", "EVAL_RO", "return redis.call('get', 'k5')", "1", "k6"),
        ("a3", "EVAL_RO", "return 1", "1", "k7"),
        ("a3", "EVAL", "return redis.call('set', 'k8', '1')", "1", "k9"),
        ("w", "MSET", *[f"k{i}" if j == 0 else "v" for i in range(1, 10) for j in (0, 1)]),
        ("a3", "GET", "x"),
        ("a3", "EVAL", "redis.call('set', 'x', '1') return 1", "0"),
        ("a3", "CLIENT", "TRACKING", "on", "NOLOOP"),
        ("a3", "GET", "x"),
        ("a3", "EVAL", "redis.call('set', 'x', '2') return 1", "0"),
        ("w", "SET", "x", "3"),
        ("a3", "CLIENT", "TRACKING", "off"),
        ("a3", "CLIENT", "TRACKING", "on", "OPTIN"),
        ("a3", "CLIENT", "CACHING", "yes"),
        ("a3", "EVAL", "return redis.call('get', KEYS[1])", "1", "o1"),
        ("a3", "EVAL", "return redis.call('get', KEYS[1])", "1", "o2"),
        ("w", "MSET", "o1", "1", "o2", "2"),
    ]
    compare(server.port, reference.port, ["a3", "w"], steps)


def _tracking_info(port: int) -> dict[str, int]:
    r = redis.Redis(port=port)
    try:
        info = r.info()
        return {k: info[k] for k in ("tracking_clients", "tracking_total_keys", "tracking_total_items",
                                     "tracking_total_prefixes")}
    finally:
        r.close()


@pytest.mark.parametrize("port_of", ["server", "reference"])
def test_info_and_table_limit(port_of: str, request: pytest.FixtureRequest) -> None:
    """tracking-table-max-keys: extra keys are invalidated (Redis picks them at random)."""
    port = request.getfixturevalue(port_of).port
    a, b = Wire(port), Wire(port)
    w = redis.Redis(port=port)
    try:
        w.config_set("tracking-table-max-keys", 2)
        for c in (a, b):
            c.call("HELLO", "3")
            assert c.call("CLIENT", "TRACKING", "on") == b"+OK\r\n"
        a.call("MGET", "k1", "k2")
        b.call("MGET", "k2")
        assert _tracking_info(port) == {"tracking_clients": 2, "tracking_total_keys": 2,
                                        "tracking_total_items": 3, "tracking_total_prefixes": 0}
        a.send("MGET", "k3", "k4")  # four keys tracked: two are invalidated at once
        a.send("PING", "done")
        got = []
        while not got or not got[-1].startswith(b"$4\r\ndone"):
            got.append(a.reply())
        assert got[0].startswith(b"*2\r\n")
        assert sum(1 for m in got if m.startswith(b">2\r\n$10\r\ninvalidate\r\n*1\r\n")) == 2
        assert _tracking_info(port)["tracking_total_keys"] == 2
        b.close()
        for key in ("k1", "k2", "k3", "k4"):
            w.set(key, "x")  # entries of a closed client go when their key is invalidated
        assert _tracking_info(port) == {"tracking_clients": 1, "tracking_total_keys": 0,
                                        "tracking_total_items": 0, "tracking_total_prefixes": 0}
        a.call("CLIENT", "TRACKING", "off")
        assert _tracking_info(port)["tracking_clients"] == 0
        w.config_set("tracking-table-max-keys", 1000000)
        with pytest.raises(redis.ResponseError, match="argument must be between 0 and 9223372036854775807"):
            w.config_set("tracking-table-max-keys", -1)
        with pytest.raises(redis.ResponseError, match="argument couldn't be parsed into an integer"):
            w.config_set("tracking-table-max-keys", "1k")
    finally:
        a.close()
        w.close()
