"""The list value (Redis's quicklist).

A ``collections.deque`` already is what a quicklist is: a linked list of
fixed-size blocks, O(1) at both ends, O(n/64) to reach the middle.  The
subclass only gives lists their own type for dispatch (``type(v) is
QuickList``) and the registry entry.  Redis 7.0 always reports the
``quicklist`` encoding for lists.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from itertools import islice

from sentrykv_server.store.memory import list_size
from sentrykv_server.store.types import register


class QuickList(deque[bytes]):
    """A Redis list: a deque of bytes."""

    __slots__ = ()


def clamp_range(length: int, start: int, end: int) -> tuple[int, int] | None:
    """Redis's LRANGE/LTRIM index rules: negative counts from the end; None if empty."""
    if start < 0:
        start += length
    if end < 0:
        end += length
    if start < 0:
        start = 0
    if start > end or start >= length:
        return None
    if end >= length:
        end = length - 1
    return start, end


def iter_range(lst: QuickList, start: int, end: int) -> Iterator[bytes]:
    """Elements start..end (inclusive, already clamped), walking from the nearer end.

    A deque cannot be sliced; islice from the head costs O(start), so ranges
    near the tail are read backwards from the tail instead.  Nothing is copied
    beyond the elements returned.
    """
    n = len(lst)
    if start <= n - 1 - end:
        return islice(lst, start, end + 1)
    tail = list(islice(reversed(lst), n - 1 - end, n - start))
    tail.reverse()
    return iter(tail)


def _canonical(lst: QuickList) -> bytes:
    # Lists are ordered: the canonical form keeps the order.
    return b"".join(b"%d:%s" % (len(v), v) for v in lst)


register(QuickList, "list", lambda v: QuickList(v), lambda v: "quicklist", _canonical, list_size)
