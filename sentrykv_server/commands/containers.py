"""Helpers shared by the container families (hashes, lists, sets, sorted sets).

Argument parsing with Redis's exact messages (its ``get*FromObjectOrReply``
family), encoding limits read from the configuration, the copy-on-write /
WATCH bookkeeping around in-place mutations, and the HSCAN/SSCAN/ZSCAN page.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from sentrykv_server.commands.errors import NOT_FLOAT, NOT_INTEGER, CommandError, parse_int
from sentrykv_server.commands.keys import CURSORS, parse_scan_options
from sentrykv_server.store.glob import compile_glob
from sentrykv_server.store.scan import parse_cursor

if TYPE_CHECKING:
    from sentrykv_server.protocol.connection import Client
    from sentrykv_server.store.keyspace import Database

LONG_MAX = (1 << 63) - 1
POSITIVE = "ERR value is out of range, must be positive"
# A negative count to SRANDMEMBER / HRANDFIELD / ZRANDMEMBER repeats elements: a 40-byte
# request could ask for 2**63 of them.  Redis builds whatever was asked (18 s and 440 MB for
# 200 million); SentryKV refuses more than this many (about half a second of loop time).
RANDOM_REPEAT_MAX = 500_000


# -- mutation bookkeeping ----------------------------------------------------------------
def will_modify(db: Database, key: bytes) -> None:
    """Call before changing a container in place: a running checkpoint keeps the old version."""
    cow = db.keyspace.cow
    if cow is not None:
        cow(db, key, True)


def modified(db: Database, key: bytes) -> None:
    """Call after an in-place change: breaks WATCH (Redis's signalModifiedKey) and
    queues the container for re-costing (memory accounting)."""
    db.resize(key)
    db.keyspace.touched(db, key)


def config_int(c: Client, name: str) -> int:
    """An integer directive by its canonical name (the encoding limits, read per write)."""
    return int(c.server.config.value(name))


# -- argument parsing --------------------------------------------------------------------
def parse_long_range(raw: bytes, lo: int, hi: int, msg: str | None = None) -> int:
    """getRangeLongFromObjectOrReply: an integer within [lo, hi]."""
    value = parse_int(raw, msg or NOT_INTEGER)
    if value < lo or value > hi:
        raise CommandError(msg or f"ERR value is out of range, value must between {lo} and {hi}")
    return value


def check_repeat_count(count: int) -> int:
    """The number of repeated picks a negative count asks for, refused over RANDOM_REPEAT_MAX."""
    if -count > RANDOM_REPEAT_MAX:
        raise CommandError("ERR value is out of range")
    return -count


def parse_positive(raw: bytes, msg: str | None = None) -> int:
    """getPositiveLongFromObjectOrReply: 0..LONG_MAX; ``msg`` replaces both errors when given."""
    value = parse_int(raw, msg or NOT_INTEGER)
    if value < 0:
        raise CommandError(msg or POSITIVE)
    return value


def strtod(text: bytes) -> float:
    """The whole of ``text`` as C's strtod reads it (decimal, inf/nan, or 0x hex floats).

    Raises ValueError when it is not a number, OverflowError for a hex float
    out of range.  Callers check spaces and the special cases they care about.
    """
    if b"_" in text:
        raise ValueError(text)
    try:
        return float(text)
    except ValueError:
        if text.lstrip(b"+-")[:2].lower() != b"0x":
            raise
        return float.fromhex(text.decode("ascii"))


def parse_double(raw: bytes, msg: str = NOT_FLOAT) -> float:
    """getDoubleFromObject: strtod with no spaces, no NaN, and no overflow or underflow."""
    try:
        if not raw or raw[0] in b" \t\r\n\v\f" or raw[-1] in b" \t\r\n\v\f":
            raise ValueError
        value = strtod(raw)
    except (ValueError, OverflowError, UnicodeDecodeError):
        raise CommandError(msg) from None
    if value != value:
        raise CommandError(msg)
    if value in (float("inf"), float("-inf")):
        if b"n" not in raw.lower():  # "1e400": ERANGE, not a spelled infinity
            raise CommandError(msg)
    elif value == 0.0:
        mantissa = raw.lower().split(b"e")[0]
        if any(ch in b"123456789" for ch in mantissa):  # "1e-400": underflow to zero
            raise CommandError(msg)
    return value


def parse_range_double(raw: bytes) -> float | None:
    """strtod as zslParseRange uses it: leading spaces ok, "" is 0, trailing junk not; None if invalid."""
    raw = raw.split(b"\0", 1)[0]  # Redis hands strtod the C string
    text = raw.lstrip(b" \t\r\n\v\f")
    if not text:
        return 0.0 if not raw else None
    if text[-1] in b" \t\r\n\v\f":
        return None
    try:
        value = strtod(text)
    except OverflowError:  # strtod returns +-HUGE_VAL, which the range parser accepts
        return float("-inf") if text[:1] == b"-" else float("inf")
    except (ValueError, UnicodeDecodeError):
        return None
    if value != value:
        return None
    return value


# -- SCAN family -------------------------------------------------------------------------
def scan_page(
    argv: list[bytes], cursor: int, names: Iterable[bytes], compact: bool, size: int
) -> tuple[int, list[bytes], Any]:
    """One page of an HSCAN/SSCAN/ZSCAN: (next cursor, element names, match function).

    Like Redis, a compact encoding (listpack, intset) is returned whole in one
    call whatever the cursor and COUNT; a table is walked with a snapshot
    cursor (store/scan.py), which never misses an element present throughout.
    """
    pattern, count, _ = parse_scan_options(argv, 3)
    match = compile_glob(pattern) if pattern is not None else None
    if compact:
        return 0, list(names), match
    next_cursor, page = CURSORS.page(cursor, names, count)
    return next_cursor, page, match


def scan_cursor(raw: bytes) -> int:
    return parse_cursor(raw)
