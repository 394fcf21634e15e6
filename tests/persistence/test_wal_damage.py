"""Torn tails are cut, anything else is corruption; apply() never sees a damaged frame."""

from __future__ import annotations

import os
import random

import pytest

from sentrykv_server.persistence.wal_format import HEADER_SIZE, encode_header, segment_name
from sentrykv_server.persistence.wal_reader import WalCorruptionError, iter_frames
from sentrykv_server.persistence.wal_writer import WalWriter

from .walutil import (
    build_log,
    copy_dir,
    flip_bit,
    frame_offsets,
    nonempty_segments,
    replay,
    segments,
)


def _truncate(path: str, size: int) -> None:
    with open(path, "r+b") as fh:
        fh.truncate(size)


def _append(path: str, data: bytes) -> None:
    with open(path, "ab") as fh:
        fh.write(data)


@pytest.fixture
def small_log(tmp_path):
    """40 frames in one segment (no rotation): the last segment holds the last frame."""
    d = str(tmp_path / "orig")
    payloads = build_log(d, 40)
    return d, payloads


def test_torn_tail_at_every_byte_of_last_frame(small_log, tmp_path) -> None:
    d, payloads = small_log
    (seg,) = segments(d)
    size = os.path.getsize(seg)
    last_start = frame_offsets(seg)[-1]
    for cut in range(last_start + 1, size):
        work = copy_dir(d, str(tmp_path / f"cut{cut}"))
        path = segments(work)[0]
        _truncate(path, cut)
        r = replay(work)
        assert [p for _, p in r.frames] == payloads[:-1], cut
        assert r.report is not None and r.report.torn is not None
        assert (r.report.truncated_file, r.report.truncated_offset) == (path, last_start)
        assert r.report.truncated_bytes == cut - last_start
        assert os.path.getsize(path) == last_start  # cut and kept cut
        assert replay(work).report.torn is None  # type: ignore[union-attr]


@pytest.mark.parametrize("extra", [1, 15, 16, 4096, 70_000])
def test_zero_filled_tail(small_log, tmp_path, extra: int) -> None:
    d, payloads = small_log
    work = copy_dir(d, str(tmp_path / "w"))
    path = segments(work)[0]
    size = os.path.getsize(path)
    _append(path, b"\0" * extra)
    r = replay(work)
    assert [p for _, p in r.frames] == payloads
    # Zeros to the end of the file are the writer's preallocated space (wal_writer.py),
    # the clean end of the log: kept, reported, not a torn tail.
    assert r.report is not None and r.report.torn is None
    assert r.report.segments[-1].zero_tail == extra
    assert os.path.getsize(path) == size + extra


def test_torn_frame_followed_by_zeros_and_garbage(small_log, tmp_path) -> None:
    d, payloads = small_log
    rng = random.Random(7)
    for i in range(20):
        work = copy_dir(d, str(tmp_path / f"w{i}"))
        path = segments(work)[0]
        last_start = frame_offsets(path)[-1]
        _truncate(path, last_start + rng.randrange(0, 30))
        tail = b"\0" * rng.randrange(0, 5000) if i % 2 else rng.randbytes(rng.randrange(1, 5000))
        _append(path, tail)
        r = replay(work)
        assert [p for _, p in r.frames] == payloads[:-1]
        assert r.report is not None and r.report.truncated_offset == last_start


def test_read_only_scan_reports_but_does_not_cut(small_log) -> None:
    d, payloads = small_log
    path = segments(d)[0]
    size = os.path.getsize(path)
    _append(path, b"\x01\x02\x03")
    r = replay(d, fix_tail=False)
    assert len(r.frames) == 40 and r.report is not None and r.report.torn is not None
    assert os.path.getsize(path) == size + 3


def test_crc_mismatch_followed_by_valid_frames_is_corruption(small_log) -> None:
    d, _ = small_log
    path = segments(d)[0]
    offsets = frame_offsets(path)
    flip_bit(path, offsets[20] + 20, 3)  # payload byte of frame 21 of 40
    applied = []
    with pytest.raises(WalCorruptionError) as info:
        for lsn, _ in iter_frames(d):
            applied.append(lsn)
    assert info.value.path == path and info.value.offset == offsets[20]
    assert "valid frame" in info.value.reason and "sentrykv-check" in str(info.value)
    assert applied == list(range(1, 21))
    size = os.path.getsize(path)
    with pytest.raises(WalCorruptionError):
        replay(d)
    assert os.path.getsize(path) == size  # corruption is never "fixed"


def test_damaged_length_with_valid_frames_behind(small_log) -> None:
    d, _ = small_log
    path = segments(d)[0]
    offsets = frame_offsets(path)
    with open(path, "r+b") as fh:  # absurd length: must not allocate or read past EOF
        fh.seek(offsets[5] + 4)
        fh.write((0xFFFFFFF0).to_bytes(4, "little"))
    with pytest.raises(WalCorruptionError, match="exceeds the maximum"):
        replay(d)


def test_damage_in_earlier_segment(tmp_path) -> None:
    d = str(tmp_path)
    build_log(d, 200, segment_max_bytes=1500)
    first = nonempty_segments(d)[0]
    _truncate(first, os.path.getsize(first) - 3)  # torn tail, but not the last segment
    with pytest.raises(WalCorruptionError, match="not the last") as info:
        replay(d)
    assert info.value.path == first


def test_missing_middle_segment(tmp_path) -> None:
    d = str(tmp_path)
    build_log(d, 200, segment_max_bytes=1500)
    segs = segments(d)
    os.unlink(segs[len(segs) // 2])
    with pytest.raises(WalCorruptionError, match="missing segment"):
        replay(d)


def test_duplicate_lsn_with_valid_crc(tmp_path) -> None:
    d = str(tmp_path)
    build_log(d, 30, segment_max_bytes=600)
    segs = nonempty_segments(d)
    # A copy of segment 1 renamed as if it followed segment 2: overlapping LSNs.
    with open(segs[0], "rb") as fh:
        data = fh.read()
    first2 = int(os.path.basename(segs[1])[4:24])
    with open(segs[1], "r+b") as fh:
        fh.seek(HEADER_SIZE)
        fh.write(data[HEADER_SIZE:])  # frames with LSN 1.. where first2.. belong
    assert first2 > 1
    with pytest.raises(WalCorruptionError, match="expected"):
        replay(d)


@pytest.mark.parametrize("damage", ["magic", "crc", "version", "name"])
def test_bad_header_is_corruption(tmp_path, damage: str) -> None:
    d = str(tmp_path)
    build_log(d, 20)
    path = segments(d)[0]
    if damage == "magic":
        flip_bit(path, 0, 0)
    elif damage == "crc":
        flip_bit(path, 21, 5)
    elif damage == "version":
        flip_bit(path, 8, 1)
    else:
        os.rename(path, os.path.join(d, segment_name(5)))
    with pytest.raises(WalCorruptionError, match="header"):
        replay(d, after_lsn=4 if damage == "name" else 0)


@pytest.mark.parametrize("content", [b"", b"SKVW", encode_header(41)[:23], b"\0" * 24, b"\0" * 4096])
def test_torn_header_of_last_segment_is_removed(small_log, content: bytes) -> None:
    d, payloads = small_log
    path = os.path.join(d, segment_name(41))
    with open(path, "wb") as fh:
        fh.write(content)
    r = replay(d)
    assert [p for _, p in r.frames] == payloads
    assert r.report is not None and r.report.truncated_file == path
    assert not os.path.exists(path)
    w = WalWriter(d, r.report.next_lsn())  # and the log continues normally
    w.append(b"next")
    w.close()
    assert [lsn for lsn, _ in iter_frames(d)][-2:] == [40, 41]


def test_garbage_short_header_is_corruption(small_log) -> None:
    d, _ = small_log
    with open(os.path.join(d, segment_name(41)), "wb") as fh:
        fh.write(b"hello")
    with pytest.raises(WalCorruptionError, match="header"):
        replay(d)


def test_empty_segment_after_torn_tail_goes_with_it(tmp_path) -> None:
    """Power cut right after a rotation: old segment lost its tail, new one is header-only."""
    d = str(tmp_path)
    build_log(d, 30)
    path = segments(d)[0]
    last_start = frame_offsets(path)[-1]
    _truncate(path, last_start + 5)
    empty = os.path.join(d, segment_name(31))
    with open(empty, "wb") as fh:
        fh.write(encode_header(31))
    r = replay(d)
    assert r.report is not None
    assert len(r.frames) == 29 and not os.path.exists(empty)
    assert [t.path for t in r.report.tails] == [path, empty]
    assert r.report.next_lsn() == 30


def _all_flips(directory: str) -> list[tuple[str, int]]:
    return [(p, off) for p in segments(directory) for off in range(os.path.getsize(p))]


def _check_flip_outcome(work: str, orig_payloads: list[bytes], path: str, offset: int) -> str:
    """Either corruption, or a torn tail that contains the flipped byte (last frame only)."""
    applied: list[tuple[int, bytes]] = []
    try:
        r = replay(work)
    except WalCorruptionError:
        return "corrupt"
    applied = r.frames
    assert r.report is not None
    torn = r.report.torn
    assert torn is not None, f"flip at {path}:{offset} went unnoticed"
    assert torn.path == path and torn.offset <= offset, "only the damaged frame may be cut"
    # Nothing applied differs from what was written, and only the last frame is lost.
    assert [p for _, p in applied] == orig_payloads[: len(applied)]
    assert len(applied) == len(orig_payloads) - 1
    return "torn"


def test_every_single_bit_flip_small_log(tmp_path) -> None:
    d = str(tmp_path / "orig")
    payloads = build_log(d, 6, segment_max_bytes=150)
    assert len(nonempty_segments(d)) >= 2
    rng = random.Random(1)
    n = 0
    outcomes = {"corrupt": 0, "torn": 0}
    for path, offset in _all_flips(d):
        work = str(tmp_path / f"f{n}")
        n += 1
        copy_dir(d, work)
        wpath = os.path.join(work, os.path.basename(path))
        flip_bit(wpath, offset, rng.randrange(8))
        outcomes[_check_flip_outcome(work, payloads, wpath, offset)] += 1
    # Both rules were exercised: flips in the last frame are torn tails, the rest corruption.
    last = nonempty_segments(d)[-1]
    last_frame = os.path.getsize(last) - frame_offsets(last)[-1]
    assert outcomes["torn"] == last_frame, outcomes
    assert outcomes["corrupt"] == n - last_frame


def test_random_multi_bit_damage_larger_log(tmp_path) -> None:
    d = str(tmp_path / "orig")
    payloads = build_log(d, 300, segment_max_bytes=3000)
    flips = _all_flips(d)
    rng = random.Random(20240601)
    for n in range(150):
        work = str(tmp_path / f"f{n}")
        copy_dir(d, work)
        path, offset = rng.choice(flips)
        wpath = os.path.join(work, os.path.basename(path))
        for _ in range(rng.randrange(1, 4)):  # a small burst of damage
            flip_bit(wpath, min(offset + rng.randrange(0, 8), os.path.getsize(wpath) - 1), rng.randrange(8))
        _check_flip_outcome(work, payloads, wpath, offset)


def test_never_reads_past_file_end(tmp_path) -> None:
    """A last frame claiming more bytes than the file has is a torn tail, nothing more."""
    d = str(tmp_path)
    w = WalWriter(d, 1)
    w.append(b"a" * 100)
    w.append(b"b" * 100_000)
    w.close()
    path = segments(d)[0]
    _truncate(path, os.path.getsize(path) - 50_000)
    r = replay(d)
    assert [lsn for lsn, _ in r.frames] == [1]


def test_log_continues_after_cut_tail(small_log) -> None:
    d, payloads = small_log
    path = segments(d)[0]
    _truncate(path, os.path.getsize(path) - 1)
    r = replay(d)
    assert r.report is not None and r.report.next_lsn() == 40
    w = WalWriter(d, r.report.next_lsn())
    w.append(b"again")
    w.close()
    r2 = replay(d)
    assert [lsn for lsn, _ in r2.frames] == list(range(1, 41))
    assert r2.frames[-1][1] == b"again" and r2.report is not None and r2.report.torn is None
