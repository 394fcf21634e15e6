"""Helpers for the checkpoint tests: keyspace dumps, a stand-in server, real-process utilities."""

from __future__ import annotations

import os
import time
from typing import Any

import redis

from bench.checkpoint_micro import StubServer as BenchStubServer
from sentrykv_server.persistence import checkpoint, snapshot
from sentrykv_server.persistence.wal_format import list_segments
from sentrykv_server.store.keyspace import Keyspace
from sentrykv_server.store.types import TYPES


def dump(ks: Keyspace) -> dict[tuple[int, bytes], tuple[str, bytes, int | None]]:
    """Everything a snapshot must reproduce: type, canonical value and TTL of every key
    (expired ones included: a snapshot keeps them, the WAL's DEL removes them)."""
    out = {}
    for db in ks.dbs:
        for key, value in db.data.items():
            vt = TYPES[type(value)]
            out[(db.id, key)] = (vt.name, vt.canonical(value), db.expires.get(key))
    return out


class StubServer(BenchStubServer):
    """What a Checkpointer touches on the server (appendonly off), at a non-zero LSN."""

    def __init__(self, directory: str, keyspace: Keyspace) -> None:
        super().__init__(directory, keyspace)
        self.last_lsn = 7


async def start_recording_cut(
    directory: str, ks: Keyspace, slow_s: float | None = None
) -> tuple[StubServer, checkpoint.Checkpointer, checkpoint.Run, dict[Any, Any]]:
    """Start a SAVE checkpoint on a stub server; the returned dict fills with the
    keyspace as it was at the cut (taken in the task's first step, already run)."""
    import asyncio

    server = StubServer(directory, ks)
    ckpt = checkpoint.Checkpointer(server)  # type: ignore[arg-type]
    server.checkpointer = ckpt
    ckpt.start()
    if slow_s is not None:
        ckpt.slow_s = slow_s
    cut: dict[Any, Any] = {}

    def at_step(step: str) -> None:
        if step == "cut":
            cut.update(dump(ks))

    ckpt.crash = at_step
    run = ckpt._start(checkpoint.SAVE, "test")
    assert run.task is not None
    await asyncio.sleep(0)  # the cut happens in the task's first step
    return server, ckpt, run, cut


class FakeClient:
    """Enough of a connection for the guard: ``db``."""

    def __init__(self, db: Any) -> None:
        self.db = db


# -- real processes ------------------------------------------------------------------------------
def info(r: redis.Redis, section: str = "persistence") -> dict[str, Any]:
    return dict(r.info(section))


def wait_checkpoints(r: redis.Redis, total: int, timeout: float = 30.0) -> dict[str, Any]:
    """Wait until ``checkpoints_total`` reaches ``total`` and none is running."""
    deadline = time.monotonic() + timeout
    while True:
        fields = info(r)
        if int(fields["checkpoints_total"]) >= total and not int(fields["checkpoint_in_progress"]):
            return fields
        if time.monotonic() > deadline:
            raise TimeoutError(f"checkpoint #{total} did not finish: {fields}")
        time.sleep(0.02)


def digest(r: redis.Redis) -> bytes:
    """DEBUG DIGEST of the live dataset.

    Redis's DEBUG DIGEST also counts keys whose time has passed but that nothing
    has deleted yet; a full SCAN first expires those (as Redis's SCAN does), so
    that two servers holding the same live data agree whatever their lazy-expiry
    history.  The workload's short TTLs (1 and 50 ms) run out first.
    """
    time.sleep(0.1)
    for db in range(16):
        if r.execute_command("SELECT", db) and r.dbsize():
            for _ in r.scan_iter(count=1000):
                pass
    r.execute_command("SELECT", 0)
    return bytes(r.execute_command("DEBUG", "DIGEST"))


def snapshot_files(directory: str) -> list[str]:
    return [os.path.basename(p) for _g, _l, p in snapshot.list_snapshots(directory)]


def wal_files(directory: str) -> list[str]:
    return [os.path.basename(p) for _f, p in list_segments(directory)]


def replay_wal(directory: str, upto_lsn: int) -> Keyspace:
    """Rebuild the keyspace from WAL frames 1..upto_lsn alone, offline, with the real handlers."""
    from sentrykv_server.config import Config
    from sentrykv_server.persistence.durability import ReplayClient, apply_payload
    from sentrykv_server.persistence.wal_reader import iter_frames
    from sentrykv_server.server import Server

    server = Server(Config())
    client = ReplayClient(server)
    server.keyspace.loading = True
    expected = 1
    for lsn, payload in iter_frames(directory, 0):
        assert lsn == expected, f"the WAL must start at LSN 1 for this check (found {lsn})"
        expected += 1
        if lsn > upto_lsn:
            break
        apply_payload(server, client, bytes(payload))
    assert expected > upto_lsn, f"the WAL ends at LSN {expected - 1}, before the cut {upto_lsn}"
    return server.keyspace


def send_only(port: int, *args: bytes) -> None:
    """Send one command on a fresh socket and do not wait for a reply (the server may exit)."""
    import socket

    payload = b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(payload)
        try:
            sock.recv(1024)
        except OSError:
            pass


def flip_bit(path: str, offset: int, bit: int = 0) -> None:
    with open(path, "r+b") as fh:
        fh.seek(offset)
        byte = fh.read(1)[0]
        fh.seek(offset)
        fh.write(bytes([byte ^ (1 << bit)]))
