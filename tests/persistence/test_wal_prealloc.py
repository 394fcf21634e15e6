"""Preallocated WAL segments: frames overwrite zeros, a zero tail is the clean end of the log.

What must hold (wal_writer.py / wal_reader.py module docs): a power cut that
leaves zeros (or a torn frame then zeros) after the last fsynced frame loses
nothing durable and starts cleanly; damage with a valid frame behind it still
refuses to start; rotation and close give the unused space back; a failed
fsync or write lays the zeros down again.
"""

from __future__ import annotations

import os

import pytest

from sentrykv_server.persistence.wal_format import HEADER_SIZE
from sentrykv_server.persistence.wal_reader import WalCorruptionError
from sentrykv_server.persistence.wal_writer import PREALLOC_BYTES, WalWriter

from .faults import Faults, eio, enospc
from .walutil import flip_bit, payload_for, replay, segments


def _write(w: WalWriter, start: int, n: int) -> None:
    for i in range(start, start + n):
        w.append(payload_for(i))
        w.write_buffered()


def _frames_end(w: WalWriter) -> int:
    return w._cur.size  # noqa: SLF001 (the writer's own bookkeeping is what is checked)


def test_frames_are_written_inside_preallocated_zeros(tmp_path) -> None:
    d = str(tmp_path)
    w = WalWriter(d, 1)
    _write(w, 1, 30)
    path = w.current_segment
    end = _frames_end(w)
    assert os.path.getsize(path) >= end + PREALLOC_BYTES // 2 and w.prealloc_writes == 1
    with open(path, "rb") as fh:
        fh.seek(end)
        assert fh.read().count(0) == os.path.getsize(path) - end
    w.sync()
    # A kill -9 now: the file keeps its zeros; recovery sees every frame and a clean end.
    r = replay(d, fix_tail=False)
    assert [p for _, p in r.frames] == [payload_for(i) for i in range(1, 31)]
    assert r.report is not None and r.report.torn is None
    assert r.report.segments[0].zero_tail == os.path.getsize(path) - end
    w.close()
    assert os.path.getsize(path) == end  # close gives the unused space back


@pytest.mark.parametrize("torn", [0, 5, 40])
def test_power_cut_inside_preallocated_space(tmp_path, torn: int) -> None:
    """The disk keeps the file length and zeros; frames after the last fsync vanish
    (or ``torn`` bytes of the next one survive): the durable frames all come back."""
    d = str(tmp_path)
    w = WalWriter(d, 1)
    _write(w, 1, 20)
    assert w.sync() == 20
    synced = _frames_end(w)
    _write(w, 21, 10)  # written, never fsynced
    path = w.current_segment
    length = os.path.getsize(path)
    with open(path, "r+b") as fh:  # what the platter holds after the cut
        fh.seek(synced + torn)
        fh.write(b"\0" * (length - synced - torn))
    os.close(w._cur.fd)  # noqa: SLF001 (the process is gone: no trim, no final sync)
    r = replay(d)
    assert [p for _, p in r.frames] == [payload_for(i) for i in range(1, 21)]
    assert r.report is not None
    if torn:
        assert r.report.torn is not None and r.report.truncated_offset == synced
        assert os.path.getsize(path) == synced
    else:
        assert r.report.torn is None and os.path.getsize(path) == length
    # The writer continues after the recovered log, in a new segment.
    w2 = WalWriter(d, 21)
    _write(w2, 21, 3)
    w2.close()
    assert [lsn for lsn, _ in replay(d).frames] == list(range(1, 24))


def test_damage_inside_a_preallocated_segment_still_refuses(tmp_path) -> None:
    d = str(tmp_path)
    w = WalWriter(d, 1)
    _write(w, 1, 20)
    w.sync()
    path = w.current_segment
    flip_bit(path, HEADER_SIZE + 100, 3)  # inside an early frame: valid frames follow
    with pytest.raises(WalCorruptionError):
        replay(d, fix_tail=False)
    w.close()


def test_rotation_trims_and_a_zero_tail_mid_log_is_clean(tmp_path) -> None:
    d = str(tmp_path)
    w = WalWriter(d, 1, segment_max_bytes=600)
    _write(w, 1, 40)
    w.close()
    paths = segments(d)
    assert len(paths) > 3
    for p in paths:  # every retired segment was cut back to its frames
        assert os.path.getsize(p) < 600 + 200
    # A crash before a trim reached the disk: zeros after a retired segment's frames.
    with open(paths[1], "ab") as fh:
        fh.write(b"\0" * 5000)
    r = replay(d, fix_tail=False)
    assert [lsn for lsn, _ in r.frames] == list(range(1, 41))
    assert r.report is not None and r.report.torn is None
    # ... but garbage there is damage in a segment that is not the last.
    with open(paths[1], "ab") as fh:
        fh.write(b"\x07" * 20)
    with pytest.raises(WalCorruptionError):
        replay(d, fix_tail=False)


def test_a_segment_of_header_and_zeros_holds_nothing(tmp_path) -> None:
    d = str(tmp_path)
    w = WalWriter(d, 1)
    _write(w, 1, 5)
    w.close()
    # A crash right after the next segment was created and preallocated.
    w2 = WalWriter(d, 6)
    w2._extend(w2._cur, HEADER_SIZE + 1)  # noqa: SLF001
    w2.sync()
    os.close(w2._cur.fd)  # noqa: SLF001
    r = replay(d, fix_tail=False)
    assert [lsn for lsn, _ in r.frames] == [1, 2, 3, 4, 5]
    w3 = WalWriter(d, 6)  # replaces the empty segment instead of refusing to start
    _write(w3, 6, 2)
    w3.close()
    assert [lsn for lsn, _ in replay(d).frames] == list(range(1, 8))


def test_failed_fsync_lays_the_zeros_down_again(tmp_path) -> None:
    d = str(tmp_path)
    f = Faults()
    w = WalWriter(d, 1, faults=f)
    _write(w, 1, 5)
    assert w.sync() == 5 and w.prealloc_writes == 1
    _write(w, 6, 5)
    f.fsyncs = [eio()]
    with pytest.raises(OSError):
        w.sync()
    assert w.durable_lsn == 5
    _write(w, 11, 1)
    assert w.prealloc_writes == 2  # zeros again from the end of the frames
    assert w.sync() == 11
    w.close()
    assert [lsn for lsn, _ in replay(d).frames] == list(range(1, 12))


def test_failed_write_inside_preallocated_space_leaves_no_torn_frame(tmp_path) -> None:
    d = str(tmp_path)
    f = Faults()
    w = WalWriter(d, 1, faults=f)
    _write(w, 1, 5)
    end = _frames_end(w)
    for i in range(6, 16):
        w.append(payload_for(i))
    f.writes = [37, enospc()]  # 37 bytes land, then the disk is full
    with pytest.raises(OSError):
        w.write_buffered()
    assert os.path.getsize(w.current_segment) == end  # cut back to the complete frames
    r = replay(d, fix_tail=False)
    assert [lsn for lsn, _ in r.frames] == [1, 2, 3, 4, 5] and r.report is not None and r.report.torn is None
    w.write_buffered()  # the retry re-extends and rewrites the batch
    w.close()
    assert [lsn for lsn, _ in replay(d).frames] == list(range(1, 16))
