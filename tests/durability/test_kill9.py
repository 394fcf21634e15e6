"""The promise: an acknowledged write survives kill -9 in every fsync mode, and
survives power loss under ``appendfsync always``.

Many clients write concurrently; the server is killed with SIGKILL at a random
moment; after restart every acknowledged write is present and what each
connection wrote is a prefix of what it sent (no gaps, nothing reordered).
Power loss is simulated honestly: the WAL writer logs the size of every
segment each time an fsync returns (SENTRYKV_FSYNC_LOG), and after the kill
every segment is cut back to what had really been fsynced.
"""

from __future__ import annotations

import os
import random
import threading
import time

import pytest
import redis

from tests.support.procs import ServerProcess

CLIENTS = 8


class Writer(threading.Thread):
    """One connection writing w<id>:<seq> in order; remembers the last acknowledged seq."""

    def __init__(self, port: int, ident: int) -> None:
        super().__init__(daemon=True)
        self.port = port
        self.who = ident
        self.acked = -1
        self.stop_flag = False

    def run(self) -> None:
        r = redis.Redis(port=self.port, socket_timeout=10)
        seq = 0
        try:
            while not self.stop_flag:
                r.set(f"w{self.who}:{seq}", f"{self.who}-{seq}")
                self.acked = seq
                seq += 1
        except (redis.ConnectionError, redis.TimeoutError, OSError):
            return


def written_prefix(r: redis.Redis, ident: int, upto: int) -> int:
    """Highest n such that w<ident>:0..n all exist; asserts nothing exists after a gap."""
    keys = [f"w{ident}:{i}" for i in range(upto + 200)]
    values = r.mget(keys)
    present = [v is not None for v in values]
    n = 0
    while n < len(present) and present[n]:
        n += 1
    assert not any(present[n:]), f"client {ident}: gap in its writes after {n - 1}"
    for i in range(n):
        assert values[i] == f"{ident}-{i}".encode()
    return n - 1


def cut_to_fsynced(data_dir: str, fsync_log: str) -> int:
    """Simulate power loss: every segment keeps only what an fsync covered."""
    synced: dict[str, int] = {}
    if os.path.exists(fsync_log):
        with open(fsync_log) as fh:
            for line in fh:
                name, size = line.split()
                synced[name] = max(synced.get(name, 0), int(size))
    dropped = 0
    for name in os.listdir(data_dir):
        if not name.endswith(".wal"):
            continue
        path = os.path.join(data_dir, name)
        size = os.path.getsize(path)
        keep = synced.get(name, 0)
        if size > keep:
            dropped += size - keep
            with open(path, "r+b") as fh:
                fh.truncate(keep)
    return dropped


def crash_round(mode: str, seed: int, power_loss: bool) -> None:
    rng = random.Random(seed)
    srv = ServerProcess(args=["--appendonly", "yes", "--appendfsync", mode])
    fsync_log = os.path.join(srv.dir, "fsync.log")
    if power_loss:
        srv.env = {"SENTRYKV_FSYNC_LOG": fsync_log}
    srv.start()
    try:
        writers = [Writer(srv.port, i) for i in range(CLIENTS)]
        for w in writers:
            w.start()
        time.sleep(rng.uniform(0.3, 1.2))
        srv.kill9()
        for w in writers:
            w.stop_flag = True
            w.join(10)
        acked = {w.who: w.acked for w in writers}
        assert sum(a + 1 for a in acked.values()) > 0, "no write was acknowledged before the kill"
        if power_loss:
            cut_to_fsynced(srv.dir, fsync_log)
        srv.start()
        r = srv.client()
        for ident, last in acked.items():
            have = written_prefix(r, ident, last)
            assert have >= last, f"{mode}: client {ident} lost acknowledged writes ({have} < {last})"
        r.close()
    finally:
        srv.stop()
        srv.cleanup()


@pytest.mark.parametrize("mode", ["always", "everysec", "no"])
@pytest.mark.parametrize("seed", range(2))
def test_kill9_keeps_acknowledged_writes(mode: str, seed: int) -> None:
    crash_round(mode, seed, power_loss=False)


@pytest.mark.parametrize("seed", range(2))
def test_power_loss_under_always(seed: int) -> None:
    crash_round("always", 100 + seed, power_loss=True)


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["always", "everysec"])
@pytest.mark.parametrize("seed", range(2, 8))
def test_kill9_many_rounds(mode: str, seed: int) -> None:
    crash_round(mode, seed, power_loss=False)


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(2, 6))
def test_power_loss_many_rounds(seed: int) -> None:
    crash_round("always", 100 + seed, power_loss=True)
