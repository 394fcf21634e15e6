"""Bitmap commands on strings (Redis's bitops.c): SETBIT GETBIT BITCOUNT BITPOS BITOP
BITFIELD BITFIELD_RO.

Strings are immutable ``bytes``, so every operation works on the whole buffer
at C speed: population counts through ``int.from_bytes(...).bit_count()``,
bit searches through a compiled byte-class regex (no copy of the value),
BITOP through one big-integer operation per source.  A write builds the new
value with a single join around the changed byte(s).

What is logged: SETBIT, BITFIELD and BITOP are deterministic given the data,
so the command itself is the effect (as Redis propagates them) whenever the
value changed or grew; a BITOP that leaves the destination empty deletes it.
"""

from __future__ import annotations

import re
from functools import reduce
from typing import TYPE_CHECKING, Any

from sentrykv_server.commands.common import get_string, get_typed
from sentrykv_server.commands.errors import (
    NOT_INTEGER,
    CommandError,
    parse_int,
    syntax_error,
    wrong_type,
)
from sentrykv_server.commands.registry import command
from sentrykv_server.notify import GENERIC, STRING, notify

if TYPE_CHECKING:
    from sentrykv_server.protocol.connection import Client
    from sentrykv_server.store.keyspace import Database

BIT_OFFSET_ERROR = "ERR bit offset is not an integer or out of range"
BIT_VALUE_ERROR = "ERR bit is not an integer or out of range"
BITFIELD_TYPE_ERROR = (
    "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is."
)
_U64 = (1 << 64) - 1
_I64_MIN, _I64_MAX = -(1 << 63), (1 << 63) - 1
_FIRST_SET = re.compile(rb"[^\x00]")
_FIRST_CLEAR = re.compile(rb"[^\xff]")


def _i64(value: int) -> int:
    """Wrap to a signed 64-bit integer (C's two's complement arithmetic)."""
    value &= _U64
    return value - (1 << 64) if value >> 63 else value


def parse_bit_offset(c: Client, raw: bytes, hash_ok: bool = False, bits: int = 0) -> int:
    """getBitOffsetFromArgument: ``#n`` (BITFIELD) means n*bits; limited by proto-max-bulk-len.

    Like Redis's mustObeyClient, commands replayed from the log are not limited: the
    value they build already existed.
    """
    use_hash = hash_ok and bits > 0 and raw[:1] == b"#"
    offset = parse_int(raw[1:] if use_hash else raw, BIT_OFFSET_ERROR)
    if use_hash:
        offset = _i64(offset * bits)
    if offset < 0 or (
        not c.db.keyspace.loading
        and (offset >> 3) >= int(c.server.config.value("proto-max-bulk-len"))
    ):
        raise CommandError(BIT_OFFSET_ERROR)
    return offset


def _string_for_write(db: Database, key: bytes) -> bytes | None:
    """The string at ``key`` looked up for a write (no hit/miss counted); WRONGTYPE otherwise."""
    value: bytes | None = get_typed(db, key, bytes, read=False)
    return value


# -- SETBIT / GETBIT ---------------------------------------------------------------------
@command("setbit", 4, "write denyoom", 1, 1, 1, group="bitmap", since="2.2.0")
def setbit_cmd(c: Client, argv: list[bytes]) -> Any:
    """Set or clear one bit; replies the bit's previous value."""
    offset = parse_bit_offset(c, argv[2])
    on = parse_int(argv[3], BIT_VALUE_ERROR)
    if on & ~1:
        raise CommandError(BIT_VALUE_ERROR)
    db = c.db
    key = argv[1]
    value = _string_for_write(db, key)
    byte = offset >> 3
    mask = 0x80 >> (offset & 7)
    if value is None:
        value = b""
        grows = True
    else:
        grows = len(value) <= byte
    old = value[byte] if not grows else 0
    was = 1 if old & mask else 0
    if grows or was != on:
        new = (old | mask) if on else (old & ~mask)
        view = memoryview(value)
        if grows:
            value = b"".join((view, bytes(byte - len(value)), bytes((new,))))
        else:
            value = b"".join((view[:byte], bytes((new,)), view[byte + 1:]))
        db.set(key, value, keep_ttl=True)
        c.server.propagate(db.id, argv)
        notify(c.server, STRING, b"setbit", db, key)
    return was


@command("getbit", 3, "readonly fast", 1, 1, 1, group="bitmap", since="2.2.0")
def getbit_cmd(c: Client, argv: list[bytes]) -> Any:
    """The bit at an offset (0 past the end of the string)."""
    offset = parse_bit_offset(c, argv[2])
    value = get_string(c.db, argv[1])
    byte = offset >> 3
    if value is None or byte >= len(value):
        return 0
    return 1 if value[byte] & (0x80 >> (offset & 7)) else 0


# -- BITCOUNT / BITPOS -------------------------------------------------------------------
_UNITS = {b"bit": True, b"byte": False}


def _unit(raw: bytes) -> bool:
    """True for BIT, False for BYTE; anything else is a syntax error."""
    is_bit = _UNITS.get(raw.lower())
    if is_bit is None:
        raise syntax_error()
    return is_bit


def _byte_range(start: int, end: int, is_bit: bool) -> tuple[int, int, int, int]:
    """A clamped range in bytes, with masks of the bits outside a BIT range in its first and
    last byte: (start, end, first_mask, last_mask)."""
    if not is_bit or start > end:
        return start, end, 0, 0
    first_mask = ~((1 << (8 - (start & 7))) - 1) & 0xFF
    last_mask = (1 << (7 - (end & 7))) - 1
    return start >> 3, end >> 3, first_mask, last_mask


def _clamp(start: int, end: int, total: int) -> tuple[int, int]:
    if start < 0:
        start += total
    if end < 0:
        end += total
    if start < 0:
        start = 0
    if end < 0:
        end = 0
    if end >= total:
        end = total - 1
    return start, end


def popcount(value: bytes | memoryview) -> int:
    """Set bits in a buffer (redisPopcount), at C speed."""
    return int.from_bytes(value, "big").bit_count()


@command("bitcount", -2, "readonly", 1, 1, 1, group="bitmap", since="2.6.0")
def bitcount_cmd(c: Client, argv: list[bytes]) -> Any:
    """Set bits in a string, optionally within a BYTE or BIT range."""
    value = get_string(c.db, argv[1])
    if value is None:
        return 0
    n = len(argv)
    first_mask = last_mask = 0
    if n in (4, 5):
        start, end = parse_int(argv[2]), parse_int(argv[3])
        if start < 0 and end < 0 and start > end:
            return 0
        is_bit = _unit(argv[4]) if n == 5 else False
        start, end = _clamp(start, end, len(value) * 8 if is_bit else len(value))
        start, end, first_mask, last_mask = _byte_range(start, end, is_bit)
    elif n == 2:
        start, end = 0, len(value) - 1
    else:
        raise syntax_error()
    if start > end:
        return 0
    count = popcount(memoryview(value)[start:end + 1])
    if first_mask:
        count -= (value[start] & first_mask).bit_count()
    if last_mask:
        count -= (value[end] & last_mask).bit_count()
    return count


def bitpos(value: bytes, start: int, stop: int, bit: int) -> int:
    """redisBitpos over value[start:stop]: bit index relative to ``start``.

    Looking for a 1 in all-zero bytes gives -1; looking for a 0 in all-one bytes
    gives the first bit past the range (the string is zero-padded on the right).
    """
    match = (_FIRST_SET if bit else _FIRST_CLEAR).search(value, start, stop)
    if match is None:
        return -1 if bit else (stop - start) * 8
    index = match.start()
    byte = value[index] if bit else value[index] ^ 0xFF
    return (index - start) * 8 + 8 - byte.bit_length()


def _bitpos_byte(byte: int, bit: int) -> int:
    return bitpos(bytes((byte,)), 0, 1, bit)


@command("bitpos", -3, "readonly", 1, 1, 1, group="bitmap", since="2.8.7")
def bitpos_cmd(c: Client, argv: list[bytes]) -> Any:
    """First bit set to 0 or 1, optionally within a BYTE or BIT range."""
    bit = parse_int(argv[2])
    if bit not in (0, 1):
        raise CommandError("ERR The bit argument must be 1 or 0.")
    value = get_string(c.db, argv[1])
    if value is None:
        return -1 if bit else 0
    n = len(argv)
    total = len(value)
    first_mask = last_mask = 0
    end_given = False
    if n in (4, 5, 6):
        start = parse_int(argv[3])
        is_bit = _unit(argv[5]) if n == 6 else False
        if n >= 5:
            end = parse_int(argv[4])
            end_given = True
        else:
            end = (total << 3) + 7 if is_bit else total - 1
        start, end = _clamp(start, end, total * 8 if is_bit else total)
        start, end, first_mask, last_mask = _byte_range(start, end, is_bit)
    elif n == 3:
        start, end = 0, total - 1
    else:
        raise syntax_error()
    if start > end:
        return -1
    pos, start, span = _bitpos_range(value, start, end, bit, first_mask, last_mask)
    if end_given and bit == 0 and pos == span << 3:
        return -1
    if pos != -1:
        pos += start << 3
    return pos


def _bitpos_range(value: bytes, start: int, end: int, bit: int,
                  first_mask: int, last_mask: int) -> tuple[int, int, int]:
    """Redis's masked search in up to three parts (first byte, middle, last byte).

    Returns (position within the part where the search stopped, that part's first
    byte, that part's length), which is what Redis's final adjustments work on.
    """
    nbytes = end - start + 1
    if first_mask:
        byte = value[start] & ~first_mask if bit else value[start] | first_mask
        if last_mask and nbytes == 1:
            byte = byte & ~last_mask if bit else byte | last_mask
        pos = _bitpos_byte(byte & 0xFF, bit)
        if nbytes == 1 or (pos != -1 and pos != 8):
            return pos, start, nbytes
        start += 1
        nbytes -= 1
    middle = nbytes - (1 if last_mask else 0)
    if middle > 0:
        pos = bitpos(value, start, start + middle, bit)
        if nbytes == middle or (pos != -1 and pos != middle << 3):
            return pos, start, nbytes
        start += middle
        nbytes -= middle
    byte = value[end] & ~last_mask if bit else value[end] | last_mask
    return _bitpos_byte(byte & 0xFF, bit), start, nbytes


# -- BITOP -------------------------------------------------------------------------------
_BITOPS = {b"and": "and", b"or": "or", b"xor": "xor", b"not": "not"}


@command("bitop", -4, "write denyoom", 2, -1, 1, group="bitmap", since="2.6.0")
def bitop_cmd(c: Client, argv: list[bytes]) -> Any:
    """AND / OR / XOR / NOT of strings into a destination key; replies its length."""
    op = _BITOPS.get(argv[1].lower())
    if op is None:
        raise syntax_error()
    if op == "not" and len(argv) != 4:
        raise CommandError("ERR BITOP NOT must be called with a single source key.")
    db = c.db
    sources: list[bytes] = []
    for key in argv[3:]:
        value = db.lookup_read(key)
        if value is None:
            value = b""
        elif type(value) is not bytes:
            raise wrong_type()
        sources.append(value)
    size = max(len(v) for v in sources)
    dst = argv[2]
    if not size:
        if db.lookup(dst) is not None:
            db.delete(dst)
            c.server.propagate(db.id, argv)
            notify(c.server, GENERIC, b"del", db, dst)
        return 0
    # Each source as a big integer, zero-padded on the right to the longest length.
    numbers = [int.from_bytes(v, "big") << (8 * (size - len(v))) for v in sources]
    if op == "and":
        result = reduce(lambda a, b: a & b, numbers)
    elif op == "or":
        result = reduce(lambda a, b: a | b, numbers)
    elif op == "xor":
        result = reduce(lambda a, b: a ^ b, numbers)
    else:
        result = numbers[0] ^ ((1 << (8 * size)) - 1)
    db.set(dst, result.to_bytes(size, "big"))
    c.server.propagate(db.id, argv)
    notify(c.server, STRING, b"set", db, dst)
    return size


# -- BITFIELD ----------------------------------------------------------------------------
WRAP, SAT, FAIL = 0, 1, 2
GET, SET, INCRBY = 0, 1, 2
_OVERFLOW = {b"wrap": WRAP, b"sat": SAT, b"fail": FAIL}


def parse_bitfield_type(raw: bytes) -> tuple[bool, int]:
    """``i<bits>`` (1..64) or ``u<bits>`` (1..63): (signed, bits)."""
    sign = raw[:1]
    if sign not in (b"i", b"u"):
        raise CommandError(BITFIELD_TYPE_ERROR)
    bits = parse_int(raw[1:], BITFIELD_TYPE_ERROR)
    if bits < 1 or (sign == b"i" and bits > 64) or (sign == b"u" and bits > 63):
        raise CommandError(BITFIELD_TYPE_ERROR)
    return sign == b"i", bits


def check_unsigned(value: int, incr: int, bits: int, mode: int) -> tuple[int, int]:
    """checkUnsignedBitfieldOverflow: (0 / 1 / -1 for none / over / under, limit value).

    ``value`` is the uint64 being stored (a negative SET value arrives as a huge
    unsigned number, as in C), ``incr`` a signed 64-bit increment.
    """
    top = (1 << bits) - 1
    if value > top or (incr > 0 and incr > top - value):
        direction = 1
    elif incr < 0 and incr < -value:
        direction = -1
    else:
        return 0, 0
    if mode == WRAP:
        return 1, ((value + incr) & _U64) & top
    if mode == SAT:
        return direction, top if direction == 1 else 0
    return direction, 0


def check_signed(value: int, incr: int, bits: int, mode: int) -> tuple[int, int]:
    """checkSignedBitfieldOverflow with C's 64-bit wrapping intermediate values."""
    top = _I64_MAX if bits == 64 else (1 << (bits - 1)) - 1
    bottom = -top - 1
    max_incr = _i64(top - value)
    min_incr = _i64(bottom - value)
    if value > top or (bits != 64 and incr > max_incr) or (value >= 0 and incr > 0 and incr > max_incr):
        direction = 1
    elif value < bottom or (bits != 64 and incr < min_incr) or (value < 0 and incr < 0 and incr < min_incr):
        direction = -1
    else:
        return 0, 0
    if mode == WRAP:
        total = (value + incr) & _U64
        if bits < 64:
            total &= (1 << bits) - 1
            if total >> (bits - 1):
                total -= 1 << bits
        else:
            total = _i64(total)
        return 1, total
    if mode == SAT:
        return direction, top if direction == 1 else bottom
    return direction, 0


def get_field(buf: bytes | bytearray, offset: int, bits: int, signed: bool) -> int:
    """The ``bits``-wide integer at bit ``offset`` (zero past the end of the buffer)."""
    byte = offset >> 3
    window = int.from_bytes(bytes(buf[byte:byte + 9]).ljust(9, b"\0"), "big")
    value = (window >> (72 - (offset & 7) - bits)) & ((1 << bits) - 1)
    if signed and value >> (bits - 1):
        value -= 1 << bits
    return value


def set_field(buf: bytearray, offset: int, bits: int, value: int) -> None:
    """Store the low ``bits`` bits of ``value`` at bit ``offset`` (the buffer covers them)."""
    byte = offset >> 3
    chunk = buf[byte:byte + 9]
    size = len(chunk)
    window = int.from_bytes(bytes(chunk).ljust(9, b"\0"), "big")
    shift = 72 - (offset & 7) - bits
    mask = ((1 << bits) - 1) << shift
    window = (window & ~mask) | ((value & ((1 << bits) - 1)) << shift)
    buf[byte:byte + size] = window.to_bytes(9, "big")[:size]


def _parse_bitfield(c: Client, argv: list[bytes]) -> list[tuple[int, int, int, bool, int, int]]:
    """The operations of a BITFIELD: (opcode, offset, bits, signed, argument, overflow)."""
    ops: list[tuple[int, int, int, bool, int, int]] = []
    mode = WRAP
    j, n = 2, len(argv)
    while j < n:
        left = n - j - 1
        sub = argv[j].lower()
        if sub == b"get" and left >= 2:
            opcode = GET
        elif sub == b"set" and left >= 3:
            opcode = SET
        elif sub == b"incrby" and left >= 3:
            opcode = INCRBY
        elif sub == b"overflow" and left >= 1:
            chosen = _OVERFLOW.get(argv[j + 1].lower())
            if chosen is None:
                raise CommandError("ERR Invalid OVERFLOW type specified")
            mode = chosen
            j += 2
            continue
        else:
            raise syntax_error()
        signed, bits = parse_bitfield_type(argv[j + 1])
        offset = parse_bit_offset(c, argv[j + 2], True, bits)
        arg = 0
        if opcode != GET:
            arg = parse_int(argv[j + 3], NOT_INTEGER)
        ops.append((opcode, offset, bits, signed, arg, mode))
        j += 4 if opcode != GET else 3
    return ops


def _bitfield(c: Client, argv: list[bytes], readonly_command: bool) -> Any:
    ops = _parse_bitfield(c, argv)
    db = c.db
    key = argv[1]
    writes = [op for op in ops if op[0] != GET]
    if not writes:
        value = get_string(db, key)
        src = value or b""
        return [get_field(src, off, bits, signed) for _op, off, bits, signed, _a, _m in ops]
    if readonly_command:
        raise CommandError("ERR BITFIELD_RO only supports the GET subcommand")
    value = _string_for_write(db, key)
    highest = max(off + bits - 1 for _op, off, bits, _s, _a, _m in writes)
    need = (highest >> 3) + 1
    grown = value is None or len(value) < need
    buf = bytearray(value or b"")
    if len(buf) < need:
        buf.extend(bytes(need - len(buf)))
    out: list[Any] = []
    changes = 0
    for opcode, off, bits, signed, arg, mode in ops:
        if opcode == GET:
            out.append(get_field(buf, off, bits, signed))
            continue
        old = get_field(buf, off, bits, signed)
        if signed:
            if opcode == INCRBY:
                over, limit = check_signed(old, arg, bits, mode)
                new = limit if over else old + arg
                reply = new
            else:
                over, limit = check_signed(arg, 0, bits, mode)
                new = limit if over else arg
                reply = old
        else:
            if opcode == INCRBY:
                over, limit = check_unsigned(old, arg, bits, mode)
                new = limit if over else (old + arg) & _U64
                reply = new
            else:
                stored = arg & _U64
                over, limit = check_unsigned(stored, 0, bits, mode)
                new = limit if over else stored
                reply = old
        if over and mode == FAIL:
            out.append(None)
            continue
        out.append(_i64(reply))
        set_field(buf, off, bits, new)
        if grown or old != new:
            changes += 1
    if changes or grown:
        db.set(key, bytes(buf), keep_ttl=True)
        c.server.propagate(db.id, argv)
        notify(c.server, STRING, b"setbit", db, key)
    return out


def bitfield_cmd(c: Client, argv: list[bytes]) -> Any:
    """GET / SET / INCRBY integer fields of any width at any bit offset (OVERFLOW WRAP|SAT|FAIL)."""
    return _bitfield(c, argv, argv[0].lower() == b"bitfield_ro")


command("bitfield", -2, "write denyoom", 1, 1, 1, group="bitmap", since="3.2.0")(bitfield_cmd)
command("bitfield_ro", -2, "readonly fast", 1, 1, 1, group="bitmap", since="6.0.0",
        summary="The read-only BITFIELD: GET subcommands only.")(bitfield_cmd)
