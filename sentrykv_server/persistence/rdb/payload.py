"""The DUMP payload: one RDB object, then the RDB version (u16 LE) and a CRC-64 (u64 LE).

    <type byte> <object> <10> <0> <crc64 of everything before, 8 bytes LE>

RESTORE verifies the footer first (Redis's verifyDumpPayload: at least 10
bytes, a version not newer than 10, a matching checksum), then decodes the
object; bytes between the object and the footer are ignored, and an object
that runs into the footer is read from it, both as by Redis.
"""

from __future__ import annotations

import struct
from typing import Any

from sentrykv_server.persistence.rdb.constants import RDB_VERSION, RdbError
from sentrykv_server.persistence.rdb.crc64 import crc64
from sentrykv_server.persistence.rdb.decode import Limits, read_object
from sentrykv_server.persistence.rdb.encode import encode_value
from sentrykv_server.persistence.rdb.source import BufferSource

_FOOTER = struct.Struct("<HQ")


class BadPayload(RdbError):
    """Version or checksum wrong: "DUMP payload version or checksum are wrong"."""


def dump(value: Any, limits: Limits) -> bytes:
    rdb_type, body = encode_value(value, limits)
    head = bytes((rdb_type,)) + body + struct.pack("<H", RDB_VERSION)
    return head + struct.pack("<Q", crc64(head, 0))


def verify(payload: bytes) -> int:
    """The payload's RDB version, once its footer is checked (BadPayload otherwise)."""
    if len(payload) < 10:
        raise BadPayload("payload shorter than its footer")
    version, crc = _FOOTER.unpack_from(payload, len(payload) - 10)
    if version > RDB_VERSION:
        raise BadPayload(f"RDB version {version} is newer than {RDB_VERSION}")
    if crc64(memoryview(payload)[:-8], 0) != crc:
        raise BadPayload("checksum mismatch")
    return int(version)


def restore(payload: bytes, limits: Limits) -> Any:
    """The value a verified payload holds (RdbError and subclasses on bad data)."""
    verify(payload)
    # As in Redis, the object may run into the footer bytes (Redis reads the whole
    # payload buffer): only the end of the payload bounds it.
    src = BufferSource(payload)
    return read_object(src, src.byte(), limits)
