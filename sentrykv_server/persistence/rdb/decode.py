"""RDB objects -> SentryKV values (Redis's rdbLoadObject), for RESTORE and file import.

Every reader takes a source (``source.py``) positioned after the type byte
and returns the value as the keyspace holds it: ``bytes``, ``Hash``,
``QuickList``, ``RedisSet`` or ``ZSet``, with the ``big`` encoding flag set
as Redis 7.0 sets it after a load (thresholds from :class:`Limits`).  Older
encodings (ziplists, zipmaps, linked lists, text scores) are converted like
Redis converts them.

Validation is always deep (Redis's ``sanitize-dump-payload yes``): a listpack,
ziplist or intset is parsed entirely, duplicates in a hash, set or sorted set
are refused, a NaN score is refused; Redis with its default (``no``) skips
some of these checks and may crash later on such data, SentryKV refuses it
with "Bad data format".  An empty container raises :class:`EmptyKey`: RESTORE
refuses it, a file import skips it (both as Redis does).

Readers are looked up in :data:`READERS` by RDB type, so a new value type
(streams: ``stream.py``) plugs in with :func:`register_reader`.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from sentrykv_server.persistence.rdb import constants as C
from sentrykv_server.persistence.rdb import legacy, listpack, lzf
from sentrykv_server.persistence.rdb.constants import RdbError
from sentrykv_server.store.hashes import Hash
from sentrykv_server.store.lists import QuickList
from sentrykv_server.store.sets import RedisSet, is_int
from sentrykv_server.store.zset import ZSet

_BE32 = struct.Struct(">I")
_BE64 = struct.Struct(">Q")
_DOUBLE = struct.Struct("<d")


class Source(Protocol):
    def read(self, n: int) -> bytes: ...
    def byte(self) -> int: ...
    def left(self) -> int: ...
    def offset(self) -> int: ...


class EmptyKey(RdbError):
    """A container with no elements (Redis refuses it in RESTORE, skips it in a file)."""


class Unsupported(RdbError):
    """Valid RDB data SentryKV cannot hold (module types)."""


@dataclass(frozen=True)
class Limits:
    """The encoding thresholds that decide listpack/intset versus hashtable/skiplist."""

    hash_entries: int = 512
    hash_value: int = 64
    zset_entries: int = 128
    zset_value: int = 64
    intset_entries: int = 512
    list_fill: int = -2  # list-max-listpack-size (used when encoding)
    compression: bool = True  # rdbcompression (used when encoding)

    @classmethod
    def from_config(cls, config: Any) -> Limits:
        def num(name: str, default: int) -> int:
            try:
                return int(config.get(name))
            except (KeyError, ValueError, TypeError):
                return default

        try:
            compression = str(config.get("rdbcompression")).lower() not in ("no", "false", "0")
        except KeyError:
            compression = True
        return cls(
            num("hash-max-listpack-entries", 512), num("hash-max-listpack-value", 64),
            num("zset-max-listpack-entries", 128), num("zset-max-listpack-value", 64),
            num("set-max-intset-entries", 512), num("list-max-listpack-size", -2), compression,
        )


# -- primitives ------------------------------------------------------------------------------
def read_len(src: Source) -> int:
    """A plain length (an encoded-string marker here is an error)."""
    value, encoded = read_len_enc(src)
    if encoded:
        raise RdbError("a special string encoding where a length was expected")
    return value


def read_len_enc(src: Source) -> tuple[int, bool]:
    """A length, or (encoding number, True) for the special string encodings."""
    b = src.byte()
    kind = b >> 6
    if kind == 0:
        return b & 0x3F, False
    if kind == 1:
        return ((b & 0x3F) << 8) | src.byte(), False
    if kind == 3:
        return b & 0x3F, True
    if b == C.LEN_32BIT:
        return _BE32.unpack(src.read(4))[0], False
    if b == C.LEN_64BIT:
        return _BE64.unpack(src.read(8))[0], False
    raise RdbError(f"unknown length encoding {b:#x}")


def read_string(src: Source) -> bytes:
    """A string: raw, an 8/16/32-bit integer, or LZF-compressed."""
    length, encoded = read_len_enc(src)
    if not encoded:
        if length > src.left():
            raise RdbError(f"string of {length} bytes, {src.left()} left")
        return src.read(length)
    if length == C.ENC_INT8:
        return b"%d" % int.from_bytes(src.read(1), "little", signed=True)
    if length == C.ENC_INT16:
        return b"%d" % int.from_bytes(src.read(2), "little", signed=True)
    if length == C.ENC_INT32:
        return b"%d" % int.from_bytes(src.read(4), "little", signed=True)
    if length == C.ENC_LZF:
        clen = read_len(src)
        ulen = read_len(src)
        if clen > src.left():
            raise RdbError(f"compressed string of {clen} bytes, {src.left()} left")
        try:
            return lzf.decompress(src.read(clen), ulen)
        except lzf.LzfError as exc:
            raise RdbError(f"LZF: {exc}") from None
    raise RdbError(f"unknown string encoding {length}")


def read_binary_double(src: Source) -> float:
    return float(_DOUBLE.unpack(src.read(8))[0])


def read_text_double(src: Source) -> float:
    """The pre-3.0 score format: a length byte (253 nan, 254 inf, 255 -inf) and text."""
    n = src.byte()
    if n == 253:
        return math.nan
    if n == 254:
        return math.inf
    if n == 255:
        return -math.inf
    return parse_score(src.read(n))


def parse_score(text: bytes) -> float:
    """A score stored as text (listpack/ziplist strings, old zsets); NaN and junk refused."""
    try:
        if not text or text[0] in b" \t\r\n" or text[-1] in b" \t\r\n" or b"_" in text:
            raise ValueError
        score = float(text)
    except ValueError:
        raise RdbError(f"sorted set score {text[:40]!r} is not a number") from None
    if score != score:
        raise RdbError("sorted set score is NaN")
    return score


# -- value readers ---------------------------------------------------------------------------
Reader = Callable[[Source, Limits], Any]
READERS: dict[int, Reader] = {}


def register_reader(*rdb_types: int) -> Callable[[Reader], Reader]:
    def deco(fn: Reader) -> Reader:
        for t in rdb_types:
            READERS[t] = fn
        return fn

    return deco


def read_object(src: Source, rdb_type: int, limits: Limits) -> Any:
    """One value of the given RDB type (RdbError / EmptyKey / Unsupported on failure)."""
    reader = READERS.get(rdb_type)
    if reader is None:
        raise RdbError(f"unknown object type {rdb_type}")
    return reader(src, limits)


def _count(src: Source, per_item: int = 1) -> int:
    """A container's element count, refused when even one byte each would not fit."""
    n = read_len(src)
    if n == 0:
        raise EmptyKey("empty container")
    if n * per_item > src.left():
        raise RdbError(f"{n} elements declared, {src.left()} bytes left")
    return n


@register_reader(C.TYPE_STRING)
def _string(src: Source, limits: Limits) -> bytes:
    return read_string(src)


# -- lists -----------------------------------------------------------------------------------
@register_reader(C.TYPE_LIST)
def _list_linked(src: Source, limits: Limits) -> QuickList:
    n = _count(src)
    return QuickList(read_string(src) for _ in range(n))


@register_reader(C.TYPE_LIST_ZIPLIST)
def _list_ziplist(src: Source, limits: Limits) -> QuickList:
    items = legacy.decode_ziplist(read_string(src))
    if not items:
        raise EmptyKey("empty list")
    return QuickList(items)


def _quicklist(version: int) -> Reader:
    """Quicklist nodes: ziplists (version 1, Redis 3.2-6.2) or tagged listpacks (7.0)."""

    def read(src: Source, limits: Limits) -> QuickList:
        nodes = _count(src, 2)
        out = QuickList()
        for _ in range(nodes):
            if version == 2:
                container = read_len(src)
                if container == C.QUICKLIST_NODE_PLAIN:
                    out.append(read_string(src))
                    continue
                if container != C.QUICKLIST_NODE_PACKED:
                    raise RdbError(f"quicklist node with unknown container {container}")
                out.extend(listpack.decode(read_string(src)))
            else:
                out.extend(legacy.decode_ziplist(read_string(src)))
        if not out:
            raise EmptyKey("empty list")
        return out

    return read


READERS[C.TYPE_LIST_QUICKLIST] = _quicklist(1)
READERS[C.TYPE_LIST_QUICKLIST_2] = _quicklist(2)


# -- sets ------------------------------------------------------------------------------------
@register_reader(C.TYPE_SET)
def _set(src: Source, limits: Limits) -> RedisSet:
    n = _count(src)
    s = RedisSet()
    add = s.add
    for _ in range(n):
        add(read_string(src))
    if len(s) != n:
        raise RdbError("duplicate set members")
    s.big = n > limits.intset_entries or not all(map(is_int, s))
    return s


@register_reader(C.TYPE_SET_INTSET)
def _set_intset(src: Source, limits: Limits) -> RedisSet:
    values = legacy.decode_intset(read_string(src))
    if not values:
        raise EmptyKey("empty set")
    s = RedisSet(b"%d" % v for v in values)
    s.big = len(s) > limits.intset_entries
    return s


# -- hashes ----------------------------------------------------------------------------------
def _hash_from_pairs(pairs: list[bytes], limits: Limits, check_values: bool) -> Hash:
    if len(pairs) % 2:
        raise RdbError("hash encoding with an odd number of elements")
    if not pairs:
        raise EmptyKey("empty hash")
    it = iter(pairs)
    h = Hash(zip(it, it, strict=True))
    if 2 * len(h) != len(pairs):
        raise RdbError("duplicate hash fields")
    h.big = len(h) > limits.hash_entries or (
        check_values and max(map(len, pairs)) > limits.hash_value
    )
    return h


@register_reader(C.TYPE_HASH)
def _hash(src: Source, limits: Limits) -> Hash:
    n = _count(src, 2)
    flat = []
    for _ in range(2 * n):
        flat.append(read_string(src))
    return _hash_from_pairs(flat, limits, True)


@register_reader(C.TYPE_HASH_ZIPMAP)
def _hash_zipmap(src: Source, limits: Limits) -> Hash:
    pairs = legacy.decode_zipmap(read_string(src))
    flat = [x for pair in pairs for x in pair]
    return _hash_from_pairs(flat, limits, True)


@register_reader(C.TYPE_HASH_ZIPLIST)
def _hash_ziplist(src: Source, limits: Limits) -> Hash:
    return _hash_from_pairs(legacy.decode_ziplist(read_string(src)), limits, False)


@register_reader(C.TYPE_HASH_LISTPACK)
def _hash_listpack(src: Source, limits: Limits) -> Hash:
    return _hash_from_pairs(listpack.decode(read_string(src)), limits, False)


# -- sorted sets -----------------------------------------------------------------------------
def _zset(pairs: list[tuple[bytes, float]], big: bool) -> ZSet:
    from sortedcontainers import SortedList

    z = ZSet()
    z.scores = dict(pairs)
    if len(z.scores) != len(pairs):
        raise RdbError("duplicate sorted set members")
    z.order = SortedList((score, member) for member, score in pairs)
    z.big = big
    return z


def _zset_scored(binary: bool) -> Reader:
    def read(src: Source, limits: Limits) -> ZSet:
        n = _count(src, 2)
        read_score = read_binary_double if binary else read_text_double
        pairs = []
        longest = 0
        for _ in range(n):
            member = read_string(src)
            score = read_score(src)
            if score != score:
                raise RdbError("sorted set score is NaN")
            if len(member) > longest:
                longest = len(member)
            pairs.append((member, score))
        big = not (n <= limits.zset_entries and longest <= limits.zset_value)
        if not big:  # a listpack stores integral scores as integers: -0 becomes 0
            pairs = [(m, 0.0) if s == 0.0 else (m, s) for m, s in pairs]
        return _zset(pairs, big)

    return read


READERS[C.TYPE_ZSET] = _zset_scored(False)
READERS[C.TYPE_ZSET_2] = _zset_scored(True)


def _zset_packed(decode: Callable[[bytes], list[bytes]]) -> Reader:
    def read(src: Source, limits: Limits) -> ZSet:
        flat = decode(read_string(src))
        if len(flat) % 2:
            raise RdbError("sorted set encoding with an odd number of elements")
        if not flat:
            raise EmptyKey("empty sorted set")
        pairs = [(flat[i], parse_score(flat[i + 1])) for i in range(0, len(flat), 2)]
        return _zset(pairs, len(pairs) > limits.zset_entries)

    return read


READERS[C.TYPE_ZSET_ZIPLIST] = _zset_packed(legacy.decode_ziplist)
READERS[C.TYPE_ZSET_LISTPACK] = _zset_packed(listpack.decode)


# -- modules ---------------------------------------------------------------------------------
@register_reader(C.TYPE_MODULE_PRE_GA, C.TYPE_MODULE_2)
def _module(src: Source, limits: Limits) -> Any:
    module_id = read_len(src)
    raise Unsupported(f"a value of module type {C.module_type_name(module_id)}: SentryKV has no modules")

# Streams: stream.py registers the readers of types 15 and 19 (imported by the package).
