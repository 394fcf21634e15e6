"""BLPOP BRPOP BLMOVE BRPOPLPUSH BLMPOP BZPOPMIN BZPOPMAX BZMPOP (t_list.c / t_zset.c).

Each command first behaves like its non-blocking form; when every key is
empty it parks the client in the server's BlockingRegistry (blocking.py)
with a *serve* function that does the pop later.  Inside MULTI/EXEC (and
while loading) they never block: an empty result is the null reply.

What gets logged is the effect, as Redis replicates it: BLPOP -> ``LPOP k``,
BLMPOP -> ``LPOP k n``, BLMOVE -> ``LMOVE src dst LEFT RIGHT``, BRPOPLPUSH ->
``RPOPLPUSH``, BZPOPMIN -> ``ZPOPMIN k 1``, BZMPOP -> ``ZPOPMIN k n``.  A pop
served later is committed as its own frame by the registry.

The list/zset mechanics are the data-type modules' building blocks
(commands/lists.py, commands/zsets.py).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from math import ceil
from typing import TYPE_CHECKING, Any

from sentrykv_server.commands.errors import TIMEOUT_NOT_FLOAT, CommandError
from sentrykv_server.commands.lists import (
    get_list,
    list_move,
    list_pop,
    mpop_first,
    parse_mpop,
    parse_where,
)
from sentrykv_server.commands.registry import command
from sentrykv_server.commands.zsets import (
    get_zset,
    parse_zmpop,
    pop_pairs_reply,
    zmpop_first,
    zset_pop,
)
from sentrykv_server.protocol.reply import NO_REPLY, NULL_ARRAY
from sentrykv_server.store.lists import QuickList
from sentrykv_server.store.zset import ZSet

if TYPE_CHECKING:
    from sentrykv_server.protocol.connection import Client
    from sentrykv_server.store.keyspace import Database

# -- timeout parsing ---------------------------------------------------------------------
# Redis parses the timeout with strtold (x87 80-bit long double), multiplies by 1000 in
# long double and rounds up (ceill) to milliseconds: "0.0005" blocks 1 ms, "-0.001"
# (= -0.99999999999999999995 ms) means "forever", "inf" or 1e16 overflow the cast to
# long long and read as negative.  The exact arithmetic below reproduces that.
_DECIMAL = re.compile(rb"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?\Z")
_HEX = re.compile(rb"([+-]?)0[xX]([0-9a-fA-F]*)\.?([0-9a-fA-F]*)(?:[pP]([+-]?[0-9]+))?\Z")
_INFINITY = re.compile(rb"[+-]?(?:inf|infinity)\Z", re.IGNORECASE)
_LD_MANT = 64  # significand bits of the x87 long double
_LD_MIN_EXP = -16382  # exponent of the smallest normal long double
_LD_MAX_EXP = 16383  # exponent of the largest finite long double
_LLONG_MIN = -(1 << 63)
_MAX_CHARS = 5 * 1024  # MAX_LONG_DOUBLE_CHARS


class _Overflow(Exception):
    """strtold returned ±HUGE_VAL (ERANGE): not a valid float for Redis."""


def _round_long_double(value: Fraction) -> Fraction:
    """Round to the nearest x87 long double (ties to even); _Overflow past LDBL_MAX."""
    if value == 0:
        return value
    negative = value < 0
    a = -value if negative else value
    e = a.numerator.bit_length() - a.denominator.bit_length()
    if Fraction(2) ** e > a:
        e -= 1
    elif Fraction(2) ** (e + 1) <= a:
        e += 1
    if e > _LD_MAX_EXP:
        raise _Overflow
    shift = _LD_MANT - 1 - max(e, _LD_MIN_EXP)
    scaled = a * (Fraction(2) ** shift)
    q, r = divmod(scaled.numerator, scaled.denominator)
    twice = 2 * r
    if twice > scaled.denominator or (twice == scaled.denominator and q & 1):
        q += 1
    rounded = Fraction(q) / (Fraction(2) ** shift)
    if q.bit_length() > _LD_MANT and e >= _LD_MAX_EXP:
        raise _Overflow
    return -rounded if negative else rounded


def _strtold(raw: bytes) -> Fraction | None:
    """The exact value strtold gives for ``raw``; None when Redis's string2ld rejects it.

    Infinity is returned as a huge value (it only matters that it overflows the cast).
    """
    if not raw or len(raw) >= _MAX_CHARS:
        return None
    if _INFINITY.match(raw):
        return Fraction(-1 if raw[:1] == b"-" else 1) * (Fraction(2) ** 70)
    hexm = _HEX.match(raw)
    if hexm is not None:
        sign, whole, frac, exp = hexm.groups()
        if not whole and not frac:
            return None
        mantissa = int((whole + frac) or b"0", 16)
        power = int(exp or b"0") - 4 * len(frac)
        if mantissa == 0:
            return Fraction(0)
        magnitude = mantissa.bit_length() + power
        if magnitude > _LD_MAX_EXP + 2:
            return None  # HUGE_VAL
        if magnitude < _LD_MIN_EXP - _LD_MANT - 2:
            return None  # underflow to zero
        value = Fraction(mantissa) * (Fraction(2) ** power)
        value = -value if sign == b"-" else value
    elif _DECIMAL.match(raw):
        try:
            dec = Decimal(raw.decode())
        except InvalidOperation:  # pragma: no cover - the regex only lets numbers through
            return None
        if dec == 0:
            return Fraction(0)
        adjusted = dec.adjusted()
        if adjusted > 4933:
            return None  # HUGE_VAL
        if adjusted < -4953:
            return None  # underflow to zero
        value = Fraction(dec)
    else:
        return None
    try:
        result = _round_long_double(value)
    except _Overflow:
        return None
    if result == 0:
        return None  # ERANGE with a zero result
    return result


def parse_timeout(raw: bytes) -> int:
    """A blocking timeout in seconds -> milliseconds (0 = forever), with Redis's errors."""
    seconds = _strtold(raw)
    if seconds is None:
        raise CommandError(TIMEOUT_NOT_FLOAT)
    try:
        ms = ceil(_round_long_double(seconds * 1000))
    except _Overflow:
        ms = _LLONG_MIN
    if not _LLONG_MIN <= ms < -_LLONG_MIN:
        ms = _LLONG_MIN  # the x86 conversion of an out-of-range value
    if ms < 0:
        raise CommandError("ERR timeout is negative")
    return ms


def _deadline(c: Client, timeout_ms: int) -> int:
    return c.db.keyspace.now() + timeout_ms if timeout_ms else 0


def _block(c: Client, keys: list[bytes], kind: type, deadline: int, serve: Any, null: Any,
           gone: CommandError | None = None) -> Any:
    """Park the client, or answer ``null`` where blocking is not allowed (EXEC, scripts, loading).

    Every blocking command goes through here, so this is the one place that decides.
    ``gone``: the error that wakes the client if a key is deleted or retyped (XREADGROUP).
    """
    if c.deny_blocking or c.db.keyspace.loading:
        return null
    c.server.blocking.block(c, c.db, keys, kind, deadline, serve, gone)
    return NO_REPLY


# -- BLPOP / BRPOP -----------------------------------------------------------------------
def _pop_one(c: Client, db: Database, key: bytes, left: bool) -> Any:
    values = list_pop(c.server, db, key, left, 1)
    if not values:
        return None
    c.server.propagate(db.id, [b"LPOP" if left else b"RPOP", key])
    return [key, values[0]]


def _pop_first_or_block(
    c: Client, argv: list[bytes], kind: type, get: Callable[[Database, bytes], Any],
    pop_one: Callable[[Client, Database, bytes], Any],
) -> Any:
    """``B<cmd> key [key ...] timeout``: pop from the first key holding a ``kind``, or block."""
    timeout = parse_timeout(argv[-1])
    keys = argv[1:-1]
    db = c.db
    for key in keys:
        if get(db, key) is not None:
            return pop_one(c, db, key)
    return _block(c, keys, kind, _deadline(c, timeout), pop_one, NULL_ARRAY)


def _bpop(c: Client, argv: list[bytes], left: bool) -> Any:
    return _pop_first_or_block(c, argv, QuickList, get_list, lambda cl, db, key: _pop_one(cl, db, key, left))


@command("blpop", -3, "write blocking", 1, -2, 1, group="list", since="2.0.0")
def blpop_cmd(c: Client, argv: list[bytes]) -> Any:
    """Pop the first element of the first non-empty list, or block until one arrives."""
    return _bpop(c, argv, True)


@command("brpop", -3, "write blocking", 1, -2, 1, group="list", since="2.0.0")
def brpop_cmd(c: Client, argv: list[bytes]) -> Any:
    """Pop the last element of the first non-empty list, or block until one arrives."""
    return _bpop(c, argv, False)


# -- BLMPOP ------------------------------------------------------------------------------
@command("blmpop", -5, "write blocking", group="list", since="7.0.0")
def blmpop_cmd(c: Client, argv: list[bytes]) -> Any:
    """Pop elements from the first non-empty list among several, or block."""
    keys, left, count = parse_mpop(argv, 2)
    timeout = parse_timeout(argv[1])
    result = mpop_first(c, keys, left, count)
    if result is not None:
        return result

    def serve(client: Client, db: Database, key: bytes) -> Any:
        values = list_pop(client.server, db, key, left, count)
        if not values:
            return None
        client.server.propagate(db.id, [b"LPOP" if left else b"RPOP", key, b"%d" % len(values)])
        return [key, values]

    return _block(c, keys, QuickList, _deadline(c, timeout), serve, NULL_ARRAY)


# -- BLMOVE / BRPOPLPUSH -----------------------------------------------------------------
def _blmove(c: Client, argv: list[bytes], src_left: bool, dst_left: bool, timeout: int, name: bytes) -> Any:
    src, dst = argv[1], argv[2]
    if name == b"RPOPLPUSH":
        logged = [b"RPOPLPUSH", src, dst]
    else:
        logged = [b"LMOVE", src, dst, b"LEFT" if src_left else b"RIGHT", b"LEFT" if dst_left else b"RIGHT"]

    def move(client: Client, db: Database) -> Any:
        value = list_move(client.server, db, src, dst, src_left, dst_left)
        if value is not None:
            client.server.propagate(db.id, logged)
        return value

    if get_list(c.db, src) is not None:
        return move(c, c.db)

    def serve(client: Client, db: Database, key: bytes) -> Any:
        return move(client, db)

    return _block(c, [src], QuickList, _deadline(c, timeout), serve, None)


@command("blmove", 6, "write denyoom blocking", 1, 2, 1, group="list", since="6.2.0")
def blmove_cmd(c: Client, argv: list[bytes]) -> Any:
    """LMOVE, blocking while the source list is empty."""
    src_left, dst_left = parse_where(argv[3]), parse_where(argv[4])
    timeout = parse_timeout(argv[5])
    return _blmove(c, argv, src_left, dst_left, timeout, b"LMOVE")


@command("brpoplpush", 4, "write denyoom blocking", 1, 2, 1, group="list", since="2.2.0")
def brpoplpush_cmd(c: Client, argv: list[bytes]) -> Any:
    """RPOPLPUSH, blocking while the source list is empty."""
    timeout = parse_timeout(argv[3])
    return _blmove(c, argv, False, True, timeout, b"RPOPLPUSH")


# -- BZPOPMIN / BZPOPMAX -----------------------------------------------------------------
def _zpop_one(c: Client, db: Database, key: bytes, lowest: bool) -> Any:
    pairs = zset_pop(c.server, db, key, lowest, 1)
    if not pairs:
        return None
    c.server.propagate(db.id, [b"ZPOPMIN" if lowest else b"ZPOPMAX", key, b"1"])
    member, score = pairs[0]
    return [key, member, score]


def _bzpop(c: Client, argv: list[bytes], lowest: bool) -> Any:
    return _pop_first_or_block(c, argv, ZSet, get_zset, lambda cl, db, key: _zpop_one(cl, db, key, lowest))


@command("bzpopmin", -3, "write blocking fast", 1, -2, 1, group="sorted_set", since="5.0.0")
def bzpopmin_cmd(c: Client, argv: list[bytes]) -> Any:
    """Pop the lowest-scored member of the first non-empty sorted set, or block."""
    return _bzpop(c, argv, True)


@command("bzpopmax", -3, "write blocking fast", 1, -2, 1, group="sorted_set", since="5.0.0")
def bzpopmax_cmd(c: Client, argv: list[bytes]) -> Any:
    """Pop the highest-scored member of the first non-empty sorted set, or block."""
    return _bzpop(c, argv, False)


# -- BZMPOP ------------------------------------------------------------------------------
@command("bzmpop", -5, "write blocking", group="sorted_set", since="7.0.0")
def bzmpop_cmd(c: Client, argv: list[bytes]) -> Any:
    """Pop members from the first non-empty sorted set among several, or block."""
    keys, lowest, count = parse_zmpop(argv, 2)
    timeout = parse_timeout(argv[1])
    result = zmpop_first(c, keys, lowest, count)
    if result is not None:
        return result

    def serve(client: Client, db: Database, key: bytes) -> Any:
        pairs = zset_pop(client.server, db, key, lowest, count)
        if not pairs:
            return None
        client.server.propagate(db.id, [b"ZPOPMIN" if lowest else b"ZPOPMAX", key, b"%d" % len(pairs)])
        return [key, pop_pairs_reply(pairs, True)]

    return _block(c, keys, ZSet, _deadline(c, timeout), serve, NULL_ARRAY)
