"""String commands (Redis's t_string.c).

Every write records its deterministic effect with ``server.propagate``:
relative expiry becomes ``PXAT``/``PEXPIREAT``, INCRBYFLOAT becomes a SET of
the result, so replaying the log reproduces the same state at any time.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from sentrykv_server.commands.common import MAX_STRING, expire_at_ms, get_string, ms_bytes
from sentrykv_server.commands.errors import (
    OVERFLOW,
    CommandError,
    parse_float,
    parse_int,
    syntax_error,
    wrong_type,
)
from sentrykv_server.commands.registry import command

if TYPE_CHECKING:
    from sentrykv_server.protocol.connection import Client

_MIN, _MAX = -(1 << 63), (1 << 63) - 1
_UNITS = {b"ex": (1000, False), b"px": (1, False), b"exat": (1000, True), b"pxat": (1, True)}


@command("get", 2, "readonly fast", 1, 1, 1, group="string")
def get_cmd(c: Client, argv: list[bytes]) -> Any:
    """Get the value of a key."""
    db = c.db
    key = argv[1]
    value = db.data.get(key)
    if value is None:
        db.misses += 1
        return None
    if db.expires and key in db.expires:  # may have expired: take the general path
        db.hits -= 1
        value = db.lookup_read(key)
        if value is None:
            return None
    db.hits += 1
    if type(value) is bytes:
        return value
    raise wrong_type()


@command("set", -3, "write denyoom", 1, 1, 1, group="string")
def set_cmd(c: Client, argv: list[bytes]) -> Any:
    """Set the string value of a key, with optional expiry and conditions."""
    db = c.db
    key = argv[1]
    if len(argv) == 3:  # the common case, kept short
        db.set(key, argv[2])
        c.server.propagate(db.id, argv)
        return "OK"
    nx = xx = get = keepttl = False
    when: int | None = None
    i = 3
    n = len(argv)
    now = db.keyspace.now()
    while i < n:
        opt = argv[i].lower()
        if opt == b"nx" and not xx:
            nx = True
        elif opt == b"xx" and not nx:
            xx = True
        elif opt == b"get":
            get = True
        elif opt == b"keepttl" and when is None:
            keepttl = True
        elif opt in _UNITS and when is None and not keepttl and i + 1 < n:
            unit, absolute = _UNITS[opt]
            i += 1
            when = expire_at_ms(argv[i], unit, absolute, now, "set")
        else:
            raise syntax_error()
        i += 1
    old = db.lookup(key)
    if get and old is not None and type(old) is not bytes:
        raise wrong_type()
    if (nx and old is not None) or (xx and old is None):
        return old if get else None
    value = argv[2]
    db.set(key, value, keep_ttl=keepttl)
    if when is not None:
        db.set_expire(key, when)
        c.server.propagate(db.id, [b"SET", key, value, b"PXAT", ms_bytes(when)])
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
    return 1


def _setex(c: Client, argv: list[bytes], unit: int, name: str) -> Any:
    db = c.db
    when = expire_at_ms(argv[2], unit, False, db.keyspace.now(), name)
    db.set(argv[1], argv[3])
    db.set_expire(argv[1], when)
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
    return old


@command("getdel", 2, "write fast", 1, 1, 1, group="string")
def getdel_cmd(c: Client, argv: list[bytes]) -> Any:
    """Get a key's value and delete it."""
    db = c.db
    old = get_string(db, argv[1])
    if old is not None:
        db.delete(argv[1])
        c.server.propagate(db.id, [b"DEL", argv[1]])
    return old


@command("getex", -2, "write fast", 1, 1, 1, group="string")
def getex_cmd(c: Client, argv: list[bytes]) -> Any:
    """Get a key's value and optionally change its expiry."""
    db = c.db
    key = argv[1]
    persist = False
    when: int | None = None
    i, n = 2, len(argv)
    now = db.keyspace.now()
    while i < n:
        opt = argv[i].lower()
        if opt == b"persist" and when is None and not persist:
            persist = True
        elif opt in _UNITS and when is None and not persist and i + 1 < n:
            unit, absolute = _UNITS[opt]
            i += 1
            when = expire_at_ms(argv[i], unit, absolute, now, "getex")
        else:
            raise syntax_error()
        i += 1
    value = get_string(db, key)
    if value is None:
        return None
    if when is not None:
        if when <= now:
            db.delete(key)
            c.server.propagate(db.id, [b"DEL", key])
        else:
            db.set_expire(key, when)
            c.server.propagate(db.id, [b"PEXPIREAT", key, ms_bytes(when)])
    elif persist and db.persist(key):
        c.server.propagate(db.id, [b"PERSIST", key])
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
    for i in range(1, len(argv), 2):
        db.set(argv[i], argv[i + 1])
    c.server.propagate(db.id, argv)
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
    c.server.propagate(db.id, [b"MSET", *argv[1:]])
    return 1


@command("append", 3, "write denyoom fast", 1, 1, 1, group="string")
def append_cmd(c: Client, argv: list[bytes]) -> Any:
    """Append to a string value."""
    db = c.db
    old = get_string(db, argv[1])
    value = argv[2] if old is None else old + argv[2]
    if len(value) > MAX_STRING:
        raise CommandError("ERR string exceeds maximum allowed size (proto-max-bulk-len)")
    db.set(argv[1], value, keep_ttl=True)
    c.server.propagate(db.id, argv)
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


def format_long_double(value: Decimal) -> bytes:
    """Redis's ``%.17Lf`` with trailing zeros removed (INCRBYFLOAT, HINCRBYFLOAT)."""
    text = f"{value:.17f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    if text == "-0":
        text = "0"
    return text.encode()


def add_float(current: bytes | None, increment: bytes, not_float: str) -> bytes:
    """current + increment the way Redis's long-double arithmetic prints it."""
    parse_float(increment)
    base = Decimal(0)
    if current is not None:
        parse_float(current, not_float)
        base = Decimal(current.decode())
    try:
        result = base + Decimal(increment.decode())
    except InvalidOperation:
        raise CommandError("ERR increment would produce NaN or Infinity") from None
    if not result.is_finite() or abs(result) > Decimal("1.18973149535723176502e+4932"):
        raise CommandError("ERR increment would produce NaN or Infinity")
    return format_long_double(result)


@command("incrbyfloat", 3, "write denyoom fast", 1, 1, 1, group="string")
def incrbyfloat_cmd(c: Client, argv: list[bytes]) -> Any:
    """Increment the float value of a key; logged as a SET of the result."""
    db = c.db
    old = db.lookup(argv[1])
    if old is not None and type(old) is not bytes:
        raise wrong_type()
    result = add_float(old, argv[2], "ERR value is not a valid float")
    db.set(argv[1], result, keep_ttl=True)
    c.server.propagate(db.id, [b"SET", argv[1], result, b"KEEPTTL"])
    return result


def _range(length: int, start: int, end: int) -> tuple[int, int] | None:
    if start < 0:
        start = max(0, length + start)
    if end < 0:
        end = length + end
    if end >= length:
        end = length - 1
    if start > end or length == 0 or end < 0:
        return None
    return start, end


@command("getrange", 4, "readonly", 1, 1, 1, group="string")
def getrange_cmd(c: Client, argv: list[bytes]) -> Any:
    """Substring of a string value."""
    start, end = parse_int(argv[2]), parse_int(argv[3])
    value = get_string(c.db, argv[1])
    if value is None:
        return b""
    if start < 0 and end < 0 and start > end:
        return b""
    span = _range(len(value), start, end)
    return b"" if span is None else value[span[0]:span[1] + 1]


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
    old = get_string(db, argv[1])
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
    return len(value)


@command("lcs", -3, "readonly", 1, 2, 1, group="string", since="7.0.0")
def lcs_cmd(c: Client, argv: list[bytes]) -> Any:
    """Longest common subsequence of two strings."""
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
    a = get_string(c.db, argv[1]) or b""
    b = get_string(c.db, argv[2]) or b""
    if want_len and want_idx:
        raise CommandError(
            "ERR If you want both the length and indexes, please just use IDX."
        )
    n, m = len(a), len(b)
    table = [[0] * (m + 1) for _ in range(n + 1)]
    for x in range(1, n + 1):
        row, prev, ax = table[x], table[x - 1], a[x - 1]
        for y in range(1, m + 1):
            row[y] = prev[y - 1] + 1 if ax == b[y - 1] else max(prev[y], row[y - 1])
    total = table[n][m]
    if want_len and not want_idx:
        return total
    # Walk back from the end collecting the subsequence and matching ranges.
    out = bytearray(total)
    matches: list[Any] = []
    x, y, idx = n, m, total
    a_range: list[int] | None = None
    b_range: list[int] | None = None

    def emit() -> None:
        if a_range is not None and b_range is not None:
            length = a_range[1] - a_range[0] + 1
            if length >= min_len:
                item: list[Any] = [[a_range[0], a_range[1]], [b_range[0], b_range[1]]]
                if with_len:
                    item.append(length)
                matches.append(item)

    while x > 0 and y > 0:
        if a[x - 1] == b[y - 1]:
            idx -= 1
            out[idx] = a[x - 1]
            if a_range is not None and b_range is not None and a_range[0] == x and b_range[0] == y:
                a_range[0] -= 1
                b_range[0] -= 1
            else:
                emit()
                a_range, b_range = [x - 1, x - 1], [y - 1, y - 1]
            x -= 1
            y -= 1
        elif table[x - 1][y] > table[x][y - 1]:
            x -= 1
        else:
            y -= 1
    emit()
    if want_idx:
        return {b"matches": matches, b"len": total}
    return bytes(out)
