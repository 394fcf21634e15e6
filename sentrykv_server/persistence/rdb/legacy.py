"""Intsets, and the encodings older Redis versions wrote: ziplists and zipmaps.

Redis 7.0 still loads all of them (RDB files and DUMP payloads of Redis 2.x
to 6.2) and converts them on load; so does SentryKV.  Only intsets are
written (7.0 still saves small integer sets as one).  Every decoder checks
the whole structure (headers, sizes, each entry's bounds, a ziplist's
prevlen chain and tail offset, an intset's order) before trusting a byte:
damage raises :class:`~.constants.RdbError`.

* intset: encoding u32 (2, 4 or 8 bytes an integer), count u32, the integers
  little-endian in ascending order.
* ziplist: total bytes u32, offset of the last entry u32, count u16 (65535:
  count it), entries, 0xFF.  An entry is the previous entry's size (1 byte,
  or 0xFE + u32), an encoding (string lengths 6/14/32 bits, integers of
  8/16/24/32/64 bits, or 0..12 in the encoding byte itself), the data.
* zipmap: count u8 (254+: count it), then key length, key, value length, a
  "free" byte, value, that many unused bytes; 0xFF.  Lengths are one byte,
  or 0xFE + u32.
"""

from __future__ import annotations

import struct
from array import array
from collections.abc import Iterable

from sentrykv_server.persistence.rdb.constants import RdbError

_U16 = struct.Struct("<H")
_U32 = struct.Struct("<I")
_BE16 = struct.Struct(">H")
_BE32 = struct.Struct(">I")
_INTSET_CODES = {2: "h", 4: "i", 8: "q"}


# -- intset ----------------------------------------------------------------------------------
def encode_intset(values: Iterable[int]) -> bytes:
    """An intset of ``values`` in the narrowest width that holds them all, sorted."""
    ordered = sorted(values)
    lo = ordered[0] if ordered else 0
    hi = ordered[-1] if ordered else 0
    if -32768 <= lo and hi <= 32767:
        width = 2
    elif -(1 << 31) <= lo and hi < (1 << 31):
        width = 4
    else:
        width = 8
    body = array(_INTSET_CODES[width], ordered)
    if struct.pack("=H", 1) != _U16.pack(1):  # pragma: no cover - big-endian host
        body.byteswap()
    return _U32.pack(width) + _U32.pack(len(ordered)) + body.tobytes()


def decode_intset(blob: bytes) -> list[int]:
    if len(blob) < 8:
        raise RdbError("intset shorter than its header")
    width, count = struct.unpack_from("<II", blob, 0)
    code = _INTSET_CODES.get(width)
    if code is None:
        raise RdbError(f"intset with invalid encoding {width}")
    if 8 + count * width != len(blob):
        raise RdbError("intset size does not match its count")
    values = array(code)
    values.frombytes(blob[8:])
    if struct.pack("=H", 1) != _U16.pack(1):  # pragma: no cover - big-endian host
        values.byteswap()
    out = values.tolist()
    for i in range(1, len(out)):
        if out[i - 1] >= out[i]:
            raise RdbError("intset not in ascending order, or with a duplicate")
    return out


# -- ziplist ---------------------------------------------------------------------------------
def decode_ziplist(blob: bytes) -> list[bytes]:
    """Every entry of a ziplist, integers as decimal text."""
    data = bytes(blob)
    size = len(data)
    if size < 11:
        raise RdbError("ziplist shorter than its header")
    total, tail, count = struct.unpack_from("<IIH", data, 0)
    if total != size or data[-1] != 0xFF:
        raise RdbError("ziplist size header or terminator is wrong")
    end = size - 1
    if tail > end or (tail < 10):
        raise RdbError("ziplist tail offset out of range")
    out: list[bytes] = []
    pos = 10
    prev_size = 0
    last = 10
    while pos < end:
        start = pos
        b = data[pos]
        if b < 0xFE:
            prevlen, pos = b, pos + 1
        elif b == 0xFE:
            if pos + 5 > end:
                raise RdbError("ziplist entry past the end")
            prevlen, pos = _U32.unpack_from(data, pos + 1)[0], pos + 5
        else:
            raise RdbError("ziplist entry with an invalid previous length")
        if prevlen != prev_size:
            raise RdbError("ziplist entry whose previous length is wrong")
        if pos >= end:
            raise RdbError("ziplist entry past the end")
        enc = data[pos]
        kind = enc >> 6
        if kind == 0:
            pos, length = pos + 1, enc & 0x3F
        elif kind == 1:
            if pos + 2 > end:
                raise RdbError("ziplist entry past the end")
            length, pos = ((enc & 0x3F) << 8) | data[pos + 1], pos + 2
        elif kind == 2:
            if enc != 0x80 or pos + 5 > end:
                raise RdbError("ziplist entry with an invalid string encoding")
            length, pos = _BE32.unpack_from(data, pos + 1)[0], pos + 5
        else:
            length = -1
            pos += 1
            if enc == 0xC0:
                width = 2
            elif enc == 0xD0:
                width = 4
            elif enc == 0xE0:
                width = 8
            elif enc == 0xF0:
                width = 3
            elif enc == 0xFE:
                width = 1
            elif 0xF1 <= enc <= 0xFD:
                width = 0
                out.append(b"%d" % ((enc & 0x0F) - 1))
            else:
                raise RdbError(f"ziplist entry with invalid encoding {enc:#x}")
            if width:
                if pos + width > end:
                    raise RdbError("ziplist entry past the end")
                out.append(b"%d" % int.from_bytes(data[pos:pos + width], "little", signed=True))
                pos += width
        if length >= 0:
            if pos + length > end:
                raise RdbError("ziplist string past the end")
            out.append(data[pos:pos + length])
            pos += length
        last = start
        prev_size = pos - start
    if pos != end:
        raise RdbError("ziplist entries run past the terminator")
    if out and tail != last or not out and tail != 10:
        raise RdbError("ziplist tail offset does not point at the last entry")
    if count != 65535 and count != len(out):
        raise RdbError("ziplist entry count does not match its header")
    return out


# -- zipmap ----------------------------------------------------------------------------------
def decode_zipmap(blob: bytes) -> list[tuple[bytes, bytes]]:
    """The field/value pairs of a zipmap (Redis 2.4's small hash)."""
    data = bytes(blob)
    size = len(data)
    if size < 2 or data[-1] != 0xFF:
        raise RdbError("zipmap without a terminator")
    declared = data[0]
    pos = 1
    end = size - 1
    pairs: list[tuple[bytes, bytes]] = []

    def length_at(p: int) -> tuple[int, int]:
        if p >= end:
            raise RdbError("zipmap entry past the end")
        b = data[p]
        if b < 254:
            return b, p + 1
        if b == 254 and p + 5 <= end:
            return _U32.unpack_from(data, p + 1)[0], p + 5
        raise RdbError("zipmap entry with an invalid length")

    while pos < end:
        klen, pos = length_at(pos)
        if pos + klen > end:
            raise RdbError("zipmap key past the end")
        key = data[pos:pos + klen]
        pos += klen
        vlen, pos = length_at(pos)
        if pos >= end:
            raise RdbError("zipmap entry past the end")
        free = data[pos]
        pos += 1
        if pos + vlen + free > end:
            raise RdbError("zipmap value past the end")
        pairs.append((key, data[pos:pos + vlen]))
        pos += vlen + free
    if declared < 254 and declared != len(pairs):
        raise RdbError("zipmap entry count does not match its header")
    return pairs
