"""Set commands (Redis's t_set.c).

Random pops are logged as their concrete effect (SREM of the members that
were popped, or DEL when the whole set went), so replay does not depend on
luck.  The *STORE commands are deterministic given the data and are logged as
sent.  SRANDMEMBER is a read and logs nothing.
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
    parse_positive,
    scan_cursor,
    scan_page,
    will_modify,
)
from sentrykv_server.commands.errors import CommandError, syntax_error, wrong_type
from sentrykv_server.commands.registry import command
from sentrykv_server.notify import GENERIC, SET, notify
from sentrykv_server.protocol.reply import SetReply
from sentrykv_server.store.sets import RedisSet, is_int, members, new_set

if TYPE_CHECKING:
    from sentrykv_server.protocol.connection import Client
    from sentrykv_server.store.keyspace import Database

_POSITIVE = "ERR value is out of range, must be positive"


def get_set(db: Database, key: bytes, read: bool = False) -> RedisSet | None:
    value = db.lookup_read(key) if read else db.lookup(key)
    if value is None or type(value) is RedisSet:
        return value
    raise wrong_type()


def _max_intset(c: Client) -> int:
    return config_int(c, "set-max-intset-entries")


def _add(s: RedisSet, member: bytes, max_intset: int) -> bool:
    """setTypeAdd: add one member, converting an intset when it stops qualifying."""
    if member in s:
        return False
    s.add(member)
    if not s.big and (len(s) > max_intset or not is_int(member)):
        s.big = True
    return True


@command("sadd", -3, "write denyoom fast", 1, 1, 1, group="set")
def sadd_cmd(c: Client, argv: list[bytes]) -> Any:
    """Add members; replies how many were new."""
    db = c.db
    key = argv[1]
    s = get_set(db, key)
    created = s is None
    if s is None:
        s = RedisSet()
    else:
        will_modify(db, key)
    limit = _max_intset(c)
    added = 0
    for member in argv[2:]:
        if _add(s, member, limit):
            added += 1
    if created:
        db.add(key, s)
    elif added:
        modified(db, key)
    if added:
        server = c.server
        server.propagate(db.id, argv)
        if server.notify_flags:
            notify(server, SET, b"sadd", db, key)
    return added


@command("srem", -3, "write fast", 1, 1, 1, group="set")
def srem_cmd(c: Client, argv: list[bytes]) -> Any:
    """Remove members; the key goes away with its last member."""
    db = c.db
    key = argv[1]
    s = get_set(db, key)
    if s is None:
        return 0
    will_modify(db, key)
    removed = 0
    for member in argv[2:]:
        if member in s:
            s.discard(member)
            removed += 1
    if removed:
        _after_removal(c, db, key, s, b"srem")
        c.server.propagate(db.id, argv)
    return removed


def _after_removal(c: Client, db: Database, key: bytes, s: RedisSet, event: bytes) -> None:
    """The srem/spop event, then the key goes (with a 'del' event) when it is empty."""
    server = c.server
    notify(server, SET, event, db, key)
    if s:
        modified(db, key)
    else:
        db.delete(key)
        notify(server, GENERIC, b"del", db, key)


@command("smembers", 2, "readonly", 1, 1, 1, group="set")
def smembers_cmd(c: Client, argv: list[bytes]) -> Any:
    """Every member (a set in RESP3)."""
    s = get_set(c.db, argv[1], read=True)
    return SetReply() if s is None else SetReply(members(s))


@command("sismember", 3, "readonly fast", 1, 1, 1, group="set")
def sismember_cmd(c: Client, argv: list[bytes]) -> Any:
    """1 if the member is in the set."""
    s = get_set(c.db, argv[1], read=True)
    return 1 if s is not None and argv[2] in s else 0


@command("smismember", -3, "readonly fast", 1, 1, 1, group="set", since="6.2.0")
def smismember_cmd(c: Client, argv: list[bytes]) -> Any:
    """Membership of several members."""
    s = get_set(c.db, argv[1], read=True)
    if s is None:
        return [0] * (len(argv) - 2)
    return [1 if m in s else 0 for m in argv[2:]]


@command("scard", 2, "readonly fast", 1, 1, 1, group="set")
def scard_cmd(c: Client, argv: list[bytes]) -> Any:
    """Number of members."""
    s = get_set(c.db, argv[1], read=True)
    return 0 if s is None else len(s)


# -- random access -----------------------------------------------------------------------
@command("spop", -2, "write fast", 1, 1, 1, group="set")
def spop_cmd(c: Client, argv: list[bytes]) -> Any:
    """Remove and return random members; logged as SREM of what was popped."""
    if len(argv) == 3:
        return _spop_count(c, argv)
    if len(argv) > 3:
        raise syntax_error()
    db = c.db
    key = argv[1]
    s = get_set(db, key)
    if s is None:
        return None
    member = random.choice(tuple(s))
    will_modify(db, key)
    s.discard(member)
    _after_removal(c, db, key, s, b"spop")
    c.server.propagate(db.id, [b"SREM", key, member])
    return member


def _spop_count(c: Client, argv: list[bytes]) -> Any:
    count = parse_positive(argv[2], _POSITIVE)
    db = c.db
    key = argv[1]
    s = get_set(db, key)
    if s is None or count == 0:
        return SetReply()
    notify(c.server, SET, b"spop", db, key)
    if count >= len(s):
        out = members(s)
        db.delete(key)
        c.server.propagate(db.id, [b"DEL", key])
        notify(c.server, GENERIC, b"del", db, key)
        return SetReply(out)
    popped = random.sample(tuple(s), count)
    will_modify(db, key)
    s.difference_update(popped)
    modified(db, key)
    limit = _max_intset(c)
    if s.big and len(s) * 5 <= count and len(s) <= limit and all(is_int(m) for m in s):
        # When few members survive, Redis rebuilds the set from the survivors (its
        # "CASE 3"), so a table can become an intset again; log the rebuild itself so
        # that replay reaches the same encoding.
        s.big = False
        ops = [[b"DEL", key], [b"SADD", key, *members(s)]]
        when = db.expires.get(key)
        if when is not None:
            ops.append([b"PEXPIREAT", key, b"%d" % when])
        for op in ops:
            c.server.propagate(db.id, op)
    else:
        c.server.propagate(db.id, [b"SREM", key, *popped])
    return SetReply(popped)


@command("srandmember", -2, "readonly", 1, 1, 1, group="set")
def srandmember_cmd(c: Client, argv: list[bytes]) -> Any:
    """Random members (negative count: may repeat)."""
    if len(argv) > 3:
        raise syntax_error()
    if len(argv) == 2:
        s = get_set(c.db, argv[1], read=True)
        if s is None:
            return None
        return random.choice(tuple(s))
    count = parse_long_range(argv[2], -LONG_MAX, LONG_MAX)
    s = get_set(c.db, argv[1], read=True)
    if s is None or count == 0:
        return []
    if count < 0:
        return random.choices(tuple(s), k=check_repeat_count(count))
    if count >= len(s):
        return members(s)
    return random.sample(tuple(s), count)


@command("smove", 4, "write fast", 1, 2, 1, group="set")
def smove_cmd(c: Client, argv: list[bytes]) -> Any:
    """Move a member from one set to another."""
    db = c.db
    src_key, dst_key, member = argv[1], argv[2], argv[3]
    src = db.lookup(src_key)
    dst = db.lookup(dst_key)
    if src is None:
        return 0
    if type(src) is not RedisSet or (dst is not None and type(dst) is not RedisSet):
        raise wrong_type()
    if src_key == dst_key:
        return 1 if member in src else 0
    if member not in src:
        return 0
    will_modify(db, src_key)
    src.discard(member)
    _after_removal(c, db, src_key, src, b"srem")
    if dst is None:
        dst = RedisSet()
        _add(dst, member, _max_intset(c))
        db.add(dst_key, dst)
        added = True
    else:
        will_modify(db, dst_key)
        added = _add(dst, member, _max_intset(c))
        if added:
            modified(db, dst_key)
    if added:
        notify(c.server, SET, b"sadd", db, dst_key)
    c.server.propagate(db.id, argv)
    return 1


# -- algebra -----------------------------------------------------------------------------
def _load_sets(c: Client, keys: list[bytes]) -> list[RedisSet | None]:
    """Look up every key (missing = None), WRONGTYPE for any other type."""
    db = c.db
    out: list[RedisSet | None] = []
    for key in keys:
        out.append(get_set(db, key, read=True))
    return out


def _inter(sets: list[RedisSet | None], limit: int = 0) -> list[bytes]:
    """Members of every set, in the order Redis emits them (iterating the smallest set)."""
    if any(s is None for s in sets):
        return []
    present = sorted((s for s in sets if s is not None), key=len)
    first, rest = present[0], present[1:]
    out: list[bytes] = []
    for m in members(first):
        if all(m in s for s in rest):
            out.append(m)
            if limit and len(out) >= limit:
                break
    return out


def _union(sets: list[RedisSet | None]) -> set[bytes]:
    result: set[bytes] = set()
    for s in sets:
        if s is not None:
            result |= s
    return result


def _diff(sets: list[RedisSet | None]) -> set[bytes]:
    first = sets[0]
    if first is None:
        return set()
    result = set(first)
    for s in sets[1:]:
        if s is not None:
            if s is first:
                return set()
            result -= s
    return result


def _store(c: Client, argv: list[bytes], dst: bytes, result: Any, event: bytes) -> int:
    db = c.db
    if result:
        db.set(dst, new_set(result, _max_intset(c)))
        c.server.propagate(db.id, argv)
        notify(c.server, SET, event, db, dst)
        return len(result)
    if db.lookup(dst) is not None:
        db.delete(dst)
        c.server.propagate(db.id, [b"DEL", dst])
        notify(c.server, GENERIC, b"del", db, dst)
    return 0


@command("sinter", -2, "readonly", 1, -1, 1, group="set")
def sinter_cmd(c: Client, argv: list[bytes]) -> Any:
    """Intersection of sets."""
    return SetReply(_inter(_load_sets(c, argv[1:])))


@command("sinterstore", -3, "write denyoom", 1, -1, 1, group="set")
def sinterstore_cmd(c: Client, argv: list[bytes]) -> Any:
    """Store the intersection of sets."""
    return _store(c, argv, argv[1], _inter(_load_sets(c, argv[2:])), b"sinterstore")


@command("sintercard", -3, "readonly movablekeys", group="set", since="7.0.0")
def sintercard_cmd(c: Client, argv: list[bytes]) -> Any:
    """Size of the intersection (stopping at LIMIT)."""
    numkeys = parse_long_range(argv[1], 1, LONG_MAX, "ERR numkeys should be greater than 0")
    if numkeys > len(argv) - 2:
        raise CommandError("ERR Number of keys can't be greater than number of args")
    limit = 0
    j = 2 + numkeys
    while j < len(argv):
        if argv[j].lower() == b"limit" and j + 1 < len(argv):
            j += 1
            limit = parse_positive(argv[j], "ERR LIMIT can't be negative")
        else:
            raise syntax_error()
        j += 1
    return len(_inter(_load_sets(c, argv[2:2 + numkeys]), limit))


def _ordered(result: set[bytes], c: Client) -> list[bytes]:
    """Reply order of SUNION/SDIFF: the result is built as a set, an intset if it can be."""
    return members(new_set(result, _max_intset(c)))


@command("sunion", -2, "readonly", 1, -1, 1, group="set")
def sunion_cmd(c: Client, argv: list[bytes]) -> Any:
    """Union of sets."""
    return SetReply(_ordered(_union(_load_sets(c, argv[1:])), c))


@command("sunionstore", -3, "write denyoom", 1, -1, 1, group="set")
def sunionstore_cmd(c: Client, argv: list[bytes]) -> Any:
    """Store the union of sets."""
    return _store(c, argv, argv[1], _union(_load_sets(c, argv[2:])), b"sunionstore")


@command("sdiff", -2, "readonly", 1, -1, 1, group="set")
def sdiff_cmd(c: Client, argv: list[bytes]) -> Any:
    """Members of the first set not in the others."""
    return SetReply(_ordered(_diff(_load_sets(c, argv[1:])), c))


@command("sdiffstore", -3, "write denyoom", 1, -1, 1, group="set")
def sdiffstore_cmd(c: Client, argv: list[bytes]) -> Any:
    """Store the difference of sets."""
    return _store(c, argv, argv[1], _diff(_load_sets(c, argv[2:])), b"sdiffstore")


@command("sscan", -3, "readonly", 1, 1, 1, group="set", since="2.8.0")
def sscan_cmd(c: Client, argv: list[bytes]) -> Any:
    """Iterate members with a cursor."""
    cursor = scan_cursor(argv[2])
    s = get_set(c.db, argv[1], read=True)
    if s is None:
        return [b"0", []]
    names = members(s) if not s.big else s
    next_cursor, page, match = scan_page(argv, cursor, names, not s.big, len(s))
    out = [m for m in page if m in s and (match is None or match(m))]
    return [b"%d" % next_cursor, out]
