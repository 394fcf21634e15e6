"""The replication backlog (Redis's repl_backlog): the last bytes of the stream, by offset.

A replica that reconnects asks for the stream from the offset it has
reached; when the bytes since then are still here, the master answers
``+CONTINUE`` and sends them instead of a full copy.  The stream is kept as
the chunks it was fed in (one per loop pass), dropped from the front while
the rest still holds ``size`` bytes: appending and trimming cost nothing per
byte.  Offsets are Redis's: the first byte of the stream is offset 1, and
``offset`` is the last byte written.
"""

from __future__ import annotations

from collections import deque


class Backlog:
    def __init__(self, size: int, offset: int) -> None:
        self.size = max(1, size)
        self.chunks: deque[bytes] = deque()
        self.histlen = 0
        self.end = offset  # offset of the last byte held (or fed before the backlog existed)

    @property
    def first_byte_offset(self) -> int:
        """Redis's repl_backlog_first_byte_offset (end + 1 while empty)."""
        return self.end - self.histlen + 1

    def append(self, data: bytes) -> None:
        self.chunks.append(data)
        self.histlen += len(data)
        self.end += len(data)
        chunks = self.chunks
        while len(chunks) > 1 and self.histlen - len(chunks[0]) >= self.size:
            self.histlen -= len(chunks.popleft())

    def resize(self, size: int) -> None:
        self.size = max(1, size)
        chunks = self.chunks
        while len(chunks) > 1 and self.histlen - len(chunks[0]) >= self.size:
            self.histlen -= len(chunks.popleft())

    def can_serve(self, offset: int) -> bool:
        """The stream from byte ``offset`` on is all here (``offset`` may be end + 1: nothing to send)."""
        return self.first_byte_offset <= offset <= self.end + 1

    def read_from(self, offset: int) -> list[bytes]:
        """The bytes from ``offset`` to the end, as chunks (``can_serve`` must hold)."""
        out: list[bytes] = []
        pos = self.first_byte_offset
        for chunk in self.chunks:
            nxt = pos + len(chunk)
            if nxt > offset:
                out.append(chunk if pos >= offset else chunk[offset - pos:])
            pos = nxt
        return out

    def rebase(self, offset: int) -> None:
        """Start over, empty, after ``offset`` (a full sync as replica, a restart)."""
        self.chunks.clear()
        self.histlen = 0
        self.end = offset
