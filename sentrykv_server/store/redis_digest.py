"""DEBUG DIGEST and DEBUG DIGEST-VALUE with Redis 7.0's exact algorithm (debug.c).

Redis builds each key's digest from SHA1 "mix" (xor the SHA1 of the data in, then hash
the 20 bytes again: order matters) and "xor" (order does not) steps: the key, the type
as a 32-bit big-endian integer, then per type: a string mixed; list elements mixed in
order; set members xored; hash fields and zset members each digested as (field, value)
or (member, score printed with ``%.17g``) and xored in.  A key with a TTL xors in the
literal ``!!expire!!`` (the time itself is left out, so replicas agree).  The dataset
digest mixes in each non-empty database's index and xors every key's digest.

Matching it lets a differential test compare SentryKV's whole state with redis-server's
in one command.  store/digest.py keeps SentryKV's stricter digest (it includes expiry
times) for the crash and replay tests.  A type without an entry in :data:`DIGESTERS`
(a family added later) is digested by mixing its canonical bytes until it gets one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from sentrykv_server.store.keyspace import Keyspace
from sentrykv_server.store.stream import blob_pairs
from sentrykv_server.store.types import TYPES

_sha1 = hashlib.sha1
_ZERO = bytes(20)
# Redis's OBJ_* type codes.
TYPE_CODES = {"string": 0, "list": 1, "set": 2, "zset": 3, "hash": 4, "module": 5, "stream": 6}


def xor_in(digest: bytes, data: bytes) -> bytes:
    h = _sha1(data).digest()
    return (int.from_bytes(digest, "big") ^ int.from_bytes(h, "big")).to_bytes(20, "big")


def mix_in(digest: bytes, data: bytes) -> bytes:
    return _sha1(xor_in(digest, data)).digest()


def _pair(a: bytes, b: bytes) -> bytes:
    return mix_in(mix_in(_ZERO, a), b)


def _string(d: bytes, value: bytes) -> bytes:
    return mix_in(d, value)


def _list(d: bytes, value: Any) -> bytes:
    for element in value:
        d = mix_in(d, element)
    return d


def _set(d: bytes, value: Any) -> bytes:
    acc = int.from_bytes(d, "big")
    for member in value:
        acc ^= int.from_bytes(_sha1(member).digest(), "big")
    return acc.to_bytes(20, "big")


def _xor_pairs(d: bytes, pairs: Any) -> bytes:
    acc = int.from_bytes(d, "big")
    for a, b in pairs:
        acc ^= int.from_bytes(_sha1(_pair(a, b)).digest(), "big")
    return acc.to_bytes(20, "big")


def _hash(d: bytes, value: Any) -> bytes:
    return _xor_pairs(d, value.items())


def _score(score: float) -> bytes:
    return b"%.17g" % score


def _zset(d: bytes, value: Any) -> bytes:
    return _xor_pairs(d, ((member, _score(score)) for member, score in value.scores.items()))


def _stream(d: bytes, value: Any) -> bytes:
    """Live entries in ID order: ``<ms>.<seq>`` then every field and value, all mixed.
    Consumer groups are not part of Redis's digest (XREADGROUP leaves it unchanged)."""
    for packed, blob in value.entries():
        d = mix_in(d, b"%d.%d" % (packed >> 64, packed & 0xFFFFFFFFFFFFFFFF))
        for item in blob_pairs(blob):
            d = mix_in(d, item)
    return d


DIGESTERS: dict[str, Callable[[bytes, Any], bytes]] = {
    "string": _string, "list": _list, "set": _set, "hash": _hash, "zset": _zset, "stream": _stream,
}


def object_digest(digest: bytes, value: Any, has_expire: bool) -> bytes:
    """Redis's xorObjectDigest: the type, the value, and the expire marker into ``digest``."""
    vt = TYPES[type(value)]
    digest = mix_in(digest, TYPE_CODES.get(vt.name, 7).to_bytes(4, "big"))
    digester = DIGESTERS.get(vt.name)
    digest = digester(digest, value) if digester is not None else mix_in(digest, vt.canonical(value))
    if has_expire:
        digest = xor_in(digest, b"!!expire!!")
    return digest


def value_digest_hex(value: Any, has_expire: bool) -> str:
    """DEBUG DIGEST-VALUE for one key (no key name mixed in, as Redis)."""
    return object_digest(_ZERO, value, has_expire).hex()


def dataset_digest_hex(keyspace: Keyspace) -> str:
    """DEBUG DIGEST: 40 zeros for an empty dataset."""
    final = _ZERO
    for db in keyspace.dbs:
        # Every key of the dict, like Redis: one whose time passed but that nothing has
        # deleted yet (lazy expiry) still counts.
        keys = list(db.data)
        if not keys:
            continue
        final = mix_in(final, db.id.to_bytes(4, "big"))
        acc = int.from_bytes(final, "big")
        expires = db.expires
        data = db.data
        for key in keys:
            d = object_digest(mix_in(_ZERO, key), data[key], key in expires)
            acc ^= int.from_bytes(_sha1(d).digest(), "big")  # xorDigest hashes what it xors
        final = acc.to_bytes(20, "big")
    return final.hex()
