"""Keyspace commands (Redis's db.c and expire.c command side)."""

from __future__ import annotations

import random
from itertools import islice
from typing import TYPE_CHECKING, Any

from sentrykv_server.commands.common import ms_bytes
from sentrykv_server.commands.errors import (
    DB_INDEX,
    NO_SUCH_KEY,
    CommandError,
    c_text,
    parse_int,
    syntax_error,
)
from sentrykv_server.commands.registry import command
from sentrykv_server.notify import GENERIC, notify
from sentrykv_server.protocol.reply import BulkArray
from sentrykv_server.store.glob import compile_glob
from sentrykv_server.store.scan import ScanCursors, parse_cursor
from sentrykv_server.store.types import TYPES, type_name

if TYPE_CHECKING:
    from sentrykv_server.protocol.connection import Client

CURSORS = ScanCursors()


def parse_int32(raw: bytes, message: str | None = None) -> int:
    """Redis's getIntFromObjectOrReply: a 64-bit integer that must also fit a C int.

    With no ``message`` Redis words the two failures differently.
    """
    value = parse_int(raw, message or "ERR value is not an integer or out of range")
    if not -(1 << 31) <= value < (1 << 31):
        raise CommandError(
            message or "ERR value is out of range, value must between -2147483648 and 2147483647"
        )
    return value


def db_index(c: Client, raw: bytes, message: str | None = None) -> int:
    """A database number as SELECT, MOVE and COPY parse it."""
    index = parse_int32(raw, message)
    if not 0 <= index < len(c.server.keyspace.dbs):
        raise CommandError(DB_INDEX)
    return index


@command("del", -2, "write", 1, -1, 1, group="generic")
def del_cmd(c: Client, argv: list[bytes]) -> Any:
    """Delete keys."""
    db = c.db
    server = c.server
    deleted = []
    for key in argv[1:]:
        if db.peek(key) is not None and db.delete(key):
            deleted.append(key)
            notify(server, GENERIC, b"del", db, key)
    if deleted:
        server.propagate(db.id, [b"DEL", *deleted])
    return len(deleted)


@command("unlink", -2, "write fast", 1, -1, 1, group="generic", since="4.0.0")
def unlink_cmd(c: Client, argv: list[bytes]) -> Any:
    """Delete keys (memory is reclaimed the same way as DEL here)."""
    return del_cmd(c, argv)


@command("exists", -2, "readonly fast", 1, -1, 1, group="generic")
def exists_cmd(c: Client, argv: list[bytes]) -> Any:
    """Count how many of the given keys exist (not an access: LOOKUP_NOTOUCH, but hits,
    misses and 'keymiss' are counted, as Redis's EXISTS)."""
    lookup = c.db.lookup_read
    return sum(1 for key in argv[1:] if lookup(key, False) is not None)


@command("type", 2, "readonly fast", 1, 1, 1, group="generic")
def type_cmd(c: Client, argv: list[bytes]) -> Any:
    """The type of a key's value."""
    return type_name(c.db.lookup_read(argv[1], False))


@command("keys", 2, "readonly", group="generic")
def keys_cmd(c: Client, argv: list[bytes]) -> Any:
    """All keys matching a glob pattern."""
    if argv[1] == b"*":  # Redis's allkeys: also the empty key, which a pattern never matches
        return BulkArray(list(c.db.live_keys()))
    match = compile_glob(argv[1])
    return BulkArray([key for key in c.db.live_keys() if match(key)])


@command("scan", -2, "readonly", group="generic", since="2.8.0")
def scan_cmd(c: Client, argv: list[bytes]) -> Any:
    """Incrementally iterate the keyspace."""
    cursor = parse_cursor(argv[1])
    pattern, count, kind = parse_scan_options(argv, 2, allow_type=True)
    db = c.db
    next_cursor, keys = CURSORS.page(cursor, db.live_keys(), count)
    match = compile_glob(pattern) if pattern is not None else None
    out = []
    for key in keys:
        value = db.peek(key)
        if value is None:
            continue
        if match is not None and not match(key):
            continue
        if kind is not None and type_name(value) != kind:
            continue
        out.append(key)
    return [b"%d" % next_cursor, out]


def parse_scan_options(argv: list[bytes], start: int, allow_type: bool = False) -> tuple[bytes | None, int, str | None]:
    """MATCH pattern, COUNT n (and TYPE t for SCAN) as Redis parses them."""
    pattern: bytes | None = None
    count = 10
    kind: str | None = None
    i = start
    while i < len(argv):
        opt = argv[i].lower()
        if i + 1 >= len(argv):
            raise syntax_error()
        if opt == b"match":
            pattern = argv[i + 1]
            if pattern == b"*":
                pattern = None
        elif opt == b"count":
            count = parse_int(argv[i + 1])
            if count < 1:
                raise syntax_error()
        elif opt == b"type" and allow_type:
            kind = argv[i + 1].decode("utf-8", "replace").lower()
        else:
            raise syntax_error()
        i += 2
    return pattern, count, kind


@command("randomkey", 1, "readonly", group="generic")
def randomkey_cmd(c: Client, argv: list[bytes]) -> Any:
    """A random key (expired keys met on the way are reclaimed)."""
    db = c.db
    # Redis picks again (reclaiming the expired key) until a pick is live or the db is
    # empty.  A dict has no O(1) random pick: candidates are collected in one C-speed pass
    # (islice); if a hundred of them are all expired, one walk lists the live keys instead
    # of picking forever (bounded by the keyspace, like KEYS).
    for k in (1, 100):  # usually the first pick is live
        for key in _sample_keys(db.data, k):
            if db.peek(key) is not None:
                return key
    live = list(db.live_keys())
    return random.choice(live) if live else None


def _sample_keys(data: dict[bytes, Any], k: int) -> list[bytes]:
    """Up to ``k`` distinct keys of ``data`` in random order (one pass over the dict)."""
    n = len(data)
    if n <= k:
        keys = list(data)
        random.shuffle(keys)
        return keys
    positions = sorted(random.sample(range(n), k))
    it = iter(data)
    picked = []
    last = -1
    for pos in positions:
        picked.append(next(islice(it, pos - last - 1, None)))
        last = pos
    random.shuffle(picked)
    return picked


def _rename(c: Client, argv: list[bytes], nx: bool) -> Any:
    db = c.db
    src, dst = argv[1], argv[2]
    value = db.lookup(src)
    if value is None:
        raise CommandError(NO_SUCH_KEY)
    if src == dst:
        return 0 if nx else "OK"
    replaced = db.lookup(dst) is not None
    if nx and replaced:
        return 0
    expire = db.expires.get(src)
    # Redis deletes the destination silently and adds the key anew ('new' event even when
    # it replaces one); modification signals go to the source, then the destination.
    access = db.access(src)
    db.delete(src)
    if replaced:
        db.delete(dst)
    db.add(dst, value)
    if access is not None:  # the value object moves with its access field, as in Redis
        db.set_access(dst, access)
    if expire is not None:
        db.set_expire(dst, expire)
    server = c.server
    server.propagate(db.id, [b"RENAMENX" if nx else b"RENAME", src, dst])
    notify(server, GENERIC, b"rename_from", db, src)
    notify(server, GENERIC, b"rename_to", db, dst)
    db.keyspace.signal_ready(db, dst)
    return 1 if nx else "OK"


@command("rename", 3, "write", 1, 2, 1, group="generic")
def rename_cmd(c: Client, argv: list[bytes]) -> Any:
    """Rename a key (overwriting the destination)."""
    return _rename(c, argv, False)


@command("renamenx", 3, "write fast", 1, 2, 1, group="generic")
def renamenx_cmd(c: Client, argv: list[bytes]) -> Any:
    """Rename a key only if the new name is free."""
    return _rename(c, argv, True)


@command("copy", -3, "write denyoom", 1, 2, 1, group="generic", since="6.2.0")
def copy_cmd(c: Client, argv: list[bytes]) -> Any:
    """Copy a key's value (and TTL) to another key, possibly in another database."""
    src_db = c.db
    dst_db = src_db
    replace = False
    i = 3
    while i < len(argv):
        opt = argv[i].lower()
        if opt == b"replace":
            replace = True
        elif opt == b"db" and i + 1 < len(argv):
            i += 1
            dst_db = c.server.keyspace.dbs[db_index(c, argv[i])]
        else:
            raise syntax_error()
        i += 1
    src, dst = argv[1], argv[2]
    if src_db is dst_db and src == dst:
        raise CommandError("ERR source and destination objects are the same")
    value = src_db.lookup_read(src)
    if value is None:
        return 0
    if dst_db.lookup(dst) is not None:
        if not replace:
            return 0
        dst_db.delete(dst)
    dst_db.set(dst, TYPES[type(value)].copy(value))
    expire = src_db.expires.get(src)
    if expire is not None:
        dst_db.set_expire(dst, expire)
    op = [b"COPY", src, dst, b"DB", b"%d" % dst_db.id, b"REPLACE"]
    c.server.propagate(src_db.id, op)
    notify(c.server, GENERIC, b"copy_to", dst_db, dst)
    dst_db.keyspace.signal_ready(dst_db, dst)
    return 1


@command("move", 3, "write fast", 1, 1, 1, group="generic")
def move_cmd(c: Client, argv: list[bytes]) -> Any:
    """Move a key to another database."""
    src_db = c.db
    index = db_index(c, argv[2])
    if index == src_db.id:
        raise CommandError("ERR source and destination objects are the same")
    dst_db = c.server.keyspace.dbs[index]
    key = argv[1]
    value = src_db.lookup(key)
    if value is None or dst_db.lookup(key) is not None:
        return 0
    expire = src_db.expires.get(key)
    access = src_db.access(key)
    src_db.delete(key)
    dst_db.set(key, value)
    if access is not None:
        dst_db.set_access(key, access)
    if expire is not None:
        dst_db.set_expire(key, expire)
    c.server.propagate(src_db.id, [b"MOVE", key, b"%d" % index])
    notify(c.server, GENERIC, b"move_from", src_db, key)
    notify(c.server, GENERIC, b"move_to", dst_db, key)
    dst_db.keyspace.signal_ready(dst_db, key)
    return 1


@command("dbsize", 1, "readonly fast", group="server")
def dbsize_cmd(c: Client, argv: list[bytes]) -> Any:
    """Number of keys in the selected database."""
    return len(c.db.data)


def _flush_mode(argv: list[bytes]) -> None:
    if len(argv) > 2:
        raise syntax_error()
    if len(argv) == 2 and argv[1].lower() not in (b"async", b"sync"):
        raise syntax_error()


@command("flushdb", -1, "write", group="server")
def flushdb_cmd(c: Client, argv: list[bytes]) -> Any:
    """Remove every key of the selected database."""
    _flush_mode(argv)
    c.db.clear()
    c.server.tracking.flush()
    c.server.propagate(c.db.id, [b"FLUSHDB"])
    return "OK"


@command("flushall", -1, "write", group="server")
def flushall_cmd(c: Client, argv: list[bytes]) -> Any:
    """Remove every key of every database."""
    _flush_mode(argv)
    for db in c.server.keyspace.dbs:
        db.clear()
    c.server.keyspace.expiry_heap.clear()
    c.server.tracking.flush()
    c.server.propagate(0, [b"FLUSHALL"])
    return "OK"


@command("swapdb", 3, "write fast", group="server", since="4.0.0")
def swapdb_cmd(c: Client, argv: list[bytes]) -> Any:
    """Swap two databases."""
    a = parse_int32(argv[1], "ERR invalid first DB index")
    b = parse_int32(argv[2], "ERR invalid second DB index")
    n = len(c.server.keyspace.dbs)
    if not (0 <= a < n and 0 <= b < n):
        raise CommandError(DB_INDEX)
    if a != b:
        c.server.keyspace.swap(a, b)
    c.server.propagate(c.db.id, [b"SWAPDB", argv[1], argv[2]])
    return "OK"


# -- expiry --------------------------------------------------------------------------------
def _expire(c: Client, argv: list[bytes], unit: int, absolute: bool, name: str) -> Any:
    db = c.db
    key = argv[1]
    nx = xx = gt = lt = False
    for opt in argv[3:]:
        low = opt.lower()
        if low == b"nx":
            nx = True
        elif low == b"xx":
            xx = True
        elif low == b"gt":
            gt = True
        elif low == b"lt":
            lt = True
        else:
            raise CommandError(f"ERR Unsupported option {c_text(opt)}")
    if nx and (xx or gt or lt):
        raise CommandError("ERR NX and XX, GT or LT options at the same time are not compatible")
    if gt and lt:
        raise CommandError("ERR GT and LT options at the same time are not compatible")
    raw = parse_int(argv[2])  # after the options, as Redis's expireGenericCommand
    now = db.keyspace.now()
    limit = (1 << 63) - 1
    if raw > limit // unit or raw < -(limit // unit):
        raise CommandError(f"ERR invalid expire time in '{name}' command")
    when = raw * unit
    if not absolute:
        if when > limit - now:
            raise CommandError(f"ERR invalid expire time in '{name}' command")
        when += now
    if db.lookup(key) is None:
        return 0
    current = db.expires.get(key)
    if nx and current is not None:
        return 0
    if xx and current is None:
        return 0
    if gt and (current is None or when <= current):
        return 0
    if lt and current is not None and when >= current:
        return 0
    if when <= now and not db.keyspace.loading:
        db.delete(key)
        c.server.propagate(db.id, [b"DEL", key])
        notify(c.server, GENERIC, b"del", db, key)
        return 1
    db.set_expire(key, when)
    c.server.propagate(db.id, [b"PEXPIREAT", key, ms_bytes(when)])
    notify(c.server, GENERIC, b"expire", db, key)
    return 1


@command("expire", -3, "write fast", 1, 1, 1, group="generic")
def expire_cmd(c: Client, argv: list[bytes]) -> Any:
    """Set a key's time to live in seconds."""
    return _expire(c, argv, 1000, False, "expire")


@command("pexpire", -3, "write fast", 1, 1, 1, group="generic", since="2.6.0")
def pexpire_cmd(c: Client, argv: list[bytes]) -> Any:
    """Set a key's time to live in milliseconds."""
    return _expire(c, argv, 1, False, "pexpire")


@command("expireat", -3, "write fast", 1, 1, 1, group="generic", since="1.2.0")
def expireat_cmd(c: Client, argv: list[bytes]) -> Any:
    """Set a key's expiry as a Unix time in seconds."""
    return _expire(c, argv, 1000, True, "expireat")


@command("pexpireat", -3, "write fast", 1, 1, 1, group="generic", since="2.6.0")
def pexpireat_cmd(c: Client, argv: list[bytes]) -> Any:
    """Set a key's expiry as a Unix time in milliseconds."""
    return _expire(c, argv, 1, True, "pexpireat")


def _ttl(c: Client, key: bytes, unit: int, absolute: bool) -> int:
    db = c.db
    if db.lookup_read(key, touch=False) is None:
        return -2
    when = db.expires.get(key)
    if when is None:
        return -1
    if absolute:
        return when // unit
    remaining = max(0, when - db.keyspace.now())
    return (remaining + 500) // 1000 if unit == 1000 else remaining


@command("ttl", 2, "readonly fast", 1, 1, 1, group="generic")
def ttl_cmd(c: Client, argv: list[bytes]) -> Any:
    """Remaining time to live in seconds."""
    return _ttl(c, argv[1], 1000, False)


@command("pttl", 2, "readonly fast", 1, 1, 1, group="generic", since="2.6.0")
def pttl_cmd(c: Client, argv: list[bytes]) -> Any:
    """Remaining time to live in milliseconds."""
    return _ttl(c, argv[1], 1, False)


@command("expiretime", 2, "readonly fast", 1, 1, 1, group="generic", since="7.0.0")
def expiretime_cmd(c: Client, argv: list[bytes]) -> Any:
    """Absolute expiry as a Unix time in seconds."""
    return _ttl(c, argv[1], 1000, True)


@command("pexpiretime", 2, "readonly fast", 1, 1, 1, group="generic", since="7.0.0")
def pexpiretime_cmd(c: Client, argv: list[bytes]) -> Any:
    """Absolute expiry as a Unix time in milliseconds."""
    return _ttl(c, argv[1], 1, True)


@command("persist", 2, "write fast", 1, 1, 1, group="generic", since="2.2.0")
def persist_cmd(c: Client, argv: list[bytes]) -> Any:
    """Remove a key's time to live."""
    db = c.db
    if db.lookup(argv[1]) is None or not db.persist(argv[1]):
        return 0
    c.server.propagate(db.id, [b"PERSIST", argv[1]])
    notify(c.server, GENERIC, b"persist", db, argv[1])
    return 1


@command("touch", -2, "readonly fast", 1, -1, 1, group="generic", since="3.2.1")
def touch_cmd(c: Client, argv: list[bytes]) -> Any:
    """Count existing keys, recording an access to each (their idle time restarts).

    Redis's lookupKeyRead: hits, misses and 'keymiss' events are counted too."""
    lookup = c.db.lookup_read
    return sum(1 for key in argv[1:] if lookup(key) is not None)
