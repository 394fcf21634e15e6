"""The replication position in the write-ahead log (psync2 that survives kill -9).

A replica that restarts must know which replication stream its data
reflects, and up to which byte: it then asks its master for the rest
(``PSYNC replid offset+1``) instead of a full copy.  Redis keeps that in the
RDB file's aux fields; SentryKV writes it into the WAL itself, as one extra op
at the end of every frame while replication offsets are kept::

    [0, "#repl", replid, offset, replid2, second_offset]

so the position is exactly as durable as the data it describes: a frame is
complete with its marker or not there at all.  ``#repl`` can never be a
command name; recovery (``durability.ReplayClient``) hands it here instead of
to a command.  A checkpoint writes one right after its cut (the WAL segments
it retires held the earlier ones).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sentrykv_server.replication.state import Replication

MARK_NAME = b"#repl"


class Marker:
    """``server.repl_mark``: builds the marker op from the live state."""

    __slots__ = ("state", "due")

    def __init__(self, state: Replication) -> None:
        self.state = state
        # The offset moved without a data op (PING, SELECT, a full sync): write a marker
        # in the next pass even if no frame would be written otherwise.
        self.due = True

    def op(self) -> tuple[int, list[bytes]]:
        s = self.state
        self.due = False
        return (0, [MARK_NAME, s.replid.encode(), b"%d" % s.offset, s.replid2.encode(), b"%d" % s.second_offset])


def parse_mark(argv: list[bytes]) -> tuple[str, int, str, int] | None:
    """The fields of a marker op, or None when it is malformed (ignored, never fatal)."""
    if len(argv) != 5:
        return None
    try:
        return argv[1].decode("ascii"), int(argv[2]), argv[3].decode("ascii"), int(argv[4])
    except (UnicodeDecodeError, ValueError):
        return None
