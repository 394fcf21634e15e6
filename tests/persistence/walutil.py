"""Helpers for the persistence tests: build real logs, read them back, damage them."""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field

from sentrykv_server.persistence.group_commit import GroupCommitter
from sentrykv_server.persistence.records import encode_ops
from sentrykv_server.persistence.wal_format import FRAME_HEADER_SIZE, HEADER_SIZE, list_segments
from sentrykv_server.persistence.wal_reader import RecoveryReport, recover
from sentrykv_server.persistence.wal_writer import WalWriter


def payload_for(i: int) -> bytes:
    """A distinct, recognisable payload per LSN (binary bytes included)."""
    return encode_ops([(i % 16, [b"SET", b"key:%d" % i, bytes([i % 256, 0, 13, 10]) * (i % 7)])])


def build_log(directory: str, n: int, segment_max_bytes: int = 1 << 20, start_lsn: int = 1) -> list[bytes]:
    """Write frames start_lsn..start_lsn+n-1 (one write per 3 appends); return the payloads."""
    writer = WalWriter(directory, start_lsn, segment_max_bytes=segment_max_bytes)
    payloads = []
    for i in range(start_lsn, start_lsn + n):
        p = payload_for(i)
        payloads.append(p)
        writer.append(p)
        if i % 3 == 0:
            writer.write_buffered()
    writer.close()
    return payloads


def segments(directory: str) -> list[str]:
    return [path for _first, path in list_segments(directory)]


def nonempty_segments(directory: str) -> list[str]:
    return [p for p in segments(directory) if os.path.getsize(p) > HEADER_SIZE]


def frame_offsets(path: str) -> list[int]:
    """Offsets of the frames of an undamaged segment."""
    data = open(path, "rb").read()
    pos, out = HEADER_SIZE, []
    while pos < len(data):
        out.append(pos)
        length = int.from_bytes(data[pos + 4 : pos + 8], "little")
        pos += FRAME_HEADER_SIZE + length
    assert pos == len(data)
    return out


@dataclass
class Replay:
    frames: list[tuple[int, bytes]] = field(default_factory=list)
    report: RecoveryReport | None = None

    def apply(self, lsn: int, payload: bytes) -> None:
        self.frames.append((lsn, bytes(payload)))


def replay(directory: str, after_lsn: int = 0, fix_tail: bool = True) -> Replay:
    r = Replay()
    r.report = recover(directory, r.apply, after_lsn=after_lsn, fix_tail=fix_tail)
    return r


def copy_dir(src: str, dst: str) -> str:
    shutil.copytree(src, dst)
    return dst


def flip_bit(path: str, offset: int, bit: int) -> None:
    with open(path, "r+b") as fh:
        fh.seek(offset)
        b = fh.read(1)[0]
        fh.seek(offset)
        fh.write(bytes([b ^ (1 << bit)]))


class Recorder:
    """The committer's callbacks, recorded (durable LSNs must never go back)."""

    def __init__(self) -> None:
        self.durable: list[int] = []
        self.errors: list[BaseException | None] = []

    def on_durable(self, lsn: int) -> None:
        assert not self.durable or lsn >= self.durable[-1]
        self.durable.append(lsn)

    def on_error(self, exc: BaseException | None) -> None:
        self.errors.append(exc)


def write_frames(w: WalWriter, gc: GroupCommitter, n: int = 1) -> int:
    """Append n frames, write them and kick the committer, as a loop pass would."""
    lsn = 0
    for _ in range(n):
        lsn = w.append(payload_for(w.last_lsn + 1))
    w.write_buffered()
    gc.kick()
    return lsn


async def until(cond: Callable[[], bool], timeout: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not cond():
        assert loop.time() < end, "condition not reached"
        await asyncio.sleep(0.002)
