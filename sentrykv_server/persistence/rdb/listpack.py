"""Listpacks (Redis 7.0's compact encoding of small hashes, sorted sets, list nodes, streams).

Layout: total bytes u32 LE, element count u16 LE (65535: count it), the
entries, and a 0xFF terminator.  An entry is an encoding byte (and length or
integer bytes), the data, and a *backlen*: the size of encoding + data in
1..5 bytes, 7 bits a byte, read from its last byte backwards.

Strings that read as a 64-bit integer in canonical decimal are stored as the
smallest integer encoding (as ``lpStringToInt64`` decides); the decoder turns
integers back into their decimal text, which is how every SentryKV type keeps
them.  :func:`decode` checks every byte it reads (Redis's deep sanitization):
a listpack that lies about its size, count, an entry length or a backlen is
refused with :class:`~.constants.RdbError`, never read past its end.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable

from sentrykv_server.persistence.rdb.constants import RdbError

HEADER_SIZE = 6
EOF_BYTE = 0xFF
_HDR = struct.Struct("<IH")
_I16 = struct.Struct("<h")
_I32 = struct.Struct("<i")
_I64 = struct.Struct("<q")
_U32 = struct.Struct("<I")

_MIN64, _MAX64 = -(1 << 63), (1 << 63) - 1


def as_int(value: bytes) -> int | None:
    """The integer a listpack would store for ``value`` (string2ll rules), else None."""
    n = len(value)
    if n == 0 or n > 20:
        return None
    first = value[0]
    if first == 45:  # '-'
        if n == 1 or value[1] == 48 or not value[1:].isdigit():
            return None
    elif not value.isdigit() or (first == 48 and n > 1):
        return None
    number = int(value)
    if _MIN64 <= number <= _MAX64:
        return number
    return None


def _backlen(size: int) -> bytes:
    if size <= 127:
        return bytes((size,))
    if size < 16383:
        return bytes((size >> 7, (size & 127) | 128))
    if size < 2097151:
        return bytes((size >> 14, ((size >> 7) & 127) | 128, (size & 127) | 128))
    if size < 268435455:
        return bytes((size >> 21, ((size >> 14) & 127) | 128, ((size >> 7) & 127) | 128, (size & 127) | 128))
    return bytes((size >> 28, ((size >> 21) & 127) | 128, ((size >> 14) & 127) | 128,
                  ((size >> 7) & 127) | 128, (size & 127) | 128))


# Entries of the 7-bit integers and of short strings are looked up, not built.
_SMALL_INTS = [bytes((v, 1)) for v in range(128)]


def encode_int(v: int) -> bytes:
    """One integer entry in the smallest encoding."""
    if 0 <= v <= 127:
        return _SMALL_INTS[v]
    if -4096 <= v <= 4095:
        u = v & 0x1FFF
        return bytes((0xC0 | (u >> 8), u & 0xFF, 2))
    if -32768 <= v <= 32767:
        return b"\xf1" + _I16.pack(v) + b"\x03"
    if -8388608 <= v <= 8388607:
        return b"\xf2" + (v & 0xFFFFFF).to_bytes(3, "little") + b"\x04"
    if -2147483648 <= v <= 2147483647:
        return b"\xf3" + _I32.pack(v) + b"\x05"
    return b"\xf4" + _I64.pack(v) + b"\x09"


def encode_entry(value: bytes) -> bytes:
    """One entry: an integer encoding when the string is a canonical int64, else a string."""
    number = as_int(value)
    if number is not None:
        return encode_int(number)
    n = len(value)
    if n < 64:
        head = bytes((0x80 | n,))
    elif n < 4096:
        head = bytes((0xE0 | (n >> 8), n & 0xFF))
    else:
        head = b"\xf0" + _U32.pack(n)
    return head + value + _backlen(len(head) + n)


def encode(values: Iterable[bytes | int]) -> bytes:
    """A whole listpack of ``values`` (bytes, or ints stored as integers)."""
    parts = [encode_int(v) if type(v) is int else encode_entry(v) for v in values]  # type: ignore[arg-type]
    count = len(parts)
    body = b"".join(parts)
    return _HDR.pack(HEADER_SIZE + len(body) + 1, count if count < 65535 else 65535) + body + b"\xff"


def encoded_size(value: bytes) -> int:
    """Bytes one entry of ``value`` takes (quicklist node sizing)."""
    return len(encode_entry(value))


def decode(blob: bytes | memoryview) -> list[bytes]:
    """Every element of a listpack, integers as decimal text; RdbError on any damage."""
    data = bytes(blob)
    size = len(data)
    if size < HEADER_SIZE + 1:
        raise RdbError("listpack shorter than its header")
    total, count = _HDR.unpack_from(data, 0)
    if total != size:
        raise RdbError("listpack size header does not match its length")
    if data[-1] != EOF_BYTE:
        raise RdbError("listpack does not end with its terminator")
    end = size - 1
    out: list[bytes] = []
    append = out.append
    pos = HEADER_SIZE
    while pos < end:
        b = data[pos]
        if b < 0x80:  # 7-bit unsigned integer
            head, length = 1, 0
            append(b"%d" % b)
        elif b < 0xC0:  # string, 6-bit length
            head, length = 1, b & 0x3F
        elif b < 0xE0:  # 13-bit signed integer
            if pos + 2 > end:
                raise RdbError("listpack entry past the end")
            u = ((b & 0x1F) << 8) | data[pos + 1]
            append(b"%d" % (u - 8192 if u >= 4096 else u))
            head, length = 2, 0
        elif b < 0xF0:  # string, 12-bit length
            if pos + 2 > end:
                raise RdbError("listpack entry past the end")
            head, length = 2, ((b & 0x0F) << 8) | data[pos + 1]
        elif b == 0xF0:  # string, 32-bit length
            if pos + 5 > end:
                raise RdbError("listpack entry past the end")
            head, length = 5, _U32.unpack_from(data, pos + 1)[0]
        elif b <= 0xF4:
            width = (2, 3, 4, 8)[b - 0xF1]
            if pos + 1 + width > end:
                raise RdbError("listpack entry past the end")
            raw = int.from_bytes(data[pos + 1:pos + 1 + width], "little", signed=True)
            append(b"%d" % raw)
            head, length = 1 + width, 0
        else:
            raise RdbError(f"listpack entry with invalid encoding byte {b:#x}")
        entry = head + length
        if length:
            if pos + entry > end:
                raise RdbError("listpack string past the end")
            append(data[pos + head:pos + entry])
        elif b >= 0x80 and b < 0xC0 or b >= 0xE0 and b <= 0xF0:
            append(b"")  # an empty string
        # The backlen must encode the entry's size (encoding + data).
        back = _backlen(entry)
        blen = len(back)
        if pos + entry + blen > end or data[pos + entry:pos + entry + blen] != back:
            raise RdbError("listpack entry with a wrong back length")
        pos += entry + blen
    if count != 65535 and count != len(out):
        raise RdbError("listpack element count does not match its header")
    return out
