"""Writer and reader agree: frames across segments, LSN cuts, reopening, rotation."""

from __future__ import annotations

import os

import pytest

from sentrykv_server.persistence.records import decode_ops, encode_ops
from sentrykv_server.persistence.wal_format import (
    HEADER_SIZE,
    MAGIC,
    decode_header,
    encode_frame,
    encode_header,
    parse_segment_name,
    segment_name,
)
from sentrykv_server.persistence.wal_reader import WalCorruptionError, iter_frames, recover
from sentrykv_server.persistence.wal_writer import WalWriter

from .walutil import build_log, replay, segments


def test_segment_names_sort_by_lsn() -> None:
    names = [segment_name(n) for n in (1, 9, 10, 123456789012)]
    assert names == sorted(names)
    assert names[0] == "wal-00000000000000000001.wal"
    assert [parse_segment_name(n) for n in names] == [1, 9, 10, 123456789012]
    assert parse_segment_name("wal-1.wal") is None
    assert parse_segment_name("dump.snap") is None


def test_header_and_frame_layout() -> None:
    head = encode_header(42)
    assert len(head) == HEADER_SIZE and head.startswith(MAGIC)
    assert decode_header(head) == 42
    frame = encode_frame(7, b"abc")
    assert frame[4:8] == (3).to_bytes(4, "little")
    assert frame[8:16] == (7).to_bytes(8, "little")
    assert frame[16:] == b"abc"


def test_round_trip_across_many_segments(tmp_path) -> None:
    d = str(tmp_path)
    payloads = build_log(d, 500, segment_max_bytes=2000)
    assert len(segments(d)) > 10
    r = replay(d)
    assert [lsn for lsn, _ in r.frames] == list(range(1, 501))
    assert [p for _, p in r.frames] == payloads
    assert r.report is not None
    assert r.report.frames_applied == 500 and r.report.first_lsn == 1 and r.report.last_lsn == 500
    assert r.report.torn is None and r.report.next_lsn() == 501
    # Every segment except possibly the newest (created by the last rotation) holds frames.
    for path in segments(d)[:-1]:
        assert os.path.getsize(path) > HEADER_SIZE


def test_after_lsn_skips_covered_segments(tmp_path) -> None:
    d = str(tmp_path)
    build_log(d, 300, segment_max_bytes=1500)
    r = replay(d, after_lsn=250)
    assert [lsn for lsn, _ in r.frames] == list(range(251, 301))
    assert r.report is not None
    assert any(s.skipped for s in r.report.segments)
    assert r.report.segments_read < len(segments(d))
    # A cut beyond the log applies nothing.
    r = replay(d, after_lsn=300)
    assert r.frames == []


def test_log_must_reach_back_to_the_cut(tmp_path) -> None:
    d = str(tmp_path)
    build_log(d, 100, segment_max_bytes=1500)
    os.unlink(segments(d)[0])  # as if a checkpoint deleted it
    first = int(os.path.basename(segments(d)[0])[4:24])
    replay(d, after_lsn=first - 1)  # a snapshot covering what was deleted: fine
    with pytest.raises(WalCorruptionError, match="log starts at LSN"):
        replay(d, after_lsn=0)


def test_decoded_payloads_replay_ops(tmp_path) -> None:
    d = str(tmp_path)
    w = WalWriter(d, 1)
    multi = [(0, [b"SET", b"a", b"1"]), (1, [b"DEL", b"b"])]
    w.append(encode_ops(multi))
    w.append(encode_ops([(0, [b"SET", b"k", b"\x00\xff", b"PXAT", b"1712345678901"])]))
    w.close()
    got = [(lsn, decode_ops(p)) for lsn, p in iter_frames(d)]
    assert got == [(1, multi), (2, [(0, [b"SET", b"k", b"\x00\xff", b"PXAT", b"1712345678901"])])]


def test_writer_restarts_in_a_fresh_segment(tmp_path) -> None:
    d = str(tmp_path)
    build_log(d, 10)
    before = segments(d)
    w = WalWriter(d, 11)
    w.append(b"x")
    w.close()
    assert len(segments(d)) == len(before) + 1
    assert os.path.basename(segments(d)[-1]) == segment_name(11)
    assert [lsn for lsn, _ in iter_frames(d)] == list(range(1, 12))


def test_restart_without_writes_reuses_empty_segment(tmp_path) -> None:
    d = str(tmp_path)
    for _ in range(3):
        WalWriter(d, 1).close()
    assert [os.path.basename(p) for p in segments(d)] == [segment_name(1)]
    assert list(iter_frames(d)) == []


def test_writer_refuses_to_overwrite_the_log(tmp_path) -> None:
    d = str(tmp_path)
    build_log(d, 10)
    with pytest.raises(ValueError, match="already holds"):
        WalWriter(d, 1)


def test_rotate_starts_segment_at_next_lsn(tmp_path) -> None:
    d = str(tmp_path)
    w = WalWriter(d, 1)
    for i in range(5):
        w.append(b"p%d" % i)
    w.rotate()  # writes the buffered frames first
    assert w.written_lsn == 5
    assert os.path.basename(w.current_segment) == segment_name(6)
    w.rotate()  # nothing new: no empty segment pile-up
    assert len(w.segment_paths()) == 2
    w.append(b"p5")
    w.close()
    assert [lsn for lsn, _ in iter_frames(d)] == [1, 2, 3, 4, 5, 6]


def test_watermarks(tmp_path) -> None:
    w = WalWriter(str(tmp_path), 1)
    assert w.append(b"a") == 1 and w.append(b"b") == 2
    assert (w.last_lsn, w.written_lsn, w.durable_lsn) == (2, 0, 0)
    assert w.pending_bytes() == 2 * 16 + 2
    w.write_buffered()
    assert (w.last_lsn, w.written_lsn, w.durable_lsn) == (2, 2, 0)
    assert w.sync() == 2
    assert w.durable_lsn == 2
    w.close()


def test_recover_progress_callback(tmp_path) -> None:
    d = str(tmp_path)
    w = WalWriter(d, 1)
    for i in range(70_000):
        w.append(b"%d" % i)
    w.close()
    calls: list[tuple[int, int]] = []
    report = recover(d, lambda lsn, p: None, progress=lambda n, b: calls.append((n, b)))
    assert report.frames_applied == 70_000
    assert calls and calls[0][0] == 65536
