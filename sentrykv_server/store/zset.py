"""The sorted-set value (Redis's zset: a dict plus an ordered index).

Redis pairs a hash table (member -> score) with a skiplist ordered by
(score, member).  Here the ordered index is a ``sortedcontainers.SortedList``
of ``(score, member)`` tuples: it gives the same O(log n) insert, delete,
rank and positional access, and iterating a range does not copy the set.
Python's tuple ordering is exactly Redis's order: by score, then by member
compared as raw bytes (memcmp).

``big`` mirrors Redis's encoding switch from ``listpack`` to ``skiplist``.
Like Redis it is one-way: once a set grew past ``zset-max-listpack-entries``
or held a member longer than ``zset-max-listpack-value`` it stays
``skiplist`` even after shrinking.  A compact (listpack) set stores an
integral score as an integer, which turns ``-0`` into ``0``; the skiplist
keeps ``-0``.  That difference is visible in replies, so it is reproduced.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from math import inf, nextafter

from sortedcontainers import SortedList

from sentrykv_server.store import digest
from sentrykv_server.store.memory import zset_size
from sentrykv_server.store.types import register

Entry = tuple[float, bytes]

# Lexicographic range bounds: (kind, value, exclusive).  kind -1 is "-" (below
# everything), +1 is "+" (above everything), 0 a real string.
LexBound = tuple[int, bytes, bool]


class ZSet:
    """member -> score dict plus a (score, member) sorted index."""

    __slots__ = ("scores", "order", "big")

    def __init__(self) -> None:
        self.scores: dict[bytes, float] = {}
        self.order: SortedList = SortedList()
        self.big = False

    def __len__(self) -> int:
        return len(self.scores)

    def __contains__(self, member: bytes) -> bool:
        return member in self.scores

    def __reduce__(self) -> tuple[Callable[..., ZSet], tuple[list[tuple[bytes, float]], bool]]:
        """Pickle as plain pairs: the sorted index is rebuilt on load."""
        return _rebuild, (list(self.scores.items()), self.big)

    # -- updates ---------------------------------------------------------------------------
    def insert(self, member: bytes, score: float, max_entries: int, max_value: int) -> None:
        """Add a member known to be absent, switching encoding first as Redis does."""
        if not self.big and (len(self.scores) + 1 > max_entries or len(member) > max_value):
            self.big = True
        if score == 0.0 and not self.big:
            score = 0.0  # a listpack stores integral scores as integers: no -0
        self.scores[member] = score
        self.order.add((score, member))

    def update(self, member: bytes, old: float, new: float) -> None:
        """Change an existing member's score (callers skip the call when old == new)."""
        if new == 0.0 and not self.big:
            new = 0.0
        self.order.remove((old, member))
        self.order.add((new, member))
        self.scores[member] = new

    def remove(self, member: bytes) -> bool:
        score = self.scores.pop(member, None)
        if score is None:
            return False
        self.order.remove((score, member))
        return True

    def pop(self, index: int) -> Entry:
        """Remove and return the entry at a position (0 = lowest, -1 = highest)."""
        score, member = self.order.pop(index)
        del self.scores[member]
        return score, member

    def delete_slice(self, start: int, stop: int) -> int:
        """Remove positions [start, stop); returns how many were removed."""
        if stop <= start:
            return 0
        order = self.order
        victims = list(order.islice(start, stop))
        if stop - start == len(order):
            order.clear()
        else:
            del order[start:stop]
        scores = self.scores
        for _score, member in victims:
            del scores[member]
        return len(victims)

    # -- queries ---------------------------------------------------------------------------
    def rank(self, member: bytes) -> int | None:
        score = self.scores.get(member)
        if score is None:
            return None
        return int(self.order.bisect_left((score, member)))

    def at(self, index: int) -> Entry:
        entry: Entry = self.order[index]
        return entry

    def islice(self, start: int, stop: int, reverse: bool = False) -> Iterator[Entry]:
        """Entries at positions [start, stop), lowest first (highest first if reverse)."""
        return iter(self.order.islice(start, stop, reverse=reverse))

    def score_span(self, lo: float, lo_ex: bool, hi: float, hi_ex: bool) -> tuple[int, int]:
        """Positions [start, stop) of the members whose score is within the range."""
        start = self._first_above(lo) if lo_ex else self._first_at_least(lo)
        stop = self._first_at_least(hi) if hi_ex else self._first_above(hi)
        return start, max(start, stop)

    def _first_at_least(self, score: float) -> int:
        return int(self.order.bisect_left((score,)))

    def _first_above(self, score: float) -> int:
        if score == inf:
            return len(self.order)
        # Scores are doubles: "> x" is ">= the next double after x".
        return int(self.order.bisect_left((nextafter(score, inf),)))

    def lex_span(self, lo: LexBound, hi: LexBound) -> tuple[int, int]:
        """Positions [start, stop) of the members within a lexicographic range.

        Redis only defines lex ranges when all scores are equal; it searches as
        if members were sorted, and so does this binary search.
        """
        n = len(self.order)
        order = self.order
        start = _bisect(n, lambda i: lex_gte_min(order[i][1], lo))
        stop = _bisect(n, lambda i: not lex_lte_max(order[i][1], hi))
        return start, max(start, stop)

    def items(self) -> Iterator[tuple[bytes, float]]:
        """(member, score) in rank order."""
        for score, member in self.order:
            yield member, score


def _rebuild(pairs: list[tuple[bytes, float]], big: bool) -> ZSet:
    z = ZSet()
    z.scores = dict(pairs)
    z.order = SortedList((score, member) for member, score in pairs)
    z.big = big
    return z


def _bisect(n: int, pred: Callable[[int], bool]) -> int:
    """First index in [0, n) where ``pred`` holds, assuming it is monotonic (else n)."""
    lo, hi = 0, n
    while lo < hi:
        mid = (lo + hi) // 2
        if pred(mid):
            hi = mid
        else:
            lo = mid + 1
    return lo


def lex_cmp(a: LexBound, b: LexBound) -> int:
    """Redis's sdscmplex on two bounds (the special "-" and "+" included)."""
    if a[0] != b[0]:
        return -1 if a[0] < b[0] else 1
    if a[0] != 0 or a[1] == b[1]:
        return 0
    return -1 if a[1] < b[1] else 1


def lex_gte_min(member: bytes, lo: LexBound) -> bool:
    kind, value, ex = lo
    if kind:
        return kind < 0
    return member > value if ex else member >= value


def lex_lte_max(member: bytes, hi: LexBound) -> bool:
    kind, value, ex = hi
    if kind:
        return kind > 0
    return member < value if ex else member <= value


def lex_range_empty(lo: LexBound, hi: LexBound) -> bool:
    cmp = lex_cmp(lo, hi)
    return cmp > 0 or (cmp == 0 and (lo[2] or hi[2]))


def copy_zset(z: ZSet) -> ZSet:
    out = ZSet()
    out.scores = dict(z.scores)
    out.order = z.order.copy()
    out.big = z.big
    return out


def format_score(score: float) -> bytes:
    """Redis's %.17g text of a score, "-0" included (scan replies, digests)."""
    if score == 0.0:
        return b"-0" if str(score)[0] == "-" else b"0"
    if score == inf:
        return b"inf"
    if score == -inf:
        return b"-inf"
    if score == int(score) and abs(score) < 1e17:
        return b"%d" % int(score)
    return b"%.17g" % score


def _canonical(z: ZSet) -> bytes:
    # The index order is fully determined by the contents: no sorting needed.
    return digest.canonical_items([(m, format_score(s)) for s, m in z.order])


register(ZSet, "zset", copy_zset, lambda z: "skiplist" if z.big else "listpack", _canonical,
         zset_size)
