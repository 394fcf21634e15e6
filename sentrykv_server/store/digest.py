"""DEBUG DIGEST: one hash of the whole dataset, independent of insertion order.

Like Redis's debug.c, each key contributes SHA1(db, key, type, canonical
value, expiry) and the contributions are XOR-ed, so two servers holding the
same data report the same digest however they got there.  Tests compare
digests before a crash and after recovery.
"""

from __future__ import annotations

import hashlib
from typing import Any

from sentrykv_server.store.keyspace import Keyspace
from sentrykv_server.store.types import TYPES


def value_digest(value: Any) -> bytes:
    vt = TYPES[type(value)]
    return hashlib.sha1(vt.name.encode() + b"\0" + vt.canonical(value)).digest()


def key_digest(db_index: int, key: bytes, value: Any, expire: int | None) -> int:
    h = hashlib.sha1()
    h.update(b"%d\0" % db_index)
    h.update(b"%d:" % len(key) + key)
    h.update(value_digest(value))
    if expire is not None:
        h.update(b"!%d" % expire)
    return int.from_bytes(h.digest(), "big")


def dataset_digest(keyspace: Keyspace) -> str:
    """40 hex digits; all zeros for an empty dataset, as in Redis."""
    acc = 0
    for db in keyspace.dbs:
        expires = db.expires
        for key in db.live_keys():
            acc ^= key_digest(db.id, key, db.data[key], expires.get(key))
    return "%040x" % acc


def canonical_items(pairs: list[tuple[bytes, bytes]]) -> bytes:
    """Helper for containers: sorted, length-prefixed pairs."""
    return b"".join(b"%d:%s%d:%s" % (len(a), a, len(b), b) for a, b in sorted(pairs))


def canonical_members(members: list[bytes]) -> bytes:
    return b"".join(b"%d:%s" % (len(m), m) for m in sorted(members))
