"""Hash commands (Redis's t_hash.c).

Writes are logged as they were sent (they are deterministic), except
HINCRBYFLOAT, which is logged as an HSET of the printed result so that replay
never redoes floating-point arithmetic.  HRANDFIELD is a read and logs nothing.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any

from sentrykv_server.commands.containers import (
    LONG_MAX,
    check_repeat_count,
    config_int,
    modified,
    parse_long_range,
    scan_cursor,
    scan_page,
    will_modify,
)
from sentrykv_server.commands.errors import (
    NOT_FLOAT,
    CommandError,
    parse_int,
    syntax_error,
    wrong_args,
    wrong_type,
)
from sentrykv_server.commands.registry import command
from sentrykv_server.commands.strings import INFINITE, add_float, parse_long_double
from sentrykv_server.notify import GENERIC, HASH, notify
from sentrykv_server.protocol.reply import BulkArray
from sentrykv_server.store.hashes import Hash
from sentrykv_server.store.shared import share

if TYPE_CHECKING:
    from sentrykv_server.protocol.connection import Client
    from sentrykv_server.store.keyspace import Database

_MIN, _MAX = -(1 << 63), (1 << 63) - 1


def _read(db: Database, key: bytes) -> Hash | None:
    value = db.lookup_read(key)
    if value is None or type(value) is Hash:
        return value
    raise wrong_type()


def _write(db: Database, key: bytes) -> Hash | None:
    value = db.lookup(key)
    if value is None or type(value) is Hash:
        return value
    raise wrong_type()


def _open_or_create(c: Client, key: bytes) -> tuple[Hash, bool]:
    """hashTypeLookupWriteOrCreate: (hash, created)."""
    db = c.db
    h = _write(db, key)
    if h is None:
        return Hash(), True
    will_modify(db, key)
    return h, False


def _check_sizes(c: Client, h: Hash, args: list[bytes]) -> None:
    """hashTypeTryConversion: any argument longer than the listpack value limit converts."""
    if h.big:
        return
    limit = config_int(c, "hash-max-listpack-value")
    for arg in args:
        if len(arg) > limit:
            h.big = True
            return


def _check_length(c: Client, h: Hash) -> None:
    if not h.big and len(h) > config_int(c, "hash-max-listpack-entries"):
        h.big = True


def _store(c: Client, key: bytes, h: Hash, created: bool, event: bytes) -> None:
    db = c.db
    if created:
        db.add(key, h)
    else:
        modified(db, key)
    server = c.server
    if server.notify_flags:
        notify(server, HASH, event, db, key)


@command("hset", -4, "write denyoom fast", 1, 1, 1, group="hash", since="2.0.0")
def hset_cmd(c: Client, argv: list[bytes]) -> Any:
    """Set fields of a hash; replies how many were new."""
    if len(argv) % 2:
        raise wrong_args("hset")
    return _hset(c, argv)


@command("hmset", -4, "write denyoom fast", 1, 1, 1, group="hash", since="2.0.0")
def hmset_cmd(c: Client, argv: list[bytes]) -> Any:
    """Set fields of a hash (old form, replies OK)."""
    if len(argv) % 2:
        raise wrong_args("hmset")
    _hset(c, argv)
    return "OK"


def _hset(c: Client, argv: list[bytes]) -> int:
    key = argv[1]
    h, created = _open_or_create(c, key)
    _check_sizes(c, h, argv[2:])
    before = len(h)
    for i in range(2, len(argv), 2):
        h[argv[i]] = share(argv[i + 1])
    _check_length(c, h)
    _store(c, key, h, created, b"hset")
    c.server.propagate(c.db.id, argv)
    return len(h) - before


@command("hsetnx", 4, "write denyoom fast", 1, 1, 1, group="hash", since="2.0.0")
def hsetnx_cmd(c: Client, argv: list[bytes]) -> Any:
    """Set a field only if it does not exist."""
    key, field = argv[1], argv[2]
    h, created = _open_or_create(c, key)
    if field in h:
        return 0
    _check_sizes(c, h, argv[2:4])
    h[field] = share(argv[3])
    _check_length(c, h)
    _store(c, key, h, created, b"hset")
    c.server.propagate(c.db.id, [b"HSET", key, field, argv[3]])
    return 1


@command("hget", 3, "readonly fast", 1, 1, 1, group="hash", since="2.0.0")
def hget_cmd(c: Client, argv: list[bytes]) -> Any:
    """Value of a field."""
    h = _read(c.db, argv[1])
    return None if h is None else h.get(argv[2])


@command("hmget", -3, "readonly fast", 1, 1, 1, group="hash", since="2.0.0")
def hmget_cmd(c: Client, argv: list[bytes]) -> Any:
    """Values of several fields."""
    h = _read(c.db, argv[1])
    if h is None:
        return [None] * (len(argv) - 2)
    get = h.get
    return [get(f) for f in argv[2:]]


@command("hdel", -3, "write fast", 1, 1, 1, group="hash", since="2.0.0")
def hdel_cmd(c: Client, argv: list[bytes]) -> Any:
    """Delete fields; the key goes away with its last field."""
    db = c.db
    key = argv[1]
    h = _write(db, key)
    if h is None:
        return 0
    will_modify(db, key)
    deleted = 0
    for field in argv[2:]:
        if h.pop(field, None) is not None:
            deleted += 1
    if deleted:
        server = c.server
        notify(server, HASH, b"hdel", db, key)
        if h:
            modified(db, key)
        else:
            db.delete(key)
            notify(server, GENERIC, b"del", db, key)
        server.propagate(db.id, argv)
    return deleted


@command("hlen", 2, "readonly fast", 1, 1, 1, group="hash", since="2.0.0")
def hlen_cmd(c: Client, argv: list[bytes]) -> Any:
    """Number of fields."""
    h = _read(c.db, argv[1])
    return 0 if h is None else len(h)


@command("hstrlen", 3, "readonly fast", 1, 1, 1, group="hash", since="3.2.0")
def hstrlen_cmd(c: Client, argv: list[bytes]) -> Any:
    """Length of a field's value."""
    h = _read(c.db, argv[1])
    if h is None:
        return 0
    value = h.get(argv[2])
    return 0 if value is None else len(value)


@command("hexists", 3, "readonly fast", 1, 1, 1, group="hash", since="2.0.0")
def hexists_cmd(c: Client, argv: list[bytes]) -> Any:
    """1 if the field exists."""
    h = _read(c.db, argv[1])
    return 1 if h is not None and argv[2] in h else 0


@command("hgetall", 2, "readonly", 1, 1, 1, group="hash", since="2.0.0")
def hgetall_cmd(c: Client, argv: list[bytes]) -> Any:
    """Every field and value (a map in RESP3)."""
    h = _read(c.db, argv[1])
    return {} if h is None else dict(h)


@command("hkeys", 2, "readonly", 1, 1, 1, group="hash", since="2.0.0")
def hkeys_cmd(c: Client, argv: list[bytes]) -> Any:
    """Every field."""
    h = _read(c.db, argv[1])
    return [] if h is None else BulkArray(h)


@command("hvals", 2, "readonly", 1, 1, 1, group="hash", since="2.0.0")
def hvals_cmd(c: Client, argv: list[bytes]) -> Any:
    """Every value."""
    h = _read(c.db, argv[1])
    return [] if h is None else BulkArray(h.values())


@command("hincrby", 4, "write denyoom fast", 1, 1, 1, group="hash", since="2.0.0")
def hincrby_cmd(c: Client, argv: list[bytes]) -> Any:
    """Add an integer to a field."""
    incr = parse_int(argv[3])
    key, field = argv[1], argv[2]
    h, created = _open_or_create(c, key)
    old = h.get(field)
    if old is None:
        value = 0
    else:
        value = parse_int(old, "ERR hash value is not an integer")
    if (incr < 0 and value < 0 and incr < _MIN - value) or (
        incr > 0 and value > 0 and incr > _MAX - value
    ):
        raise CommandError("ERR increment or decrement would overflow")
    value += incr
    new = b"%d" % value
    _check_sizes(c, h, [field, new])
    h[field] = new
    _check_length(c, h)
    _store(c, key, h, created, b"hincrby")
    c.server.propagate(c.db.id, argv)
    return value


@command("hincrbyfloat", 4, "write denyoom fast", 1, 1, 1, group="hash", since="2.6.0")
def hincrbyfloat_cmd(c: Client, argv: list[bytes]) -> Any:
    """Add a float to a field; logged as HSET of the result."""
    raw = argv[3]
    incr = parse_long_double(raw)  # strtold: hex floats and inf are numbers too
    if incr is None:
        raise CommandError(NOT_FLOAT)
    if incr == INFINITE:
        raise CommandError("ERR value is NaN or Infinity")
    key, field = argv[1], argv[2]
    h, created = _open_or_create(c, key)
    new = add_float(h.get(field), raw, "ERR hash value is not a float")
    _check_sizes(c, h, [field, new])
    h[field] = new
    _check_length(c, h)
    _store(c, key, h, created, b"hincrbyfloat")
    c.server.propagate(c.db.id, [b"HSET", key, field, new])
    return new


@command("hrandfield", -2, "readonly", 1, 1, 1, group="hash", since="6.2.0")
def hrandfield_cmd(c: Client, argv: list[bytes]) -> Any:
    """Random fields (with values), Redis's four sampling cases."""
    if len(argv) == 2:
        h = _read(c.db, argv[1])
        if h is None:
            return None
        return _random_keys(h, 1)[0]
    count = parse_long_range(argv[2], -LONG_MAX, LONG_MAX)
    withvalues = False
    if len(argv) > 4 or (len(argv) == 4 and argv[3].lower() != b"withvalues"):
        raise syntax_error()
    if len(argv) == 4:
        withvalues = True
        if count < -LONG_MAX // 2 or count > LONG_MAX // 2:
            raise CommandError("ERR value is out of range")
    h = _read(c.db, argv[1])
    if h is None or count == 0:
        return []
    if count < 0:
        fields = _random_keys(h, check_repeat_count(count), unique=False)
    elif count >= len(h):
        fields = list(h)
    else:
        fields = _random_keys(h, count)
    if not withvalues:
        return fields
    if c.resp3:
        return [[f, h[f]] for f in fields]
    out: list[bytes] = []
    for f in fields:
        out.append(f)
        out.append(h[f])
    return out


def _random_keys(h: Hash, count: int, unique: bool = True) -> list[bytes]:
    keys = list(h)
    if not unique:
        return random.choices(keys, k=count)
    return random.sample(keys, count)


@command("hscan", -3, "readonly", 1, 1, 1, group="hash", since="2.8.0")
def hscan_cmd(c: Client, argv: list[bytes]) -> Any:
    """Iterate fields and values with a cursor."""
    cursor = scan_cursor(argv[2])
    h = _read(c.db, argv[1])
    if h is None:
        return [b"0", []]
    next_cursor, fields, match = scan_page(argv, cursor, h, not h.big, len(h))
    out: list[bytes] = []
    for f in fields:
        value = h.get(f)
        if value is None or (match is not None and not match(f)):
            continue
        out.append(f)
        out.append(value)
    return [b"%d" % next_cursor, out]
