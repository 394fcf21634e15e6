"""The FUNCTION DUMP / RESTORE payload: Redis's RDB serialization of libraries.

A payload is what ``DUMP`` gives for a key, for the function libraries::

    (0xF5 RDB_OPCODE_FUNCTION2, RDB string: the library code)*   one per library
    RDB version, 2 bytes little-endian (10 for Redis 7.0)
    CRC64 of everything before, little-endian

The RDB pieces (string encoding with LZF, the footer checks, CRC64) are
``persistence/rdb``'s, so a payload is byte for byte what Redis writes for
the same libraries in the same order.
"""

from __future__ import annotations

import struct

from sentrykv_server.persistence.rdb import constants as C
from sentrykv_server.persistence.rdb.crc64 import crc64
from sentrykv_server.persistence.rdb.decode import read_string
from sentrykv_server.persistence.rdb.encode import encode_string
from sentrykv_server.persistence.rdb.payload import verify
from sentrykv_server.persistence.rdb.source import BufferSource


class PayloadError(ValueError):
    """The payload does not decode; the message is Redis's reply text (without ERR)."""


def dump(codes: list[bytes]) -> bytes:
    """The payload for these library codes."""
    body = b"".join(bytes((C.OPCODE_FUNCTION2,)) + encode_string(code) for code in codes)
    body += struct.pack("<H", C.RDB_VERSION)
    return body + struct.pack("<Q", crc64(body, 0))


def load(payload: bytes) -> list[bytes]:
    """The library codes of a payload (functionRestoreCommand's reading loop)."""
    try:
        verify(payload)
    except ValueError:
        raise PayloadError("DUMP payload version or checksum are wrong") from None
    src = BufferSource(payload, 0, len(payload) - 10)
    codes = []
    try:
        while src.left() > 0:
            kind = src.byte()
            if kind != C.OPCODE_FUNCTION2:
                raise PayloadError("given type is not a function")
            codes.append(read_string(src))
    except PayloadError:
        raise
    except ValueError:
        raise PayloadError("failed loading the given functions payload") from None
    return codes
