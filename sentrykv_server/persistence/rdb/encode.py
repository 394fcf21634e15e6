"""SentryKV values -> RDB objects (Redis's rdbSaveObject), for DUMP, MIGRATE and file export.

Each value is written in the encoding Redis 7.0 itself would write for it:

* strings: an 8/16/32-bit integer when the text is one (up to 11 bytes),
  LZF when longer than 20 bytes and it saves more than 4, raw otherwise;
* hashes: a listpack (type 16) while ``big`` is unset, else field/value pairs (4);
* sets: an intset (11) while unset, else members (2);
* sorted sets: a listpack (17) in score order, else members with binary
  double scores (5) from the highest to the lowest, as Redis walks its skiplist;
* lists: a quicklist of listpack nodes (18), cut into nodes by the same
  size rule (``list-max-listpack-size``) Redis applies when pushing at the tail.

So a DUMP of the same contents is byte-identical to Redis's wherever Redis's
own output does not depend on hash table order (strings, intsets, listpack
hashes and sorted sets, skiplists, lists built by pushes).  New value types
register an encoder with :func:`register_encoder`.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

from sentrykv_server.persistence.rdb import constants as C
from sentrykv_server.persistence.rdb import legacy, listpack, lzf
from sentrykv_server.persistence.rdb.decode import Limits
from sentrykv_server.store.hashes import Hash
from sentrykv_server.store.lists import QuickList
from sentrykv_server.store.sets import RedisSet, members
from sentrykv_server.store.zset import ZSet

_BE32 = struct.Struct(">I")
_BE64 = struct.Struct(">Q")
_DOUBLE = struct.Struct("<d")
_LEN6 = [bytes((n,)) for n in range(64)]
# Beyond this a string is stored uncompressed: the pure-Python LZF costs ~1 us a byte
# on the event loop; a 64 KiB value (the largest listpack Redis makes by default is
# smaller) costs at most tens of milliseconds.
LZF_MAX = 1 << 16


def encode_len(n: int) -> bytes:
    if n < 64:
        return _LEN6[n]
    if n < 16384:
        return bytes((0x40 | (n >> 8), n & 0xFF))
    if n <= 0xFFFFFFFF:
        return b"\x80" + _BE32.pack(n)
    return b"\x81" + _BE64.pack(n)


def _int_encoding(value: bytes) -> bytes | None:
    """rdbTryIntegerEncoding: the 8/16/32-bit form of a canonical decimal, if it has one."""
    number = listpack.as_int(value)
    if number is None:
        return None
    if -128 <= number <= 127:
        return bytes((0xC0,)) + number.to_bytes(1, "little", signed=True)
    if -32768 <= number <= 32767:
        return bytes((0xC1,)) + number.to_bytes(2, "little", signed=True)
    if -(1 << 31) <= number < (1 << 31):
        return bytes((0xC2,)) + number.to_bytes(4, "little", signed=True)
    return None


def encode_string(value: bytes, compress: bool = True) -> bytes:
    """rdbSaveRawString: integer form, LZF, or length + bytes."""
    n = len(value)
    if n <= 11:
        packed = _int_encoding(value)
        if packed is not None:
            return packed
    if compress and 20 < n <= LZF_MAX:
        packed = lzf.compress(value)
        if packed is not None:
            return b"\xc3" + encode_len(len(packed)) + encode_len(n) + packed
    return encode_len(n) + value


def encode_binary_double(value: float) -> bytes:
    return _DOUBLE.pack(value)


def zset_listpack_score(score: float) -> bytes | int:
    """How a listpack sorted set stores a score: an integer when integral (|s| <= 2**62),
    else Redis's %.17g text (inf and -inf spelled out)."""
    if score == score and -4611686018427387903.0 <= score <= 4611686018427387903.0:
        as_int = int(score)
        if as_int == score:
            return as_int
    if score == float("inf"):
        return b"inf"
    if score == float("-inf"):
        return b"-inf"
    return b"%.17g" % score


# -- per-type encoders -----------------------------------------------------------------------
Encoder = Callable[[Any, Limits], tuple[int, list[bytes]]]
ENCODERS: dict[type, Encoder] = {}


def register_encoder(cls: type) -> Callable[[Encoder], Encoder]:
    def deco(fn: Encoder) -> Encoder:
        ENCODERS[cls] = fn
        return fn

    return deco


def encode_value(value: Any, limits: Limits) -> tuple[int, bytes]:
    """(RDB type, object bytes) of one value."""
    if type(value) is bytes:
        return C.TYPE_STRING, encode_string(value, limits.compression)
    try:
        fn = ENCODERS[type(value)]
    except KeyError:
        raise TypeError(f"no RDB encoding for values of type {type(value).__name__}") from None
    rdb_type, parts = fn(value, limits)
    return rdb_type, b"".join(parts)


@register_encoder(Hash)
def _hash(h: Hash, limits: Limits) -> tuple[int, list[bytes]]:
    if not h.big:
        flat = [x for pair in h.items() for x in pair]
        return C.TYPE_HASH_LISTPACK, [encode_string(listpack.encode(flat), limits.compression)]
    parts = [encode_len(len(h))]
    for field, value in h.items():
        parts.append(encode_string(field, limits.compression))
        parts.append(encode_string(value, limits.compression))
    return C.TYPE_HASH, parts


@register_encoder(RedisSet)
def _set(s: RedisSet, limits: Limits) -> tuple[int, list[bytes]]:
    if not s.big:
        return C.TYPE_SET_INTSET, [encode_string(legacy.encode_intset(map(int, s)), limits.compression)]
    parts = [encode_len(len(s))]
    parts += [encode_string(m, limits.compression) for m in members(s)]
    return C.TYPE_SET, parts


@register_encoder(ZSet)
def _zset(z: ZSet, limits: Limits) -> tuple[int, list[bytes]]:
    if not z.big:
        flat: list[bytes | int] = []
        for score, member in z.order:
            flat.append(member)
            flat.append(zset_listpack_score(score))
        return C.TYPE_ZSET_LISTPACK, [encode_string(listpack.encode(flat), limits.compression)]
    parts = [encode_len(len(z))]
    for score, member in reversed(z.order):
        parts.append(encode_string(member, limits.compression))
        parts.append(_DOUBLE.pack(score))
    return C.TYPE_ZSET_2, parts


# quicklist.c: list-max-listpack-size -1..-5 is a node size limit of 4..64 KiB; a
# positive fill is an element count, within an 8 KiB safety limit.
_OPTIMIZATION_LEVEL = (4096, 8192, 16384, 32768, 65536)
SIZE_SAFETY_LIMIT = 8192
SIZE_ESTIMATE_OVERHEAD = 8  # quicklist.c's (over)estimate of an entry's listpack overhead
PLAIN_THRESHOLD = 1 << 30  # elements this large get a node of their own (PLAIN)


def _node_allows(node_bytes: int, node_count: int, elem_len: int, fill: int) -> bool:
    """_quicklistNodeAllowInsert: may an element of ``elem_len`` bytes join this node?"""
    if elem_len >= PLAIN_THRESHOLD:
        return False
    new_size = node_bytes + elem_len + SIZE_ESTIMATE_OVERHEAD
    if fill < 0:
        level = -fill - 1
        if level < len(_OPTIMIZATION_LEVEL) and new_size <= _OPTIMIZATION_LEVEL[level]:
            return True
    if new_size > SIZE_SAFETY_LIMIT:
        return False
    return node_count < fill


@register_encoder(QuickList)
def _list(lst: QuickList, limits: Limits) -> tuple[int, list[bytes]]:
    nodes: list[bytes] = []
    current: list[bytes] = []
    size = 0  # bytes of the listpack `current` would be
    fill = limits.list_fill

    def close() -> None:
        nonlocal current, size
        if current:
            nodes.append(encode_len(C.QUICKLIST_NODE_PACKED))
            nodes.append(encode_string(listpack.encode(current), limits.compression))
        current = []
        size = 0

    for elem in lst:
        if current and not _node_allows(size, len(current), len(elem), fill):
            close()
        if len(elem) >= PLAIN_THRESHOLD:
            close()
            nodes.append(encode_len(C.QUICKLIST_NODE_PLAIN))
            nodes.append(encode_string(elem, limits.compression))
            continue
        if not current:
            size = listpack.HEADER_SIZE + 1
        current.append(elem)
        size += listpack.encoded_size(elem)
    close()
    return C.TYPE_LIST_QUICKLIST_2, [encode_len(len(nodes) // 2), *nodes]
