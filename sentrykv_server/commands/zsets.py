"""Sorted-set commands (Redis's t_zset.c).

Writes are deterministic and logged as sent (float arithmetic is IEEE, so a
replayed ZINCRBY reaches the same score); ZMPOP is logged as the
ZPOPMIN/ZPOPMAX with count it turned into.  Adding members wakes clients
blocked on the key (``keyspace.signal_ready``).

Scores are returned as Python floats: the reply encoder prints them with
%.17g in a RESP2 bulk string and sends a RESP3 double, as Redis 7.0 does.
:func:`zset_pop` and :func:`pop_pairs_reply` serve the blocking pops.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from sentrykv_server.commands.containers import (
    LONG_MAX,
    check_repeat_count,
    config_int,
    modified,
    parse_double,
    parse_long_range,
    parse_positive,
    parse_range_double,
    scan_cursor,
    scan_page,
    will_modify,
)
from sentrykv_server.commands.errors import CommandError, parse_int, syntax_error, wrong_type
from sentrykv_server.commands.registry import command
from sentrykv_server.notify import GENERIC, ZSET, notify
from sentrykv_server.protocol.reply import NULL_ARRAY
from sentrykv_server.store.lists import clamp_range
from sentrykv_server.store.sets import RedisSet
from sentrykv_server.store.zset import (
    LexBound,
    ZSet,
    format_score,
    lex_range_empty,
)

if TYPE_CHECKING:
    from sentrykv_server.protocol.connection import Client
    from sentrykv_server.server import Server
    from sentrykv_server.store.keyspace import Database

NAN_ERROR = "ERR resulting score is not a number (NaN)"
RANGE_ERROR = "ERR min or max is not a float"
LEX_ERROR = "ERR min or max not valid string range item"
LIMIT_ERROR = "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX"
LEX_SCORES_ERROR = "ERR syntax error, WITHSCORES not supported in combination with BYLEX"

RANK, SCORE, LEX = 0, 1, 2
_ZREMRANGE_EVENTS = {RANK: b"zremrangebyrank", SCORE: b"zremrangebyscore", LEX: b"zremrangebylex"}


def get_zset(db: Database, key: bytes, read: bool = False) -> ZSet | None:
    value = db.lookup_read(key) if read else db.lookup(key)
    if value is None or type(value) is ZSet:
        return value
    raise wrong_type()


# First bytes a score may start with and no ZADD option does ("inf" is checked the long way).
_SCORE_START = frozenset(bytes([ch]) for ch in b"0123456789-+.")


def _limits(c: Client) -> tuple[int, int]:
    return config_int(c, "zset-max-listpack-entries"), config_int(c, "zset-max-listpack-value")


def build_zset(pairs: Iterable[tuple[bytes, float]], count: int, longest: int, c: Client) -> ZSet:
    """A new set holding ``pairs``, encoded as Redis encodes a computed result."""
    entries, value = _limits(c)
    z = ZSet()
    z.big = count > entries or longest > value
    for member, score in pairs:
        z.insert(member, score, entries, value)
    return z


def pairs_reply(pairs: Iterable[tuple[bytes, float]], withscores: bool, resp3: bool) -> list[Any]:
    """Members, or members with scores: flat in RESP2, [member, score] pairs in RESP3."""
    if not withscores:
        return [m for m, _s in pairs]
    if resp3:
        return [[m, s] for m, s in pairs]
    out: list[Any] = []
    for m, s in pairs:
        out.append(m)
        out.append(s)
    return out


# -- ZADD / ZINCRBY ----------------------------------------------------------------------
def _zadd(c: Client, argv: list[bytes], incr: bool) -> Any:
    nx = xx = gt = lt = ch = False
    i = 2
    n = len(argv)
    while i < n:
        if argv[i][:1] in _SCORE_START:  # the usual ZADD key score member: no options
            break
        opt = argv[i].lower()
        if opt == b"nx":
            nx = True
        elif opt == b"xx":
            xx = True
        elif opt == b"ch":
            ch = True
        elif opt == b"incr":
            incr = True
        elif opt == b"gt":
            gt = True
        elif opt == b"lt":
            lt = True
        else:
            break
        i += 1
    elements = n - i
    if elements % 2 or not elements:
        raise syntax_error()
    if nx and xx:
        raise CommandError("ERR XX and NX options at the same time are not compatible")
    if (gt and nx) or (lt and nx) or (gt and lt):
        raise CommandError("ERR GT, LT, and/or NX options at the same time are not compatible")
    if incr and elements > 2:
        raise CommandError("ERR INCR option supports a single increment-element pair")
    scores = [parse_double(argv[j]) for j in range(i, n, 2)]
    db = c.db
    key = argv[1]
    z = get_zset(db, key)
    created = False
    if z is None:
        if xx:
            return None if incr else 0
        z = ZSet()
        created = True
    else:
        will_modify(db, key)
    entries, max_value = _limits(c)
    added = updated = processed = 0
    score = 0.0
    table = z.scores
    for k, j in enumerate(range(i + 1, n, 2)):
        member = argv[j]
        score = scores[k]
        current = table.get(member)
        if current is not None:
            if nx:
                continue
            if incr:
                score += current
                if score != score:
                    raise CommandError(NAN_ERROR)
            if (lt and score >= current) or (gt and score <= current):
                continue
            processed += 1
            if score != current:
                z.update(member, current, score)
                updated += 1
        elif not xx:
            z.insert(member, score, entries, max_value)
            added += 1
            processed += 1
    if created:
        db.add(key, z)
    elif added or updated:
        modified(db, key)
    if added or updated:
        server = c.server
        if server.notify_flags:
            notify(server, ZSET, b"zincr" if incr else b"zadd", db, key)
        if added:
            db.keyspace.signal_ready(db, key)
        server.propagate(db.id, argv)
    if incr:
        return score if processed else None
    return added + updated if ch else added


@command("zadd", -4, "write denyoom fast", 1, 1, 1, group="sorted_set", since="1.2.0")
def zadd_cmd(c: Client, argv: list[bytes]) -> Any:
    """Add members or update their scores (NX XX GT LT CH INCR)."""
    return _zadd(c, argv, False)


@command("zincrby", 4, "write denyoom fast", 1, 1, 1, group="sorted_set", since="1.2.0")
def zincrby_cmd(c: Client, argv: list[bytes]) -> Any:
    """Add to a member's score."""
    return _zadd(c, argv, True)


@command("zrem", -3, "write fast", 1, 1, 1, group="sorted_set", since="1.2.0")
def zrem_cmd(c: Client, argv: list[bytes]) -> Any:
    """Remove members."""
    db = c.db
    key = argv[1]
    z = get_zset(db, key)
    if z is None:
        return 0
    will_modify(db, key)
    removed = 0
    for member in argv[2:]:
        if z.remove(member):
            removed += 1
    if removed:
        _after_removal(c.server, c.db, key, z, b"zrem")
        c.server.propagate(db.id, argv)
    return removed


def _after_removal(server: Server, db: Database, key: bytes, z: ZSet, event: bytes) -> None:
    """The removal's event, then the key goes (with a 'del' event) when it is empty."""
    if server.notify_flags:
        notify(server, ZSET, event, db, key)
    if len(z):
        modified(db, key)
    else:
        db.delete(key)
        if server.notify_flags:
            notify(server, GENERIC, b"del", db, key)


# -- point reads -------------------------------------------------------------------------
@command("zscore", 3, "readonly fast", 1, 1, 1, group="sorted_set", since="1.2.0")
def zscore_cmd(c: Client, argv: list[bytes]) -> Any:
    """Score of a member."""
    z = get_zset(c.db, argv[1], read=True)
    return None if z is None else z.scores.get(argv[2])


@command("zmscore", -3, "readonly fast", 1, 1, 1, group="sorted_set", since="6.2.0")
def zmscore_cmd(c: Client, argv: list[bytes]) -> Any:
    """Scores of several members."""
    z = get_zset(c.db, argv[1], read=True)
    if z is None:
        return [None] * (len(argv) - 2)
    get = z.scores.get
    return [get(m) for m in argv[2:]]


@command("zcard", 2, "readonly fast", 1, 1, 1, group="sorted_set", since="1.2.0")
def zcard_cmd(c: Client, argv: list[bytes]) -> Any:
    """Number of members."""
    z = get_zset(c.db, argv[1], read=True)
    return 0 if z is None else len(z)


def _rank(c: Client, argv: list[bytes], reverse: bool) -> Any:
    z = get_zset(c.db, argv[1], read=True)
    if z is None:
        return None
    rank = z.rank(argv[2])
    if rank is None:
        return None
    return len(z) - 1 - rank if reverse else rank


@command("zrank", 3, "readonly fast", 1, 1, 1, group="sorted_set", since="2.0.0")
def zrank_cmd(c: Client, argv: list[bytes]) -> Any:
    """Rank of a member, lowest score first (O(log n))."""
    return _rank(c, argv, False)


@command("zrevrank", 3, "readonly fast", 1, 1, 1, group="sorted_set", since="2.0.0")
def zrevrank_cmd(c: Client, argv: list[bytes]) -> Any:
    """Rank of a member, highest score first."""
    return _rank(c, argv, True)


# -- ranges ------------------------------------------------------------------------------
def parse_score_range(lo_raw: bytes, hi_raw: bytes) -> tuple[float, bool, float, bool]:
    """zslParseRange: "(x" is exclusive; strtod rules (see parse_range_double)."""
    out: list[Any] = []
    for raw in (lo_raw, hi_raw):
        ex = raw[:1] == b"("
        value = parse_range_double(raw[1:] if ex else raw)
        if value is None:
            raise CommandError(RANGE_ERROR)
        out += [value, ex]
    return out[0], out[1], out[2], out[3]


def parse_lex(raw: bytes) -> LexBound:
    """zslParseLexRangeItem: "-", "+", "(x" or "[x"."""
    if raw == b"+":
        return (1, b"", True)
    if raw == b"-":
        return (-1, b"", True)
    head = raw[:1]
    if head == b"(":
        return (0, raw[1:], True)
    if head == b"[":
        return (0, raw[1:], False)
    raise CommandError(LEX_ERROR)


def _score_empty(lo: float, lo_ex: bool, hi: float, hi_ex: bool) -> bool:
    return lo > hi or (lo == hi and (lo_ex or hi_ex))


def _limited(z: ZSet, start: int, stop: int, reverse: bool, offset: int, limit: int) -> Iterator[tuple[float, bytes]]:
    """Positions [start, stop) walked in order, skipping ``offset``, at most ``limit`` (<0: all)."""
    if offset < 0 or start >= stop:
        return iter(())
    if reverse:
        hi = stop - offset
        lo = start if limit < 0 else max(start, hi - limit)
    else:
        lo = start + offset
        hi = stop if limit < 0 else min(stop, lo + limit)
    if lo >= hi:
        return iter(())
    return z.islice(lo, hi, reverse)


class _RangeRequest:
    """The parsed form of every ZRANGE variant."""

    __slots__ = ("kind", "reverse", "withscores", "offset", "limit", "bounds")

    def __init__(self) -> None:
        self.kind = RANK
        self.reverse = False
        self.withscores = False
        self.offset = 0
        self.limit = -1
        self.bounds: Any = None


def _parse_range(argv: list[bytes], start: int, store: bool, kind: int | None, reverse: bool | None) -> _RangeRequest:
    """zrangeGenericCommand steps 1-2: options, conflicts, then the range itself."""
    req = _RangeRequest()
    j = start + 3
    n = len(argv)
    while j < n:
        opt = argv[j].lower()
        left = n - j - 1
        if not store and opt == b"withscores":
            req.withscores = True
        elif opt == b"limit" and left >= 2:
            req.offset = parse_int(argv[j + 1])
            req.limit = parse_int(argv[j + 2])
            j += 2
        elif reverse is None and opt == b"rev":
            reverse = True
        elif kind is None and opt == b"bylex":
            kind = LEX
        elif kind is None and opt == b"byscore":
            kind = SCORE
        else:
            raise syntax_error()
        j += 1
    req.reverse = bool(reverse)
    req.kind = RANK if kind is None else kind
    if req.limit != -1 and req.kind == RANK:
        raise CommandError(LIMIT_ERROR)
    if req.withscores and req.kind == LEX:
        raise CommandError(LEX_SCORES_ERROR)
    lo_idx, hi_idx = start + 1, start + 2
    if req.reverse and req.kind != RANK:
        lo_idx, hi_idx = hi_idx, lo_idx
    if req.kind == RANK:
        req.bounds = (parse_int(argv[lo_idx]), parse_int(argv[hi_idx]))
    elif req.kind == SCORE:
        req.bounds = parse_score_range(argv[lo_idx], argv[hi_idx])
    else:
        req.bounds = (parse_lex(argv[lo_idx]), parse_lex(argv[hi_idx]))
    return req


def _select(z: ZSet, req: _RangeRequest) -> tuple[Iterator[tuple[float, bytes]], int]:
    """The entries a range selects, in reply order, plus an upper bound of their number."""
    n = len(z)
    if req.kind == RANK:
        span = clamp_range(n, req.bounds[0], req.bounds[1])
        if span is None:
            return iter(()), 0
        a, b = span
        if req.reverse:
            return z.islice(n - 1 - b, n - a, True), b - a + 1
        return z.islice(a, b + 1), b - a + 1
    if req.kind == SCORE:
        lo, lo_ex, hi, hi_ex = req.bounds
        if _score_empty(lo, lo_ex, hi, hi_ex):
            return iter(()), 0
        start, stop = z.score_span(lo, lo_ex, hi, hi_ex)
    else:
        lo_b, hi_b = req.bounds
        if lex_range_empty(lo_b, hi_b):
            return iter(()), 0
        start, stop = z.lex_span(lo_b, hi_b)
    if req.offset > 0 and req.offset >= n:
        return iter(()), 0
    return _limited(z, start, stop, req.reverse, req.offset, req.limit), -1


def _zrange(c: Client, argv: list[bytes], kind: int | None, reverse: bool | None) -> Any:
    req = _parse_range(argv, 1, False, kind, reverse)
    z = get_zset(c.db, argv[1], read=True)
    if z is None:
        return []
    entries, _ = _select(z, req)
    return pairs_reply(((m, s) for s, m in entries), req.withscores, c.resp3)


@command("zrange", -4, "readonly", 1, 1, 1, group="sorted_set", since="1.2.0")
def zrange_cmd(c: Client, argv: list[bytes]) -> Any:
    """Members in a range of ranks, scores (BYSCORE) or names (BYLEX), optionally REV."""
    return _zrange(c, argv, None, None)


@command("zrevrange", -4, "readonly", 1, 1, 1, group="sorted_set", since="1.2.0")
def zrevrange_cmd(c: Client, argv: list[bytes]) -> Any:
    """Members in a range of ranks, highest first."""
    return _zrange(c, argv, RANK, True)


@command("zrangebyscore", -4, "readonly", 1, 1, 1, group="sorted_set", since="1.0.5")
def zrangebyscore_cmd(c: Client, argv: list[bytes]) -> Any:
    """Members with scores in a range."""
    return _zrange(c, argv, SCORE, False)


@command("zrevrangebyscore", -4, "readonly", 1, 1, 1, group="sorted_set", since="2.2.0")
def zrevrangebyscore_cmd(c: Client, argv: list[bytes]) -> Any:
    """Members with scores in a range, highest first (max before min)."""
    return _zrange(c, argv, SCORE, True)


@command("zrangebylex", -4, "readonly", 1, 1, 1, group="sorted_set", since="2.8.9")
def zrangebylex_cmd(c: Client, argv: list[bytes]) -> Any:
    """Members in a lexicographic range."""
    return _zrange(c, argv, LEX, False)


@command("zrevrangebylex", -4, "readonly", 1, 1, 1, group="sorted_set", since="2.8.9")
def zrevrangebylex_cmd(c: Client, argv: list[bytes]) -> Any:
    """Members in a lexicographic range, highest first (max before min)."""
    return _zrange(c, argv, LEX, True)


@command("zrangestore", -5, "write denyoom", 1, 2, 1, group="sorted_set", since="6.2.0")
def zrangestore_cmd(c: Client, argv: list[bytes]) -> Any:
    """Store a range of another sorted set."""
    req = _parse_range(argv, 2, True, None, None)
    db = c.db
    dst = argv[1]
    z = get_zset(db, argv[2], read=True)
    if z is None:
        return _store_result(c, argv, dst, None, b"zrangestore")
    entries, known = _select(z, req)
    max_entries, max_value = _limits(c)
    out = ZSet()
    # A rank range knows its length up front (the set starts as a skiplist when big);
    # score and lex ranges start as a listpack and convert as they grow.
    out.big = known > max_entries
    for score, member in entries:
        out.insert(member, score, max_entries, max_value)
    return _store_result(c, argv, dst, out, b"zrangestore")


def _store_result(c: Client, argv: list[bytes], dst: bytes, z: ZSet | None, event: bytes) -> int:
    """Put a computed set at ``dst`` (or delete ``dst`` when it is empty) and log it."""
    db = c.db
    if z is not None and len(z):
        db.set(dst, z)
        notify(c.server, ZSET, event, db, dst)
        db.keyspace.signal_ready(db, dst)
        c.server.propagate(db.id, argv)
        return len(z)
    if db.lookup(dst) is not None:
        db.delete(dst)
        c.server.propagate(db.id, [b"DEL", dst])
        notify(c.server, GENERIC, b"del", db, dst)
    return 0


def _count_range(c: Client, key: bytes, kind: int, bounds: Any) -> int:
    z = get_zset(c.db, key, read=True)
    if z is None:
        return 0
    if kind == SCORE:
        if _score_empty(*bounds):
            return 0
        start, stop = z.score_span(*bounds)
    else:
        if lex_range_empty(*bounds):
            return 0
        start, stop = z.lex_span(*bounds)
    return stop - start


@command("zcount", 4, "readonly fast", 1, 1, 1, group="sorted_set", since="2.0.0")
def zcount_cmd(c: Client, argv: list[bytes]) -> Any:
    """Number of members with scores in a range (O(log n))."""
    return _count_range(c, argv[1], SCORE, parse_score_range(argv[2], argv[3]))


@command("zlexcount", 4, "readonly fast", 1, 1, 1, group="sorted_set", since="2.8.9")
def zlexcount_cmd(c: Client, argv: list[bytes]) -> Any:
    """Number of members in a lexicographic range."""
    return _count_range(c, argv[1], LEX, (parse_lex(argv[2]), parse_lex(argv[3])))


# -- removal by range --------------------------------------------------------------------
def _zremrange(c: Client, argv: list[bytes], kind: int) -> Any:
    if kind == RANK:
        bounds: Any = (parse_int(argv[2]), parse_int(argv[3]))
    elif kind == SCORE:
        bounds = parse_score_range(argv[2], argv[3])
    else:
        bounds = (parse_lex(argv[2]), parse_lex(argv[3]))
    db = c.db
    key = argv[1]
    z = get_zset(db, key)
    if z is None:
        return 0
    if kind == RANK:
        span = clamp_range(len(z), bounds[0], bounds[1])
        if span is None:
            return 0
        start, stop = span[0], span[1] + 1
    elif kind == SCORE:
        if _score_empty(*bounds):
            return 0
        start, stop = z.score_span(*bounds)
    else:
        if lex_range_empty(*bounds):
            return 0
        start, stop = z.lex_span(*bounds)
    if stop <= start:
        return 0
    will_modify(db, key)
    removed = z.delete_slice(start, stop)
    _after_removal(c.server, db, key, z, _ZREMRANGE_EVENTS[kind])
    c.server.propagate(db.id, argv)
    return removed


@command("zremrangebyrank", 4, "write", 1, 1, 1, group="sorted_set", since="2.0.0")
def zremrangebyrank_cmd(c: Client, argv: list[bytes]) -> Any:
    """Remove members in a range of ranks."""
    return _zremrange(c, argv, RANK)


@command("zremrangebyscore", 4, "write", 1, 1, 1, group="sorted_set", since="1.2.0")
def zremrangebyscore_cmd(c: Client, argv: list[bytes]) -> Any:
    """Remove members with scores in a range."""
    return _zremrange(c, argv, SCORE)


@command("zremrangebylex", 4, "write", 1, 1, 1, group="sorted_set", since="2.8.9")
def zremrangebylex_cmd(c: Client, argv: list[bytes]) -> Any:
    """Remove members in a lexicographic range."""
    return _zremrange(c, argv, LEX)


# -- pops (also used by BZPOPMIN / BZPOPMAX / BZMPOP) ------------------------------------
def zset_pop(server: Server, db: Database, key: bytes, lowest: bool, count: int = 1) -> list[tuple[bytes, float]]:
    """Pop up to ``count`` lowest (or highest) members as (member, score); [] if missing.

    Deletes the key when it becomes empty; raises WRONGTYPE; does not log (the
    caller propagates ``ZPOPMIN key n`` / ``ZPOPMAX key n``).
    """
    z = get_zset(db, key)
    if z is None or count <= 0:
        return []
    will_modify(db, key)
    out = []
    index = 0 if lowest else -1
    for _ in range(min(count, len(z))):
        score, member = z.pop(index)
        out.append((member, score))
    _after_removal(server, db, key, z, b"zpopmin" if lowest else b"zpopmax")
    return out


def pop_pairs_reply(pairs: list[tuple[bytes, float]], nested: bool) -> list[Any]:
    """[m, s, m, s...] flat, or [[m, s], ...] nested (RESP3 with count, and ZMPOP always)."""
    if nested:
        return [[m, s] for m, s in pairs]
    out: list[Any] = []
    for m, s in pairs:
        out.append(m)
        out.append(s)
    return out


def _zpop(c: Client, argv: list[bytes], lowest: bool) -> Any:
    if len(argv) > 3:
        raise syntax_error()
    count = -1
    if len(argv) == 3:
        count = parse_positive(argv[2], "ERR value is out of range, must be positive")
    db = c.db
    key = argv[1]
    if get_zset(db, key) is None or count == 0:
        return []
    pairs = zset_pop(c.server, db, key, lowest, 1 if count == -1 else count)
    c.server.propagate(db.id, [b"ZPOPMIN" if lowest else b"ZPOPMAX", key, b"%d" % len(pairs)])
    return pop_pairs_reply(pairs, c.resp3 and count != -1)


@command("zpopmin", -2, "write fast", 1, 1, 1, group="sorted_set", since="5.0.0")
def zpopmin_cmd(c: Client, argv: list[bytes]) -> Any:
    """Remove and return the lowest-scored members."""
    return _zpop(c, argv, True)


@command("zpopmax", -2, "write fast", 1, 1, 1, group="sorted_set", since="5.0.0")
def zpopmax_cmd(c: Client, argv: list[bytes]) -> Any:
    """Remove and return the highest-scored members."""
    return _zpop(c, argv, False)


def parse_zmpop(argv: list[bytes], numkeys_idx: int) -> tuple[list[bytes], bool, int]:
    """ZMPOP/BZMPOP arguments from numkeys on: (keys, lowest, count)."""
    numkeys = parse_long_range(argv[numkeys_idx], 1, LONG_MAX, "ERR numkeys should be greater than 0")
    where_idx = numkeys_idx + numkeys + 1
    if where_idx >= len(argv):
        raise syntax_error()
    where = argv[where_idx].lower()
    if where not in (b"min", b"max"):
        raise syntax_error()
    count = -1
    j = where_idx + 1
    while j < len(argv):
        if count == -1 and argv[j].lower() == b"count" and j + 1 < len(argv):
            j += 1
            count = parse_long_range(argv[j], 1, LONG_MAX, "ERR count should be greater than 0")
        else:
            raise syntax_error()
        j += 1
    return argv[numkeys_idx + 1:where_idx], where == b"min", (1 if count == -1 else count)


def zmpop_first(c: Client, keys: list[bytes], lowest: bool, count: int) -> Any:
    """Pop from the first existing key: [key, [[m, s], ...]] or None.  Logs the pop."""
    db = c.db
    for key in keys:
        if get_zset(db, key) is None:
            continue
        pairs = zset_pop(c.server, db, key, lowest, count)
        c.server.propagate(db.id, [b"ZPOPMIN" if lowest else b"ZPOPMAX", key, b"%d" % len(pairs)])
        return [key, pop_pairs_reply(pairs, True)]
    return None


@command("zmpop", -4, "write movablekeys", group="sorted_set", since="7.0.0")
def zmpop_cmd(c: Client, argv: list[bytes]) -> Any:
    """Pop from the first non-empty sorted set among several."""
    keys, lowest, count = parse_zmpop(argv, 1)
    result = zmpop_first(c, keys, lowest, count)
    return NULL_ARRAY if result is None else result


# -- set algebra -------------------------------------------------------------------------
UNION, INTER, DIFF = "union", "inter", "diff"


def _members_of(src: Any) -> Iterator[tuple[bytes, float]]:
    if type(src) is ZSet:
        return iter(src.scores.items())
    return ((m, 1.0) for m in src)


def _score_in(src: Any, member: bytes) -> float | None:
    if type(src) is ZSet:
        return src.scores.get(member)
    return 1.0 if member in src else None


def _aggregate(target: float, value: float, how: bytes) -> float:
    if how == b"sum":
        total = target + value
        return 0.0 if total != total else total
    if how == b"min":
        return value if value < target else target
    return value if value > target else target


def _setop(c: Client, argv: list[bytes], name: str, numkeys_idx: int, op: str,
           store: bool, card: bool) -> tuple[dict[bytes, float] | int, bool]:
    """zunionInterDiffGenericCommand: (result member -> score, or a count; WITHSCORES)."""
    setnum = parse_int(argv[numkeys_idx])
    if setnum < 1:
        raise CommandError(f"ERR at least 1 input key is needed for '{name}' command")
    first = numkeys_idx + 1
    if setnum > len(argv) - first:
        raise syntax_error()
    db = c.db
    srcs: list[Any] = []
    for key in argv[first:first + setnum]:
        value = db.lookup_read(key)
        if value is not None and type(value) is not ZSet and type(value) is not RedisSet:
            raise wrong_type()
        srcs.append(value)
    weights = [1.0] * setnum
    how = b"sum"
    withscores = False
    limit = 0
    j = first + setnum
    n = len(argv)
    while j < n:
        remaining = n - j
        opt = argv[j].lower()
        if op != DIFF and not card and remaining >= setnum + 1 and opt == b"weights":
            j += 1
            for i in range(setnum):
                weights[i] = parse_double(argv[j], "ERR weight value is not a float")
                j += 1
        elif op != DIFF and not card and remaining >= 2 and opt == b"aggregate":
            how = argv[j + 1].lower()
            if how not in (b"sum", b"min", b"max"):
                raise syntax_error()
            j += 2
        elif not store and not card and opt == b"withscores":
            withscores = True
            j += 1
        elif card and remaining >= 2 and opt == b"limit":
            limit = parse_positive(argv[j + 1], "ERR LIMIT can't be negative")
            j += 2
        else:
            raise syntax_error()
    sources = [(s, w) for s, w in zip(srcs, weights, strict=True)]
    if op == UNION:
        return _union(sources, how), withscores
    if op == INTER:
        return _inter(sources, how, card, limit), withscores
    return _diff(srcs), withscores


def _size(src: Any) -> int:
    return 0 if src is None else len(src)


def _union(sources: list[tuple[Any, float]], how: bytes) -> dict[bytes, float]:
    acc: dict[bytes, float] = {}
    # Redis sorts inputs by size (a stable sort here, like glibc's); the order of the
    # additions decides the last bits of a summed score, so it is kept.
    for src, weight in sorted(sources, key=lambda sw: _size(sw[0])):
        if not src:
            continue
        for member, score in _members_of(src):
            value = weight * score
            if value != value:
                value = 0.0
            old = acc.get(member)
            acc[member] = value if old is None else _aggregate(old, value, how)
    return acc


def _inter(sources: list[tuple[Any, float]], how: bytes, card: bool, limit: int) -> dict[bytes, float] | int:
    ordered = sorted(sources, key=lambda sw: _size(sw[0]))
    first, first_weight = ordered[0]
    count = 0
    out: dict[bytes, float] = {}
    if not first:
        return 0 if card else out
    for member, score in _members_of(first):
        value = first_weight * score
        if value != value:
            value = 0.0
        for src, weight in ordered[1:]:
            other = score if src is first else _score_in(src, member)
            if other is None:
                break
            value = _aggregate(value, other * weight, how)
        else:
            if card:
                count += 1
                if limit and count >= limit:
                    break
            else:
                out[member] = value
    return count if card else out


def _diff(srcs: list[Any]) -> dict[bytes, float]:
    first = srcs[0]
    if not first:
        return {}
    out: dict[bytes, float] = {}
    others = [s for s in srcs[1:] if s]
    for member, score in _members_of(first):
        if not any(_score_in(s, member) is not None for s in others):
            out[member] = score
    return out


def _sorted_pairs(result: dict[bytes, float]) -> list[tuple[bytes, float]]:
    return sorted(result.items(), key=lambda ms: (ms[1], ms[0]))


def _setop_reply(c: Client, argv: list[bytes], name: str, op: str) -> Any:
    result, withscores = _setop(c, argv, name, 1, op, False, False)
    assert isinstance(result, dict)
    return pairs_reply(_sorted_pairs(result), withscores, c.resp3)


def _setop_store(c: Client, argv: list[bytes], name: str, op: str) -> Any:
    result, _ = _setop(c, argv, name, 2, op, True, False)
    assert isinstance(result, dict)
    z = None
    if result:
        longest = max(len(m) for m in result)
        z = build_zset(_sorted_pairs(result), len(result), longest, c)
    return _store_result(c, argv, argv[1], z, name.encode())


@command("zunion", -3, "readonly movablekeys", group="sorted_set", since="6.2.0")
def zunion_cmd(c: Client, argv: list[bytes]) -> Any:
    """Union of sorted sets (and sets)."""
    return _setop_reply(c, argv, "zunion", UNION)


@command("zinter", -3, "readonly movablekeys", group="sorted_set", since="6.2.0")
def zinter_cmd(c: Client, argv: list[bytes]) -> Any:
    """Intersection of sorted sets (and sets)."""
    return _setop_reply(c, argv, "zinter", INTER)


@command("zdiff", -3, "readonly movablekeys", group="sorted_set", since="6.2.0")
def zdiff_cmd(c: Client, argv: list[bytes]) -> Any:
    """Members of the first sorted set that are in none of the others."""
    return _setop_reply(c, argv, "zdiff", DIFF)


@command("zunionstore", -4, "write denyoom movablekeys", 1, 1, 1, group="sorted_set", since="2.0.0")
def zunionstore_cmd(c: Client, argv: list[bytes]) -> Any:
    """Store the union of sorted sets."""
    return _setop_store(c, argv, "zunionstore", UNION)


@command("zinterstore", -4, "write denyoom movablekeys", 1, 1, 1, group="sorted_set", since="2.0.0")
def zinterstore_cmd(c: Client, argv: list[bytes]) -> Any:
    """Store the intersection of sorted sets."""
    return _setop_store(c, argv, "zinterstore", INTER)


@command("zdiffstore", -4, "write denyoom movablekeys", 1, 1, 1, group="sorted_set", since="6.2.0")
def zdiffstore_cmd(c: Client, argv: list[bytes]) -> Any:
    """Store the difference of sorted sets."""
    return _setop_store(c, argv, "zdiffstore", DIFF)


@command("zintercard", -3, "readonly movablekeys", group="sorted_set", since="7.0.0")
def zintercard_cmd(c: Client, argv: list[bytes]) -> Any:
    """Size of the intersection (stopping at LIMIT)."""
    result, _ = _setop(c, argv, "zintercard", 1, INTER, False, True)
    return result


# -- random and scan ---------------------------------------------------------------------
@command("zrandmember", -2, "readonly", 1, 1, 1, group="sorted_set", since="6.2.0")
def zrandmember_cmd(c: Client, argv: list[bytes]) -> Any:
    """Random members (with scores); a negative count may repeat."""
    if len(argv) == 2:
        z = get_zset(c.db, argv[1], read=True)
        if z is None:
            return None
        return random.choice(tuple(z.scores))
    count = parse_long_range(argv[2], -LONG_MAX, LONG_MAX)
    if len(argv) > 4 or (len(argv) == 4 and argv[3].lower() != b"withscores"):
        raise syntax_error()
    withscores = len(argv) == 4
    if withscores and (count < -LONG_MAX // 2 or count > LONG_MAX // 2):
        raise CommandError("ERR value is out of range")
    z = get_zset(c.db, argv[1], read=True)
    if z is None or count == 0:
        return []
    if count < 0:
        picked = random.choices(tuple(z.scores), k=check_repeat_count(count))
    elif count >= len(z):
        return pairs_reply(z.items(), withscores, c.resp3)
    else:
        picked = random.sample(tuple(z.scores), count)
    scores = z.scores
    return pairs_reply(((m, scores[m]) for m in picked), withscores, c.resp3)


@command("zscan", -3, "readonly", 1, 1, 1, group="sorted_set", since="2.8.0")
def zscan_cmd(c: Client, argv: list[bytes]) -> Any:
    """Iterate members and scores with a cursor."""
    cursor = scan_cursor(argv[2])
    z = get_zset(c.db, argv[1], read=True)
    if z is None:
        return [b"0", []]
    names = [m for _s, m in z.order] if not z.big else z.scores
    next_cursor, page, match = scan_page(argv, cursor, names, not z.big, len(z))
    scores = z.scores
    out: list[bytes] = []
    for m in page:
        score = scores.get(m)
        if score is None or (match is not None and not match(m)):
            continue
        out.append(m)
        out.append(format_score(score))
    return [b"%d" % next_cursor, out]
