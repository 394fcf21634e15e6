"""Cursors for SCAN, HSCAN, SSCAN and ZSCAN.

Redis guarantees that an element present for the whole iteration is returned
at least once, even while the table grows or shrinks.  Python dicts cannot be
resumed at a position across mutations, so the first call of an iteration
(cursor 0) takes a snapshot of the element names (a list of references, no
values copied), and later calls walk that list; elements removed meanwhile
are filtered out by the caller.  The cursor encodes the snapshot id and the
offset.  Snapshots are kept in a bounded LRU; an unknown cursor (e.g. after a
restart) restarts the walk over the current contents at the same offset.
"""

from __future__ import annotations

import itertools
from collections import OrderedDict
from collections.abc import Iterable
from sys import getsizeof
from typing import Any

_MAX_SNAPSHOTS = 64
_OFFSET_BITS = 40


class ScanCursors:
    """Server-wide registry of in-progress iterations."""

    def __init__(self) -> None:
        self._snapshots: OrderedDict[int, list[Any]] = OrderedDict()
        self._ids = itertools.count(1)

    def page(self, cursor: int, source: Iterable[Any], count: int) -> tuple[int, list[Any]]:
        """Return (next cursor, up to ``count`` elements) of the iteration ``cursor`` continues."""
        if cursor == 0:
            items = list(source)
            if len(items) <= count:
                return 0, items
            sid = next(self._ids) & ((1 << 23) - 1) or next(self._ids)
            self._snapshots[sid] = items
            if len(self._snapshots) > _MAX_SNAPSHOTS:
                self._snapshots.popitem(last=False)
            offset = 0
        else:
            sid, offset = cursor >> _OFFSET_BITS, cursor & ((1 << _OFFSET_BITS) - 1)
            cached = self._snapshots.get(sid)
            if cached is None:
                cached = list(source)
                self._snapshots[sid] = cached
            else:
                self._snapshots.move_to_end(sid)
            items = cached
        chunk = items[offset:offset + count]
        offset += count
        if offset >= len(items):
            self._snapshots.pop(sid, None)
            return 0, chunk
        return (sid << _OFFSET_BITS) | offset, chunk


    def memory(self) -> int:
        """Bytes the kept snapshots hold (lists of references; the keys are the keyspace's)."""
        return sum(getsizeof(items) for items in self._snapshots.values())


def parse_cursor(raw: bytes) -> int:
    from sentrykv_server.commands.errors import CommandError

    # strtoul as Redis's parseScanCursorOrReply uses it: "" is 0, a sign is allowed (a
    # negative number wraps around), no leading space, nothing after the digits.
    raw = raw.split(b"\0", 1)[0]  # Redis hands strtoul the C string
    digits = raw[1:] if raw[:1] in (b"+", b"-") else raw
    if raw and (not digits.isdigit() or int(digits) >= 1 << 64):
        raise CommandError("ERR invalid cursor")
    value = int(digits) if raw else 0
    return (-value) % (1 << 64) if raw[:1] == b"-" else value
