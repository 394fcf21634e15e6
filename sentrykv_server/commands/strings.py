"""String commands (Redis's t_string.c).

Every write records its deterministic effect with ``server.propagate``:
relative expiry becomes ``PXAT``/``PEXPIREAT``, INCRBYFLOAT becomes a SET of
the result, so replaying the log reproduces the same state at any time.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sentrykv_server.commands.common import MAX_STRING, expire_at_ms, get_string, ms_bytes
from sentrykv_server.commands.errors import (
    OVERFLOW,
    CommandError,
    parse_int,
    syntax_error,
    wrong_type,
)
from sentrykv_server.commands.registry import command
from sentrykv_server.notify import GENERIC, STRING, notify
from sentrykv_server.store.lcs import lcs_length, lcs_walk, table_bytes

if TYPE_CHECKING:
    from sentrykv_server.protocol.connection import Client

_MIN, _MAX = -(1 << 63), (1 << 63) - 1
_UNITS = {b"ex": (1000, False), b"px": (1, False), b"exat": (1000, True), b"pxat": (1, True)}


def _same_unit(expiry: tuple[bytes, int, bool] | None, opt: bytes) -> bool:
    """Redis lets an expiry option repeat (the last value wins) but not mix with another."""
    return expiry is None or _UNITS[opt] == expiry[1:]


@command("get", 2, "readonly fast", 1, 1, 1, group="string")
def get_cmd(c: Client, argv: list[bytes]) -> Any:
    """Get the value of a key."""
    db = c.db
    key = argv[1]
    value = db.data.get(key)
    if value is None:
        db.misses += 1
        if db.on_miss is not None:  # the 'keymiss' keyspace event
            db.on_miss(db, key)
        return None
    if db.expires and key in db.expires:  # may have expired: take the general path
        value = db.lookup_read(key)
        if value is None:
            return None
    else:
        db.hits += 1
        db.lru[key] = db.clock  # the access clock (Redis's lookupKey touch)
    if type(value) is bytes:
        return value
    raise wrong_type()


@command("set", -3, "write denyoom", 1, 1, 1, group="string")
def set_cmd(c: Client, argv: list[bytes]) -> Any:
    """Set the string value of a key, with optional expiry and conditions."""
    db = c.db
    key = argv[1]
    if len(argv) == 3:  # the common case, kept short
        if db.lfu:  # Redis looks the key up first: under LFU that access counts
            db.lru[key] = db.clock
        db.set(key, argv[2])
        server = c.server
        server.propagate(db.id, argv)
        if server.notify_flags:
            notify(server, STRING, b"set", db, key)
        return "OK"
    nx = xx = get = keepttl = False
    expiry: tuple[bytes, int, bool] | None = None
    i = 3
    n = len(argv)
    while i < n:
        opt = argv[i].lower()
        if opt == b"nx" and not xx:
            nx = True
        elif opt == b"xx" and not nx:
            xx = True
        elif opt == b"get":
            get = True
        elif opt == b"keepttl" and expiry is None:
            keepttl = True
        elif opt in _UNITS and _same_unit(expiry, opt) and not keepttl and i + 1 < n:
            unit, absolute = _UNITS[opt]
            i += 1
            expiry = (argv[i], unit, absolute)
        else:
            raise syntax_error()
        i += 1
    # Like Redis: the whole line is parsed (syntax errors first), then the expire value checked.
    when = None if expiry is None else expire_at_ms(expiry[0], expiry[1], expiry[2], db.keyspace.now(), "set")
    # Any value type: SET overwrites whatever the key holds (and the compiled build checks
    # a variable's declared type, which would otherwise be get_string's bytes | None).
    old: Any
    if get:  # Redis runs GET first: a read lookup (stats, 'keymiss'), then the write one
        old = get_string(db, key)
    old = db.lookup(key)
    if (nx and old is not None) or (xx and old is None):
        return old if get else None
    value = argv[2]
    db.set(key, value, keep_ttl=keepttl)
    server = c.server
    notify(server, STRING, b"set", db, key)
    if when is not None:
        db.set_expire(key, when)
        notify(server, GENERIC, b"expire", db, key)
        server.propagate(db.id, [b"SET", key, value, b"PXAT", ms_bytes(when)])
    elif keepttl:
        c.server.propagate(db.id, [b"SET", key, value, b"KEEPTTL"])
    else:
        c.server.propagate(db.id, [b"SET", key, value])
    return old if get else "OK"


@command("setnx", 3, "write denyoom fast", 1, 1, 1, group="string")
def setnx_cmd(c: Client, argv: list[bytes]) -> Any:
    """Set a key only if it does not exist."""
    db = c.db
    if db.lookup(argv[1]) is not None:
        return 0
    db.set(argv[1], argv[2])
    c.server.propagate(db.id, [b"SET", argv[1], argv[2]])
    notify(c.server, STRING, b"set", db, argv[1])
    return 1


def _setex(c: Client, argv: list[bytes], unit: int, name: str) -> Any:
    db = c.db
    when = expire_at_ms(argv[2], unit, False, db.keyspace.now(), name)
    db.set(argv[1], argv[3])
    notify(c.server, STRING, b"set", db, argv[1])
    db.set_expire(argv[1], when)
    notify(c.server, GENERIC, b"expire", db, argv[1])
    c.server.propagate(db.id, [b"SET", argv[1], argv[3], b"PXAT", ms_bytes(when)])
    return "OK"


@command("setex", 4, "write denyoom", 1, 1, 1, group="string")
def setex_cmd(c: Client, argv: list[bytes]) -> Any:
    """Set a key with a time to live in seconds."""
    return _setex(c, argv, 1000, "setex")


@command("psetex", 4, "write denyoom", 1, 1, 1, group="string")
def psetex_cmd(c: Client, argv: list[bytes]) -> Any:
    """Set a key with a time to live in milliseconds."""
    return _setex(c, argv, 1, "psetex")


@command("getset", 3, "write denyoom fast", 1, 1, 1, group="string")
def getset_cmd(c: Client, argv: list[bytes]) -> Any:
    """Set a key and return its old value."""
    db = c.db
    old = get_string(db, argv[1])
    db.set(argv[1], argv[2])
    c.server.propagate(db.id, [b"SET", argv[1], argv[2]])
    notify(c.server, STRING, b"set", db, argv[1])
    return old


@command("getdel", 2, "write fast", 1, 1, 1, group="string")
def getdel_cmd(c: Client, argv: list[bytes]) -> Any:
    """Get a key's value and delete it."""
    db = c.db
    old = get_string(db, argv[1])
    if old is not None:
        db.delete(argv[1])
        c.server.propagate(db.id, [b"DEL", argv[1]])
        notify(c.server, GENERIC, b"del", db, argv[1])
    return old


@command("getex", -2, "write fast", 1, 1, 1, group="string")
def getex_cmd(c: Client, argv: list[bytes]) -> Any:
    """Get a key's value and optionally change its expiry."""
    db = c.db
    key = argv[1]
    persist = False
    expiry: tuple[bytes, int, bool] | None = None
    i, n = 2, len(argv)
    now = db.keyspace.now()
    while i < n:
        opt = argv[i].lower()
        if opt == b"persist" and expiry is None and not persist:
            persist = True
        elif opt in _UNITS and _same_unit(expiry, opt) and not persist and i + 1 < n:
            unit, absolute = _UNITS[opt]
            i += 1
            expiry = (argv[i], unit, absolute)
        else:
            raise syntax_error()
        i += 1
    value = get_string(db, key)
    if value is None:  # like Redis, the expire value is only validated for an existing key
        return None
    when = None if expiry is None else expire_at_ms(expiry[0], expiry[1], expiry[2], now, "getex")
    if when is not None:
        if when <= now:
            db.delete(key)
            c.server.propagate(db.id, [b"DEL", key])
            notify(c.server, GENERIC, b"del", db, key)
        else:
            db.set_expire(key, when)
            c.server.propagate(db.id, [b"PEXPIREAT", key, ms_bytes(when)])
            notify(c.server, GENERIC, b"expire", db, key)
    elif persist and db.persist(key):
        c.server.propagate(db.id, [b"PERSIST", key])
        notify(c.server, GENERIC, b"persist", db, key)
    return value


@command("mget", -2, "readonly fast", 1, -1, 1, group="string")
def mget_cmd(c: Client, argv: list[bytes]) -> Any:
    """Get the values of several keys."""
    lookup = c.db.lookup_read
    out = []
    for key in argv[1:]:
        value = lookup(key)
        out.append(value if type(value) is bytes else None)
    return out


@command("mset", -3, "write denyoom", 1, -1, 2, group="string")
def mset_cmd(c: Client, argv: list[bytes]) -> Any:
    """Set several keys at once."""
    if len(argv) % 2 == 0:
        raise CommandError("ERR wrong number of arguments for 'mset' command")
    db = c.db
    server = c.server
    for i in range(1, len(argv), 2):
        db.set(argv[i], argv[i + 1])
        if server.notify_flags:
            notify(server, STRING, b"set", db, argv[i])
    server.propagate(db.id, argv)
    return "OK"


@command("msetnx", -3, "write denyoom", 1, -1, 2, group="string")
def msetnx_cmd(c: Client, argv: list[bytes]) -> Any:
    """Set several keys only if none of them exists."""
    if len(argv) % 2 == 0:
        raise CommandError("ERR wrong number of arguments for 'msetnx' command")
    db = c.db
    if any(db.lookup(argv[i]) is not None for i in range(1, len(argv), 2)):
        return 0
    for i in range(1, len(argv), 2):
        db.set(argv[i], argv[i + 1])
        notify(c.server, STRING, b"set", db, argv[i])
    c.server.propagate(db.id, [b"MSET", *argv[1:]])
    return 1


@command("append", 3, "write denyoom fast", 1, 1, 1, group="string")
def append_cmd(c: Client, argv: list[bytes]) -> Any:
    """Append to a string value."""
    db = c.db
    old = get_string(db, argv[1], read=False)
    value = argv[2] if old is None else old + argv[2]
    if len(value) > MAX_STRING:
        raise CommandError("ERR string exceeds maximum allowed size (proto-max-bulk-len)")
    db.set(argv[1], value, keep_ttl=True)
    c.server.propagate(db.id, argv)
    notify(c.server, STRING, b"append", db, argv[1])
    return len(value)


@command("strlen", 2, "readonly fast", 1, 1, 1, group="string")
def strlen_cmd(c: Client, argv: list[bytes]) -> Any:
    """Length of a string value."""
    value = get_string(c.db, argv[1])
    return 0 if value is None else len(value)


def _incr(c: Client, key: bytes, delta: int) -> int:
    db = c.db
    old = db.lookup(key)
    if old is None:
        current = 0
    elif type(old) is not bytes:
        raise wrong_type()
    else:
        current = parse_int(old)
    result = current + delta
    if not _MIN <= result <= _MAX:
        raise CommandError(OVERFLOW)
    db.set(key, b"%d" % result, keep_ttl=True)
    server = c.server
    if server.notify_flags:
        notify(server, STRING, b"incrby", db, key)
    return result


@command("incr", 2, "write denyoom fast", 1, 1, 1, group="string")
def incr_cmd(c: Client, argv: list[bytes]) -> Any:
    """Increment the integer value of a key by one."""
    result = _incr(c, argv[1], 1)
    c.server.propagate(c.db.id, argv)
    return result


@command("decr", 2, "write denyoom fast", 1, 1, 1, group="string")
def decr_cmd(c: Client, argv: list[bytes]) -> Any:
    """Decrement the integer value of a key by one."""
    result = _incr(c, argv[1], -1)
    c.server.propagate(c.db.id, argv)
    return result


@command("incrby", 3, "write denyoom fast", 1, 1, 1, group="string")
def incrby_cmd(c: Client, argv: list[bytes]) -> Any:
    """Increment the integer value of a key by an amount."""
    result = _incr(c, argv[1], parse_int(argv[2]))
    c.server.propagate(c.db.id, argv)
    return result


@command("decrby", 3, "write denyoom fast", 1, 1, 1, group="string")
def decrby_cmd(c: Client, argv: list[bytes]) -> Any:
    """Decrement the integer value of a key by an amount."""
    delta = parse_int(argv[2])
    if delta == _MIN:
        raise CommandError("ERR decrement would overflow")
    result = _incr(c, argv[1], -delta)
    c.server.propagate(c.db.id, argv)
    return result


# -- x87 80-bit long double, as INCRBYFLOAT / HINCRBYFLOAT compute ----------------------------
# Redis parses both operands with strtold, adds them in long double (64-bit significand) and
# prints the sum with "%.17Lf", trailing zeros removed.  Exact decimal arithmetic would differ
# from Redis as soon as an operand is not exactly representable (1e309, 1000.1 ...), so the
# arithmetic is emulated exactly with integers: a long double is (n, s) meaning n / 2**s,
# and every rational result is rounded to a 64-bit significand, ties to even.

LongDouble = tuple[int, int]
_LD_EMAX = 16383  # LDBL_MAX = (2**64 - 1) * 2**(16383 - 63)
_LD_EMIN = -16382  # smallest normal exponent; below it the significand shrinks (subnormals)
_DEC_FLOAT = re.compile(rb"[+-]?(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?")
_HUGE_EXP = 20000  # beyond this any non-zero literal over- or underflows (and 10**exp is slow)
_HEX_FLOAT = re.compile(rb"[+-]?0[xX]([0-9a-fA-F]*)(?:\.([0-9a-fA-F]*))?(?:[pP]([+-]?\d+))?")
_INF_WORDS = (b"inf", b"infinity")
INFINITE = (1, -(1 << 20))  # marker for a literal inf: no sum with it is finite
_E17 = 10**17


def _round_ld(p: int, q: int) -> LongDouble | None:
    """p/q (q > 0) rounded to the nearest long double; None when it overflows to infinity."""
    if p == 0:
        return (0, 0)
    a = -p if p < 0 else p
    e = a.bit_length() - q.bit_length()  # floor(log2(a/q)) is e or e - 1
    if (a < q << e) if e >= 0 else (a << -e < q):
        e -= 1
    shift = 63 - max(e, _LD_EMIN)
    num, den = (a << shift, q) if shift >= 0 else (a, q << -shift)
    m, r = divmod(num, den)
    if 2 * r > den or (2 * r == den and m & 1):
        m += 1
        if m == 1 << 64:
            m, shift = 1 << 63, shift - 1
    if 63 - shift > _LD_EMAX:
        return None
    return (-m if p < 0 else m, shift)


def _as_int(digits: bytes) -> int:
    # int() refuses more than 4300 digits; a 5 KB literal (LDBL_MAX has 4933) may have more.
    return int(digits) if len(digits) < 4000 else int(Decimal(digits.decode()))


def parse_long_double(raw: bytes) -> LongDouble | None:
    """strtold as Redis's string2ld uses it: the value, or None when Redis rejects the string.

    Rejected: leading blanks, trailing garbage, NaN, and literals that overflow or underflow
    to zero (ERANGE).  A literal inf/infinity is valid for strtold and comes back as the
    INFINITE marker.
    """
    if not raw or len(raw) >= 5 * 1024 or raw[:1].isspace():
        return None
    negative = raw[:1] == b"-"
    word = raw[1:] if raw[:1] in b"+-" else raw
    if word.lower() in _INF_WORDS:
        return INFINITE
    match = _DEC_FLOAT.fullmatch(raw)
    base = 10
    if match is None:
        match = _HEX_FLOAT.fullmatch(raw)
        base = 16
        if match is None:
            return None
    whole, frac, exp = match.groups()
    frac = frac or b""
    if not whole and not frac:
        return None
    digits = (whole + frac).lstrip(b"0")
    if not digits:
        return (0, 0)
    exponent = int(exp or b"0")
    if abs(exponent) > (_HUGE_EXP if base == 10 else 4 * _HUGE_EXP):
        return None  # a non-zero literal this far out over- or underflows
    if base == 10:
        mant, exp10 = _as_int(digits), exponent - len(frac)
        p, q = (mant * 10**exp10, 1) if exp10 >= 0 else (mant, 10**-exp10)
    else:
        mant, exp2 = int(digits, 16), exponent - 4 * len(frac)
        p, q = (mant << exp2, 1) if exp2 >= 0 else (mant, 1 << -exp2)
    value = _round_ld(-p if negative else p, q)
    if value is None or value[0] == 0:
        return None  # ERANGE: overflow, or underflow to zero
    return value


def format_long_double(value: LongDouble) -> bytes:
    """Redis's ld2string(LD_STR_HUMAN): ``%.17Lf``, trailing zeros removed, -0 shown as 0."""
    n, shift = value
    a = -n if n < 0 else n
    if shift <= 0:
        scaled = (a << -shift) * _E17
    else:
        scaled, r = divmod(a * _E17, 1 << shift)
        half = 1 << (shift - 1)
        if r > half or (r == half and scaled & 1):
            scaled += 1
    whole, frac = divmod(scaled, _E17)
    # str(int) refuses more than 4300 digits; Decimal prints any size.
    text = ("%d" % whole if whole < _E17 else str(Decimal(whole))) + (".%017d" % frac).rstrip("0").rstrip(".")
    if n < 0 and text != "0":
        text = "-" + text
    return text.encode()


def add_float(current: bytes | None, increment: bytes, not_float: str, current_first: bool = False) -> bytes:
    """current + increment the way Redis's long-double arithmetic computes and prints it.

    INCRBYFLOAT validates the stored value before the increment, HINCRBYFLOAT the other
    way round (``current_first``); the first invalid one decides the error.
    """
    operands = [(increment, "ERR value is not a valid float"), (current, not_float)]
    if current_first:
        operands.reverse()
    values = []
    for raw, message in operands:
        if raw is None:
            continue
        value = parse_long_double(raw)
        if value is None:
            raise CommandError(message)
        values.append(value)
    if INFINITE in values:
        raise CommandError("ERR increment would produce NaN or Infinity")
    shift = max(v[1] for v in values)
    total = sum(n << (shift - s) for n, s in values)
    result = _round_ld(total, 1 << shift) if shift >= 0 else _round_ld(total << -shift, 1)
    if result is None:
        raise CommandError("ERR increment would produce NaN or Infinity")
    return format_long_double(result)


@command("incrbyfloat", 3, "write denyoom fast", 1, 1, 1, group="string")
def incrbyfloat_cmd(c: Client, argv: list[bytes]) -> Any:
    """Increment the float value of a key; logged as a SET of the result."""
    db = c.db
    old = db.lookup(argv[1])
    if old is not None and type(old) is not bytes:
        raise wrong_type()
    result = add_float(old, argv[2], "ERR value is not a valid float", current_first=True)
    db.set(argv[1], result, keep_ttl=True)
    c.server.propagate(db.id, [b"SET", argv[1], result, b"KEEPTTL"])
    notify(c.server, STRING, b"incrbyfloat", db, argv[1])
    return result


@command("getrange", 4, "readonly", 1, 1, 1, group="string")
def getrange_cmd(c: Client, argv: list[bytes]) -> Any:
    """Substring of a string value (Redis 7.0's index rules: a negative end clamps to 0)."""
    start, end = parse_int(argv[2]), parse_int(argv[3])
    value = get_string(c.db, argv[1])
    if value is None:
        return b""
    length = len(value)
    if start < 0 and end < 0 and start > end:
        return b""
    if start < 0:
        start = max(0, length + start)
    if end < 0:
        end = max(0, length + end)
    end = min(end, length - 1)
    if start > end or length == 0:
        return b""
    return value[start:end + 1]


@command("substr", 4, "readonly", 1, 1, 1, group="string")
def substr_cmd(c: Client, argv: list[bytes]) -> Any:
    """Alias of GETRANGE."""
    return getrange_cmd(c, argv)


@command("setrange", 4, "write denyoom", 1, 1, 1, group="string")
def setrange_cmd(c: Client, argv: list[bytes]) -> Any:
    """Overwrite part of a string value."""
    db = c.db
    offset = parse_int(argv[2])
    if offset < 0:
        raise CommandError("ERR offset is out of range")
    patch = argv[3]
    old = get_string(db, argv[1], read=False)
    if old is None:
        if not patch:
            return 0
        old = b""
    elif not patch:
        return len(old)
    if offset + len(patch) > MAX_STRING:
        raise CommandError("ERR string exceeds maximum allowed size (proto-max-bulk-len)")
    buf = bytearray(old)
    if len(buf) < offset:
        buf.extend(b"\0" * (offset - len(buf)))
    buf[offset:offset + len(patch)] = patch
    value = bytes(buf)
    db.set(argv[1], value, keep_ttl=True)
    c.server.propagate(db.id, argv)
    notify(c.server, STRING, b"setrange", db, argv[1])
    return len(value)


@command("lcs", -3, "readonly", 1, 2, 1, group="string", since="7.0.0")
def lcs_cmd(c: Client, argv: list[bytes]) -> Any:
    """Longest common subsequence of two strings."""
    # Redis checks the types before the options, with its own wording.
    db = c.db
    values = [db.lookup_read(argv[1]), db.lookup_read(argv[2])]
    if any(v is not None and type(v) is not bytes for v in values):
        raise CommandError("ERR The specified keys must contain string values")
    a, b = values[0] or b"", values[1] or b""
    want_len = want_idx = with_len = False
    min_len = 0
    i = 3
    while i < len(argv):
        opt = argv[i].lower()
        if opt == b"len":
            want_len = True
        elif opt == b"idx":
            want_idx = True
        elif opt == b"withmatchlen":
            with_len = True
        elif opt == b"minmatchlen" and i + 1 < len(argv):
            i += 1
            min_len = max(0, parse_int(argv[i]))
        else:
            raise syntax_error()
        i += 1
    if want_len and want_idx:
        raise CommandError(
            "ERR If you want both the length and indexes, please just use IDX."
        )
    if table_bytes(len(a), len(b)) > c.server.config.proto_max_bulk_len:
        raise CommandError("ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len")
    if want_len and not want_idx:
        return lcs_length(a, b)
    out, matches, total = lcs_walk(a, b, min_len, with_len)
    if want_idx:
        return {b"matches": matches, b"len": total}
    return out
