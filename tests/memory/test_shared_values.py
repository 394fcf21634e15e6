"""Short values shared between keys and hash fields (store/shared.py) and their accounting.

The table is process-wide, so every test uses values of its own (a random
prefix) and never depends on what other tests made shared.
"""

from __future__ import annotations

import logging
import os

import pytest

from bench.request_micro import _resp, make_server
from sentrykv_server.store.shared import SHARED_MAX_LEN, is_shared, share
from tests.support.procs import ServerProcess


def _fresh(text: bytes) -> bytes:
    """A value nobody stored yet, as a new object (like one the parser made)."""
    return bytes(bytearray(os.urandom(3).hex().encode() + text))


def test_a_value_is_shared_from_its_second_store_on() -> None:
    first = _fresh(b"a")
    second, third = bytes(bytearray(first)), bytes(bytearray(first))
    assert share(first) is first and not is_shared(first)
    shared = share(second)
    # The shared object is a new one: neither the first nor the second caller's object.
    assert shared == first and shared is not first and shared is not second
    assert is_shared(shared) and not is_shared(first) and not is_shared(second)
    assert share(third) is shared


def test_long_and_single_byte_values_are_left_alone() -> None:
    long = _fresh(b"x" * SHARED_MAX_LEN)
    assert len(long) > SHARED_MAX_LEN
    share(long)
    assert share(bytes(bytearray(long))) is not long and not is_shared(share(long))
    # CPython already keeps one object per 1-byte value: counted as shared by rule.
    assert is_shared(b"z") and is_shared(b"")


def test_keys_share_the_value_and_the_accounting_matches_a_recount(caplog: pytest.LogCaptureFixture) -> None:
    """Stores, overwrites, COPY/RENAME of the first (unshared) object, deletes: the figure
    kept write by write equals the one costed from scratch, and shared values cost no object."""
    caplog.set_level(logging.ERROR)
    server, client = make_server([("appendonly", "no")])
    value = _fresh(b"v")
    cmds = [_resp(b"SET", b"k%d" % i, value) for i in range(50)]
    cmds += [_resp(b"COPY", b"k0", b"c0"), _resp(b"RENAME", b"k1", b"r1"), _resp(b"SET", b"k2", b"other"),
             _resp(b"DEL", b"k3"), _resp(b"SET", b"k4", value, b"EX", b"100"), _resp(b"APPEND", b"k5", b"!"),
             _resp(b"HSET", b"h", b"f1", value, b"f2", value)]
    client.data_received(b"".join(cmds))
    server.flush_pass()
    ks = server.keyspace
    db = ks.dbs[0]
    objects = {id(db.data[b"k%d" % i]) for i in range(6, 50)}
    assert len(objects) == 1 and is_shared(db.data[b"k6"])
    assert db.data[b"h"][b"f1"] is db.data[b"h"][b"f2"] is db.data[b"k6"]
    ks.settle()
    before = db.mem
    ks.recount()
    assert db.mem == before


def test_shared_values_lower_used_memory_and_survive_a_restart() -> None:
    """1000 keys holding one short value cost ~48 bytes a key less than 1000 distinct values,
    and a restart (recovery shares what it loads) keeps it that way."""
    srv = ServerProcess(args=["--appendonly", "yes"]).start()
    try:
        r = srv.client()

        def net() -> int:  # the keys and values (used_memory less the clients' buffers)
            return int(r.info("memory")["used_memory_dataset"])

        base = net()
        pipe = r.pipeline(transaction=False)
        for i in range(1000):
            pipe.set(f"same:{i:04d}", "abc")
        pipe.execute()
        same = net() - base
        for i in range(1000):
            pipe.set(f"uniq:{i:04d}", f"{i:03d}")
        pipe.execute()
        uniq = net() - base - same
        assert uniq - same > 35_000, (same, uniq)
        r.execute_command("SAVE")  # a checkpoint: the restart loads it, not a replay of SETs
        before = net()
        r.close()
        srv.restart()
        r = srv.client()
        after = net()
        assert r.dbsize() == 2000 and r.get("same:0999") == b"abc"
        assert abs(after - before) < 4_000, (before, after)
        r.close()
    finally:
        srv.stop()
        srv.cleanup()
