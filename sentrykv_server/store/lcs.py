"""Longest common subsequence in bounded time (t_string.c's lcsCommand, bit-parallel).

Redis fills a (len(a)+1) x (len(b)+1) table of uint32 in C and refuses when the table
would exceed ``proto-max-bulk-len`` (512 MB: 134 million cells).  A Python loop over
that many cells takes minutes, so the table is kept as bit vectors instead (Hyyro's
bit-parallel LCS): one Python int per position of the *shorter* string, each holding
one bit per position of the longer one.  Bit ``k`` of the complement of vector ``r``
says whether LCS(short[:r], long[:k+1]) is one more than LCS(short[:r], long[:k]), so
any table value is a masked popcount, and a row costs a handful of big-int operations
(C loops over 64-bit words).

The walk back reproduces Redis's path exactly (match: diagonal; otherwise up when
LCS(i-1, j) > LCS(i, j-1), else left) with the table values kept incrementally.  Runs
of moves along the long string are skipped to the next position where the path can
change direction (a match, found with ``rfind``, or a step in the current vector, found
with ``bit_length``), so the Python loop runs once per change of direction, not once per
cell or per position.
"""

from __future__ import annotations

from typing import Any

Matches = list[Any]


def table_bytes(alen: int, blen: int) -> int:
    """Bytes Redis would allocate for the table (checked against proto-max-bulk-len)."""
    return (alen + 1) * (blen + 1) * 4


def _masks(long: bytes, alphabet: set[int]) -> dict[int, int]:
    """For each byte value in ``alphabet``: an int with bit k set where long[k] is that byte."""
    masks = {}
    rev = long[::-1]  # int(..., 2) reads the most significant digit first
    for ch in alphabet:
        table = bytes(49 if x == ch else 48 for x in range(256))  # b"1" / b"0"
        masks[ch] = int(rev.translate(table), 2) if long else 0
    return masks


def _vectors(short: bytes, long: bytes) -> list[int]:
    """Step vectors: vec[r] for r = 0..len(short); a set bit means "no step here"."""
    full = (1 << len(long)) - 1
    masks = _masks(long, set(short))
    v = full
    out = [v]
    for ch in short:
        u = v & masks[ch]
        v = ((v + u) | (v - u)) & full
        out.append(v)
    return out


def lcs_length(a: bytes, b: bytes) -> int:
    """LCS length without the walk back (LCS ... LEN)."""
    short, long = (a, b) if len(a) <= len(b) else (b, a)
    full = (1 << len(long)) - 1
    masks = _masks(long, set(short))
    v = full
    for ch in short:
        u = v & masks[ch]
        v = ((v + u) | (v - u)) & full
    return len(long) - v.bit_count()


def lcs_walk(a: bytes, b: bytes, min_len: int, with_len: bool) -> tuple[bytes, Matches, int]:
    """The subsequence, the IDX matches (in Redis's order, from the end) and the length."""
    n, m = len(a), len(b)
    over_b = n <= m  # vectors per prefix of a (bits over b), else per prefix of b
    vec = _vectors(a, b) if over_b else _vectors(b, a)

    def table(i: int, j: int) -> int:
        """LCS(a[:i], b[:j])."""
        r, k = (i, j) if over_b else (j, i)
        return k - (vec[r] & ((1 << k) - 1)).bit_count()

    def last_step_below(r: int, k: int) -> int:
        """Highest long-string position < k where vector r steps, or -1."""
        return (~vec[r] & ((1 << k) - 1)).bit_length() - 1

    total = table(n, m)
    out = bytearray(total)
    idx = total
    matches: Matches = []
    a_range: list[int] | None = None
    b_range: list[int] | None = None

    def emit() -> None:
        if a_range is not None and b_range is not None:
            length = a_range[1] - a_range[0] + 1
            if length >= min_len:
                item: list[Any] = [[a_range[0], a_range[1]], [b_range[0], b_range[1]]]
                if with_len:
                    item.append(length)
                matches.append(item)

    i, j = n, m
    while i > 0 and j > 0:
        if a[i - 1] == b[j - 1]:
            idx -= 1
            out[idx] = a[i - 1]
            if a_range is not None and b_range is not None and a_range[0] == i and b_range[0] == j:
                a_range[0] -= 1
                b_range[0] -= 1
            else:
                emit()
                a_range, b_range = [i - 1, i - 1], [j - 1, j - 1]
            i -= 1
            j -= 1
            continue
        if table(i - 1, j) > table(i, j - 1):
            if over_b:
                i -= 1
            else:
                # Up a column of b: it goes on while column j has no step and no match
                # (the condition that chose "up" then still holds), so jump to the next one.
                i = max(a.rfind(b[j - 1], 0, i - 1) + 1, last_step_below(j, i - 1) + 1)
        elif over_b:
            # Left along row i: where row i has no step, "up" can never win; stop at the
            # next step of row i or the next match instead of walking every position.
            j = max(b.rfind(a[i - 1], 0, j - 1) + 1, last_step_below(i, j - 1) + 1)
        else:
            j -= 1
        if a_range is not None:
            emit()
            a_range = b_range = None
    emit()
    return bytes(out), matches, total
