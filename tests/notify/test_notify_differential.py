"""Keyspace notifications against redis-server: the same commands, the same messages, in order.

Every step runs on SentryKV and on the reference redis-server; the replies
and the exact bytes received by a RESP2 and a RESP3 PSUBSCRIBE listener must
be identical (see events.py).  The fixed corpus covers every event name of
every family; the random corpus mixes families over a few keys from a seed.
Several ``notify-keyspace-events`` settings select different classes and
channel kinds.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.notify.corpus import FIXED, random_corpus
from tests.notify.events import EventDiffer
from tests.notify.tracking_wire import compare
from tests.support.procs import RedisProcess, ServerProcess
from tests.transactions.wire import Wire

SETTINGS = ["KEA", "KEAnm", "Kl$", "Egxn", "Ksh", "Ezt", "KE", "A"]


@pytest.fixture
def differ(server: ServerProcess, reference: RedisProcess) -> Iterator[EventDiffer]:
    d = EventDiffer(server.port, reference.port)
    yield d
    for side in (d.ours, d.theirs):
        side.cmd.call("DEBUG", "SET-ACTIVE-EXPIRE", "1")
        side.cmd.call("CONFIG", "SET", "notify-keyspace-events", "")
    d.close()


def _split_expiry(steps: list[list[str]]) -> list[list[str]]:
    """Around the lazy-expiry steps, stop the active cycle so only lookups expire keys."""
    out: list[list[str]] = []
    for argv in steps:
        if argv == ["set", "e1", "v", "px", "30"]:
            out.append(["debug", "set-active-expire", "0"])
        if argv == ["set", "e4", "v", "px", "20"]:
            out.append(["debug", "set-active-expire", "1"])
        out.append(argv)
    return out


@pytest.mark.parametrize("flags", SETTINGS)
def test_fixed_corpus(differ: EventDiffer, flags: str) -> None:
    differ.setup(flags)
    produced = differ.run_all(_split_expiry(FIXED))
    if flags in ("KE", "A"):
        assert produced == 0  # a class and a channel kind are both needed
    elif flags.startswith("KEA"):
        assert produced > 100


@pytest.mark.parametrize("seed", [1, 2])
def test_random_corpus(differ: EventDiffer, seed: int) -> None:
    differ.setup("KEAnm" if seed == 1 else "Elhzsxg$")
    produced = differ.run_all(random_corpus(seed, 250))
    assert produced > 40  # many draws are WRONGTYPE errors or no-ops, which raise nothing


def test_expired_by_the_active_cycle(differ: EventDiffer) -> None:
    differ.setup("KEx")
    for side in (differ.ours, differ.theirs):
        side.cmd.call("SET", "gone", "v", "PX", "10")
        side.cmd.call("SELECT", "4")
        side.cmd.call("SET", "gone4", "v", "PX", "10")
        side.cmd.call("SELECT", "0")
        side.drain()
    events = differ.run(["__sleep__", "500"])
    assert b"__keyevent@0__:expired" in events[0] and b"__keyevent@4__:expired" in events[0]


def test_events_of_a_transaction_come_in_order(differ: EventDiffer) -> None:
    differ.setup("KEA")
    for argv in (["multi"], ["rpush", "q", "a"], ["lmove", "q", "q2", "left", "right"], ["exec"]):
        events = differ.run(argv)
    assert events[0].index(b"rpush") < events[0].index(b"lpop") < events[0].index(b"del")
    assert events[2] == b">3\r\n$7\r\nmessage\r\n$18\r\n__keyevent@0__:del\r\n$1\r\nq\r\n"  # SUBSCRIBE


def test_migrate_deletes_raise_del(differ: EventDiffer) -> None:
    """MIGRATE (without COPY) raises 'del' for each key moved; both sides move to one target."""
    target = RedisProcess().start()
    try:
        differ.setup("KEg")
        for i, side in enumerate((differ.ours, differ.theirs)):
            for key in ("m1", "m2", "m3"):
                side.cmd.call("SET", key, "v")
            reply = side.cmd.call("MIGRATE", "127.0.0.1", target.port, "", i + 1, 5000, "KEYS", "m1", "m2")
            assert reply == b"+OK\r\n"
            reply = side.cmd.call("MIGRATE", "127.0.0.1", target.port, "m3", i + 1, 5000, "COPY")
            assert reply == b"+OK\r\n"
        ours, theirs = differ.ours.drain(), differ.theirs.drain()
        assert ours == theirs
        assert ours[0].count(b"__keyevent@0__:del") == 2
    finally:
        target.stop()
        target.cleanup()


def test_resp3_subscriber_hears_its_own_commands(server: ServerProcess, reference: RedisProcess) -> None:
    """A RESP3 connection may subscribe and still run commands: its own events come before
    each reply, and inside EXEC between the replies (Redis 7.0 writes them as they happen)."""
    for port in (server.port, reference.port):
        Wire(port).call("CONFIG", "SET", "notify-keyspace-events", "KEA")
    steps = [
        ("s3", "PSUBSCRIBE", "__keyevent@0__:*"),
        ("s3", "SET", "k", "v"),
        ("s3", "MULTI"),
        ("s3", "SET", "k", "1"),
        ("s3", "INCR", "k"),
        ("s3", "GET", "k"),
        ("s3", "DEL", "k"),
        ("s3", "EXEC"),
        ("s3", "PUNSUBSCRIBE"),
    ]
    try:
        compare(server.port, reference.port, ["s3"], steps)
    finally:
        for port in (server.port, reference.port):
            Wire(port).call("CONFIG", "SET", "notify-keyspace-events", "")
