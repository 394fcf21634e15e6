"""What values and keys cost in bytes: the model behind ``used_memory`` (see docs/memory.md).

Redis asks its allocator; a Python server cannot ask pymalloc per object, so
SentryKV models each object it stores from ``sys.getsizeof`` (the bytes the
object asks the allocator for) rounded the way the allocators round:

* requests up to 512 bytes come from pymalloc in 16-byte size classes;
* larger ones go to glibc malloc: 8 bytes of chunk header, 16-byte steps.

A string value or a key is one ``bytes`` object: ``getsizeof`` is 33 + len.
A container is its Python structure (``getsizeof`` of the dict / set / deque
and the sorted index, which includes the hash table) plus its elements, each
costed the same way.  Big containers are *sampled* like Redis's
``objectComputeSize``: the first ``samples`` elements are costed and the
average is scaled to the element count (``samples == 0`` costs them all).

Each value type registers its size function in :mod:`sentrykv_server.store.types`
(``register(..., size=fn)``); ``fn(value, samples) -> bytes``.  The per-type
figures were calibrated against tracemalloc; the measured error is in
docs/memory.md and ``scripts/calibrate_memory.py`` reproduces it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from typing import Any

from sentrykv_server.store.shared import is_shared

getsizeof = sys.getsizeof

SMALL_REQUEST = 512
# One bytes object as the keyspace accounts it: the 33-byte header plus the 8 bytes
# the 16-byte size classes add on average (a string's length is added to it).
BYTES_OBJECT = 41
# A float object (a sorted-set score) and a 2-tuple (score, member) of the sorted index.
FLOAT_COST = 32
PAIR_COST = 64
# An int object above the small-int cache (TTL deadlines, LFU fields): 28 bytes asked, 32 used.
INT_COST = 32
# Containers with at most this many elements are costed exactly whatever ``samples`` says
# (Redis's listpack and intset encodings are measured exactly too).
EXACT_LIMIT = 128


def alloc(n: int) -> int:
    """Bytes the allocator really hands out for a request of ``n`` bytes."""
    if n <= SMALL_REQUEST:
        return (n + 15) & -16
    return (n + 23) & -16


def bytes_cost(b: bytes) -> int:
    """One ``bytes`` object (a key, a string value, a field or member): 33 + len, rounded."""
    return (len(b) + 48) & -16


def scaled(count: int, items: Iterator[Any], samples: int, cost: Callable[[Any], int]) -> int:
    """Σ cost over ``count`` items, from the first ``samples`` of them when that is fewer.

    ``samples == 0`` (MEMORY USAGE ... SAMPLES 0) and containers of at most
    :data:`EXACT_LIMIT` elements are costed exactly.
    """
    if count == 0:
        return 0
    if samples == 0 or count <= max(samples, EXACT_LIMIT):
        return sum(map(cost, items))
    total = 0
    seen = 0
    for item in islice(items, samples):
        total += cost(item)
        seen += 1
    return total * count // seen if seen else 0


def _pair_cost(pair: tuple[bytes, bytes]) -> int:
    # A hash's field and value objects; a shared value (store/shared.py) is not the hash's.
    value = pair[1]
    return ((len(pair[0]) + 48) & -16) + (0 if is_shared(value) else (len(value) + 48) & -16)


def string_size(value: bytes, samples: int = 0) -> int:
    return (len(value) + 48) & -16


def hash_size(h: dict[bytes, bytes], samples: int) -> int:
    """The dict (object + table) plus every field and value object."""
    return alloc(getsizeof(h)) + scaled(len(h), iter(h.items()), samples, _pair_cost)


def set_size(s: set[bytes], samples: int) -> int:
    """The set (object + table) plus every member object."""
    return alloc(getsizeof(s)) + scaled(len(s), iter(s), samples, bytes_cost)


def list_size(lst: Iterable[bytes], samples: int) -> int:
    """The deque (object + its 64-slot blocks) plus every element object."""
    return alloc(getsizeof(lst)) + scaled(len(lst), iter(lst), samples, bytes_cost)  # type: ignore[arg-type]


def _member_cost(member: bytes) -> int:
    # The member bytes (shared by the dict key and the index tuple), its score float,
    # the (score, member) tuple and its slot in one of the sorted index's sublists.
    return ((len(member) + 48) & -16) + FLOAT_COST + PAIR_COST + 8


def zset_size(z: Any, samples: int) -> int:
    """ZSet: its object, the member -> score dict and the SortedList of (score, member)."""
    order = z.order
    n = len(z.scores)
    # SortedList: its object, the sublist list, the maxes and index lists, one list object
    # per sublist (about 1000 slots each; the slots are counted per member below).
    sublists = len(order._lists)
    structure = (alloc(getsizeof(z)) + alloc(getsizeof(z.scores)) + alloc(getsizeof(order))
                 + 2 * alloc(getsizeof(order._lists)) + alloc(getsizeof(order._index))
                 + sublists * 64)
    return structure + scaled(n, iter(z.scores), samples, _member_cost)


def generic_size(value: Any, samples: int) -> int:
    """For a type registered without its own size function: the object and, if it is a
    sized iterable, its elements by ``getsizeof`` (sampled).  Register a real one."""
    size = alloc(getsizeof(value))
    try:
        count = len(value)
        items = iter(value)
    except TypeError:
        return size
    return size + scaled(count, items, samples, lambda item: alloc(getsizeof(item)))


def human(n: float) -> str:
    """Redis's bytesToHuman: 1.20M, 23.54G, 975B."""
    for unit in ("B", "K", "M", "G", "T", "P"):
        if abs(n) < 1024 or unit == "P":
            return f"{int(n)}B" if unit == "B" else f"{n:.2f}{unit}"
        n /= 1024
    return str(n)  # pragma: no cover
