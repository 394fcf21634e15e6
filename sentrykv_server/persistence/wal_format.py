"""Byte layout of WAL segment files; the single place that knows it.

All integers are little-endian.  A segment file ``wal-<first LSN, 20 digits>.wal``
holds a 24-byte header followed by frames::

    header:  magic   8 bytes  b"SKVWAL\\x00\\x01"
             version u32      FORMAT_VERSION (1)
             first   u64      LSN of the first frame this segment holds
             crc     u32      CRC32C of the 20 bytes before it

    frame:   crc     u32      CRC32C of the next 12 + length bytes
             length  u32      payload length, <= MAX_FRAME_PAYLOAD
             lsn     u64      log sequence number, +1 per frame across segments
             payload length bytes (see :mod:`records`)

The CRC comes first so that it covers one contiguous range (length, LSN and
payload): one C call per frame when replaying, and a damaged length fails the
CRC like damaged data does.  ``MAX_FRAME_PAYLOAD`` keeps a damaged length from
making a reader allocate or scan gigabytes.  The padded zero-name sorts
segments by first LSN as plain strings.
"""

from __future__ import annotations

import os
import re
import struct

from crc32c import crc32c

MAGIC = b"SKVWAL\x00\x01"
FORMAT_VERSION = 1
HEADER = struct.Struct("<8sIQI")
HEADER_SIZE = HEADER.size  # 24
FRAME_HEADER = struct.Struct("<IIQ")
FRAME_HEADER_SIZE = FRAME_HEADER.size  # 16
LEN_LSN = struct.Struct("<IQ")
U32 = struct.Struct("<I")
MAX_FRAME_PAYLOAD = 1 << 30  # 1 GiB

SEGMENT_SUFFIX = ".wal"
_SEGMENT_RE = re.compile(r"^wal-(\d{20})\.wal$")


class WalFormatError(ValueError):
    """Bytes that are not a valid header or frame."""


def segment_name(first_lsn: int) -> str:
    return f"wal-{first_lsn:020d}{SEGMENT_SUFFIX}"


def parse_segment_name(name: str) -> int | None:
    """First LSN encoded in a segment file name, or None for other files."""
    m = _SEGMENT_RE.match(name)
    return int(m.group(1)) if m else None


def list_segments(directory: str) -> list[tuple[int, str]]:
    """``(first_lsn, path)`` of every segment in ``directory``, oldest first."""
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return []
    found = []
    for name in names:
        first = parse_segment_name(name)
        if first is not None:
            found.append((first, os.path.join(directory, name)))
    found.sort()
    return found


def encode_header(first_lsn: int) -> bytes:
    body = HEADER.pack(MAGIC, FORMAT_VERSION, first_lsn, 0)[:20]
    return body + U32.pack(crc32c(body))


def decode_header(data: bytes) -> int:
    """Return the header's first LSN; raise :class:`WalFormatError` saying what is wrong."""
    if len(data) < HEADER_SIZE:
        raise WalFormatError(f"header is {len(data)} bytes, expected {HEADER_SIZE}")
    magic, version, first_lsn, crc = HEADER.unpack_from(data, 0)
    if magic != MAGIC:
        raise WalFormatError(f"bad magic {magic!r}")
    if crc != crc32c(bytes(data[:20])):
        raise WalFormatError("header CRC mismatch")
    if version != FORMAT_VERSION:
        raise WalFormatError(f"unsupported format version {version}")
    return int(first_lsn)


def is_torn_header(data: bytes) -> bool:
    """True for the header of a segment whose creation was cut short by a crash.

    That is: shorter than a header and consistent with having been written by
    us (a prefix of the magic, or zeros: the file was extended but the data not
    yet written), or a full-size file region that is all zeros.  A complete but
    wrong header is damage, not a torn write.
    """
    if data.count(0) == len(data):
        return True
    if len(data) >= HEADER_SIZE:
        return False
    return MAGIC.startswith(bytes(data[: len(MAGIC)]))


def encode_frame(lsn: int, payload: bytes) -> bytes:
    """One complete frame (the writer inlines this on its hot path)."""
    if len(payload) > MAX_FRAME_PAYLOAD:
        raise WalFormatError(f"payload of {len(payload)} bytes exceeds {MAX_FRAME_PAYLOAD}")
    body = LEN_LSN.pack(len(payload), lsn)
    return U32.pack(crc32c(payload, crc32c(body))) + body + payload


def segment_holds_no_frame(path: str) -> bool:
    """True for a segment file that is only a header, or a header followed by zeros.

    The zeros are space the writer preallocated and never wrote a frame into
    (wal_writer.py): such a segment holds nothing, like a header-only one.
    """
    size = os.path.getsize(path)
    if size <= HEADER_SIZE:
        return True
    with open(path, "rb") as fh:
        fh.seek(HEADER_SIZE)
        while chunk := fh.read(1 << 20):
            if chunk.count(0) != len(chunk):
                return False
    return True
