"""Recovery scan of the WAL: verify every frame, hand complete ones over in LSN order.

The one judgement made here is *torn tail* versus *corruption*:

* A crash (kill -9, power cut) can only damage the end of what was being
  written: the last segment's last frame may be incomplete, followed by
  garbage or by zeros (a file extended but its data never written).  Such a
  tail is cut off (``ftruncate`` + ``fsync``) and reported; it never held
  anything acknowledged as durable.
* Anything else means the log lost data that may have been acknowledged and
  recovery must stop with :class:`WalCorruptionError`: a damaged frame that
  has a valid frame anywhere behind it, damage in a segment that is not the
  last, a missing segment or LSN gap, a bad segment header.

"A valid frame behind the damage" is searched byte by byte from the damaged
offset to the end of the file.  Candidates whose LSN cannot belong to this
log there are skipped before the CRC (frames are at least 16 bytes, so at
offset ``o`` past the damage the LSN is within ``(o - start) // 16 + 1`` of
the expected one); this keeps the search linear on garbage and on zeros.

"The last segment" means the last one holding frames: segments after it that
hold only a header come from a rotation just before the crash.  If that
segment had a torn tail, they start past the new end of the log and are
removed with it.  A last segment whose header itself is torn (shorter than
a header and a prefix of one, or all zeros) is a crash during segment
creation: it is removed whole, and the segment before it is the last one.
Cuts are made only after the whole log verified, newest file first.  A
recovery that may modify the log (``fix_tail``) also fsyncs every segment it
read: after a kill -9 they may be in the page cache only, and the writer
that continues the log counts everything recovered as durable.

Frames are verified before they are handed over, so ``apply`` never sees part
of a frame.  Corruption found late (say a bad frame followed by a valid one
near the end of the last segment) is raised after earlier frames were
applied: on :class:`WalCorruptionError` the caller must discard what it built.

Handing over is done in batches, because at a million frames per second the
per-frame Python work is the cost.  :meth:`WalScan.batches` walks a mapped
segment with ``struct.unpack_from`` and one CRC call per frame and yields
the verified payloads of up to ``BATCH_BYTES`` of frames as one list: the
consumer makes one call per batch, not per frame (recovery joins a batch
and decodes it with one hiredis feed).  A batch is yielded before the scan
looks past its last frame, so a bad frame stops everything behind it exactly
as with one frame at a time.  A frame larger than ``BATCH_BYTES`` comes in a
batch of its own.  :meth:`WalScan.frames` and :func:`recover` keep the
one-frame-at-a-time view.
"""

from __future__ import annotations

import mmap
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from crc32c import crc32c

from sentrykv_server.persistence.wal_format import (
    FRAME_HEADER,
    FRAME_HEADER_SIZE,
    HEADER_SIZE,
    MAX_FRAME_PAYLOAD,
    U32,
    WalFormatError,
    decode_header,
    is_torn_header,
    list_segments,
    segment_holds_no_frame,
)

PROGRESS_EVERY = 1 << 16
# Payload bytes per batch of WalScan.batches (see the module doc): small enough
# that a batch's decoding stays in the CPU cache and hiredis's buffer small.
BATCH_BYTES = 1 << 14
_NONZERO = re.compile(rb"[^\x00]")


class WalCorruptionError(Exception):
    """The log is damaged where a crash cannot explain it; recovery must not go on."""

    def __init__(self, path: str, offset: int, reason: str) -> None:
        self.path = path
        self.offset = offset
        self.reason = reason
        directory = os.path.dirname(path) or "."
        super().__init__(
            f"WAL corruption in {path} at offset {offset}: {reason}. "
            f"Inspect with `sentrykv-check {directory}` (and `--dump`); "
            "the log was left untouched"
        )


@dataclass
class TornTail:
    """What a crash left at the end of the log, and what cutting it drops."""

    path: str
    offset: int  # new file size (0 with whole_file: the file is removed)
    bytes_dropped: int
    reason: str
    whole_file: bool = False


@dataclass
class SegmentInfo:
    path: str
    first_lsn: int
    size: int
    frames: int = 0
    last_lsn: int | None = None
    skipped: bool = False  # entirely at or before after_lsn: not read
    zero_tail: int = 0  # bytes of zeros after the last frame: preallocated, never written


@dataclass
class RecoveryReport:
    frames_applied: int = 0
    first_lsn: int | None = None  # first LSN applied
    last_lsn: int | None = None  # last LSN the log holds (applied or not)
    segments_read: int = 0
    bytes_read: int = 0
    # Torn tails, oldest file first: at most one frame-level cut, plus any last
    # segments whose header was never written.
    tails: list[TornTail] = field(default_factory=list)
    fixed: bool = False  # the tails were cut off
    segments: list[SegmentInfo] = field(default_factory=list)

    @property
    def torn(self) -> TornTail | None:
        return self.tails[0] if self.tails else None

    @property
    def truncated_file(self) -> str | None:
        return self.tails[0].path if self.tails else None

    @property
    def truncated_offset(self) -> int | None:
        return self.tails[0].offset if self.tails else None

    @property
    def truncated_bytes(self) -> int:
        return sum(t.bytes_dropped for t in self.tails)

    def next_lsn(self, after_lsn: int = 0) -> int:
        """LSN a writer continuing this log must start at."""
        return max(self.last_lsn or 0, after_lsn) + 1


class WalScan:
    """One pass over a directory's segments; :meth:`frames` does the work.

    ``after_lsn=None`` checks the log on its own (it may start at any LSN, as
    after a checkpoint deleted old segments); an int is a snapshot cut: the log
    must reach back to ``after_lsn + 1`` and only later frames are yielded.
    ``skip_covered`` lets recovery skip reading segments that hold only LSNs
    <= after_lsn.
    """

    def __init__(
        self,
        directory: str,
        after_lsn: int | None = 0,
        *,
        fix_tail: bool = False,
        skip_covered: bool = True,
        report: RecoveryReport | None = None,
    ) -> None:
        self.directory = directory
        self.after_lsn = after_lsn
        self.fix_tail = fix_tail
        self.skip_covered = skip_covered
        self.report = report if report is not None else RecoveryReport()

    def frames(self) -> Iterator[tuple[int, bytes]]:
        """Yield ``(lsn, payload)`` for every verified frame with lsn > after_lsn."""
        for first_lsn, payloads in self.batches():
            for i, payload in enumerate(payloads):
                yield first_lsn + i, payload

    def batches(self) -> Iterator[tuple[int, list[bytes]]]:
        """Yield ``(first_lsn, payloads)``: consecutive verified frames with lsn > after_lsn.

        Every batch holds at least one frame and about ``BATCH_BYTES`` of payload
        (less than twice that), unless it is a single larger frame.
        """
        report = self.report
        segments = list_segments(self.directory)
        torn_headers = self._drop_torn_headers(segments)
        after = self.after_lsn
        floor = after if after is not None else 0
        expected: int | None = None
        if segments:
            first_lsn, path = segments[0]
            if after is not None and first_lsn > after + 1:
                raise WalCorruptionError(
                    path, 0, f"log starts at LSN {first_lsn} but LSNs from {after + 1} are needed"
                )
        # The tail region is the last segment holding frames: segments after it
        # that hold only a header were created by rotations just before a crash.
        tail_index = len(segments) - 1
        while tail_index > 0 and segment_holds_no_frame(segments[tail_index][1]):
            tail_index -= 1
        for i, (first_lsn, path) in enumerate(segments):
            last = i >= tail_index
            if i > tail_index and report.tails:
                # A header-only segment behind a torn tail starts past the new end
                # of the log; it holds nothing, so it goes with the tail.
                with open(path, "rb") as fh:
                    _verify_header(path, fh.read(HEADER_SIZE), first_lsn)
                size = os.path.getsize(path)
                report.segments.append(SegmentInfo(path=path, first_lsn=first_lsn, size=size))
                report.tails.append(
                    TornTail(path, 0, size, "empty segment created after the torn tail", True)
                )
                continue
            if expected is not None and first_lsn != expected:
                if first_lsn < expected or first_lsn > floor + 1:
                    raise WalCorruptionError(
                        path, 0,
                        f"segment starts at LSN {first_lsn}, expected {expected} "
                        + ("(overlapping segments)" if first_lsn < expected else "(missing segment)"),
                    )
            info = SegmentInfo(path=path, first_lsn=first_lsn, size=os.path.getsize(path))
            report.segments.append(info)
            if (
                self.skip_covered
                and after is not None
                and i + 1 < len(segments)
                and segments[i + 1][0] <= after + 1
            ):
                info.skipped = True
                expected = segments[i + 1][0]
                continue
            report.segments_read += 1
            yield from self._scan_segment(info, last)
            expected = (info.last_lsn + 1) if info.last_lsn is not None else first_lsn
            if info.last_lsn is not None:
                report.last_lsn = info.last_lsn
        report.tails.extend(torn_headers)
        if report.tails and self.fix_tail:
            for tail in reversed(report.tails):  # newest first: never a hole behind a kept file
                cut_tail(tail)
            report.fixed = True
        if self.fix_tail:
            # After a kill -9 the recovered frames may sit in the page cache only.
            # The new writer starts with durable_lsn = last recovered LSN, so make
            # that true before anything is served from them.
            for seg in report.segments:
                if not seg.skipped and os.path.exists(seg.path):
                    _fsync_path(seg.path)

    def _drop_torn_headers(self, segments: list[tuple[int, str]]) -> list[TornTail]:
        """Take last segments whose header never got written off the list (oldest first)."""
        torn: list[TornTail] = []
        while segments:
            first_lsn, path = segments[-1]
            with open(path, "rb") as fh:
                head = fh.read(HEADER_SIZE)
                try:
                    decode_header(head)
                except WalFormatError as exc:
                    rest = head + fh.read()
                    if not is_torn_header(rest):
                        raise WalCorruptionError(path, 0, f"bad segment header: {exc}") from None
                else:
                    _verify_header(path, head, first_lsn)
                    return torn
            torn.insert(0, TornTail(path, 0, len(rest), "segment header never completely written", True))
            segments.pop()
        return torn

    def _scan_segment(self, info: SegmentInfo, last: bool) -> Iterator[tuple[int, list[bytes]]]:
        path = info.path
        report = self.report
        after = self.after_lsn if self.after_lsn is not None else 0
        with open(path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            info.size = size
            first_lsn = _verify_header(path, fh.read(HEADER_SIZE), info.first_lsn)
            if size == HEADER_SIZE:
                return
            mm = mmap.mmap(fh.fileno(), size, access=mmap.ACCESS_READ)
        mv = memoryview(mm)
        unpack = FRAME_HEADER.unpack_from
        window = BATCH_BYTES
        hsize = FRAME_HEADER_SIZE
        # The hot loop takes frames of at most a window's payload starting before
        # fast_end: such a frame cannot run past the end of the file, no need to test.
        fast_end = size - hsize - window
        pos = HEADER_SIZE
        expected = first_lsn
        batch: list[bytes] = []  # verified frames fed_lsn..expected - 1, not yielded yet
        fed_lsn = first_lsn
        bad: str | None = None
        applied = 0
        try:
            while pos < size:
                if expected > after and pos < fast_end:
                    # The hot loop of recovery: locals only, one CRC call and one slice per
                    # frame.  Anything unusual (damage, a large frame, the last window of
                    # the file) goes the careful path below.
                    add = batch.append
                    stop = min(pos + window, fast_end)
                    while pos < stop:
                        crc, length, lsn = unpack(mm, pos)
                        body = pos + hsize
                        end = body + length
                        if length > window or lsn != expected or crc32c(mv[pos + 4 : end]) != crc:
                            break
                        add(mm[body:end])
                        expected += 1
                        pos = end
                    else:
                        yield fed_lsn, batch
                        applied += len(batch)
                        batch = []
                        fed_lsn = expected
                        continue
                # The careful path, one frame: a damaged or torn one, a large one, one at
                # or before after_lsn, one in the last window of the file.
                if pos + hsize > size:
                    bad = "incomplete frame header"
                    break
                crc, length, lsn = unpack(mm, pos)
                end = pos + hsize + length
                if end > size or length > MAX_FRAME_PAYLOAD:
                    if length > MAX_FRAME_PAYLOAD:
                        bad = f"frame length {length} exceeds the maximum {MAX_FRAME_PAYLOAD}"
                    else:
                        bad = f"frame of {length} bytes runs past the end of the file"
                    break
                if crc32c(mv[pos + 4 : end]) != crc:
                    bad = "frame CRC mismatch"
                    break
                if lsn != expected:
                    if batch:
                        yield fed_lsn, batch
                        applied += len(batch)
                        batch = []
                    raise WalCorruptionError(
                        path, pos, f"frame has LSN {lsn}, expected {expected} (CRC is valid)"
                    )
                if lsn <= after:
                    fed_lsn = lsn + 1
                elif length <= window:
                    batch.append(mm[pos + hsize : end])
                else:
                    if batch:
                        yield fed_lsn, batch
                        applied += len(batch)
                    yield lsn, [mm[pos + hsize : end]]
                    applied += 1
                    batch = []
                    fed_lsn = lsn + 1
                expected += 1
                pos = end
            if batch:
                yield fed_lsn, batch
                applied += len(batch)
                batch = []
            frames = expected - first_lsn
            if frames:
                info.last_lsn = expected - 1
            info.frames = frames
            report.bytes_read += pos
            if bad is not None and _NONZERO.search(mm, pos) is None:
                # Zeros from here to the end of the file: space the writer preallocated
                # and never wrote into (wal_writer.py), the clean end of this segment.
                # (A zeroed or cut tail of frames that were not fsynced looks the same,
                # and it held nothing acknowledged either.)
                info.zero_tail = size - pos
                bad = None
            if bad is not None:
                if not last:
                    raise WalCorruptionError(path, pos, f"{bad} in a segment that is not the last")
                found = _find_valid_frame(mm, mv, pos, size, expected)
                if found is not None:
                    q, q_lsn = found
                    raise WalCorruptionError(
                        path, pos,
                        f"{bad}, but a valid frame (LSN {q_lsn}) follows at offset {q}",
                    )
                report.tails.append(TornTail(path, pos, size - pos, bad))
        finally:
            if applied:
                report.frames_applied += applied
                if report.first_lsn is None:
                    report.first_lsn = max(first_lsn, after + 1)
            mv.release()
            mm.close()


def _verify_header(path: str, head: bytes, name_lsn: int) -> int:
    try:
        first_lsn = decode_header(head)
    except WalFormatError as exc:
        raise WalCorruptionError(path, 0, f"bad segment header: {exc}") from None
    if first_lsn != name_lsn:
        raise WalCorruptionError(path, 0, f"header says first LSN {first_lsn}, name says {name_lsn}")
    return first_lsn


def _find_valid_frame(
    mm: mmap.mmap, mv: memoryview, start: int, size: int, expected: int
) -> tuple[int, int] | None:
    """First offset after ``start`` holding a CRC-valid frame that can belong to this log."""
    max_lsn = expected + (size - start) // FRAME_HEADER_SIZE + 1
    high = expected >> 32
    # The LSN's upper 32 bits are usually the same over the whole window: find
    # them with a C search instead of testing every offset in Python.
    pattern = U32.pack(high) if (max_lsn >> 32) == high else None
    unpack = FRAME_HEADER.unpack_from
    q = start + 1
    while q + FRAME_HEADER_SIZE <= size:
        if pattern is not None:
            hit = mm.find(pattern, q + 12, size)
            if hit < 0:
                return None
            q = hit - 12
        if mm[q : q + FRAME_HEADER_SIZE].count(0) == FRAME_HEADER_SIZE:
            m = _NONZERO.search(mm, q)  # an all-zero header is never valid: skip zeros
            if m is None:
                return None
            q = max(q + 1, m.start() - FRAME_HEADER_SIZE + 1)
            continue
        crc, length, lsn = unpack(mm, q)
        end = q + FRAME_HEADER_SIZE + length
        if (
            expected <= lsn <= expected + (q - start) // FRAME_HEADER_SIZE + 1
            and length <= MAX_FRAME_PAYLOAD
            and end <= size
            and crc32c(mv[q + 4 : end]) == crc
        ):
            return q, lsn
        q += 1
    return None


def _fsync_path(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def cut_tail(torn: TornTail) -> None:
    """Make the cut durable: truncate + fsync, or unlink + fsync the directory."""
    if torn.whole_file:
        os.unlink(torn.path)
    else:
        fd = os.open(torn.path, os.O_RDWR)
        try:
            os.ftruncate(fd, torn.offset)
            os.fsync(fd)
        finally:
            os.close(fd)
    dfd = os.open(os.path.dirname(torn.path) or ".", os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


def iter_frames(
    directory: str, after_lsn: int = 0, report: RecoveryReport | None = None
) -> Iterator[tuple[int, bytes]]:
    """Read-only: yield ``(lsn, payload)`` with lsn > after_lsn; a torn tail ends the log.

    The torn tail (if any) is described in ``report.torn`` but not cut.
    """
    return WalScan(directory, after_lsn, fix_tail=False, report=report).frames()


def recover(
    directory: str,
    apply: Callable[[int, bytes], None],
    after_lsn: int = 0,
    fix_tail: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> RecoveryReport:
    """Apply every frame after ``after_lsn`` in order; cut a torn tail; raise on corruption.

    ``progress(frames_applied, bytes_read_so_far)`` is called every 65536 frames.
    """
    scan = WalScan(directory, after_lsn, fix_tail=fix_tail)
    report = scan.report
    if progress is None:
        for lsn, payload in scan.frames():
            apply(lsn, payload)
    else:
        n = 0
        for lsn, payload in scan.frames():
            apply(lsn, payload)
            n += 1
            if n % PROGRESS_EVERY == 0:
                progress(n, report.bytes_read)
    return report


def recover_batches(
    directory: str,
    apply: Callable[[int, list[bytes]], None],
    after_lsn: int = 0,
    fix_tail: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> RecoveryReport:
    """:func:`recover` with ``apply(first_lsn, payloads)`` once per batch (see :meth:`WalScan.batches`).

    ``progress(frames_applied, bytes_read_so_far)`` is called each time another
    65536 frames were applied.
    """
    scan = WalScan(directory, after_lsn, fix_tail=fix_tail)
    report = scan.report
    if progress is None:
        for first_lsn, payloads in scan.batches():
            apply(first_lsn, payloads)
    else:
        done = 0
        next_progress = PROGRESS_EVERY
        for first_lsn, payloads in scan.batches():
            apply(first_lsn, payloads)
            done += len(payloads)
            if done >= next_progress:
                progress(done, report.bytes_read)
                next_progress = done - done % PROGRESS_EVERY + PROGRESS_EVERY
    return report
