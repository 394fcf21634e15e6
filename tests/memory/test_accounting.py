"""The incremental memory accounting agrees with a recount, whatever the commands did.

In-process: a real Server and Client (stub transport) run a random mix of
commands of every family through the real request path; after each batch the
per-database figures maintained write by write are compared with
``Keyspace.recount()``, which costs everything from scratch.  Container costs
are sampled, so they may differ by the meter's drift; strings must match
exactly.
"""

from __future__ import annotations

import logging
import random

import pytest

from bench.request_micro import _resp, make_server
from sentrykv_server.store.access import LFU_INIT_VAL
from sentrykv_server.store.keyspace import METER_SAMPLES, measure

COMMANDS = [
    ("SET", "{k}", "{v}"), ("SET", "{k}", "{v}", "EX", "100"), ("APPEND", "{k}", "{v}"), ("INCR", "n{i}"),
    ("DEL", "{k}"), ("GETSET", "{k}", "{v}"), ("MSET", "{k}", "{v}", "x{i}", "{v}"), ("SETRANGE", "{k}", "3", "{v}"),
    ("HSET", "h{i}", "f{j}", "{v}"), ("HDEL", "h{i}", "f{j}"), ("RPUSH", "l{i}", "{v}", "{v}"), ("LPOP", "l{i}"),
    ("SADD", "s{i}", "m{j}"), ("SREM", "s{i}", "m{j}"), ("ZADD", "z{i}", "{j}", "m{j}"), ("ZREM", "z{i}", "m{j}"),
    ("RENAME", "{k}", "r{i}"), ("COPY", "h{i}", "hc{i}", "REPLACE"), ("EXPIRE", "{k}", "50"), ("PERSIST", "{k}"),
    ("SUNIONSTORE", "su{i}", "s{i}", "s{j}"), ("LTRIM", "l{i}", "0", "2"), ("FLUSHDB",), ("SWAPDB", "0", "1"),
    ("SELECT", "{db}"), ("MOVE", "{k}", "2"), ("GETDEL", "{k}"),
]


def _command(rng: random.Random) -> list[bytes]:
    template = rng.choice(COMMANDS[:-3]) if rng.random() < 0.97 else rng.choice(COMMANDS[-5:])
    fill = {"k": f"k{rng.randrange(40)}", "v": "v" * rng.choice((1, 5, 40, 300, 2000)),
            "i": rng.randrange(8), "j": rng.randrange(60), "db": rng.randrange(3)}
    return [part.format(**fill).encode() for part in template]


def test_incremental_accounting_matches_a_recount(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR)
    server, client = make_server([("appendonly", "no")])
    rng = random.Random(11)
    for _batch in range(30):
        client.data_received(b"".join(_resp(*_command(rng)) for _ in range(60)))
        server.flush_pass()
        ks = server.keyspace
        ks.settle()
        incremental = [(db.mem, {k: m[0] for k, m in db.sizes.items()}) for db in ks.dbs]
        ks.recount()
        recounted = [(db.mem, {k: m[0] for k, m in db.sizes.items()}) for db in ks.dbs]
        for (mem_a, sizes_a), (mem_b, sizes_b) in zip(incremental, recounted, strict=True):
            assert sizes_a.keys() == sizes_b.keys()
            drift = sum(abs(sizes_a[k] - sizes_b[k]) for k in sizes_a)
            assert abs(mem_a - mem_b) <= drift, (mem_a, mem_b, drift)
            # The meter's drift between measurements stays small against the containers.
            assert drift <= max(4096, sum(sizes_b.values()) // 4)
    assert not [r for r in caplog.records if "error executing" in r.getMessage()]


def test_meter_is_exact_for_small_containers_and_sampled_beyond() -> None:
    server, client = make_server([])
    client.data_received(b"".join(_resp(b"HSET", b"h", b"f%d" % i, b"v" * i) for i in range(METER_SAMPLES)))
    client.data_received(_resp(b"RPUSH", b"big", *[b"x" * 10] * 5000))
    server.flush_pass()
    db = server.keyspace.dbs[0]
    server.keyspace.settle()
    size, count, _measured, _passes, _structure = measure(db.data[b"h"])
    assert count == METER_SAMPLES and db.sizes[b"h"][0] == size
    # A list of equal elements: sampling 16 of 5000 is exact up to rounding.
    big = db.sizes[b"big"][0]
    from sentrykv_server.store.memory import list_size

    assert abs(big - list_size(db.data[b"big"], 0)) < 64


def test_lfu_counter_starts_at_init_value_and_set_keeps_it() -> None:
    server, client = make_server([("maxmemory-policy", "allkeys-lfu")])
    client.data_received(_resp(b"SET", b"k", b"v"))
    db = server.keyspace.dbs[0]
    clock = server.keyspace.clock
    assert clock.frequency(db.access(b"k")) == LFU_INIT_VAL
    client.data_received(_resp(b"GET", b"k"))  # the first access always counts
    assert clock.frequency(db.access(b"k")) == LFU_INIT_VAL + 1
    client.data_received(_resp(b"INCR", b"n") + _resp(b"INCR", b"n"))
    # INCR looks the key up (an access) and stores a new value (keeps the counter): +1 only.
    assert clock.frequency(db.access(b"n")) == LFU_INIT_VAL + 1
