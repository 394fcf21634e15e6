"""The copy-on-write machinery on a real Keyspace: whatever happens while a checkpoint
runs, the snapshot holds exactly the state at the cut.

The real Checkpointer runs with a stand-in server (appendonly off) and tiny chunks, and
a task changes the keyspace between chunks the way commands do: through the Database
methods (hooked), in place after the guard (as the dispatcher calls it before a write
command) or after ``containers.will_modify``, FLUSHDB / SWAPDB (dict replacement).
"""

from __future__ import annotations

import asyncio
import os
import random
from collections.abc import Callable
from typing import Any

import pytest

from sentrykv_server.commands.containers import will_modify
from sentrykv_server.persistence import checkpoint, snapshot
from sentrykv_server.store.hashes import Hash
from sentrykv_server.store.keyspace import Keyspace
from sentrykv_server.store.lists import QuickList
from sentrykv_server.store.sets import RedisSet
from sentrykv_server.store.zset import ZSet
from tests.checkpoint.helpers import FakeClient, StubServer, dump, start_recording_cut


def populated(n: int = 300) -> Keyspace:
    ks = Keyspace(16)
    for d in (0, 1, 2):
        db = ks.dbs[d]
        for i in range(n):
            db.set(b"s%d" % i, b"v%d-%d" % (d, i))
        for i in range(20):
            db.add(b"h%d" % i, Hash({b"f": b"%d" % i, b"g": b"x"}))
            db.add(b"l%d" % i, QuickList([b"a", b"b"]))
            db.add(b"t%d" % i, RedisSet([b"1", b"2"]))
            z = ZSet()
            z.insert(b"m", float(i), 128, 64)
            db.add(b"z%d" % i, z)
        for i in range(0, n, 10):
            db.set_expire(b"s%d" % i, 9_000_000_000_000 + i)
    return ks


async def run_checkpoint(
    directory: str, ks: Keyspace, mutations: list[Callable[[StubServer], None]], per_turn: int = 3
) -> tuple[checkpoint.Run, dict[Any, Any], StubServer]:
    """Start a checkpoint, apply ``mutations`` between its chunks; return the run and the cut state."""
    # slow_s: 16 keys per chunk, a short sleep after each
    server, ckpt, run, cut = await start_recording_cut(directory, ks, slow_s=0.0005)
    assert run.task is not None
    pending = list(mutations)
    while pending and not run.task.done():
        for _ in range(per_turn):
            if pending:
                pending.pop(0)(server)
        await asyncio.sleep(0.0005)
    await run.task
    assert not pending, "the checkpoint ended before every mutation ran: make it slower"
    await ckpt.stop(save=False)
    return run, cut, server


def loaded(directory: str) -> dict[Any, Any]:
    fresh = Keyspace(16)
    assert snapshot.load_latest(directory, fresh) is not None
    return dump(fresh)


def guarded(db_index: int, argv: list[bytes], change: Callable[[Any], None]) -> Callable[[StubServer], None]:
    """A write command: the dispatcher's guard first, then an in-place change."""

    def apply(server: StubServer) -> None:
        db = server.keyspace.dbs[db_index]
        if server.cow_guard is not None:
            server.cow_guard(FakeClient(db), argv)
        change(db)

    return apply


def plain(fn: Callable[[Any], None], db_index: int = 0) -> Callable[[StubServer], None]:
    return lambda server: fn(server.keyspace.dbs[db_index])


def mixed_mutations(rng: random.Random) -> list[Callable[[StubServer], None]]:
    muts: list[Callable[[StubServer], None]] = []
    for step in range(240):
        d = rng.choice((0, 1, 2))
        i = rng.randrange(300)
        c = rng.randrange(20)
        kind = step % 12
        if kind == 0:
            muts.append(plain(lambda db, i=i, step=step: db.set(b"s%d" % i, b"new%d" % step), d))
        elif kind == 1:
            muts.append(plain(lambda db, i=i: db.delete(b"s%d" % i), d))
        elif kind == 2:
            muts.append(plain(lambda db, step=step: db.set(b"fresh%d" % step, b"x"), d))
        elif kind == 3:
            muts.append(plain(lambda db, i=i: db.set_expire(b"s%d" % i, 1), d))
        elif kind == 4:
            muts.append(plain(lambda db, i=i: db.persist(b"s%d" % i), d))
        elif kind == 5:
            muts.append(plain(lambda db, i=i: db.expire_now(b"s%d" % i) if b"s%d" % i in db.data else None, d))
        elif kind == 6:  # HSET: guard, then in place
            muts.append(guarded(d, [b"HSET", b"h%d" % c, b"f", b"changed"],
                                lambda db, c=c: db.data[b"h%d" % c].__setitem__(b"f", b"changed")
                                if b"h%d" % c in db.data else None))
        elif kind == 7:  # RPUSH with will_modify only (no guard): the container helper's hook
            def rpush(db: Any, c: int = c) -> None:
                key = b"l%d" % c
                if key in db.data:
                    will_modify(db, key)
                    db.data[key].append(b"pushed")
            muts.append(plain(rpush, d))
        elif kind == 8:  # SADD
            muts.append(guarded(d, [b"SADD", b"t%d" % c, b"9"],
                                lambda db, c=c: db.data[b"t%d" % c].add(b"9") if b"t%d" % c in db.data else None))
        elif kind == 9:  # ZINCRBY
            def zincr(db: Any, c: int = c) -> None:
                z = db.data.get(b"z%d" % c)
                if z is not None:
                    z.update(b"m", z.scores[b"m"], z.scores[b"m"] + 1)
            muts.append(guarded(d, [b"ZINCRBY", b"z%d" % c, b"1", b"m"], zincr))
        elif kind == 10:  # HDEL of the last field: the container is deleted
            def hdel_all(db: Any, c: int = c) -> None:
                key = b"h%d" % c
                h = db.data.get(key)
                if h is not None:
                    h.clear()
                    db.delete(key)
            muts.append(guarded(d, [b"HDEL", b"h%d" % c, b"f", b"g"], hdel_all))
        else:  # RENAME
            def rename(db: Any, i: int = i, step: int = step) -> None:
                value = db.data.get(b"s%d" % i)
                if value is not None:
                    db.delete(b"s%d" % i)
                    db.set(b"renamed%d" % step, value)
            muts.append(plain(rename, d))
    return muts


@pytest.mark.parametrize("seed", range(3))
async def test_snapshot_is_the_state_at_the_cut(tmp_path: Any, seed: int) -> None:
    ks = populated()
    run, cut, server = await run_checkpoint(str(tmp_path), ks, mixed_mutations(random.Random(seed)), per_turn=6)
    assert run.ok, run.error
    assert run.preserved > 0
    assert loaded(str(tmp_path)) == cut
    assert dump(ks) != cut  # the mutations did happen, live
    assert ks.cow is None and server.cow_guard is None


async def test_flushdb_and_swapdb_during_a_checkpoint(tmp_path: Any) -> None:
    ks = populated()

    def flush1(server: StubServer) -> None:
        server.keyspace.dbs[1].clear()
        server.keyspace.dbs[1].set(b"after-flush", b"1")

    def swap(server: StubServer) -> None:
        server.keyspace.swap(0, 2)

    def write0(server: StubServer) -> None:
        db = server.keyspace.dbs[0]  # holds db 2's captured dict now
        db.set(b"s5", b"written-after-swap")
        db.delete(b"s6")

    run, cut, _ = await run_checkpoint(str(tmp_path), ks, [flush1, swap, write0])
    assert run.ok, run.error
    assert loaded(str(tmp_path)) == cut
    assert ks.dbs[1].data == {b"after-flush": b"1"}


async def test_writes_before_the_enumeration_reaches_the_keys(tmp_path: Any) -> None:
    """The first change lists the keys not enumerated yet (dict iterators die on inserts)."""
    ks = populated(2000)
    muts = [plain(lambda db, i=i: db.set(b"new%d" % i, b"n")) for i in range(30)]
    muts += [plain(lambda db, i=i: db.delete(b"s%d" % (1999 - i))) for i in range(30)]
    run, cut, _ = await run_checkpoint(str(tmp_path), ks, muts, per_turn=60)
    assert run.ok, run.error
    assert loaded(str(tmp_path)) == cut


async def test_a_change_behind_the_hooks_fails_the_checkpoint(tmp_path: Any) -> None:
    """Never a wrong snapshot: a dict changed without the hook makes the checkpoint fail."""
    ks = populated(2000)
    wal = tmp_path / "wal-00000000000000000001.wal"
    wal.write_bytes(b"not read")

    def sneaky(server: StubServer) -> None:
        server.keyspace.dbs[0].data[b"sneaky"] = b"1"  # bypasses Database.set

    run, _cut, server = await run_checkpoint(str(tmp_path), ks, [sneaky])
    assert not run.ok and "changed under the checkpoint" in run.error
    assert snapshot.list_snapshots(str(tmp_path)) == [] and snapshot.list_temporary(str(tmp_path)) == []
    assert wal.exists(), "a WAL segment was deleted although no snapshot is durable"
    assert ks.cow is None and server.cow_guard is None
    assert ks.dirty > 0  # the changes counted since the failed cut are given back


async def test_write_failure_keeps_the_wal_and_removes_the_tmp(tmp_path: Any, monkeypatch: Any) -> None:
    ks = populated()
    wal = tmp_path / "wal-00000000000000000001.wal"
    wal.write_bytes(b"not read")

    def failing(self: Any, *args: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(snapshot.SnapshotWriter, "write_blocks", failing)
    run, _cut, _server = await run_checkpoint(str(tmp_path), ks, [])
    assert not run.ok and "No space left" in run.error
    assert wal.exists() and os.listdir(str(tmp_path)) == [wal.name]
    assert ks.cow is None


async def test_success_retires_covered_wal_and_older_snapshots(tmp_path: Any) -> None:
    ks = populated(50)
    old = tmp_path / snapshot.snapshot_name(1, 3)
    old.write_bytes(b"older snapshot")
    covered = tmp_path / "wal-00000000000000000001.wal"  # first LSN 1 <= cut LSN 7
    later = tmp_path / "wal-00000000000000000008.wal"  # first LSN 8 > cut: kept
    covered.write_bytes(b"x")
    later.write_bytes(b"y")
    run, cut, _ = await run_checkpoint(str(tmp_path), ks, [])
    assert run.ok and run.lsn == 7 and run.generation == 2
    assert sorted(os.listdir(str(tmp_path))) == sorted([later.name, snapshot.snapshot_name(2, 7)])
    assert loaded(str(tmp_path)) == cut


async def test_overwrites_keep_the_lazy_enumeration(tmp_path: Any) -> None:
    """Overwriting existing keys, TTL changes and in-place container changes move no key in
    the dict: the enumeration goes on without listing the remaining keys."""
    ks = populated(2000)
    muts = [plain(lambda db, i=i: db.set(b"s%d" % (1999 - i), b"over")) for i in range(40)]
    muts += [plain(lambda db, i=i: db.set_expire(b"s%d" % (1990 - i), 77)) for i in range(20)]
    muts += [plain(lambda db, i=i: db.persist(b"s%d" % (1990 - i * 10))) for i in range(20)]

    def hset(db: Any) -> None:
        will_modify(db, b"h3")
        db.data[b"h3"][b"f"] = b"in-place"

    muts.append(plain(hset))
    run, cut, _ = await run_checkpoint(str(tmp_path), ks, muts, per_turn=10)
    assert run.ok, run.error
    assert run.materialized == 0 and run.preserved > 50
    assert loaded(str(tmp_path)) == cut


async def test_inserts_and_deletes_list_the_remaining_keys_once(tmp_path: Any) -> None:
    ks = populated(2000)
    muts = [plain(lambda db: db.set(b"brand-new", b"1")), plain(lambda db: db.delete(b"s1999")),
            plain(lambda db: db.set(b"another", b"2"))]
    run, cut, _ = await run_checkpoint(str(tmp_path), ks, muts, per_turn=1)
    assert run.ok, run.error
    assert run.materialized == 1
    assert loaded(str(tmp_path)) == cut


async def test_flushed_dicts_are_freed_in_slices_not_mutated_while_live(tmp_path: Any) -> None:
    """After FLUSHALL during a checkpoint, the cut-time dicts are freed by the reaper; a
    dict still in use by the keyspace is never touched."""
    ks = populated(6000)
    live = ks.dbs[1].data

    def flush0(server: StubServer) -> None:
        server.keyspace.dbs[0].clear()

    run, cut, server = await run_checkpoint(str(tmp_path), ks, [flush0])
    assert run.ok, run.error
    assert loaded(str(tmp_path)) == cut
    ckpt = server.checkpointer
    for task in list(ckpt.reapers):
        await task
    assert ks.dbs[1].data is live and len(live) == 6000 + 80  # untouched
    assert ks.dbs[0].data == {}
    import gc

    assert gc.isenabled()


async def test_big_values_make_small_chunks(tmp_path: Any) -> None:
    ks = populated(100)
    for i in range(6):
        ks.dbs[0].set(b"big%d" % i, os.urandom(3 * 1024 * 1024))
    big = Hash({b"f%d" % i: os.urandom(64) for i in range(20000)})
    ks.dbs[0].add(b"bighash", big)
    muts = [guarded(0, [b"HSET", b"bighash", b"f1", b"x"], lambda db: db.data[b"bighash"].__setitem__(b"f1", b"x"))]
    run, cut, _ = await run_checkpoint(str(tmp_path), ks, muts)
    assert run.ok, run.error
    assert loaded(str(tmp_path)) == cut
