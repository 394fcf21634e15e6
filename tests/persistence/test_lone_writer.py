"""A lone writer's fsync runs on the loop (GroupCommitter._sync_inline), with every guarantee.

The hand-off to the fsync worker costs as much as the fsync on a virtualised
machine, so a group of one command is synced on the loop; these tests pin
down that this path reports durability exactly like the worker: only after
the fsync returned, never after a failed one, and that groups and slow disks
send the syncs back to the worker.
"""

from __future__ import annotations

import asyncio

from sentrykv_server.persistence import group_commit
from sentrykv_server.persistence.fault_injection import FileFaults
from sentrykv_server.persistence.group_commit import GroupCommitter
from sentrykv_server.persistence.wal_writer import WalWriter

from .walutil import Recorder, replay, until, write_frames


def _committer(tmp_path, monkeypatch, faults: str = "", **kw: object) -> tuple[WalWriter, GroupCommitter, Recorder]:
    monkeypatch.setattr(group_commit, "INLINE_SLOW", 5.0)  # a noisy disk must not switch paths
    control = tmp_path / "faults"
    control.write_text(faults)
    monkeypatch.setenv("SENTRYKV_FAULT_FILE", str(control))
    w = WalWriter(str(tmp_path / "wal"), 1, faults=FileFaults(str(control)))
    rec = Recorder()
    gc = GroupCommitter(w, "always", rec.on_durable, rec.on_error, inline_max_group=1, **kw)  # type: ignore[arg-type]
    gc.start()
    return w, gc, rec


async def test_a_group_of_one_is_synced_on_the_loop(tmp_path, monkeypatch) -> None:
    w, gc, rec = _committer(tmp_path, monkeypatch)
    write_frames(w, gc, 1)  # kick() returns only after the fsync: durable at once
    assert w.durable_lsn == 1 and rec.durable == [1] and gc.inline_syncs == 1
    gc.last_group = 1
    write_frames(w, gc, 1)
    assert w.durable_lsn == 2 and gc.inline_syncs == 2
    gc.last_group = 2  # a group formed: the worker takes over, the loop goes on meanwhile
    write_frames(w, gc, 1)
    assert w.durable_lsn == 2 and gc.inline_syncs == 2
    await until(lambda: w.durable_lsn == 3)
    await gc.stop()
    w.close()
    assert len(replay(str(tmp_path / "wal")).frames) == 3


async def test_a_failed_fsync_on_the_loop_is_never_durable(tmp_path, monkeypatch) -> None:
    w, gc, rec = _committer(tmp_path, monkeypatch, "fsync-eio", retry_initial=0.01, retry_max=0.05)
    write_frames(w, gc, 2)
    assert w.durable_lsn == 0 and rec.durable == [] and isinstance(rec.errors[0], OSError)
    await until(lambda: len(rec.errors) >= 2)  # retried (still on the loop), failed again
    assert w.durable_lsn == 0 and gc.stats.fsync_errors >= 2
    (tmp_path / "faults").write_text("")
    await until(lambda: w.durable_lsn == 2)
    assert rec.errors[-1] is None and rec.durable == [2]
    await gc.stop()
    w.close()
    assert len(replay(str(tmp_path / "wal")).frames) == 2


async def test_a_slow_fsync_on_the_loop_sends_the_next_ones_to_the_worker(tmp_path, monkeypatch) -> None:
    w, gc, rec = _committer(tmp_path, monkeypatch, "fsync-slow 300")
    monkeypatch.setattr(group_commit, "INLINE_COOLDOWN", 3)
    monkeypatch.setattr(group_commit, "INLINE_SLOW", 0.2)
    write_frames(w, gc, 1)  # 300 ms on the loop: a stall like this happens once, then ...
    assert w.durable_lsn == 1 and gc.inline_syncs == 1
    (tmp_path / "faults").write_text("")
    for n in range(2, 5):  # ... the next INLINE_COOLDOWN syncs leave the loop free
        write_frames(w, gc, 1)
        assert w.durable_lsn == n - 1
        await until(lambda n=n: w.durable_lsn == n)
    write_frames(w, gc, 1)  # the cooldown is over: a lone writer syncs on the loop again
    assert w.durable_lsn == 5 and gc.inline_syncs == 2
    await gc.stop()
    w.close()
    await asyncio.sleep(0)
