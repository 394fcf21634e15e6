"""Helpers shared by command families: typed lookups and option parsing."""

from __future__ import annotations

from typing import Any

from sentrykv_server.commands.errors import CommandError, parse_int, wrong_type
from sentrykv_server.store.keyspace import Database

MAX_STRING = 512 * 1024 * 1024


def get_string(db: Database, key: bytes, read: bool = True) -> bytes | None:
    """A string value or None; WRONGTYPE for any other type (``read``: lookupKeyRead's stats)."""
    value = db.lookup_read(key) if read else db.lookup(key)
    if value is None or type(value) is bytes:
        return value
    raise wrong_type()


def get_typed(db: Database, key: bytes, kind: type, read: bool = True) -> Any:
    """A value of ``kind`` or None; WRONGTYPE for any other type."""
    value = db.lookup_read(key) if read else db.lookup(key)
    if value is None or type(value) is kind:
        return value
    raise wrong_type()


def expire_at_ms(raw: bytes, unit_ms: int, absolute: bool, now: int, command: str) -> int:
    """Turn EX/PX/EXAT/PXAT arguments into absolute milliseconds, with Redis's checks."""
    value = parse_int(raw)
    if value <= 0:
        raise CommandError(f"ERR invalid expire time in '{command}' command")
    if value > (1 << 63) // unit_ms - 1:
        raise CommandError(f"ERR invalid expire time in '{command}' command")
    when = value * unit_ms
    if not absolute:
        if when > (1 << 63) - 1 - now:
            raise CommandError(f"ERR invalid expire time in '{command}' command")
        when += now
    return when


def ms_bytes(value: int) -> bytes:
    return b"%d" % value


def lower(arg: bytes) -> bytes:
    return arg.lower()
