"""The fsync worker process: group commit without thread hand-offs, errors, and its death."""

from __future__ import annotations

import asyncio
import os
import signal

import pytest

from sentrykv_server.persistence.fault_injection import FileFaults
from sentrykv_server.persistence.fsync_worker import MAX_FDS, FsyncWorker
from sentrykv_server.persistence.group_commit import GroupCommitter
from sentrykv_server.persistence.wal_writer import WalWriter

from .walutil import Recorder, replay, until, write_frames


def test_worker_fsyncs_many_files_in_one_request(tmp_path) -> None:
    fds = [os.open(tmp_path / f"f{i}", os.O_CREAT | os.O_RDWR) for i in range(2 * MAX_FDS + 5)]
    worker = FsyncWorker()
    try:
        worker.request(fds)
        worker.sock.setblocking(True)
        assert worker.answer() == (len(fds), 0)
    finally:
        worker.close()
        for fd in fds:
            os.close(fd)
    assert worker.proc.returncode == 0  # it exits by itself once the socket closes


async def test_always_through_the_worker(tmp_path) -> None:
    w = WalWriter(str(tmp_path), 1)
    rec = Recorder()
    gc = GroupCommitter(w, "always", rec.on_durable, rec.on_error)
    gc.start()
    pid = gc.stats_fields()["wal_fsync_worker_pid"]
    assert pid > 0 and pid != os.getpid()
    for _ in range(100):
        write_frames(w, gc, 2)
        await asyncio.sleep(0.0005)
    await until(lambda: w.durable_lsn == 200)
    await gc.stop()
    assert rec.durable[-1] == 200 and not rec.errors
    assert gc.stats.batch_total == 200
    with pytest.raises(ProcessLookupError):  # stop() reaped the worker
        os.kill(pid, 0)
    w.close()
    assert len(replay(str(tmp_path)).frames) == 200


async def test_durable_only_after_the_workers_fsync_returns(tmp_path, monkeypatch) -> None:
    control = tmp_path / "faults"
    control.write_text("fsync-slow 300")
    monkeypatch.setenv("SENTRYKV_FAULT_FILE", str(control))
    w = WalWriter(str(tmp_path / "wal"), 1, faults=FileFaults(str(control)))
    rec = Recorder()
    gc = GroupCommitter(w, "always", rec.on_durable, rec.on_error)
    gc.start()
    assert gc.stats_fields()["wal_fsync_worker_pid"] > 0
    control.write_text("fsync-slow 300")
    write_frames(w, gc, 3)
    await asyncio.sleep(0.15)
    assert w.durable_lsn == 0 and gc.stats_fields()["wal_fsync_in_flight"] == 1
    write_frames(w, gc, 2)  # written while the fsync is in flight: the next group
    await until(lambda: w.durable_lsn == 5)
    assert rec.durable[0] == 3
    control.write_text("")
    await gc.stop()
    w.close()


async def test_fsync_error_in_the_worker_is_retried(tmp_path, monkeypatch) -> None:
    control = tmp_path / "faults"
    control.write_text("fsync-eio")
    monkeypatch.setenv("SENTRYKV_FAULT_FILE", str(control))
    w = WalWriter(str(tmp_path / "wal"), 1, faults=FileFaults(str(control)))
    rec = Recorder()
    gc = GroupCommitter(w, "always", rec.on_durable, rec.on_error, retry_initial=0.01, retry_max=0.05)
    gc.start()
    write_frames(w, gc, 4)
    await until(lambda: len(rec.errors) >= 2)  # failed, and failed again on retry
    assert w.durable_lsn == 0 and isinstance(rec.errors[0], OSError)
    assert gc.stats.fsync_errors >= 2
    control.write_text("")
    await until(lambda: w.durable_lsn == 4)
    assert rec.errors[-1] is None  # the recovery was reported
    await gc.stop()
    w.close()
    assert len(replay(str(tmp_path / "wal")).frames) == 4


async def test_a_killed_worker_falls_back_to_the_thread(tmp_path) -> None:
    w = WalWriter(str(tmp_path), 1)
    rec = Recorder()
    gc = GroupCommitter(w, "always", rec.on_durable, rec.on_error)
    gc.start()
    write_frames(w, gc, 2)
    await until(lambda: w.durable_lsn == 2)
    os.kill(gc.stats_fields()["wal_fsync_worker_pid"], signal.SIGKILL)
    await asyncio.sleep(0.1)
    for _ in range(10):
        write_frames(w, gc)
        await asyncio.sleep(0.001)
    await until(lambda: w.durable_lsn == 12)
    assert gc.stats_fields()["wal_fsync_worker_pid"] == 0
    await gc.stop()
    w.close()
    assert len(replay(str(tmp_path)).frames) == 12


async def test_next_group_is_sent_before_the_replies_of_this_one(tmp_path, monkeypatch) -> None:
    """Pipelined group commit: when an fsync returns, frames written meanwhile are
    already on their way to the worker while on_durable releases this group."""
    control = tmp_path / "faults"
    control.write_text("fsync-slow 200")
    monkeypatch.setenv("SENTRYKV_FAULT_FILE", str(control))
    w = WalWriter(str(tmp_path / "wal"), 1, faults=FileFaults(str(control)))
    seen: list[tuple[int, int]] = []
    gc: GroupCommitter

    def on_durable(lsn: int) -> None:
        seen.append((lsn, gc.stats_fields()["wal_fsync_in_flight"]))

    gc = GroupCommitter(w, "always", on_durable, lambda exc: None)
    gc.start()
    write_frames(w, gc, 3)
    await asyncio.sleep(0.05)
    write_frames(w, gc, 2)  # written during the first fsync
    await until(lambda: w.durable_lsn == 5)
    assert seen[0] == (3, 1)  # LSN 3 released while the fsync of 4..5 was in flight
    assert seen[-1][0] == 5
    control.write_text("")
    await gc.stop()
    w.close()
