"""List commands (Redis's t_list.c).

Pushes wake clients blocked on the key (``keyspace.signal_ready``).  Every
write here is deterministic and is logged as sent, except LMPOP, which is
logged as the LPOP/RPOP with count that it turned into (as Redis replicates
it).

:func:`list_pop` and :func:`list_push` are the building blocks the blocking
commands (BLPOP, BLMOVE, BLMPOP...) reuse.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sentrykv_server.commands.containers import (
    LONG_MAX,
    modified,
    parse_long_range,
    parse_positive,
    will_modify,
)
from sentrykv_server.commands.errors import (
    NO_SUCH_KEY,
    CommandError,
    parse_int,
    syntax_error,
    wrong_args,
    wrong_type,
)
from sentrykv_server.commands.registry import command
from sentrykv_server.notify import GENERIC, LIST, notify
from sentrykv_server.protocol.reply import NULL_ARRAY, BulkArray
from sentrykv_server.store.lists import QuickList, clamp_range, iter_range

if TYPE_CHECKING:
    from sentrykv_server.protocol.connection import Client
    from sentrykv_server.server import Server
    from sentrykv_server.store.keyspace import Database


# -- building blocks (also used by the blocking commands) ---------------------------------
def get_list(db: Database, key: bytes, read: bool = False) -> QuickList | None:
    """The list at ``key`` or None; WRONGTYPE for another type."""
    value = db.lookup_read(key) if read else db.lookup(key)
    if value is None or type(value) is QuickList:
        return value
    raise wrong_type()


def list_push(server: Server, db: Database, key: bytes, values: list[bytes], left: bool,
              create: bool = True) -> int:
    """Push values at one end (LPUSH order: each value goes in front of the previous).

    Returns the new length, or 0 when the key is missing and ``create`` is
    False (LPUSHX).  Raises WRONGTYPE.  Raises the lpush/rpush event and wakes
    blocked clients; does not log.
    """
    lst = get_list(db, key)
    if lst is None:
        if not create:
            return 0
        lst = QuickList()
        (lst.extendleft if left else lst.extend)(values)
        db.add(key, lst)
    else:
        will_modify(db, key)
        (lst.extendleft if left else lst.extend)(values)
        modified(db, key)
    if server.notify_flags:
        notify(server, LIST, b"lpush" if left else b"rpush", db, key)
    db.keyspace.signal_ready(db, key)
    return len(lst)


def _popped(server: Server, db: Database, key: bytes, lst: QuickList, left: bool) -> None:
    """listElementsRemoved: the lpop/rpop event, then the key goes when it is empty."""
    if server.notify_flags:
        notify(server, LIST, b"lpop" if left else b"rpop", db, key)
    if lst:
        modified(db, key)
    else:
        db.delete(key)
        if server.notify_flags:
            notify(server, GENERIC, b"del", db, key)


def list_pop(server: Server, db: Database, key: bytes, left: bool, count: int = 1) -> list[bytes]:
    """Pop up to ``count`` elements from one end, in pop order; [] if the key is missing.

    Deletes the key when it becomes empty.  Raises WRONGTYPE.  Does not log:
    the caller propagates ``LPOP key n`` / ``RPOP key n``.
    """
    lst = get_list(db, key)
    if lst is None or count <= 0:
        return []
    will_modify(db, key)
    n = min(count, len(lst))
    pop = lst.popleft if left else lst.pop
    out = [pop() for _ in range(n)]
    _popped(server, db, key, lst, left)
    return out


def list_move(server: Server, db: Database, src: bytes, dst: bytes, src_left: bool,
              dst_left: bool) -> bytes | None:
    """LMOVE's effect: pop from ``src``, push to ``dst``; None when ``src`` is missing.

    Checks both types before changing anything (WRONGTYPE).  As in Redis the
    push (and its event) happens before the source's pop event and its
    deletion; with ``src == dst`` it is a rotation and the key never goes
    away.  Does not log.
    """
    source = get_list(db, src)
    if source is None:
        return None
    if src != dst:
        get_list(db, dst)  # type check before popping
    will_modify(db, src)
    value = source.popleft() if src_left else source.pop()
    list_push(server, db, dst, [value], dst_left)
    _popped(server, db, src, source, src_left)
    return value


def parse_where(raw: bytes) -> bool:
    """LEFT -> True, RIGHT -> False (getListPositionFromObjectOrReply)."""
    low = raw.lower()
    if low == b"left":
        return True
    if low == b"right":
        return False
    raise syntax_error()


# -- push ------------------------------------------------------------------------------------
def _push(c: Client, argv: list[bytes], left: bool, create: bool) -> int:
    db = c.db
    length = list_push(c.server, db, argv[1], argv[2:], left, create)
    if length:
        c.server.propagate(db.id, argv)
    return length


@command("lpush", -3, "write denyoom fast", 1, 1, 1, group="list")
def lpush_cmd(c: Client, argv: list[bytes]) -> Any:
    """Prepend elements."""
    return _push(c, argv, True, True)


@command("rpush", -3, "write denyoom fast", 1, 1, 1, group="list")
def rpush_cmd(c: Client, argv: list[bytes]) -> Any:
    """Append elements."""
    return _push(c, argv, False, True)


@command("lpushx", -3, "write denyoom fast", 1, 1, 1, group="list", since="2.2.0")
def lpushx_cmd(c: Client, argv: list[bytes]) -> Any:
    """Prepend only to an existing list."""
    return _push(c, argv, True, False)


@command("rpushx", -3, "write denyoom fast", 1, 1, 1, group="list", since="2.2.0")
def rpushx_cmd(c: Client, argv: list[bytes]) -> Any:
    """Append only to an existing list."""
    return _push(c, argv, False, False)


# -- pop -------------------------------------------------------------------------------------
def _pop(c: Client, argv: list[bytes], left: bool, name: str) -> Any:
    if len(argv) > 3:
        raise wrong_args(name)
    db = c.db
    key = argv[1]
    if len(argv) == 3:
        count = parse_positive(argv[2], "ERR value is out of range, must be positive")
        lst = get_list(db, key)
        if lst is None:
            return NULL_ARRAY
        if count == 0:
            return []
        out = list_pop(c.server, db, key, left, count)
        c.server.propagate(db.id, [argv[0], key, b"%d" % len(out)])
        return out
    lst = get_list(db, key)
    if lst is None:
        return None
    value = list_pop(c.server, db, key, left, 1)[0]
    c.server.propagate(db.id, [argv[0], key])
    return value


@command("lpop", -2, "write fast", 1, 1, 1, group="list")
def lpop_cmd(c: Client, argv: list[bytes]) -> Any:
    """Remove and return the first element(s)."""
    return _pop(c, argv, True, "lpop")


@command("rpop", -2, "write fast", 1, 1, 1, group="list")
def rpop_cmd(c: Client, argv: list[bytes]) -> Any:
    """Remove and return the last element(s)."""
    return _pop(c, argv, False, "rpop")


def parse_mpop(argv: list[bytes], numkeys_idx: int) -> tuple[list[bytes], bool, int]:
    """LMPOP/BLMPOP arguments after the timeout: (keys, left, count)."""
    numkeys = parse_long_range(argv[numkeys_idx], 1, LONG_MAX, "ERR numkeys should be greater than 0")
    where_idx = numkeys_idx + numkeys + 1
    if where_idx >= len(argv):
        raise syntax_error()
    left = parse_where(argv[where_idx])
    count = -1
    j = where_idx + 1
    while j < len(argv):
        if count == -1 and argv[j].lower() == b"count" and j + 1 < len(argv):
            j += 1
            count = parse_long_range(argv[j], 1, LONG_MAX, "ERR count should be greater than 0")
        else:
            raise syntax_error()
        j += 1
    return argv[numkeys_idx + 1:where_idx], left, (1 if count == -1 else count)


def mpop_first(c: Client, keys: list[bytes], left: bool, count: int) -> Any:
    """Pop from the first non-empty list; reply [key, [elements]] or None. Logs the pop."""
    db = c.db
    for key in keys:
        lst = get_list(db, key)
        if lst is None:
            continue
        out = list_pop(c.server, db, key, left, count)
        c.server.propagate(db.id, [b"LPOP" if left else b"RPOP", key, b"%d" % len(out)])
        return [key, out]
    return None


@command("lmpop", -4, "write movablekeys", group="list", since="7.0.0")
def lmpop_cmd(c: Client, argv: list[bytes]) -> Any:
    """Pop elements from the first non-empty list among several."""
    keys, left, count = parse_mpop(argv, 1)
    result = mpop_first(c, keys, left, count)
    return NULL_ARRAY if result is None else result


# -- reads -----------------------------------------------------------------------------------
@command("llen", 2, "readonly fast", 1, 1, 1, group="list")
def llen_cmd(c: Client, argv: list[bytes]) -> Any:
    """Length of a list."""
    lst = get_list(c.db, argv[1], read=True)
    return 0 if lst is None else len(lst)


@command("lrange", 4, "readonly", 1, 1, 1, group="list")
def lrange_cmd(c: Client, argv: list[bytes]) -> Any:
    """Elements between two indexes (inclusive)."""
    start, end = parse_int(argv[2]), parse_int(argv[3])
    lst = get_list(c.db, argv[1], read=True)
    if lst is None:
        return []
    span = clamp_range(len(lst), start, end)
    if span is None:
        return []
    return BulkArray(iter_range(lst, span[0], span[1]))


@command("lindex", 3, "readonly", 1, 1, 1, group="list")
def lindex_cmd(c: Client, argv: list[bytes]) -> Any:
    """Element at an index."""
    lst = get_list(c.db, argv[1], read=True)
    if lst is None:
        return None
    index = parse_int(argv[2])
    n = len(lst)
    if index < 0:
        index += n
    if not 0 <= index < n:
        return None
    return lst[index]


@command("lpos", -3, "readonly", 1, 1, 1, group="list", since="6.0.6")
def lpos_cmd(c: Client, argv: list[bytes]) -> Any:
    """Index (or indexes) of matching elements."""
    element = argv[2]
    rank, count, maxlen = 1, -1, 0
    j = 3
    while j < len(argv):
        opt = argv[j].lower()
        more = j + 1 < len(argv)
        if opt == b"rank" and more:
            j += 1
            rank = parse_int(argv[j])
            if rank == 0:
                raise CommandError(
                    "ERR RANK can't be zero: use 1 to start from the first match, 2 from the "
                    "second ... or use negative to start from the end of the list"
                )
        elif opt == b"count" and more:
            j += 1
            count = parse_positive(argv[j], "ERR COUNT can't be negative")
        elif opt == b"maxlen" and more:
            j += 1
            maxlen = parse_positive(argv[j], "ERR MAXLEN can't be negative")
        else:
            raise syntax_error()
        j += 1
    forward = rank > 0
    if rank == -(1 << 63):
        rank = 1  # Redis negates it in place: it stays negative and the first match wins
    else:
        rank = abs(rank)
    lst = get_list(c.db, argv[1], read=True)
    if lst is None:
        return [] if count != -1 else None
    n = len(lst)
    source = lst if forward else reversed(lst)
    matches = 0
    found: list[int] = []
    for index, value in enumerate(source):
        if maxlen and index >= maxlen:
            break
        if value == element:
            matches += 1
            if matches >= rank:
                position = index if forward else n - index - 1
                if count == -1:
                    return position
                found.append(position)
                if count and matches - rank + 1 >= count:
                    break
    return found if count != -1 else None


# -- in-place edits ----------------------------------------------------------------------
@command("lset", 4, "write denyoom", 1, 1, 1, group="list")
def lset_cmd(c: Client, argv: list[bytes]) -> Any:
    """Replace the element at an index."""
    db = c.db
    key = argv[1]
    lst = get_list(db, key)
    if lst is None:
        raise CommandError(NO_SUCH_KEY)
    index = parse_int(argv[2])
    n = len(lst)
    if index < 0:
        index += n
    if not 0 <= index < n:
        raise CommandError("ERR index out of range")
    will_modify(db, key)
    lst[index] = argv[3]
    modified(db, key)
    c.server.propagate(db.id, argv)
    notify(c.server, LIST, b"lset", db, key)
    return "OK"


@command("linsert", 5, "write denyoom", 1, 1, 1, group="list", since="2.2.0")
def linsert_cmd(c: Client, argv: list[bytes]) -> Any:
    """Insert an element before or after a pivot."""
    where = argv[2].lower()
    if where not in (b"before", b"after"):
        raise syntax_error()
    db = c.db
    key = argv[1]
    lst = get_list(db, key)
    if lst is None:
        return 0
    try:
        index = lst.index(argv[3])
    except ValueError:
        return -1
    will_modify(db, key)
    lst.insert(index if where == b"before" else index + 1, argv[4])
    modified(db, key)
    notify(c.server, LIST, b"linsert", db, key)
    db.keyspace.signal_ready(db, key)
    c.server.propagate(db.id, argv)
    return len(lst)


@command("lrem", 4, "write", 1, 1, 1, group="list")
def lrem_cmd(c: Client, argv: list[bytes]) -> Any:
    """Remove occurrences of an element (count > 0 from the head, < 0 from the tail, 0 all)."""
    count = parse_int(argv[2])
    db = c.db
    key = argv[1]
    lst = get_list(db, key)
    if lst is None:
        return 0
    element = argv[3]
    limit = abs(count)
    if element not in lst:
        return 0
    will_modify(db, key)
    removed = 0
    if count >= 0:
        kept = []
        for value in lst:
            if value == element and (limit == 0 or removed < limit):
                removed += 1
            else:
                kept.append(value)
        lst.clear()
        lst.extend(kept)
    else:
        kept = []
        for value in reversed(lst):
            if value == element and removed < limit:
                removed += 1
            else:
                kept.append(value)
        lst.clear()
        lst.extendleft(kept)
    server = c.server
    notify(server, LIST, b"lrem", db, key)
    if lst:
        modified(db, key)
    else:
        db.delete(key)
        notify(server, GENERIC, b"del", db, key)
    server.propagate(db.id, argv)
    return removed


@command("ltrim", 4, "write", 1, 1, 1, group="list")
def ltrim_cmd(c: Client, argv: list[bytes]) -> Any:
    """Keep only the elements between two indexes."""
    start, end = parse_int(argv[2]), parse_int(argv[3])
    db = c.db
    key = argv[1]
    lst = get_list(db, key)
    if lst is None:
        return "OK"
    n = len(lst)
    span = clamp_range(n, start, end)
    left, right = (n, 0) if span is None else (span[0], n - span[1] - 1)
    server = c.server
    if left == 0 and right == 0:
        # Nothing to remove: Redis still signals the key and raises the event.
        db.keyspace.signal_modified(db, key)
        notify(server, LIST, b"ltrim", db, key)
        return "OK"
    notify(server, LIST, b"ltrim", db, key)
    if left + right >= n:
        db.delete(key)
        notify(server, GENERIC, b"del", db, key)
    else:
        will_modify(db, key)
        for _ in range(left):
            lst.popleft()
        for _ in range(right):
            lst.pop()
        modified(db, key)
    server.propagate(db.id, argv)
    return "OK"


# -- moves -----------------------------------------------------------------------------------
def _lmove(c: Client, src: bytes, dst: bytes, src_left: bool, dst_left: bool, argv: list[bytes]) -> Any:
    db = c.db
    value = list_move(c.server, db, src, dst, src_left, dst_left)
    if value is not None:
        c.server.propagate(db.id, argv)
    return value


@command("lmove", 5, "write denyoom", 1, 2, 1, group="list", since="6.2.0")
def lmove_cmd(c: Client, argv: list[bytes]) -> Any:
    """Pop from one end of a list and push to an end of another."""
    src_left, dst_left = parse_where(argv[3]), parse_where(argv[4])
    return _lmove(c, argv[1], argv[2], src_left, dst_left, argv)


@command("rpoplpush", 3, "write denyoom", 1, 2, 1, group="list", since="1.2.0")
def rpoplpush_cmd(c: Client, argv: list[bytes]) -> Any:
    """Pop the tail of a list and push it to the head of another."""
    return _lmove(c, argv[1], argv[2], False, True, argv)
