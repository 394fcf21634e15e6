"""Value codecs of the snapshot format: how each container type is laid out in a value
section (see persistence/snapshot.py for the file around them).

Hash, list, set and sorted-set encodings are described in snapshot.py's module
doc; the stream encoding lives in snapshot_stream.py.  Decoding is bounds
checked (:class:`Blob`): damage the CRC missed raises ValueError, never reads
past the encoding.
"""

from __future__ import annotations

import struct
import sys
from array import array
from collections.abc import Callable
from itertools import accumulate, chain, islice
from operator import itemgetter
from typing import Any

U32 = struct.Struct("<I")
U64 = struct.Struct("<Q")

_BIG_ENDIAN = sys.byteorder == "big"
_FLAG = (b"\x00", b"\x01")


def le(a: array) -> bytes:  # type: ignore[type-arg,unused-ignore]
    if _BIG_ENDIAN:
        a.byteswap()
    return a.tobytes()


def from_le(code: str, buf: memoryview | bytes) -> array:  # type: ignore[type-arg,unused-ignore]
    a = array(code)
    a.frombytes(buf)
    if _BIG_ENDIAN:
        a.byteswap()
    return a


def slices(data: bytes, start: int, lens: Any) -> tuple[list[bytes], int]:
    """Cut ``data`` from ``start`` into pieces of the given lengths (all in C)."""
    offs = list(accumulate(lens, initial=start))
    return list(map(data.__getitem__, map(slice, offs, islice(offs, 1, None)))), offs[-1]


def _enc_hash(h: Any) -> bytes:
    items = list(chain.from_iterable(h.items()))
    parts = [_FLAG[bool(getattr(h, "big", False))], U64.pack(len(h)), le(array("I", map(len, items)))]
    parts += items
    return b"".join(parts)


def _enc_list(lst: Any) -> bytes:
    parts = [U64.pack(len(lst)), le(array("I", map(len, lst)))]
    parts += lst
    return b"".join(parts)


def _enc_set(s: Any) -> bytes:
    items = list(s)
    parts = [_FLAG[bool(getattr(s, "big", False))], U64.pack(len(items)), le(array("I", map(len, items)))]
    parts += items
    return b"".join(parts)


def _enc_zset(z: Any) -> bytes:
    order = list(z.order)
    members = list(map(itemgetter(1), order))
    parts = [
        _FLAG[bool(z.big)], U64.pack(len(members)), le(array("I", map(len, members))),
        le(array("d", map(itemgetter(0), order))),
    ]
    parts += members
    return b"".join(parts)


class Blob:
    """Bounds-checked reading of one container encoding (damage raises ValueError)."""

    __slots__ = ("data", "pos")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, n: int) -> memoryview:
        end = self.pos + n
        if n < 0 or end > len(self.data):
            raise ValueError("container encoding runs past its end")
        view = memoryview(self.data)[self.pos:end]
        self.pos = end
        return view

    def u8(self) -> int:
        return int(self.take(1)[0])

    def u32(self) -> int:
        return int(U32.unpack(self.take(4))[0])

    def u64(self) -> int:
        return int(U64.unpack(self.take(8))[0])

    def strs(self, n: int, to_end: bool = True) -> list[bytes]:
        """``n`` strings: their u32 lengths, then the strings; with ``to_end`` they must
        end exactly at the end of the encoding."""
        lens = from_le("I", self.take(4 * n))
        if to_end:
            return self.rest(lens)
        items, end = slices(self.data, self.pos, lens)
        if end > len(self.data):
            raise ValueError("container encoding runs past its end")
        self.pos = end
        return items

    def end(self) -> None:
        if self.pos != len(self.data):
            raise ValueError("container encoding has bytes after its end")

    def rest(self, lens: Any) -> list[bytes]:
        """Strings of the given lengths from here to exactly the end of the encoding."""
        items, end = slices(self.data, self.pos, lens)
        if end != len(self.data):
            raise ValueError("container lengths do not add up to its size")
        self.pos = end
        return items


def _dec_hash(cls: type, blob: bytes) -> Any:
    r = Blob(blob)
    flags = r.u8()
    n = r.u64()
    items = r.strs(2 * n)
    it = iter(items)
    h = cls(zip(it, it, strict=False))
    if len(h) != n:
        raise ValueError("duplicate hash fields")
    h.big = bool(flags & 1)
    return h


def _dec_list(cls: type, blob: bytes) -> Any:
    r = Blob(blob)
    n = r.u64()
    return cls(r.strs(n))


def _dec_set(cls: type, blob: bytes) -> Any:
    r = Blob(blob)
    flags = r.u8()
    n = r.u64()
    s = cls(r.strs(n))
    if len(s) != n:
        raise ValueError("duplicate set members")
    s.big = bool(flags & 1)
    return s


def _dec_zset(cls: type, blob: bytes) -> Any:
    from sortedcontainers import SortedList

    r = Blob(blob)
    flags = r.u8()
    n = r.u64()
    lens = from_le("I", r.take(4 * n))
    scores = from_le("d", r.take(8 * n))
    members = r.rest(lens)
    z = cls()
    z.scores = dict(zip(members, scores, strict=True))
    if len(z.scores) != n:
        raise ValueError("duplicate sorted-set members")
    z.order = SortedList(zip(scores, members, strict=True))
    z.big = bool(flags & 1)
    return z


ENCODE_FNS: dict[str, Callable[[Any], bytes]] = {
    "hash": _enc_hash, "list": _enc_list, "set": _enc_set, "zset": _enc_zset,
}
DECODE_FNS: dict[str, Callable[[type, bytes], Any]] = {
    "hash": _dec_hash, "list": _dec_list, "set": _dec_set, "zset": _dec_zset,
}
