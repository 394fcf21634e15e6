"""Random commands per family for the differential fuzzer: a table others extend.

Each family is a list of *templates*: functions ``(rnd) -> argv``.  Alphabets are tiny
(a few keys, members, numbers) so commands collide on the same keys, grow and empty
containers, cross encoding limits and meet the wrong type; edge values (huge, negative,
non-numeric, inf) are part of every alphabet, and :func:`mutate` turns a fraction of the
valid commands into invalid ones (a dropped, repeated or replaced argument).

A new family (streams, bitmaps, scripting ...) adds itself with :func:`register`:

    register("streams", [lambda r: (b"XADD", key(r), b"*", b"f", val(r)), ...])

Commands whose replies cannot be compared (random picks, hash-table order, TTL drift) are
declared in tests/fuzz/differential.py's normalisation tables, not here.  Generators must
not emit commands that change the connection's protocol or reply stream (HELLO, CLIENT
REPLY, SUBSCRIBE, MONITOR, QUIT, RESET), block without a timeout, or depend on the server's
identity (INFO, CLIENT LIST, CONFIG GET *, TIME, DEBUG).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

Argv = tuple[bytes, ...]
Template = Callable[[random.Random], Argv]

FAMILIES: dict[str, list[Template]] = {}
# How often each family is drawn relative to the others (a family missing here: 1).
WEIGHTS: dict[str, int] = {}


def register(name: str, templates: Sequence[Template], weight: int = 1) -> None:
    FAMILIES[name] = list(templates)
    WEIGHTS[name] = weight


# -- alphabets --------------------------------------------------------------------------------
LONG = b"L" * 70  # over every *-max-listpack-value default
KEYS = [b"k1", b"k2", b"k3", b"s1", b"s2", b"h1", b"h2", b"l1", b"l2", b"z1", b"z2", b"str", b"nokey"]
STRINGS = [b"", b"x", b"hello", b"1", b"-1", b"10", b"3.5", b"9223372036854775807", b"-9223372036854775808",
           b"18446744073709551616", b"1e3", b"inf", b"nan", b" 1", b"007", LONG, b"\x00\xff\r\n"]
INTS = [b"0", b"1", b"2", b"3", b"-1", b"-2", b"-100", b"100", b"x", b"", b"1.5",
        b"9223372036854775807", b"-9223372036854775808", b"9223372036854775808", b"2147483648"]
SMALL = [b"0", b"1", b"2", b"3", b"5", b"-1", b"-3", b"10"]
FLOATS = [b"0", b"1", b"-1", b"0.5", b"1.5", b"-0.25", b"1e2", b"inf", b"-inf", b"+inf", b"x", b"nan",
          b"1e400", b"0x10", b"3e-2", b""]
MEMBERS = [b"a", b"b", b"c", b"d", b"1", b"2", b"10", b"-1", b"007", LONG]
FIELDS = [b"a", b"b", b"c", b"1", b"2", LONG]
SCORE_BOUNDS = [b"-inf", b"+inf", b"0", b"(0", b"1", b"(1", b"2", b"(2", b"1.5", b"(1.5", b"x", b"("]
LEX_BOUNDS = [b"-", b"+", b"[a", b"(a", b"[b", b"(b", b"[c", b"(d", b"[", b"a"]
TTLS = [b"100000", b"200000", b"0", b"-1", b"x", b"9223372036854775807", b"1000000000"]
ABS_TIMES = [b"1", b"4102444800", b"-5", b"x"]  # long past / the year 2100 / invalid
# SET/GETEX ... PXAT in the past leaves a key that only lazy or active expiry removes (and
# DEBUG DIGEST still counts it): timing the two servers do not share, so SET avoids it.
SET_TIMES = [(b"EXAT", b"4102444800"), (b"PXAT", b"4102444800000"), (b"PXAT", b"-5"), (b"EXAT", b"x")]
JUNK = [b"", b"x", b"-1", b"0", b"9223372036854775808", b"inf", b"nan", b"LIMIT", b"COUNT", b"WITHSCORES",
        b"\x00", b"*", b"[a", b"(1", b"REV", b"NX", b"XX", b"GT", b"KEEPTTL", LONG]


def pick(r: random.Random, values: Sequence[bytes]) -> bytes:
    return values[r.randrange(len(values))]


def some(r: random.Random, values: Sequence[bytes], lo: int = 1, hi: int = 3) -> list[bytes]:
    return [pick(r, values) for _ in range(r.randint(lo, hi))]


def key(r: random.Random, prefer: Sequence[bytes] = ()) -> bytes:
    """Mostly a key of the family, sometimes any key (WRONGTYPE paths)."""
    if prefer and r.random() < 0.75:
        return pick(r, prefer)
    return pick(r, KEYS)


def mutate(r: random.Random, argv: Argv, junk: Sequence[bytes] = JUNK) -> Argv:
    """An invalid variant: drop, repeat or replace one argument (never the command name)."""
    args = list(argv)
    roll = r.random()
    if roll < 0.3 and len(args) > 1:
        del args[r.randrange(1, len(args))]
    elif roll < 0.5:
        args.insert(r.randrange(1, len(args) + 1), pick(r, junk))
    elif len(args) > 1:
        args[r.randrange(1, len(args))] = pick(r, junk)
    return tuple(args)


# -- families on main ---------------------------------------------------------------------------
_S = [b"k1", b"k2", b"k3", b"str"]


def _set_opts(r: random.Random) -> list[bytes]:
    opts: list[bytes] = []
    for _ in range(r.randint(0, 2)):
        choice = r.randrange(6)
        if choice == 0:
            opts += [pick(r, [b"EX", b"PX"]), pick(r, TTLS)]
        elif choice == 1:
            opts += list(r.choice(SET_TIMES))
        else:
            opts.append(pick(r, [b"NX", b"XX", b"GET", b"KEEPTTL"]))
    return opts


register("strings", [
    lambda r: (b"SET", key(r, _S), pick(r, STRINGS), *_set_opts(r)),
    lambda r: (b"SET", key(r, _S), pick(r, STRINGS)),
    lambda r: (b"GET", key(r, _S)),
    lambda r: (b"SETNX", key(r, _S), pick(r, STRINGS)),
    lambda r: (pick(r, [b"SETEX", b"PSETEX"]), key(r, _S), pick(r, TTLS), pick(r, STRINGS)),
    lambda r: (b"GETSET", key(r, _S), pick(r, STRINGS)),
    lambda r: (b"GETDEL", key(r, _S)),
    lambda r: (b"GETEX", key(r, _S), *r.choice([[], [b"PERSIST"], [b"EX", pick(r, TTLS)],
                                                [b"PXAT", pick(r, ABS_TIMES)], [b"PERSIST", b"EX", b"10"]])),
    lambda r: (b"MGET", *some(r, _S, 1, 4)),
    lambda r: (b"MSET", *[x for _ in range(r.randint(1, 3)) for x in (key(r, _S), pick(r, STRINGS))]),
    lambda r: (b"MSETNX", *[x for _ in range(r.randint(1, 3)) for x in (key(r, _S), pick(r, STRINGS))]),
    lambda r: (b"APPEND", key(r, _S), pick(r, STRINGS)),
    lambda r: (b"STRLEN", key(r, _S)),
    lambda r: (pick(r, [b"INCR", b"DECR"]), key(r, _S)),
    lambda r: (pick(r, [b"INCRBY", b"DECRBY"]), key(r, _S), pick(r, INTS)),
    lambda r: (b"INCRBYFLOAT", key(r, _S), pick(r, FLOATS)),
    lambda r: (pick(r, [b"GETRANGE", b"SUBSTR"]), key(r, _S), pick(r, INTS), pick(r, INTS)),
    lambda r: (b"SETRANGE", key(r, _S), pick(r, [b"0", b"1", b"5", b"-1", b"x", b"100"]), pick(r, STRINGS)),
    lambda r: (b"LCS", key(r, _S), key(r, _S), *r.choice([[], [b"LEN"], [b"IDX"], [b"IDX", b"WITHMATCHLEN"],
                                                          [b"IDX", b"MINMATCHLEN", pick(r, SMALL)],
                                                          [b"LEN", b"IDX"]])),
], weight=3)

register("keys", [
    lambda r: (b"DEL", *some(r, KEYS, 1, 3)),
    lambda r: (b"UNLINK", *some(r, KEYS, 1, 3)),
    lambda r: (b"EXISTS", *some(r, KEYS, 1, 3)),
    lambda r: (b"TYPE", key(r)),
    lambda r: (b"OBJECT", b"ENCODING", key(r)),
    lambda r: (pick(r, [b"EXPIRE", b"PEXPIRE"]), key(r), pick(r, TTLS),
               *r.choice([[], [b"NX"], [b"XX"], [b"GT"], [b"LT"], [b"NX", b"XX"]])),
    lambda r: (pick(r, [b"EXPIREAT", b"PEXPIREAT"]), key(r), pick(r, ABS_TIMES)),
    lambda r: (pick(r, [b"TTL", b"PTTL", b"EXPIRETIME", b"PEXPIRETIME"]), key(r)),
    lambda r: (b"PERSIST", key(r)),
    lambda r: (b"TOUCH", *some(r, KEYS, 1, 3)),
    lambda r: (pick(r, [b"RENAME", b"RENAMENX"]), key(r), key(r)),
    lambda r: (b"COPY", key(r), key(r), *r.choice([[], [b"REPLACE"], [b"DB", b"1"], [b"DB", b"1", b"REPLACE"],
                                                   [b"DB", b"x"]])),
    lambda r: (b"MOVE", key(r), pick(r, [b"0", b"1", b"2", b"99", b"x"])),
    lambda r: (b"SELECT", pick(r, [b"0", b"0", b"0", b"1", b"2", b"16", b"x"])),
    lambda r: (b"SWAPDB", pick(r, [b"0", b"1", b"2"]), pick(r, [b"0", b"1", b"2", b"x"])),
    lambda r: (b"DBSIZE",),
    lambda r: (b"KEYS", pick(r, [b"*", b"k*", b"?1", b"[hs]*", b"*[", b"\\*", b"nomatch"])),
    lambda r: (b"SCAN", b"0", *r.choice([[], [b"COUNT", b"100"], [b"MATCH", b"k*", b"COUNT", b"1000"],
                                        [b"TYPE", b"string", b"COUNT", b"1000"], [b"COUNT", b"0"]])),
    lambda r: (b"FLUSHDB",) if r.random() < 0.1 else (b"PING",),
    lambda r: (b"ECHO", pick(r, STRINGS)),
    lambda r: (b"PING", *r.choice([[], [pick(r, STRINGS)]])),
    lambda r: (b"RANDOMKEY",),
])

_H = [b"h1", b"h2"]
register("hashes", [
    lambda r: (b"HSET", key(r, _H), *[x for _ in range(r.randint(1, 3)) for x in (pick(r, FIELDS), pick(r, STRINGS))]),
    lambda r: (b"HSET", key(r, _H), *[x for _ in range(r.randint(1, 3)) for x in (pick(r, FIELDS), pick(r, STRINGS))]),
    lambda r: (b"HMSET", key(r, _H), pick(r, FIELDS), pick(r, STRINGS)),
    lambda r: (b"HSETNX", key(r, _H), pick(r, FIELDS), pick(r, STRINGS)),
    lambda r: (b"HGET", key(r, _H), pick(r, FIELDS)),
    lambda r: (b"HMGET", key(r, _H), *some(r, FIELDS)),
    lambda r: (b"HDEL", key(r, _H), *some(r, FIELDS)),
    lambda r: (pick(r, [b"HEXISTS", b"HSTRLEN"]), key(r, _H), pick(r, FIELDS)),
    lambda r: (pick(r, [b"HLEN", b"HKEYS", b"HVALS", b"HGETALL"]), key(r, _H)),
    lambda r: (b"HINCRBY", key(r, _H), pick(r, FIELDS), pick(r, INTS)),
    lambda r: (b"HINCRBYFLOAT", key(r, _H), pick(r, FIELDS), pick(r, FLOATS)),
    lambda r: (b"HRANDFIELD", key(r, _H), *r.choice([[], [pick(r, SMALL)], [pick(r, SMALL), b"WITHVALUES"]])),
    lambda r: (b"HSCAN", key(r, _H), b"0", *r.choice([[], [b"COUNT", b"100"], [b"MATCH", b"a*"]])),
], weight=2)

_L = [b"l1", b"l2"]
_SIDE = [b"LEFT", b"RIGHT", b"left", b"UP"]
register("lists", [
    lambda r: (pick(r, [b"LPUSH", b"RPUSH"]), key(r, _L), *some(r, MEMBERS, 1, 4)),
    lambda r: (pick(r, [b"LPUSH", b"RPUSH", b"LPUSHX", b"RPUSHX"]), key(r, _L), *some(r, MEMBERS, 1, 4)),
    lambda r: (pick(r, [b"LPOP", b"RPOP"]), key(r, _L), *r.choice([[], [pick(r, SMALL)]])),
    lambda r: (b"LLEN", key(r, _L)),
    lambda r: (b"LRANGE", key(r, _L), pick(r, INTS), pick(r, INTS)),
    lambda r: (b"LINDEX", key(r, _L), pick(r, INTS)),
    lambda r: (b"LSET", key(r, _L), pick(r, INTS), pick(r, MEMBERS)),
    lambda r: (b"LINSERT", key(r, _L), pick(r, [b"BEFORE", b"AFTER", b"middle"]), pick(r, MEMBERS), pick(r, MEMBERS)),
    lambda r: (b"LREM", key(r, _L), pick(r, [b"0", b"1", b"-1", b"2", b"x"]), pick(r, MEMBERS)),
    lambda r: (b"LTRIM", key(r, _L), pick(r, INTS), pick(r, INTS)),
    lambda r: (b"LPOS", key(r, _L), pick(r, MEMBERS), *r.choice(
        [[], [b"RANK", pick(r, [b"1", b"-1", b"2", b"0"])], [b"COUNT", pick(r, [b"0", b"2", b"-1"])],
         [b"MAXLEN", pick(r, [b"0", b"2", b"-1"])], [b"RANK", b"-1", b"COUNT", b"0", b"MAXLEN", b"3"]])),
    lambda r: (b"LMOVE", key(r, _L), key(r, _L), pick(r, _SIDE), pick(r, _SIDE)),
    lambda r: (b"RPOPLPUSH", key(r, _L), key(r, _L)),
    lambda r: (b"LMPOP", b"2", key(r, _L), key(r, _L), pick(r, [b"LEFT", b"RIGHT"]),
               *r.choice([[], [b"COUNT", pick(r, SMALL)]])),
    lambda r: (pick(r, [b"BLPOP", b"BRPOP"]), key(r, _L), pick(r, [b"0.01", b"-1", b"x"])),
    lambda r: (b"BLMOVE", key(r, _L), key(r, _L), pick(r, _SIDE), pick(r, _SIDE), b"0.01"),
], weight=2)

_SET = [b"s1", b"s2"]


def _keys(r: random.Random, prefer: Sequence[bytes]) -> list[bytes]:
    return [key(r, prefer) for _ in range(r.randint(1, 3))]


register("sets", [
    lambda r: (b"SADD", key(r, _SET), *some(r, MEMBERS, 1, 4)),
    lambda r: (b"SADD", key(r, _SET), *some(r, MEMBERS, 1, 4)),
    lambda r: (b"SREM", key(r, _SET), *some(r, MEMBERS)),
    lambda r: (pick(r, [b"SMEMBERS", b"SCARD"]), key(r, _SET)),
    lambda r: (b"SISMEMBER", key(r, _SET), pick(r, MEMBERS)),
    lambda r: (b"SMISMEMBER", key(r, _SET), *some(r, MEMBERS)),
    lambda r: (b"SPOP", key(r, _SET), *r.choice([[], [pick(r, SMALL)]])),
    lambda r: (b"SRANDMEMBER", key(r, _SET), *r.choice([[], [pick(r, SMALL)]])),
    lambda r: (b"SMOVE", key(r, _SET), key(r, _SET), pick(r, MEMBERS)),
    lambda r: (pick(r, [b"SINTER", b"SUNION", b"SDIFF"]), *_keys(r, _SET)),
    lambda r: (pick(r, [b"SINTERSTORE", b"SUNIONSTORE", b"SDIFFSTORE"]), key(r, _SET), *_keys(r, _SET)),
    lambda r: (b"SINTERCARD", b"2", key(r, _SET), key(r, _SET),
               *r.choice([[], [b"LIMIT", pick(r, [b"0", b"1", b"-1"])]])),
    lambda r: (b"SSCAN", key(r, _SET), b"0", *r.choice([[], [b"COUNT", b"100"], [b"MATCH", b"1*"]])),
], weight=2)

_Z = [b"z1", b"z2"]


def _zadd(r: random.Random) -> Argv:
    opts = r.choice([[], [], [b"NX"], [b"XX"], [b"GT"], [b"LT", b"CH"], [b"INCR"], [b"NX", b"GT"]])
    pairs = [x for _ in range(r.randint(1, 3)) for x in (pick(r, FLOATS[:10]), pick(r, MEMBERS))]
    return (b"ZADD", key(r, _Z), *opts, *pairs)


def _zsetop(r: random.Random) -> Argv:
    name = pick(r, [b"ZUNION", b"ZINTER", b"ZDIFF", b"ZUNIONSTORE", b"ZINTERSTORE", b"ZDIFFSTORE"])
    keys = _keys(r, _Z + [b"s1"])
    head = (name, key(r, _Z)) if name.endswith(b"STORE") else (name,)
    extra: list[bytes] = []
    if r.random() < 0.3:
        extra += [b"WEIGHTS", *[pick(r, [b"1", b"2", b"-1", b"0.5", b"inf"]) for _ in keys]]
    if r.random() < 0.3:
        extra += [b"AGGREGATE", pick(r, [b"SUM", b"MIN", b"MAX", b"avg"])]
    if r.random() < 0.3 and not name.endswith(b"STORE"):
        extra.append(b"WITHSCORES")
    return (*head, b"%d" % len(keys), *keys, *extra)


# Lex ranges are only defined when every member has the same score: they get their own key
# ("zl"), which only ever receives score-0 members (no other template names it).
_LEXMEMBERS = [b"a", b"b", b"c", b"d", b"ab", b""]


def _zl_add(r: random.Random) -> Argv:
    return (b"ZADD", b"zl", *[x for _ in range(r.randint(1, 3)) for x in (b"0", pick(r, _LEXMEMBERS))])


_LIMIT = [[], [], [b"LIMIT", b"0", b"2"], [b"LIMIT", b"1", b"1"], [b"LIMIT", b"0", b"-1"], [b"LIMIT", b"-1", b"2"]]

register("zsets", [
    _zadd, _zadd,
    lambda r: (b"ZINCRBY", key(r, _Z), pick(r, FLOATS), pick(r, MEMBERS)),
    lambda r: (b"ZREM", key(r, _Z), *some(r, MEMBERS)),
    lambda r: (b"ZSCORE", key(r, _Z), pick(r, MEMBERS)),
    lambda r: (b"ZMSCORE", key(r, _Z), *some(r, MEMBERS)),
    lambda r: (b"ZCARD", key(r, _Z)),
    lambda r: (b"ZCOUNT", key(r, _Z), pick(r, SCORE_BOUNDS), pick(r, SCORE_BOUNDS)),
    _zl_add,
    lambda r: (b"ZLEXCOUNT", b"zl", pick(r, LEX_BOUNDS), pick(r, LEX_BOUNDS)),
    lambda r: (b"ZRANGE", key(r, _Z), pick(r, INTS), pick(r, INTS),
               *r.choice([[], [b"WITHSCORES"], [b"REV"], [b"REV", b"WITHSCORES"], [b"LIMIT", b"0", b"1"]])),
    lambda r: (b"ZRANGE", key(r, _Z), pick(r, SCORE_BOUNDS), pick(r, SCORE_BOUNDS), b"BYSCORE",
               *r.choice([[], [b"REV"]]), *r.choice(_LIMIT), *r.choice([[], [b"WITHSCORES"]])),
    lambda r: (b"ZRANGE", b"zl", pick(r, LEX_BOUNDS), pick(r, LEX_BOUNDS), b"BYLEX",
               *r.choice([[], [b"REV"]]), *r.choice(_LIMIT)),
    lambda r: (b"ZRANGESTORE", key(r, _Z), key(r, _Z), pick(r, INTS), pick(r, INTS)),
    lambda r: (pick(r, [b"ZRANGEBYSCORE", b"ZREVRANGEBYSCORE"]), key(r, _Z), pick(r, SCORE_BOUNDS),
               pick(r, SCORE_BOUNDS), *r.choice([[], [b"WITHSCORES"]]), *r.choice(_LIMIT)),
    lambda r: (pick(r, [b"ZRANGEBYLEX", b"ZREVRANGEBYLEX"]), b"zl", pick(r, LEX_BOUNDS),
               pick(r, LEX_BOUNDS), *r.choice(_LIMIT)),
    lambda r: (b"ZREVRANGE", key(r, _Z), pick(r, INTS), pick(r, INTS), *r.choice([[], [b"WITHSCORES"]])),
    lambda r: (pick(r, [b"ZRANK", b"ZREVRANK"]), key(r, _Z), pick(r, MEMBERS)),
    lambda r: (pick(r, [b"ZPOPMIN", b"ZPOPMAX"]), key(r, _Z), *r.choice([[], [pick(r, SMALL)]])),
    lambda r: (b"ZMPOP", b"2", key(r, _Z), key(r, _Z), pick(r, [b"MIN", b"MAX"]),
               *r.choice([[], [b"COUNT", pick(r, SMALL)]])),
    lambda r: (pick(r, [b"BZPOPMIN", b"BZPOPMAX"]), key(r, _Z), b"0.01"),
    lambda r: (b"ZREMRANGEBYRANK", key(r, _Z), pick(r, INTS), pick(r, INTS)),
    lambda r: (b"ZREMRANGEBYSCORE", key(r, _Z), pick(r, SCORE_BOUNDS), pick(r, SCORE_BOUNDS)),
    lambda r: (b"ZREMRANGEBYLEX", b"zl", pick(r, LEX_BOUNDS), pick(r, LEX_BOUNDS)),
    lambda r: (pick(r, [b"ZRANGE", b"ZCARD", b"ZRANK"]), b"zl", *r.choice([[b"0", b"-1"], [], [pick(r, _LEXMEMBERS)]])),
    _zsetop,
    lambda r: (b"ZINTERCARD", b"2", key(r, _Z), key(r, _Z), *r.choice([[], [b"LIMIT", pick(r, SMALL)]])),
    lambda r: (b"ZRANDMEMBER", key(r, _Z), *r.choice([[], [pick(r, SMALL)], [pick(r, SMALL), b"WITHSCORES"]])),
    lambda r: (b"ZSCAN", key(r, _Z), b"0", *r.choice([[], [b"COUNT", b"100"], [b"MATCH", b"a*"]])),
], weight=2)

register("transactions", [
    lambda r: (b"MULTI",),
    lambda r: (b"EXEC",),
    lambda r: (b"DISCARD",),
    lambda r: (b"WATCH", *some(r, KEYS)),
    lambda r: (b"UNWATCH",),
])

# Encoding limits both servers share, lowered now and then so containers convert.
_LIMITS = [b"hash-max-listpack-entries", b"set-max-intset-entries", b"zset-max-listpack-entries",
           b"list-max-listpack-size", b"hash-max-listpack-value", b"zset-max-listpack-value"]
register("config", [
    lambda r: (b"CONFIG", b"SET", pick(r, _LIMITS), pick(r, [b"1", b"2", b"4", b"128", b"512", b"-2", b"x"])),
])


_BLOCKING = frozenset({b"BLPOP", b"BRPOP", b"BLMOVE", b"BZPOPMIN", b"BZPOPMAX", b"BLMPOP", b"BZMPOP"})
# The later families register themselves (they import the alphabets above).
from tests.fuzz import gen_data, gen_scripts  # noqa: E402,F401


def draw(r: random.Random, invalid: float = 0.1) -> Argv:
    """One command: a family by weight, a template, and now and then a mutation."""
    names = list(FAMILIES)
    family = r.choices(names, weights=[WEIGHTS.get(n, 1) for n in names])[0]
    templates = FAMILIES[family]
    argv = templates[r.randrange(len(templates))](r)
    # zl keeps score 0 only; a blocking command must keep its short timeout (0 blocks forever).
    # CONFIG GET stays as drawn: a mutated pattern ("*") would read the server's identity.
    if r.random() < invalid and argv[:2] not in ((b"ZADD", b"zl"), (b"CONFIG", b"GET")) and argv[0] not in _BLOCKING:
        if argv[0] in (b"SORT", b"SORT_RO"):  # the source keeps its known type (gen_data.py)
            argv = (*argv[:2], *mutate(r, argv)[2:])
        elif argv[0] not in gen_data.STREAM_COMMANDS:
            argv = mutate(r, argv)
        elif b"*" not in argv and b"BLOCK" not in argv:  # an auto ID or a block must stay as drawn
            argv = mutate(r, argv, gen_data.NO_STAR)
    return argv
