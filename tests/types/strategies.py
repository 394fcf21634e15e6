"""Hypothesis strategies: command sequences per data-type family.

Alphabets are deliberately tiny (a handful of keys, members and numbers) so
that generated commands collide: they hit the same keys, grow and empty
containers, cross encoding limits (the tests lower them), and meet the wrong
type.  Edge arguments (negative indexes, inf scores, exclusive bounds, LIMIT,
bad numbers) are part of every alphabet.
"""

from __future__ import annotations

from hypothesis import strategies as st

Cmd = tuple[bytes, ...]

LONG = b"L" * 70  # longer than every *-max-listpack-value default (64)

# Keys of other types every sequence starts with (see PRELUDE), for WRONGTYPE paths.
PRELUDE: list[Cmd] = [
    (b"SET", b"str", b"hello"),
    (b"RPUSH", b"lst", b"x"),
]
WRONG = [b"str", b"lst", b"nokey"]

INDEXES = [b"0", b"1", b"2", b"-1", b"-2", b"-100", b"100", b"3", b"x", b"9223372036854775807"]
COUNTS = [b"0", b"1", b"2", b"3", b"5", b"-1", b"-3", b"x", b"100"]


def _b(values: list[bytes]) -> st.SearchStrategy[bytes]:
    return st.sampled_from(values)


def _cmd(*parts: st.SearchStrategy[bytes] | bytes) -> st.SearchStrategy[Cmd]:
    strategies = [p if isinstance(p, st.SearchStrategy) else st.just(p) for p in parts]
    return st.tuples(*strategies)


def _with(base: st.SearchStrategy[Cmd], extra: st.SearchStrategy[list[bytes]]) -> st.SearchStrategy[Cmd]:
    return st.builds(lambda b, e: b + tuple(e), base, extra)


def weighted(heavy: list[st.SearchStrategy[Cmd]], light: list[st.SearchStrategy[Cmd]],
             weight: int = 4) -> st.SearchStrategy[Cmd]:
    """Writers that build state are drawn about ``weight`` times as often as the rest.

    The writers alone are kept as ``.seed`` for the opening burst of a sequence.
    """
    mix = st.one_of(*(heavy * weight * max(1, len(light) // (len(heavy) * 4))), *light)
    mix.seed = st.one_of(*heavy)  # type: ignore[attr-defined]
    return mix


def _generic(keys: list[bytes]) -> list[st.SearchStrategy[Cmd]]:
    """Keyspace commands that must work on every type."""
    k = _b(keys)
    return [
        _cmd(b"TYPE", k),
        _cmd(b"OBJECT", b"ENCODING", k),
        _cmd(b"EXISTS", k),
        _cmd(b"DEL", k),
        _cmd(b"EXPIRE", k, _b([b"100", b"0", b"-1"])),
        _cmd(b"PERSIST", k),
        _cmd(b"RENAME", k, k),
        _cmd(b"COPY", k, k, _b([b"REPLACE", b"DB", b"REPLACE"])).map(
            lambda t: t[:3] + ((t[3],) if t[3] == b"REPLACE" else ())),
    ]


def sequences(commands: st.SearchStrategy[Cmd], max_size: int = 40) -> st.SearchStrategy[list[tuple[Cmd, int]]]:
    """Lists of (command, protocol) pairs: first a burst of writers that build up state
    (``commands.seed``, when the family strategy has one), then the full mix."""
    seed = getattr(commands, "seed", None)
    mixed = st.lists(st.tuples(commands, st.sampled_from([2, 2, 3])), min_size=10, max_size=max_size)
    if seed is None:
        return mixed
    first = st.lists(st.tuples(seed, st.just(2)), min_size=3, max_size=10)
    return st.builds(lambda a, b: a + b, first, mixed)


# -- hashes ------------------------------------------------------------------------------
HKEYS = [b"h1", b"h2"]
FIELDS = [b"a", b"b", b"c", b"1", b"2", LONG]
HVALUES = [b"x", b"1", b"-5", b"10", b"1.5", b"", b"9223372036854775807", LONG, b"3e2"]


def hash_commands() -> st.SearchStrategy[Cmd]:
    k = _b(HKEYS + HKEYS + WRONG)
    f = _b(FIELDS)
    v = _b(HVALUES)
    pairs = st.lists(st.tuples(f, v).map(lambda p: list(p)), min_size=0, max_size=3).map(
        lambda ps: [x for p in ps for x in p])
    fields = st.lists(f, min_size=0, max_size=3)
    good = _b(HKEYS)
    full = st.lists(st.tuples(f, v).map(lambda p: list(p)), min_size=1, max_size=3).map(
        lambda ps: [x for p in ps for x in p])
    return weighted([_with(_cmd(b"HSET", good), full)], [
        _with(_cmd(b"HSET", k), pairs),
        _with(_cmd(b"HMSET", k), pairs),
        _with(_cmd(b"HSET", k, f), st.just([])),  # arity / odd-argument errors
        _cmd(b"HSETNX", k, f, v),
        _cmd(b"HGET", k, f),
        _with(_cmd(b"HMGET", k), fields),
        _with(_cmd(b"HDEL", k), fields),
        _cmd(b"HEXISTS", k, f),
        _cmd(b"HLEN", k),
        _cmd(b"HSTRLEN", k, f),
        _cmd(b"HKEYS", k),
        _cmd(b"HVALS", k),
        _cmd(b"HGETALL", k),
        _cmd(b"HINCRBY", k, f, _b([b"1", b"-1", b"100", b"x", b"9223372036854775807",
                                   b"-9223372036854775808", b"1.5"])),
        _cmd(b"HINCRBYFLOAT", k, f, _b([b"0.5", b"-1.25", b"1e2", b"x", b"inf", b"3", b"-0.5"])),
        _cmd(b"HRANDFIELD", k),
        _cmd(b"HRANDFIELD", k, _b(COUNTS)).filter(lambda t: t[2] != b"x"),
        _cmd(b"HRANDFIELD", k, _b(COUNTS), _b([b"WITHVALUES", b"withvalues", b"bad"])),
        _with(_cmd(b"HSCAN", k, b"0"), st.sampled_from(
            [[], [b"COUNT", b"1"], [b"MATCH", b"a*"], [b"COUNT", b"2", b"MATCH", b"*"],
             [b"COUNT", b"0"], [b"MATCH"]])),
        *_generic(HKEYS + [b"str"]),
    ])


# -- lists -------------------------------------------------------------------------------
LKEYS = [b"l1", b"l2"]
ELEMS = [b"a", b"b", b"c", b"1"]


def list_commands() -> st.SearchStrategy[Cmd]:
    k = _b(LKEYS + LKEYS + [b"str", b"nokey"])
    e = _b(ELEMS)
    i = _b(INDEXES)
    side = _b([b"LEFT", b"RIGHT", b"left", b"UP"])
    elems = st.lists(e, min_size=1, max_size=4)
    lpos_opts = st.lists(st.sampled_from(
        [[b"RANK", b"1"], [b"RANK", b"-1"], [b"RANK", b"2"], [b"RANK", b"-2"], [b"RANK", b"0"],
         [b"COUNT", b"0"], [b"COUNT", b"2"], [b"COUNT", b"-1"], [b"MAXLEN", b"2"],
         [b"MAXLEN", b"0"], [b"RANK"]]), max_size=3).map(lambda xs: [y for x in xs for y in x])
    good = _b(LKEYS)
    return weighted([_with(_cmd(b"LPUSH", good), elems), _with(_cmd(b"RPUSH", good), elems)], [
        _with(_cmd(b"LPUSH", k), elems),
        _with(_cmd(b"RPUSH", k), elems),
        _with(_cmd(b"LPUSHX", k), elems),
        _with(_cmd(b"RPUSHX", k), elems),
        _cmd(b"LPOP", k),
        _cmd(b"RPOP", k),
        _cmd(b"LPOP", k, _b(COUNTS)),
        _cmd(b"RPOP", k, _b(COUNTS)),
        _cmd(b"LLEN", k),
        _cmd(b"LRANGE", k, i, i),
        _cmd(b"LINDEX", k, i),
        _cmd(b"LSET", k, i, e),
        _cmd(b"LINSERT", k, _b([b"BEFORE", b"AFTER", b"after", b"middle"]), e, e),
        _cmd(b"LREM", k, _b([b"0", b"1", b"-1", b"2", b"-2", b"x"]), e),
        _cmd(b"LTRIM", k, i, i),
        _with(_cmd(b"LPOS", k, e), lpos_opts),
        _cmd(b"LMOVE", k, k, side, side),
        _cmd(b"RPOPLPUSH", k, k),
        _with(_cmd(b"LMPOP", _b([b"1", b"2"]), k, k), st.sampled_from(
            [[b"LEFT"], [b"RIGHT"], [b"LEFT", b"COUNT", b"2"], [b"RIGHT", b"COUNT", b"10"],
             [b"LEFT", b"COUNT", b"0"], [b"MIDDLE"], []])).map(
            lambda t: t if t[1] == b"2" else t[:3] + t[4:]),
        *_generic(LKEYS + [b"str"]),
    ])


# -- sets --------------------------------------------------------------------------------
SKEYS = [b"s1", b"s2", b"s3"]
MEMBERS = [b"1", b"2", b"3", b"-1", b"10", b"a", b"b", b"007"]


def set_commands() -> st.SearchStrategy[Cmd]:
    k = _b(SKEYS + SKEYS + [b"str", b"nokey"])
    m = _b(MEMBERS)
    ms = st.lists(m, min_size=1, max_size=4)
    ks = st.lists(k, min_size=1, max_size=3)
    return weighted([_with(_cmd(b"SADD", _b(SKEYS)), ms)], [
        _with(_cmd(b"SADD", k), ms),
        _with(_cmd(b"SREM", k), ms),
        _cmd(b"SMEMBERS", k),
        _cmd(b"SISMEMBER", k, m),
        _with(_cmd(b"SMISMEMBER", k), ms),
        _cmd(b"SCARD", k),
        _cmd(b"SPOP", k),
        _cmd(b"SPOP", k, _b([b"0", b"1", b"2", b"3", b"10", b"-1", b"x"])),
        _cmd(b"SRANDMEMBER", k),
        _cmd(b"SRANDMEMBER", k, _b(COUNTS)).filter(lambda t: t[2] != b"x"),
        _cmd(b"SMOVE", k, k, m),
        _with(_cmd(b"SINTER"), ks),
        _with(_cmd(b"SUNION"), ks),
        _with(_cmd(b"SDIFF"), ks),
        _with(_cmd(b"SINTERSTORE", k), ks),
        _with(_cmd(b"SUNIONSTORE", k), ks),
        _with(_cmd(b"SDIFFSTORE", k), ks),
        st.builds(lambda keys, extra: (b"SINTERCARD", b"%d" % len(keys), *keys, *extra), ks,
                  st.sampled_from([[], [b"LIMIT", b"1"], [b"LIMIT", b"0"], [b"LIMIT", b"-1"],
                                   [b"LIMIT"]])),
        _cmd(b"SINTERCARD", _b([b"0", b"5", b"x"]), k),
        _with(_cmd(b"SSCAN", k, b"0"), st.sampled_from(
            [[], [b"COUNT", b"1"], [b"MATCH", b"1*"], [b"COUNT", b"3", b"MATCH", b"*"]])),
        *_generic(SKEYS + [b"str"]),
    ])


# -- sorted sets -------------------------------------------------------------------------
ZKEYS = [b"z1", b"z2", b"z3"]
ZMEMBERS = [b"a", b"b", b"c", b"d", LONG]
SCORES = [b"1", b"2", b"-1", b"0", b"-0", b"1.5", b"inf", b"-inf", b"+inf", b"1e2", b"0.1", b"3"]
BAD_SCORES = [b"x", b"nan", b"1e400", b""]
SCORE_BOUNDS = [b"-inf", b"+inf", b"0", b"(0", b"1", b"(1", b"2", b"(2", b"1.5", b"(1.5", b"inf",
                b"(inf", b"-1", b"x", b"(", b"(-inf"]
LEX_BOUNDS = [b"-", b"+", b"[a", b"(a", b"[b", b"(b", b"[c", b"(d", b"[", b"(", b"a", b"+x"]
LEXMEMBERS = [b"a", b"b", b"c", b"d", b"ab", b""]


def zset_commands() -> st.SearchStrategy[Cmd]:
    # "zl" only ever holds score-0 members (lex ranges are defined only then); it is a
    # source for algebra but never a destination of score-changing commands.
    k = _b(ZKEYS * 3 + [b"str", b"nokey"])
    src = _b(ZKEYS + [b"zl", b"s1", b"str", b"nokey"])
    m = _b(ZMEMBERS)
    sc = st.one_of(_b(SCORES), _b(SCORES), _b(BAD_SCORES))
    opts = st.lists(_b([b"NX", b"XX", b"GT", b"LT", b"CH", b"INCR"]), max_size=2, unique=True)
    pairs = st.lists(st.tuples(sc, m).map(list), min_size=1, max_size=3).map(
        lambda ps: [x for p in ps for x in p])
    sb = st.one_of(_b(SCORE_BOUNDS[:-3]), _b(SCORE_BOUNDS))
    lb = st.one_of(_b(LEX_BOUNDS[:-3]), _b(LEX_BOUNDS))
    i = _b(INDEXES)
    zl = st.just(b"zl")
    limit = st.sampled_from([[], [], [b"LIMIT", b"0", b"2"], [b"LIMIT", b"1", b"1"],
                             [b"LIMIT", b"-1", b"2"], [b"LIMIT", b"0", b"-1"], [b"LIMIT", b"5", b"1"],
                             [b"LIMIT", b"1"]])
    ws = st.sampled_from([[], [b"WITHSCORES"]])
    ks = st.lists(src, min_size=1, max_size=3)

    def setop(name: bytes, store: bool) -> st.SearchStrategy[Cmd]:
        extras = st.lists(st.sampled_from(
            [[b"AGGREGATE", b"SUM"], [b"AGGREGATE", b"MIN"], [b"AGGREGATE", b"max"],
             [b"AGGREGATE", b"avg"], [b"WEIGHTS*"], [b"WITHSCORES"]]), max_size=2).map(
            lambda xs: [y for x in xs for y in x])
        weights = _b([b"1", b"2", b"-1", b"0", b"0.5", b"inf", b"x"])

        def build(dst: bytes, keys: list[bytes], extra: list[bytes], wl: list[bytes]) -> Cmd:
            out: list[bytes] = []
            for x in extra:
                if x == b"WEIGHTS*":
                    out += [b"WEIGHTS", *wl[:len(keys)]]
                elif x == b"WITHSCORES" and store:
                    continue
                else:
                    out.append(x)
            head = (name, dst) if store else (name,)
            return (*head, b"%d" % len(keys), *keys, *out)

        return st.builds(build, k, ks, extras, st.lists(weights, min_size=3, max_size=3))

    good_pairs = st.lists(st.tuples(_b(SCORES), m).map(list), min_size=1, max_size=3).map(
        lambda ps: [x for p in ps for x in p])
    heavy = [
        st.builds(lambda key, p: (b"ZADD", key, *p), _b(ZKEYS), good_pairs),
        st.builds(lambda ms: (b"ZADD", b"zl", *ms), st.lists(_b(LEXMEMBERS), min_size=1, max_size=3).map(
            lambda ms: [x for mm in ms for x in (b"0", mm)])),
    ]
    return weighted(heavy, [
        st.builds(lambda key, o, p: (b"ZADD", key, *o, *p), k, opts, pairs),
        st.builds(lambda o, p: (b"ZADD", b"zl", *o, *p), st.just([]),
                  st.lists(_b(LEXMEMBERS), min_size=1, max_size=3).map(
                      lambda ms: [x for mm in ms for x in (b"0", mm)])),
        _cmd(b"ZINCRBY", k, sc, m),
        st.builds(lambda key, ms: (b"ZREM", key, *ms), _b(ZKEYS + [b"zl", b"str"]),
                  st.lists(st.one_of(m, _b(LEXMEMBERS)), min_size=1, max_size=3)),
        _cmd(b"ZSCORE", k, m),
        st.builds(lambda key, ms: (b"ZMSCORE", key, *ms), k, st.lists(m, min_size=1, max_size=3)),
        _cmd(b"ZCARD", src),
        _cmd(b"ZCOUNT", k, sb, sb),
        _cmd(b"ZLEXCOUNT", zl, lb, lb),
        _with(_cmd(b"ZRANGE", src, i, i), st.sampled_from([[], [b"WITHSCORES"], [b"REV"],
                                                          [b"REV", b"WITHSCORES"],
                                                          [b"LIMIT", b"0", b"1"],
                                                          [b"LIMIT", b"0", b"-1"],
                                                          [b"REV", b"REV"]])),
        st.builds(lambda key, a, b, rev, lim, w: (b"ZRANGE", key, a, b, b"BYSCORE", *rev, *lim, *w),
                  k, sb, sb, st.sampled_from([[], [b"REV"]]), limit, ws),
        st.builds(lambda a, b, rev, lim, w: (b"ZRANGE", b"zl", a, b, b"BYLEX", *rev, *lim, *w),
                  lb, lb, st.sampled_from([[], [b"REV"]]), limit, st.sampled_from([[], [], [b"WITHSCORES"]])),
        st.builds(lambda dst, key, a, b, rest: (b"ZRANGESTORE", dst, key, a, b, *rest), k, src, i, i,
                  st.sampled_from([[], [b"REV"], [b"WITHSCORES"]])),
        st.builds(lambda dst, key, a, b, lim: (b"ZRANGESTORE", dst, key, a, b, b"BYSCORE", *lim),
                  k, src, sb, sb, limit),
        _with(_cmd(b"ZREVRANGE", src, i, i), ws),
        st.builds(lambda key, a, b, lim, w: (b"ZRANGEBYSCORE", key, a, b, *w, *lim), k, sb, sb, limit, ws),
        st.builds(lambda key, a, b, lim, w: (b"ZREVRANGEBYSCORE", key, a, b, *lim, *w), k, sb, sb, limit, ws),
        st.builds(lambda a, b, lim: (b"ZRANGEBYLEX", b"zl", a, b, *lim), lb, lb, limit),
        st.builds(lambda a, b, lim: (b"ZREVRANGEBYLEX", b"zl", a, b, *lim), lb, lb, limit),
        _cmd(b"ZRANK", src, st.one_of(m, _b(LEXMEMBERS))),
        _cmd(b"ZREVRANK", src, st.one_of(m, _b(LEXMEMBERS))),
        _cmd(b"ZPOPMIN", src),
        _cmd(b"ZPOPMAX", src),
        _cmd(b"ZPOPMIN", src, _b(COUNTS)),
        _cmd(b"ZPOPMAX", src, _b(COUNTS)),
        st.builds(lambda keys, where, extra: (b"ZMPOP", b"%d" % len(keys), *keys, where, *extra),
                  ks, _b([b"MIN", b"MAX", b"max", b"MIDDLE"]),
                  st.sampled_from([[], [b"COUNT", b"2"], [b"COUNT", b"0"], [b"COUNT", b"10"]])),
        _cmd(b"ZREMRANGEBYRANK", k, i, i),
        _cmd(b"ZREMRANGEBYSCORE", k, sb, sb),
        _cmd(b"ZREMRANGEBYLEX", zl, lb, lb),
        setop(b"ZUNION", False),
        setop(b"ZINTER", False),
        setop(b"ZDIFF", False),
        setop(b"ZUNIONSTORE", True),
        setop(b"ZINTERSTORE", True),
        setop(b"ZDIFFSTORE", True),
        st.builds(lambda keys, extra: (b"ZINTERCARD", b"%d" % len(keys), *keys, *extra), ks,
                  st.sampled_from([[], [b"LIMIT", b"1"], [b"LIMIT", b"-1"], [b"WITHSCORES"]])),
        _cmd(b"ZUNION", _b([b"0", b"4", b"x"]), src),
        _cmd(b"ZRANDMEMBER", src),
        _cmd(b"ZRANDMEMBER", src, _b(COUNTS)).filter(lambda t: t[2] != b"x"),
        _cmd(b"ZRANDMEMBER", src, _b(COUNTS), _b([b"WITHSCORES", b"bad"])),
        _with(_cmd(b"ZSCAN", src, b"0"), st.sampled_from(
            [[], [b"COUNT", b"1"], [b"MATCH", b"a*"], [b"COUNT", b"2", b"MATCH", b"*"]])),
        _cmd(b"SADD", b"s1", m),
        *_generic(ZKEYS + [b"str"]),
    ])
