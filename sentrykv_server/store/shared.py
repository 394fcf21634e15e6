"""Shared small values: one ``bytes`` object for every key (or hash field) holding the same short value.

Why: a string value of a few bytes costs a whole 48-byte ``bytes`` object per
key, more than the key's dict entry; stored a million times (flags, small
counters, status words, ``abc`` in a benchmark) that is the biggest share of
the memory per key.  Redis shares the integers 0..9999 for the same reason
(OBJ_SHARED_INTEGERS); a Python ``bytes`` is immutable, so any short value
can be shared safely, and the per-key LRU/LFU field lives in the keyspace,
not in the object, so sharing loses nothing Redis keeps.

A value becomes shared on its *second* store: the first one only makes it a
candidate (a small table cleared when full), so values stored once (ids,
timestamps, random tokens) never take a slot, and the slots go to values that
repeat.  The shared table is bounded (:data:`SHARED_LIMIT` values of at most
:data:`SHARED_MAX_LEN` bytes) and append-only.  Never removing an entry is what
keeps the memory accounting exact: whether a stored value *is* the shared
object (:func:`is_shared`, an identity test) cannot change while it is stored,
so the bytes added for a value when it is stored are the bytes taken away when
it goes (store/keyspace.py, store/memory.py).  For the same reason the object
that becomes shared is a fresh copy that no key holds yet: the keys that
stored the value before keep their own objects and their own accounting.  Both tables (at most a few
hundred KB) are counted in the keyspace overhead (:func:`table_bytes`).
"""

from __future__ import annotations

import sys
from typing import Final

# Values up to this length are worth sharing: beyond it the object's header no longer
# dominates its cost, and hashing a long value on every write would cost time.
SHARED_MAX_LEN: Final = 16
# Distinct values kept: bounds the table (~90 bytes each) whatever the workload stores.
SHARED_LIMIT: Final = 4096

# Candidates seen once, cleared when this many are waiting.
CANDIDATE_LIMIT: Final = 1024

# value -> its shared object; writers look it up directly before calling share().
SHARED: Final[dict[bytes, bytes]] = {}
_candidates: dict[bytes, bytes] = {}
_objects = 0  # bytes of the shared objects themselves


def share(value: bytes) -> bytes:
    """The shared object equal to ``value`` when there is one (or ``value`` becomes it), else ``value``."""
    n = len(value)
    if n > SHARED_MAX_LEN or n <= 1:  # CPython shares b"" and the 1-byte values itself
        return value
    found = SHARED.get(value)
    if found is not None:
        return found
    return admit(value)


def admit(value: bytes) -> bytes:
    """``value`` (2..SHARED_MAX_LEN bytes, not shared yet) was stored: note it as a candidate,
    or, the second time, return a new shared object equal to it (callers checked the rest)."""
    global _objects
    if len(SHARED) >= SHARED_LIMIT:
        return value
    first = _candidates.setdefault(value, value)
    if first is value:  # the first store (or the same object again)
        if len(_candidates) > CANDIDATE_LIMIT:
            _candidates.clear()
        return value
    # The second store: a fresh object, so no key already holds (and accounted) the shared one.
    del _candidates[value]
    fresh = bytes(bytearray(value))
    SHARED[fresh] = fresh
    _objects += (len(fresh) + 48) & -16
    return fresh


def share_values(value: object) -> None:
    """Share the short values of a hash loaded from disk (recovery fills the dicts directly)."""
    if isinstance(value, dict):
        for field, item in value.items():
            if type(item) is bytes and len(item) <= SHARED_MAX_LEN:
                found = share(item)
                if found is not item:
                    value[field] = found


def is_shared(value: bytes) -> bool:
    """True when ``value`` is the table's own object (its bytes are not the key's to count)."""
    n = len(value)
    # CPython's own singletons: the empty and every 1-byte bytes object (a rule by length,
    # so it cannot change while a value is stored).
    return n <= 1 or (n <= SHARED_MAX_LEN and SHARED.get(value) is value)


def table_bytes() -> int:
    """What the tables cost: their hash tables and the shared objects (candidates are
    counted by the keys holding them)."""
    if not SHARED and not _candidates:
        return 0
    return sys.getsizeof(SHARED) + _objects + sys.getsizeof(_candidates)


def count() -> int:
    return len(SHARED)
