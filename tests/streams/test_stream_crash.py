"""Streams and consumer groups survive kill -9 and power loss under ``appendfsync always``,
with producers, consumers and a claimer running concurrently, with and without a
checkpoint taken in the middle.

After the crash: every acknowledged XADD is there and each producer's entries are a
prefix of what it sent; every entry whose XREADGROUP reply arrived is pending (unless an
XACK for it was sent); every entry whose XACK reply arrived is not; the group's last ID,
entries-read and lag agree with the stream.  Then the recovered server is restarted again
without traffic and must come back with the same DEBUG DIGEST (which covers entries,
node layout, PELs with owners, delivery times and counts) and the same XINFO STREAM FULL.
"""

from __future__ import annotations

import os
import random
import threading
import time
from typing import Any

import pytest
import redis

from tests.core.helpers import raw_client
from tests.durability.test_kill9 import cut_to_fsynced
from tests.support.procs import ServerProcess

PRODUCERS = 3
CONSUMERS = 3


class Worker(threading.Thread):
    def __init__(self, port: int, ident: int) -> None:
        super().__init__(daemon=True)
        self.port = port
        self.who = ident
        self.stop_flag = False
        self.error: BaseException | None = None

    def run(self) -> None:
        r = redis.Redis(port=self.port, socket_timeout=10)
        try:
            while not self.stop_flag:
                self.step(r)
        except (redis.ConnectionError, redis.TimeoutError, OSError):
            return
        except BaseException as exc:  # an unexpected reply: the test must fail
            self.error = exc

    def step(self, r: redis.Redis) -> None:
        raise NotImplementedError


class Producer(Worker):
    def __init__(self, port: int, ident: int) -> None:
        super().__init__(port, ident)
        self.acked: list[bytes] = []  # IDs, in sequence order

    def step(self, r: redis.Redis) -> None:
        n = len(self.acked)
        self.acked.append(r.xadd("s", {"p": self.who, "n": n, "pad": "x" * (n % 7)}))


class Consumer(Worker):
    def __init__(self, port: int, ident: int) -> None:
        super().__init__(port, ident)
        self.delivered: set[bytes] = set()
        self.ack_sent: set[bytes] = set()
        self.acked: set[bytes] = set()

    def step(self, r: redis.Redis) -> None:
        reply = r.xreadgroup("g", f"c{self.who}", {"s": ">"}, count=10, block=20)
        ids = [entry_id for _key, entries in reply for entry_id, _fields in entries]
        self.delivered.update(ids)
        to_ack = [i for i in ids if int(i.split(b"-")[0]) % 2 == 0]
        if to_ack:
            self.ack_sent.update(to_ack)
            r.xack("s", "g", *to_ack)
            self.acked.update(to_ack)


class Claimer(Worker):
    def step(self, r: redis.Redis) -> None:
        r.xautoclaim("s", "g", "claimer", 30, "0", count=5)
        r.xpending_range("s", "g", "-", "+", 5)
        time.sleep(0.01)


def _full(port: int, seen_times: bool = False) -> Any:
    """XINFO STREAM FULL, raw; without the consumers' seen-times (the WAL does not carry them)."""
    r = raw_client(port)
    info = r.execute_command("XINFO", "STREAM", "s", "FULL", "COUNT", "0")
    r.close()
    if seen_times:
        return info
    groups = info[info.index(b"groups") + 1]
    for group in groups:
        consumers = group[group.index(b"consumers") + 1]
        for consumer in consumers:
            consumer[consumer.index(b"seen-time") + 1] = 0
    return info


def _check(r: redis.Redis, producers: list[Producer], consumers: list[Consumer]) -> None:
    entries = r.xrange("s", "-", "+")
    by_producer: dict[int, list[tuple[int, bytes]]] = {}
    for entry_id, fields in entries:
        by_producer.setdefault(int(fields[b"p"]), []).append((int(fields[b"n"]), entry_id))
    for p in producers:
        have = by_producer.get(p.who, [])
        assert [n for n, _ in have] == list(range(len(have))), f"producer {p.who}: gap or reorder"
        assert [i for _, i in have[: len(p.acked)]] == p.acked, f"producer {p.who} lost acknowledged entries"
    pending = {e["message_id"]: e for e in r.xpending_range("s", "g", "-", "+", 1_000_000)}
    for c in consumers:
        for entry_id in c.delivered - c.ack_sent:
            assert entry_id in pending, f"delivered {entry_id!r} is no longer pending"
        for entry_id in c.acked:
            assert entry_id not in pending, f"acknowledged {entry_id!r} is pending again"
    delivered = set().union(*(c.delivered for c in consumers))
    group = r.xinfo_groups("s")[0]
    last = group["last-delivered-id"]
    if delivered:
        newest = max(tuple(map(int, i.split(b"-"))) for i in delivered)
        assert tuple(map(int, last.split(b"-"))) >= newest
    after = len(r.xrange("s", b"(" + last, "+"))
    assert group["lag"] == after
    assert group["entries-read"] == len(entries) - after


def crash_round(seed: int, power_loss: bool = False, checkpoint: bool = False) -> None:
    rng = random.Random(seed)
    srv = ServerProcess(args=["--appendonly", "yes", "--appendfsync", "always",
                              "--stream-node-max-entries", str(rng.choice([5, 100]))])
    fsync_log = os.path.join(srv.dir, "fsync.log")
    if power_loss:
        srv.env = {"SENTRYKV_FSYNC_LOG": fsync_log}
    srv.start()
    try:
        admin = srv.client()
        admin.xgroup_create("s", "g", id="0", mkstream=True)
        producers = [Producer(srv.port, i) for i in range(PRODUCERS)]
        consumers = [Consumer(srv.port, i) for i in range(CONSUMERS)]
        workers: list[Worker] = [*producers, *consumers, Claimer(srv.port, 99)]
        for w in workers:
            w.start()
        if checkpoint:
            time.sleep(rng.uniform(0.2, 0.5))
            admin.bgsave()
        time.sleep(rng.uniform(0.3, 0.9))
        srv.kill9()
        for w in workers:
            w.stop_flag = True
            w.join(10)
            assert w.error is None, repr(w.error)
        assert sum(len(p.acked) for p in producers) > 0
        assert any(c.delivered for c in consumers)
        if power_loss:
            cut_to_fsynced(srv.dir, fsync_log)
        srv.start()
        r = srv.client()
        _check(r, producers, consumers)
        digest, full = r.execute_command("DEBUG", "DIGEST"), _full(srv.port)
        r.close()
        srv.kill9()
        srv.start()
        r = srv.client()
        assert r.execute_command("DEBUG", "DIGEST") == digest
        assert _full(srv.port) == full
        r.close()
    finally:
        srv.stop()
        srv.cleanup()


def test_kill9_with_producers_and_consumer_groups() -> None:
    crash_round(1)


def test_power_loss_after_a_checkpoint_taken_under_load() -> None:
    crash_round(2, power_loss=True, checkpoint=True)


def test_snapshot_restores_seen_times_and_delivery_state_exactly() -> None:
    srv = ServerProcess(args=["--appendonly", "yes", "--appendfsync", "always"]).start()
    try:
        r = srv.client()
        r.xgroup_create("s", "g", id="0", mkstream=True)
        for i in range(50):
            r.xadd("s", {"i": i})
        r.xreadgroup("g", "alice", {"s": ">"}, count=20)
        r.xgroup_createconsumer("s", "g", "idle-one")
        r.xclaim("s", "g", "bob", 0, [r.xrange("s", count=1)[0][0]], idle=12345)
        r.xreadgroup("g", "carol", {"s": ">"}, count=5, noack=True)
        before = _full(srv.port, seen_times=True)
        digest = r.execute_command("DEBUG", "DIGEST")
        r.save()
        r.close()
        srv.kill9()
        srv.start()
        r = srv.client()
        assert _full(srv.port, seen_times=True) == before
        assert r.execute_command("DEBUG", "DIGEST") == digest
        r.close()
    finally:
        srv.stop()
        srv.cleanup()


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(10, 16))
def test_crash_many_rounds(seed: int) -> None:
    crash_round(seed, power_loss=seed % 2 == 0, checkpoint=seed % 3 == 0)
