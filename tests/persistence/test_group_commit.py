"""The fsync task: group commit under always, the tick under everysec, errors and recovery."""

from __future__ import annotations

import asyncio
import threading

import pytest

from sentrykv_server.persistence.group_commit import GroupCommitter
from sentrykv_server.persistence.wal_writer import WalSyncLost, WalWriter

from .faults import Faults, eio
from .walutil import Recorder, replay, until, write_frames


def _setup(tmp_path, policy: str, **kw) -> tuple[WalWriter, Faults, Recorder, GroupCommitter]:
    f = Faults()
    w = WalWriter(str(tmp_path), 1, faults=f)
    rec = Recorder()
    gc = GroupCommitter(w, policy, rec.on_durable, rec.on_error, **kw)
    return w, f, rec, gc


async def test_always_groups_writes_during_slow_fsync(tmp_path) -> None:
    w, f, rec, gc = _setup(tmp_path, "always")
    f.fsync_delay = 0.03  # a slow disk
    gc.start()
    for _ in range(200):
        write_frames(w, gc)
        await asyncio.sleep(0.001)
    await until(lambda: w.durable_lsn == 200)
    await gc.stop()
    s = gc.stats
    assert rec.durable[-1] == 200
    assert s.fsyncs < 60, s  # far fewer fsyncs than the 200 writes
    assert s.batch_max > 3 and s.batch_total == 200
    assert s.fsync_max_us >= 30_000 and s.fsync_avg_us > 0
    assert gc.stats_fields()["wal_bytes_written"] == w.bytes_written > 0
    w.close()
    assert len(replay(str(tmp_path)).frames) == 200


async def test_always_reports_durable_only_after_fsync_returns(tmp_path) -> None:
    w, f, rec, gc = _setup(tmp_path, "always")
    gate = threading.Event()
    f.fsyncs = [gate]
    gc.start()
    write_frames(w, gc, 3)
    await until(lambda: f.fsync_calls == 1)
    write_frames(w, gc, 2)  # arrives while the fsync is blocked
    await asyncio.sleep(0.05)
    assert rec.durable == [] and w.durable_lsn == 0
    gate.set()
    await until(lambda: rec.durable and rec.durable[-1] == 5)
    assert rec.durable[0] == 3  # the first fsync covered only what was written before it began
    await gc.stop()
    w.close()


async def test_failing_fsync_reports_error_then_recovers(tmp_path) -> None:
    w, f, rec, gc = _setup(tmp_path, "always", retry_initial=0.01, retry_max=0.05)
    f.fsyncs = [eio(), eio(), eio()]
    gc.start()
    write_frames(w, gc, 4)
    await until(lambda: rec.errors and rec.errors[-1] is None)
    assert [type(e) for e in rec.errors] == [OSError, OSError, OSError, type(None)]
    assert gc.stats.fsync_errors == 3 and gc.stats.fsyncs == 1  # retried with backoff
    assert rec.durable and rec.durable[-1] == 4
    await gc.stop()
    w.close()


async def test_durable_does_not_advance_while_fsync_fails(tmp_path) -> None:
    w, f, rec, gc = _setup(tmp_path, "always", retry_initial=0.01, retry_max=0.02)
    f.fsyncs = [eio()] * 1000
    gc.start()
    write_frames(w, gc, 2)
    await until(lambda: gc.stats.fsync_errors >= 5)
    assert rec.durable == [] and w.durable_lsn == 0 and gc.failing is not None
    f.fsyncs.clear()
    await until(lambda: rec.durable == [2])
    assert rec.errors[-1] is None and gc.failing is None
    await gc.stop()
    w.close()


async def test_everysec_syncs_about_once_per_interval(tmp_path) -> None:
    w, f, rec, gc = _setup(tmp_path, "everysec", interval=0.1)
    loop = asyncio.get_running_loop()
    gc.start()
    t0 = loop.time()
    for _ in range(30):
        write_frames(w, gc)
        await asyncio.sleep(0.01)
    await until(lambda: w.durable_lsn == 30, timeout=2)
    elapsed = loop.time() - t0
    assert 1 <= gc.stats.fsyncs <= elapsed / 0.1 + 2  # not one per write
    fsyncs = gc.stats.fsyncs
    await asyncio.sleep(0.35)  # idle: nothing to sync
    assert gc.stats.fsyncs == fsyncs
    await gc.stop()
    w.close()


async def test_no_policy_never_syncs_until_stop(tmp_path) -> None:
    w, f, rec, gc = _setup(tmp_path, "no")
    gc.start()
    write_frames(w, gc, 10)
    await asyncio.sleep(0.1)
    assert gc.stats.fsyncs == 0 and w.durable_lsn == 0
    assert w.retain_unsynced is False
    await gc.stop()  # final sync on shutdown
    assert w.durable_lsn == 10 and rec.durable == [10]
    w.close()


async def test_set_policy_at_run_time(tmp_path) -> None:
    w, f, rec, gc = _setup(tmp_path, "no")
    gc.start()
    write_frames(w, gc, 5)
    gc.set_policy("always")
    await until(lambda: w.durable_lsn == 5)
    gc.set_policy("everysec")
    with pytest.raises(ValueError):
        gc.set_policy("sometimes")
    await gc.stop()
    w.close()


async def test_stop_raises_when_final_sync_fails(tmp_path) -> None:
    w, f, rec, gc = _setup(tmp_path, "no")
    gc.start()
    write_frames(w, gc, 1)
    f.fsyncs = [eio()]
    with pytest.raises(OSError):
        await gc.stop()
    assert isinstance(rec.errors[0], OSError)
    # Under "no" nothing was kept for a rewrite: the failed data is reported lost.
    with pytest.raises(WalSyncLost):
        w.close()
