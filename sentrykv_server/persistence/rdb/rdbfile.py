"""Whole RDB files (Redis's rdbLoadRio / rdbSaveRio for ``dump.rdb``).

    "REDIS0010"  aux fields (0xFA key value)...  [function libraries (0xF5 code)...]
    per database: 0xFE db, 0xFB size expires-size, then per key:
        [0xFC expiry ms u64 | 0xFD expiry s u32] [0xF8 idle | 0xF9 freq] type key value
    0xFF, CRC-64 of everything before (u64 LE; 0 = written without a checksum)

:func:`read_rdb` streams a file through a :class:`~.source.FileSource`,
handing every live key to a callback; nothing but the current value is held,
so the caller decides where keys go (the importer writes snapshot blocks).
:class:`RdbWriter` writes one, buffering ~1 MiB at a time and keeping the
CRC as it goes.  Function libraries (``FUNCTION2``) are handed to their own
callback: storing them belongs to the functions feature.
"""

from __future__ import annotations

import logging
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from sentrykv_server.persistence.rdb import constants as C
from sentrykv_server.persistence.rdb.constants import RdbError
from sentrykv_server.persistence.rdb.crc64 import crc64
from sentrykv_server.persistence.rdb.decode import (
    EmptyKey,
    Limits,
    Unsupported,
    read_len,
    read_object,
    read_string,
)
from sentrykv_server.persistence.rdb.encode import encode_len, encode_string, encode_value
from sentrykv_server.persistence.rdb.source import FileSource

log = logging.getLogger("sentrykv.rdb")

REDIS_VERSION = b"7.0.15"  # what an exported file claims to come from (its format's version)
KeySink = Callable[[int, bytes, Any, "int | None"], None]


@dataclass
class LoadReport:
    version: int = 0
    keys: int = 0
    expired: int = 0
    empty: int = 0
    functions: int = 0
    aux: dict[bytes, bytes] = field(default_factory=dict)
    checksum: str = "ok"  # ok, absent (version < 5), disabled (stored as 0)


class FileRejected(RdbError):
    """A file SentryKV will not load (wrong version, modules, too many databases...)."""


def read_rdb(
    fh: BinaryIO, limits: Limits, on_key: KeySink, *, databases: int = 16,
    on_function: Callable[[bytes], None] | None = None, now_ms: int | None = None,
    progress: Callable[[int, int, int], None] | None = None,
) -> LoadReport:
    """Read a whole RDB file, calling ``on_key(db, key, value, expire_ms)`` per live key.

    Keys already expired at ``now_ms`` are skipped, empty containers too (as a
    Redis master loading its file does).  ``progress(bytes_done, bytes_total,
    keys)`` is called every 100 000 keys.
    Raises RdbError (with the file offset in its message) on anything invalid.
    """
    src = FileSource(fh)
    try:
        return _read(src, limits, on_key, databases, on_function, now_ms, progress)
    except FileRejected:
        raise
    except RdbError as exc:
        raise type(exc)(f"{exc} (at offset {src.offset()})") from None


def _read(
    src: FileSource, limits: Limits, on_key: KeySink, databases: int,
    on_function: Callable[[bytes], None] | None, now_ms: int | None,
    progress: Callable[[int, int, int], None] | None,
) -> LoadReport:
    report = LoadReport()
    head = src.read(9)
    if head[:5] != C.MAGIC:
        raise FileRejected("not an RDB file (wrong signature)")
    try:
        version = int(head[5:])
    except ValueError:
        raise FileRejected("not an RDB file (bad version field)") from None
    if version < 1 or version > C.RDB_VERSION:
        raise FileRejected(f"can't handle RDB format version {version} (Redis 7.0 writes {C.RDB_VERSION})")
    report.version = version
    now = int(time.time() * 1000) if now_ms is None else now_ms
    db = 0
    expire: int | None = None
    while True:
        t = src.byte()
        if t == C.OPCODE_EXPIRETIME_MS:
            expire = int.from_bytes(src.read(8), "little", signed=True)
            continue
        if t == C.OPCODE_EXPIRETIME:
            expire = int.from_bytes(src.read(4), "little", signed=True) * 1000
            continue
        if t == C.OPCODE_FREQ:
            src.byte()
            continue
        if t == C.OPCODE_IDLE:
            read_len(src)
            continue
        if t == C.OPCODE_EOF:
            break
        if t == C.OPCODE_SELECTDB:
            db = read_len(src)
            if db >= databases:
                raise FileRejected(
                    f"the file holds database {db}, this server is configured for {databases} "
                    "databases (raise `databases`)"
                )
            continue
        if t == C.OPCODE_RESIZEDB:
            read_len(src)
            read_len(src)
            continue
        if t == C.OPCODE_AUX:
            key = read_string(src)
            report.aux[key] = read_string(src)
            continue
        if t == C.OPCODE_MODULE_AUX:
            module_id = read_len(src)
            raise FileRejected(f"the file holds auxiliary data of module {C.module_type_name(module_id)}: "
                               "SentryKV has no modules")
        if t == C.OPCODE_FUNCTION_PRE_GA:
            raise FileRejected("pre-release function format not supported")
        if t == C.OPCODE_FUNCTION2:
            code = read_string(src)
            report.functions += 1
            if on_function is None:
                raise FileRejected("the file holds function libraries, which this SentryKV build cannot store")
            on_function(code)
            continue
        key = read_string(src)
        try:
            value = read_object(src, t, limits)
        except EmptyKey:
            report.empty += 1
            expire = None
            continue
        except Unsupported as exc:
            raise FileRejected(f"key {key[:100]!r} in db {db} is {exc}") from None
        if expire is not None and expire < now:
            report.expired += 1
        else:
            on_key(db, key, value, expire)
            report.keys += 1
            if progress is not None and report.keys % 100_000 == 0:
                progress(src.offset(), src.size, report.keys)
        expire = None
    if version >= 5:
        computed = src.checksum()
        stored = int.from_bytes(src.read(8), "little")
        if stored == 0:
            report.checksum = "disabled"
            log.warning("RDB file was saved with checksum disabled: no check performed")
        elif stored != computed:
            raise RdbError(f"wrong RDB checksum (stored {stored:016x}, computed {computed:016x})")
    else:
        report.checksum = "absent"
    return report


class RdbWriter:
    """Writes an RDB version 10 file that redis-server 7.0 loads."""

    FLUSH_AT = 1 << 20

    def __init__(self, fh: BinaryIO, limits: Limits, aux: dict[bytes, bytes] | None = None) -> None:
        self.fh = fh
        self.limits = limits
        self.crc = 0
        self.parts: list[bytes] = []
        self.pending = 0
        self.keys = 0
        self.write(b"REDIS%04d" % C.RDB_VERSION)
        fields = {
            b"redis-ver": REDIS_VERSION, b"redis-bits": b"64", b"ctime": b"%d" % int(time.time()),
            b"used-mem": b"0", b"aof-base": b"0",
        }
        fields.update(aux or {})
        for name, value in fields.items():
            self.write(bytes((C.OPCODE_AUX,)), encode_string(name, False), encode_string(value, False))

    def write(self, *chunks: bytes) -> None:
        for chunk in chunks:
            self.parts.append(chunk)
            self.pending += len(chunk)
        if self.pending >= self.FLUSH_AT:
            self.flush()

    def flush(self) -> None:
        if self.parts:
            data = b"".join(self.parts)
            self.crc = crc64(data, self.crc)
            self.fh.write(data)
            self.parts = []
            self.pending = 0

    def function(self, code: bytes) -> None:
        self.write(bytes((C.OPCODE_FUNCTION2,)), encode_string(code, self.limits.compression))

    def select_db(self, db: int, size: int, expires: int) -> None:
        self.write(bytes((C.OPCODE_SELECTDB,)), encode_len(db), bytes((C.OPCODE_RESIZEDB,)),
                   encode_len(size), encode_len(expires))

    def key(self, key: bytes, value: Any, expire_ms: int | None) -> None:
        rdb_type, body = encode_value(value, self.limits)
        if expire_ms is not None:
            self.write(bytes((C.OPCODE_EXPIRETIME_MS,)), struct.pack("<q", expire_ms))
        self.write(bytes((rdb_type,)), encode_string(key, self.limits.compression), body)
        self.keys += 1

    def finish(self) -> None:
        self.write(bytes((C.OPCODE_EOF,)))
        self.flush()
        self.fh.write(struct.pack("<Q", self.crc))
