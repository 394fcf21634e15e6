"""Where the decoder's bytes come from: a DUMP payload in memory, or an RDB file on disk.

Both answer ``read(n)`` with exactly ``n`` bytes and know how many are
left, so every length the data declares is checked against what remains
*before* anything is allocated: a payload claiming a 2**60-byte string is
refused at once, not after an attempt to allocate it.

:class:`FileSource` reads the file in 1 MiB chunks (a 10 GB file never sits
in memory) and folds each chunk into the running CRC-64 as it is consumed, so
the checksum at the end of the file costs no second pass.
"""

from __future__ import annotations

import os
from typing import BinaryIO

from sentrykv_server.persistence.rdb.constants import RdbError
from sentrykv_server.persistence.rdb.crc64 import crc64

CHUNK = 1 << 20


class Truncated(RdbError):
    """The data ended (or would end) inside a value."""


class BufferSource:
    """Bytes in memory, read from ``pos`` up to ``end``."""

    __slots__ = ("data", "pos", "end")

    def __init__(self, data: bytes, start: int = 0, end: int | None = None) -> None:
        self.data = data
        self.pos = start
        self.end = len(data) if end is None else end

    def read(self, n: int) -> bytes:
        pos = self.pos
        new = pos + n
        if new > self.end or n < 0:
            raise Truncated(f"{n} bytes wanted, {self.end - pos} left")
        self.pos = new
        return self.data[pos:new]

    def byte(self) -> int:
        pos = self.pos
        if pos >= self.end:
            raise Truncated("1 byte wanted, 0 left")
        self.pos = pos + 1
        return self.data[pos]

    def left(self) -> int:
        return self.end - self.pos

    def offset(self) -> int:
        return self.pos


class FileSource:
    """An RDB file read forward in chunks, with a running CRC-64 of the bytes consumed."""

    __slots__ = ("fh", "size", "buf", "pos", "base", "crc", "crc_pos")

    def __init__(self, fh: BinaryIO, size: int | None = None) -> None:
        self.fh = fh
        self.size = os.fstat(fh.fileno()).st_size if size is None else size
        self.buf = b""
        self.pos = 0  # position in buf
        self.base = 0  # file offset of buf[0]
        self.crc = 0
        self.crc_pos = 0  # buf[:crc_pos] is already in crc

    def _fold(self) -> None:
        if self.pos > self.crc_pos:
            self.crc = crc64(memoryview(self.buf)[self.crc_pos:self.pos], self.crc)
        self.crc_pos = self.pos

    def _fill(self, need: int) -> None:
        """Make ``need`` bytes available at ``pos``; checked against the file size first."""
        if need < 0 or self.base + self.pos + need > self.size:
            raise Truncated(f"{need} bytes wanted at offset {self.offset()}, file has {self.left()} left")
        self._fold()
        rest = self.buf[self.pos:]
        want = max(need - len(rest), CHUNK)
        more = self.fh.read(min(want, self.size - self.base - len(self.buf)))
        self.base += self.pos
        self.buf = rest + more
        self.pos = self.crc_pos = 0
        if len(self.buf) < need:
            raise Truncated("the file is shorter than its size said (changed while reading?)")

    def read(self, n: int) -> bytes:
        pos = self.pos
        if pos + n > len(self.buf) or n < 0:
            self._fill(n)
            pos = self.pos
        self.pos = pos + n
        return self.buf[pos:pos + n]

    def byte(self) -> int:
        if self.pos >= len(self.buf):
            self._fill(1)
        b = self.buf[self.pos]
        self.pos += 1
        return b

    def left(self) -> int:
        return self.size - self.base - self.pos

    def offset(self) -> int:
        return self.base + self.pos

    def checksum(self) -> int:
        """CRC-64 of every byte consumed so far."""
        self._fold()
        return self.crc
