"""Ops -> the bytes of the replication stream, as a Redis 7.0 master writes them.

The stream is RESP commands.  Every command applies to the database selected
last in the stream (Redis's ``slaveseldb``): a ``SELECT`` is written before a
command for another database.  The ops of one unit — a command, an EXEC, a
script — that has more than one op are wrapped in ``MULTI`` ... ``EXEC`` (as
Redis 7's propagatePendingCommands does), so a replica applies them
atomically; the SELECT for the first op comes before the MULTI.
"""

from __future__ import annotations

from collections.abc import Sequence

_HDR = [b"*%d\r\n" % n for n in range(64)]
_BULK = [b"$%d\r\n" % n for n in range(1024)]
MULTI = b"*1\r\n$5\r\nMULTI\r\n"
EXEC = b"*1\r\n$4\r\nEXEC\r\n"
PING = b"*1\r\n$4\r\nPING\r\n"
GETACK = b"*3\r\n$8\r\nREPLCONF\r\n$6\r\nGETACK\r\n$1\r\n*\r\n"
_SELECT = [b"*2\r\n$6\r\nSELECT\r\n$%d\r\n%d\r\n" % (len(str(i)), i) for i in range(16)]


def encode_command(argv: Sequence[bytes]) -> bytes:
    """One command as a RESP array of bulk strings (the canonical form every master sends)."""
    n = len(argv)
    parts = [_HDR[n] if n < 64 else b"*%d\r\n" % n]
    for arg in argv:
        size = len(arg)
        parts.append(_BULK[size] if size < 1024 else b"$%d\r\n" % size)
        parts.append(arg)
        parts.append(b"\r\n")
    return b"".join(parts)


def encoded_size(argv: Sequence[bytes]) -> int:
    """len(encode_command(argv)) without building it."""
    n = len(argv)
    total = len(_HDR[n]) if n < 64 else len(b"*%d\r\n" % n)
    for arg in argv:
        size = len(arg)
        total += (len(_BULK[size]) if size < 1024 else len(b"$%d\r\n" % size)) + size + 2
    return total


def select(db: int) -> bytes:
    return _SELECT[db] if db < 16 else encode_command([b"SELECT", b"%d" % db])


class StreamEncoder:
    """Keeps the stream's selected database; turns units of ops into bytes."""

    __slots__ = ("seldb",)

    def __init__(self) -> None:
        self.seldb = -1  # -1: the next command is preceded by a SELECT whatever its db

    def unit(self, ops: Sequence[tuple[int, Sequence[bytes]]], atomic: bool) -> list[bytes]:
        """The chunks for one unit; ``atomic``: several ops go inside MULTI/EXEC."""
        out: list[bytes] = []
        wrap = atomic and len(ops) > 1
        if wrap:
            first = ops[0][0]
            if first != self.seldb:
                out.append(select(first))
                self.seldb = first
            out.append(MULTI)
        for db, argv in ops:
            if db != self.seldb:
                out.append(select(db))
                self.seldb = db
            out.append(encode_command(argv))
        if wrap:
            out.append(EXEC)
        return out
