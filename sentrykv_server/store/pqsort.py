"""Redis's partial quicksort (pqsort.c): sort only the ranks a LIMIT / COUNT will return.

SORT ... LIMIT and GEOSEARCH ... COUNT sort their candidates with this algorithm
(Bentley & McIlroy's three-way quicksort, recursing only into partitions that
overlap the wanted ranks).  It is not stable, so elements that compare equal
come out in an order that depends on every pivot choice and swap; reproducing
the algorithm step by step is what makes those ties come out as Redis's do.
This is Redis 7.0's version: later releases added a switch to insertion sort
when a partition pass swaps nothing, which changes the order of ties.
Full sorts use the C library's qsort, which glibc implements as a stable merge
sort: Python's ``sorted`` gives the same order.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Compare = Callable[[Any, Any], int]


def _med3(a: list[Any], i: int, j: int, k: int, cmp: Compare) -> int:
    if cmp(a[i], a[j]) < 0:
        if cmp(a[j], a[k]) < 0:
            return j
        return k if cmp(a[i], a[k]) < 0 else i
    if cmp(a[j], a[k]) > 0:
        return j
    return i if cmp(a[i], a[k]) < 0 else k


def _insertion(a: list[Any], base: int, n: int, cmp: Compare) -> None:
    for m in range(base + 1, base + n):
        p = m
        while p > base and cmp(a[p - 1], a[p]) > 0:
            a[p - 1], a[p] = a[p], a[p - 1]
            p -= 1


def _vecswap(a: list[Any], i: int, j: int, n: int) -> None:
    for k in range(n):
        a[i + k], a[j + k] = a[j + k], a[i + k]


def pqsort(a: list[Any], cmp: Compare, lrange: int, rrange: int) -> None:
    """Sort ``a`` in place so that positions lrange..rrange hold what a full sort puts there."""
    _pqsort(a, 0, len(a), cmp, lrange, rrange)


def _pqsort(a: list[Any], base: int, n: int, cmp: Compare, lrange: int, rrange: int) -> None:
    while True:
        if n < 7:
            _insertion(a, base, n, cmp)
            return
        pm = base + n // 2
        if n > 7:
            pl, pn = base, base + n - 1
            if n > 40:
                d = n // 8
                pl = _med3(a, pl, pl + d, pl + 2 * d, cmp)
                pm = _med3(a, pm - d, pm, pm + d, cmp)
                pn = _med3(a, pn - 2 * d, pn - d, pn, cmp)
            pm = _med3(a, pl, pm, pn, cmp)
        a[base], a[pm] = a[pm], a[base]
        pa = pb = base + 1
        pc = pd = base + n - 1
        while True:
            while pb <= pc:
                r = cmp(a[pb], a[base])
                if r > 0:
                    break
                if r == 0:
                    a[pa], a[pb] = a[pb], a[pa]
                    pa += 1
                pb += 1
            while pb <= pc:
                r = cmp(a[pc], a[base])
                if r < 0:
                    break
                if r == 0:
                    a[pc], a[pd] = a[pd], a[pc]
                    pd -= 1
                pc -= 1
            if pb > pc:
                break
            a[pb], a[pc] = a[pc], a[pb]
            pb += 1
            pc -= 1
        pn = base + n
        r = min(pa - base, pb - pa)
        _vecswap(a, base, pb - r, r)
        r = min(pd - pc, pn - pd - 1)
        _vecswap(a, pb, pn - r, r)
        r = pb - pa
        if r > 1 and not _outside(base, r, lrange, rrange):
            _pqsort(a, base, r, cmp, lrange, rrange)
        r = pd - pc
        if r > 1:
            base, n = pn - r, r
            if not _outside(base, n, lrange, rrange):
                continue
        return


def _outside(base: int, n: int, lrange: int, rrange: int) -> bool:
    """Redis's test that a partition lies wholly left or right of the wanted ranks
    (the address comparisons of pqsort.c, in element units)."""
    return (lrange < base and rrange < base) or (lrange >= base + n and rrange >= base + n)
