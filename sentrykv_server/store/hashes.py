"""The hash value (Redis's t_hash object).

A plain dict holds the fields; the subclass adds ``big``, Redis's one-way
switch from the ``listpack`` to the ``hashtable`` encoding (more than
``hash-max-listpack-entries`` fields, or a field or value longer than
``hash-max-listpack-value``).  A dict keeps insertion order, updates in place
and appends new fields, which is exactly how a listpack hash orders HGETALL,
so small hashes even reply in the same order as Redis.
"""

from __future__ import annotations

from sentrykv_server.store import digest
from sentrykv_server.store.memory import hash_size
from sentrykv_server.store.types import register


class Hash(dict[bytes, bytes]):
    """field -> value, plus the encoding flag."""

    __slots__ = ("big",)

    def __init__(self, *args: object) -> None:
        super().__init__(*args)
        self.big = False

    def __reduce__(self) -> tuple[type, tuple[list[tuple[bytes, bytes]]], dict[str, bool]]:
        return Hash, (list(self.items()),), {"big": self.big}

    def __setstate__(self, state: dict[str, bool]) -> None:
        self.big = state["big"]


def copy_hash(h: Hash) -> Hash:
    out = Hash(h)
    out.big = h.big
    return out


register(
    Hash, "hash", copy_hash,
    lambda h: "hashtable" if h.big else "listpack",
    lambda h: digest.canonical_items(list(h.items())),
    hash_size,
)
