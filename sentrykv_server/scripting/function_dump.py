"""The FUNCTION DUMP / RESTORE payload: Redis's RDB serialization of libraries.

A payload is what ``DUMP`` gives for a key, for the function libraries::

    (0xF5 RDB_OPCODE_FUNCTION2, RDB string: the library code)*   one per library
    RDB version, 2 bytes little-endian (10 for Redis 7.0)
    CRC64 (Jones polynomial, reflected, as Redis's crc64.c) of everything before, LE

RDB strings are read in every form Redis writes them (plain with a 6/14/32/64
bit length, LZF-compressed, integer-encoded); SentryKV writes them plain,
which every Redis reads (Redis itself compresses bodies over 20 bytes, so the
bytes of a payload differ while what it restores is the same).

The RDB length encoding, the LZF decoder and the CRC64 are small enough to
live here; ``persistence/rdb.py`` (the RDB format) can take them over.
"""

from __future__ import annotations

import struct

RDB_VERSION = 10
OPCODE_FUNCTION2 = 245
OPCODE_FUNCTION = 246  # the 7.0 release candidates' format (name, engine, code): refused

_POLY = 0x95AC9329AC4BC9B5  # Jones polynomial, reflected


def _crc64_table() -> list[int]:
    table = []
    for i in range(256):
        crc = i
        for _ in range(8):
            crc = (crc >> 1) ^ _POLY if crc & 1 else crc >> 1
        table.append(crc)
    return table


_TABLE = _crc64_table()


def crc64(data: bytes, crc: int = 0) -> int:
    table = _TABLE
    for byte in data:
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc


class PayloadError(ValueError):
    """The payload does not decode (Redis: "payload version or checksum are wrong" etc.)."""


def encode_length(n: int) -> bytes:
    if n < 64:
        return bytes([n])
    if n < 16384:
        return bytes([0x40 | (n >> 8), n & 0xFF])
    if n <= 0xFFFFFFFF:
        return b"\x80" + struct.pack(">I", n)
    return b"\x81" + struct.pack(">Q", n)


def dump(codes: list[bytes]) -> bytes:
    """The payload for these library codes."""
    body = b"".join(bytes([OPCODE_FUNCTION2]) + encode_length(len(code)) + code for code in codes)
    body += struct.pack("<H", RDB_VERSION)
    return body + struct.pack("<Q", crc64(body))


def verify(payload: bytes) -> None:
    """verifyDumpPayload: version not newer than ours and a matching CRC."""
    if len(payload) < 10:
        raise PayloadError("DUMP payload version or checksum are wrong")
    (version,) = struct.unpack_from("<H", payload, len(payload) - 10)
    if version > RDB_VERSION:
        raise PayloadError("DUMP payload version or checksum are wrong")
    (crc,) = struct.unpack_from("<Q", payload, len(payload) - 8)
    if crc64(payload[:-8]) != crc:
        raise PayloadError("DUMP payload version or checksum are wrong")


def load(payload: bytes) -> list[bytes]:
    """The library codes in a verified payload."""
    verify(payload)
    reader = _Reader(payload, len(payload) - 10)
    codes = []
    while reader.pos < reader.end:
        kind = reader.byte()
        if kind != OPCODE_FUNCTION2:
            raise PayloadError("given type is not a function")
        codes.append(reader.string())
    return codes


class _Reader:
    def __init__(self, data: bytes, end: int) -> None:
        self.data = data
        self.pos = 0
        self.end = end

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > self.end:
            raise PayloadError("failed loading the given functions payload")
        chunk = self.data[self.pos:self.pos + n]
        self.pos += n
        return chunk

    def byte(self) -> int:
        return self.take(1)[0]

    def length(self) -> tuple[int, bool]:
        """(length, encoded): ``encoded`` means the value is a special string encoding."""
        first = self.byte()
        kind = first >> 6
        if kind == 0:
            return first & 0x3F, False
        if kind == 1:
            return ((first & 0x3F) << 8) | self.byte(), False
        if kind == 3:
            return first & 0x3F, True
        if first == 0x80:
            return struct.unpack(">I", self.take(4))[0], False
        if first == 0x81:
            return struct.unpack(">Q", self.take(8))[0], False
        raise PayloadError("failed loading the given functions payload")

    def string(self) -> bytes:
        n, encoded = self.length()
        if not encoded:
            return self.take(n)
        if n == 0:
            return b"%d" % struct.unpack("<b", self.take(1))[0]
        if n == 1:
            return b"%d" % struct.unpack("<h", self.take(2))[0]
        if n == 2:
            return b"%d" % struct.unpack("<i", self.take(4))[0]
        if n == 3:
            clen, _ = self.length()
            ulen, _ = self.length()
            return lzf_decompress(self.take(clen), ulen)
        raise PayloadError("failed loading the given functions payload")


def lzf_decompress(data: bytes, expected: int) -> bytes:
    """liblzf's lzf_decompress."""
    out = bytearray()
    i, n = 0, len(data)
    try:
        while i < n:
            ctrl = data[i]
            i += 1
            if ctrl < 32:
                run = ctrl + 1
                if i + run > n:
                    raise PayloadError("failed loading the given functions payload")
                out += data[i:i + run]
                i += run
            else:
                length = ctrl >> 5
                ref = len(out) - ((ctrl & 0x1F) << 8) - 1
                if length == 7:
                    length += data[i]
                    i += 1
                ref -= data[i]
                i += 1
                length += 2
                if ref < 0:
                    raise PayloadError("failed loading the given functions payload")
                for k in range(length):
                    out.append(out[ref + k])
    except IndexError:
        raise PayloadError("failed loading the given functions payload") from None
    if len(out) != expected:
        raise PayloadError("failed loading the given functions payload")
    return bytes(out)
