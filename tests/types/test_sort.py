"""SORT and SORT_RO against redis-server, plus STORE's side effects and the script hook.

Scripted option/validation cases and seeded random queries (numeric and ALPHA,
BY string or hash-field weights with ties and missing keys, NUL bytes, LIMIT
windows taking Redis's partial quicksort, GET patterns, STORE) in RESP2 and
RESP3; WATCH invalidation and blocked-client wake-up by SORT ... STORE.
"""

from __future__ import annotations

import random
import threading
import time

import redis

from sentrykv_server.commands import load_all
from sentrykv_server.commands.sort import sort_generic, strtod_weight
from sentrykv_server.config import Config
from sentrykv_server.protocol.connection import Client
from sentrykv_server.server import Server
from tests.types.diff import Differ
from tests.types.scripted import run_script

COMMANDS = """
RPUSH l 3 1 2 10 -5 2.5 1e3
SORT l
SORT l DESC
SORT l ALPHA
SORT l ALPHA DESC
SORT l LIMIT 1 3
SORT l LIMIT 1 3 DESC
SORT l LIMIT -1 3
SORT l LIMIT 5 9223372036854775807
SORT l LIMIT 10 2
SORT l LIMIT 0 0
SORT l LIMIT 2 -1
SORT l LIMIT x 1
SORT l LIMIT 1
SORT l BY nosort
SORT l BY nosort DESC
SORT l BY nosort LIMIT 1 2
SORT l BY nosort LIMIT 1 2 DESC
SORT l BY nosort LIMIT 10 2 DESC
MSET w_3 30 w_1 10 w_2 20 w_10 5 w_-5 100
SORT l BY w_*
SORT l BY w_* DESC
SORT l BY w_* LIMIT 0 2
SORT l BY w_* GET # GET w_*
SORT l BY w_* GET # GET w_* GET nothere_*
SORT l GET #
SORT l GET w_* GET #
SORT l GET nostar
HSET h_1 f one g 1
HSET h_2 f two g 2
HSET h_3 f three g 3
SORT l BY h_*->g GET h_*->f GET #
SORT l BY h_*->g ALPHA GET h_*->f
SORT l BY h_*-> GET h_*->
SORT l BY w_* ALPHA
SORT l BY w_* ALPHA DESC LIMIT 1 3
SORT l STORE dst
LRANGE dst 0 -1
SORT l BY w_* GET w_* STORE dst
LRANGE dst 0 -1
SORT l LIMIT 0 0 STORE dst
EXISTS dst
SORT l STORE dst STORE dst2
EXISTS dst dst2
SORT_RO l STORE dst
SORT_RO l BY w_* GET #
RPUSH bad 1 x 2
SORT bad
SORT bad ALPHA
SORT bad BY w_*
SORT bad STORE dst3
EXISTS dst3
SADD s 5 3 9 1
SORT s
SORT s BY nosort
SORT s BY nosort STORE sdst
LRANGE sdst 0 -1
SORT s BY nosort DESC LIMIT 1 2
SADD t b a c ab
SORT t ALPHA
SORT t BY nosort STORE tdst
LRANGE tdst 0 -1
SORT t
ZADD z 3 c 1 a 2 b
OBJECT ENCODING z
SORT z BY nosort
OBJECT ENCODING z
SORT z BY nosort DESC
SORT z BY nosort LIMIT 1 5 DESC
SORT z ALPHA
SORT z ALPHA DESC LIMIT 0 1
SORT z
SET str x
SORT str
SORT nokey
SORT nokey STORE dst
SORT l FOO
SORT l BY
SORT l GET
SORT l ASC DESC ASC
COMMAND GETKEYS SORT l BY x STORE d GET y
COMMAND GETKEYS SORT l STORE a STORE b
COMMAND GETKEYS GEORADIUS g 1 1 1 km STORE a STOREDIST b
COMMAND GETKEYS SORT l
COMMAND GETKEYS GEORADIUS g 1 1 1 km STORE a STOREDIST b
COMMAND GETKEYS GEORADIUSBYMEMBER g m 1 km STOREDIST b STORE c
COMMAND GETKEYS GEORADIUS g 1 1 1 km
COMMAND GETKEYS GEORADIUS g 1 1 1 km STORE
COMMAND GETKEYS GEOSEARCHSTORE d s FROMLONLAT 1 1 BYRADIUS 1 km
COMMAND GETKEYS SORT_RO l BY x STORE d
COMMAND GETKEYS BITOP AND d a b
COMMAND GETKEYS PFDEBUG GETREG k
COMMAND GETKEYS PFCOUNT a b c
COMMAND GETKEYS SORT l LIMIT 0 1 STORE
"""


def test_sort_commands_match_redis(differ: Differ) -> None:
    run_script(differ, COMMANDS)


WEIGHT_VALUES = ["1", "2", "3", "10", "-1", "2.5", "abc", "a", "b", "B", "x\x00y", "x\x00z", "", " 5",
                 "5 ", "0x1A", "inf", "-inf", "nan", "0x1p-1074", "2.2250738585072014e-308", "1_0", "+7",
                 ".5", "5."]
# Values strtod rejects with ERANGE.  Redis never clears errno before strtod, so once one of
# these was read, later weights on the same connection fail too until some system call
# changes errno: they are checked last.
OUT_OF_RANGE = ["1e400", "1e-310", "4e-324", "-1e-400"]


def test_random_sorts_match_redis(differ: Differ) -> None:
    d = differ
    rng = random.Random(11)
    for _round in range(12):
        d.reset()
        n = rng.choice([3, 8, 20, 60, 150])
        values = [rng.choice(WEIGHT_VALUES[:12]) if rng.random() < 0.3 else str(rng.randrange(50))
                  for _ in range(n)]
        elements = [v.encode("latin-1").decode("unicode_escape").encode("latin-1") for v in values]
        d.run((b"RPUSH", b"l", *elements))
        for v in set(elements):
            pick = rng.random()
            if pick < 0.6:
                d.run((b"SET", b"w_" + v, rng.choice([b"1", b"2", b"3", b"x", b"y", b"0"])))
            elif pick < 0.8:
                d.run((b"HSET", b"h_" + v, b"f", rng.choice([b"1", b"2", b"a", b"b"])))
        d.run((b"SADD", b"si", *[str(rng.randrange(100)).encode() for _ in range(n)]))
        d.run((b"ZADD", b"z", *[x for i in range(n) for x in (str(rng.randrange(5)).encode(), b"z%d" % i)]))
        for _q in range(25):
            src = rng.choice([b"l", b"l", b"si", b"z"])
            opts: list[bytes] = []
            if rng.random() < 0.6:
                opts += [b"BY", rng.choice([b"w_*", b"h_*->f", b"nosort", b"w_*->f"])]
            if rng.random() < 0.5:
                opts.append(b"ALPHA")
            if rng.random() < 0.5:
                opts.append(b"DESC")
            if rng.random() < 0.6:
                opts += [b"LIMIT", str(rng.randrange(-2, n + 2)).encode(), str(rng.randrange(-2, n + 2)).encode()]
            for _ in range(rng.randrange(3)):
                opts += [b"GET", rng.choice([b"#", b"w_*", b"h_*->f"])]
            if src == b"z" and b"nosort" not in opts:
                opts = [o for o in opts if o not in (b"BY", b"w_*", b"h_*->f", b"w_*->f")]
            if rng.random() < 0.2:
                d.run((b"SORT", src, *opts, b"STORE", b"dst"))
                d.run((b"LRANGE", b"dst", b"0", b"-1"))
            else:
                d.run((rng.choice([b"SORT", b"SORT_RO"]), src, *opts), rng.choice([2, 3]))
        d.compare_state()


def test_weights_are_read_like_strtod(differ: Differ) -> None:
    for value in WEIGHT_VALUES + OUT_OF_RANGE:
        raw = value.encode("latin-1").decode("unicode_escape").encode("latin-1")
        differ.run((b"DEL", b"l"))
        differ.run((b"RPUSH", b"l", raw, b"1"))
        differ.run((b"SORT", b"l"))
    assert strtod_weight(b"12\x00junk") == 12.0


def test_sort_store_breaks_watch_like_redis(r: redis.Redis, ref: redis.Redis) -> None:
    for client in (r, ref):
        client.rpush("src", 3, 1, 2)
        pipe = client.pipeline()
        pipe.watch("dst")
        client.sort("src", store="dst")
        pipe.multi()
        pipe.get("x")
        try:
            pipe.execute()
            aborted = False
        except redis.WatchError:
            aborted = True
        assert aborted
        assert client.lrange("dst", 0, -1) == [b"1", b"2", b"3"]


def test_sort_store_wakes_a_blocked_client(r: redis.Redis) -> None:
    r.rpush("src", "b", "a")
    got: list[object] = []
    blocker = redis.Redis(port=r.connection_pool.connection_kwargs["port"])

    def wait() -> None:
        got.append(blocker.blpop(["dst"], timeout=10))

    thread = threading.Thread(target=wait)
    thread.start()
    deadline = time.monotonic() + 10
    while int(r.info("clients")["blocked_clients"]) < 1:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert r.sort("src", alpha=True, store="dst") == 2
    thread.join(10)
    blocker.close()
    assert got == [(b"dst", b"a")]
    assert r.lrange("dst", 0, -1) == [b"b"]


def test_scripts_sort_sets_deterministically() -> None:
    """With BY nosort a set comes out in its own order, except from a script (or with STORE),
    where Redis sorts it lexicographically so replicas and the log agree."""
    load_all()
    server = Server(Config())
    client = Client(server)
    client.execute([b"SADD", b"s", b"b", b"c", b"a", b"10"])
    argv = [b"SORT", b"s", b"BY", b"nosort"]
    assert sorted(sort_generic(client, argv, False)) == [b"10", b"a", b"b", b"c"]
    client.in_script = True  # type: ignore[attr-defined]
    assert sort_generic(client, argv, False) == [b"10", b"a", b"b", b"c"]
    assert sort_generic(client, [*argv, b"DESC"], False) == [b"c", b"b", b"a", b"10"]
