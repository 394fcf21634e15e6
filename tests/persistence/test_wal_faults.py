"""Write and fsync failures: no torn frame in the file, retry succeeds, durability is honest."""

from __future__ import annotations

import os

import pytest

from sentrykv_server.persistence.wal_writer import FSYNC_LOG_ENV, WalSyncLost, WalWriter

from .faults import Faults, eio, enospc
from .walutil import payload_for, replay, segments


def _writer(d: str, faults: Faults, **kw) -> WalWriter:
    # File sizes here are frame ends: no preallocated zeros (test_wal_prealloc.py has those).
    kw.setdefault("preallocate", False)
    return WalWriter(d, 1, faults=faults, **kw)


def _append_n(w: WalWriter, start: int, n: int) -> None:
    for i in range(start, start + n):
        w.append(payload_for(i))


@pytest.mark.parametrize("error", [enospc, eio])
def test_failed_write_keeps_frames_for_retry(tmp_path, error) -> None:
    d = str(tmp_path)
    f = Faults()
    w = _writer(d, f)
    _append_n(w, 1, 10)
    w.write_buffered()
    size = os.path.getsize(w.current_segment)
    _append_n(w, 11, 10)
    f.writes = [error()]
    with pytest.raises(OSError) as info:
        w.write_buffered()
    assert info.value.errno == error().errno
    assert os.path.getsize(w.current_segment) == size
    assert w.written_lsn == 10 and w.last_lsn == 20 and w.pending_bytes() > 0
    w.write_buffered()  # the disk has room again
    assert w.written_lsn == 20 and w.pending_bytes() == 0
    w.close()
    r = replay(d)
    assert [lsn for lsn, _ in r.frames] == list(range(1, 21))
    assert r.report is not None and r.report.torn is None


def test_short_write_then_error_leaves_no_torn_frame(tmp_path) -> None:
    d = str(tmp_path)
    f = Faults()
    w = _writer(d, f)
    _append_n(w, 1, 5)
    w.write_buffered()
    size = os.path.getsize(w.current_segment)
    _append_n(w, 6, 20)
    f.writes = [37, enospc()]  # 37 bytes land, then the disk is full
    with pytest.raises(OSError):
        w.write_buffered()
    assert os.path.getsize(w.current_segment) == size  # the partial batch was cut off
    r = replay(d, fix_tail=False)  # a crash now would find a clean log
    assert [lsn for lsn, _ in r.frames] == [1, 2, 3, 4, 5]
    assert r.report is not None and r.report.torn is None
    # Later appends join the retry; nothing is duplicated or reordered.
    _append_n(w, 26, 3)
    f.writes = [11, 5]  # short writes that succeed are looped over
    w.write_buffered()
    w.close()
    assert [lsn for lsn, _ in replay(d).frames] == list(range(1, 29))


def test_retry_overwrites_partial_batch_when_truncate_fails(tmp_path, monkeypatch) -> None:
    d = str(tmp_path)
    f = Faults()
    w = _writer(d, f)
    _append_n(w, 1, 5)
    w.write_buffered()
    _append_n(w, 6, 5)
    f.writes = [20, eio()]

    def broken_ftruncate(fd: int, length: int) -> None:
        raise OSError(5, "EIO")

    monkeypatch.setattr(os, "ftruncate", broken_ftruncate)
    with pytest.raises(OSError):
        w.write_buffered()
    monkeypatch.undo()
    w.write_buffered()  # rewrites the same offset: the partial bytes are overwritten
    w.close()
    r = replay(d)
    assert [lsn for lsn, _ in r.frames] == list(range(1, 11))
    assert r.report is not None and r.report.torn is None


def test_failed_fsync_does_not_advance_durable_lsn(tmp_path, monkeypatch) -> None:
    d = str(tmp_path)
    f = Faults()
    w = _writer(d, f)
    _append_n(w, 1, 5)
    w.write_buffered()
    assert w.sync() == 5
    _append_n(w, 6, 5)
    w.write_buffered()
    rewrites: list[tuple[int, int]] = []
    real_pwrite = os.pwrite

    def spy(fd: int, data, offset: int) -> int:
        rewrites.append((offset, len(data)))
        return real_pwrite(fd, data, offset)

    f.fsyncs = [eio()]
    monkeypatch.setattr(os, "pwrite", spy)
    with pytest.raises(OSError):
        w.sync()
    monkeypatch.undo()
    assert w.durable_lsn == 5
    # The bytes written since the last good fsync were written again, so the
    # retry really flushes them even if the kernel marked the pages clean.
    seg_size = os.path.getsize(w.current_segment)
    assert rewrites and rewrites[-1][0] + rewrites[-1][1] == seg_size
    assert w.sync() == 10 and w.durable_lsn == 10
    w.close()


def test_fsync_failure_after_retention_overflow_is_unrecoverable(tmp_path) -> None:
    d = str(tmp_path)
    f = Faults()
    w = _writer(d, f, retain_limit=200)
    _append_n(w, 1, 30)
    w.write_buffered()  # more than 200 bytes unsynced: no longer held in memory
    f.fsyncs = [eio()]
    with pytest.raises(OSError):
        w.sync()
    with pytest.raises(WalSyncLost):
        w.sync()
    assert w.durable_lsn == 0


def test_sync_covers_rotated_segments_and_logs_fsyncs(tmp_path, monkeypatch) -> None:
    log = tmp_path / "fsync.log"
    monkeypatch.setenv(FSYNC_LOG_ENV, str(log))
    d = str(tmp_path / "data")
    w = WalWriter(d, 1, segment_max_bytes=400, preallocate=False)
    for i in range(1, 41):
        w.append(payload_for(i))
        w.write_buffered()
    assert len(segments(d)) > 3
    assert w.sync() == 40
    lines = [ln.split() for ln in log.read_text().splitlines()]
    synced = {name: int(size) for name, size in lines}
    # Every segment was fsynced up to its full size, oldest first.
    for path in segments(d):
        assert synced[os.path.basename(path)] == os.path.getsize(path)
    assert [n for n, _ in lines] == sorted(n for n, _ in lines)
    before = len(lines)
    assert w.sync() == 40  # nothing new: no fsync, no log line
    assert len(log.read_text().splitlines()) == before
    w.close()


def test_sync_returns_lsn_captured_before_fsync(tmp_path) -> None:
    import threading

    d = str(tmp_path)
    f = Faults()
    w = _writer(d, f)
    _append_n(w, 1, 3)
    w.write_buffered()
    gate = threading.Event()
    f.fsyncs = [gate]
    result: list[int] = []
    t = threading.Thread(target=lambda: result.append(w.sync()))
    t.start()
    while f.fsync_calls == 0:
        pass
    _append_n(w, 4, 3)  # written while the fsync is in flight
    w.write_buffered()
    assert w.durable_lsn == 0  # nothing durable before the fsync returned
    gate.set()
    t.join()
    assert result == [3] and w.durable_lsn == 3
    assert w.sync() == 6
    w.close()
