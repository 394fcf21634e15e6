"""SORT and SORT_RO (Redis's sort.c).

Lists, sets and sorted sets are sorted numerically (each weight read with C's
strtod), or as strings with ALPHA; ``BY pattern`` takes the weights from other
keys (``*`` replaced by the element, ``key->field`` for a hash field, a pattern
without ``*`` meaning "do not sort"), ``GET pattern`` (repeatable, ``#`` for the
element itself) returns other keys' values, ``LIMIT`` a window, ``STORE`` writes
the result as a list.

Ordering follows Redis exactly: a full sort is stable (glibc's qsort is a merge
sort), a LIMIT with ``BY`` uses Redis's partial quicksort (store/pqsort.py) whose
order of equal weights is its own.  String comparisons are strcoll() in the C
locale -- bytes up to the first NUL -- except with STORE, which compares whole
binary strings.

A set sorted with ``BY nosort`` comes out in the set's own order, except with
STORE or when called from a script (``Client.in_script``), where Redis forces an
ALPHA sort so that the result is deterministic.

Logging: ``SORT ... STORE dst`` is logged as its effect (``DEL dst`` and ``RPUSH dst``
of the stored elements, or ``DEL dst`` alone).  SORT converts a listpack sorted
set to a skiplist in place, as Redis does; that change is logged as a
``SORT_RO key BY nosort LIMIT 0 0``, which repeats just the conversion.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from sentrykv_server.acl import unrestricted_key_access
from sentrykv_server.commands.containers import will_modify
from sentrykv_server.commands.errors import CommandError, parse_int, syntax_error, wrong_type
from sentrykv_server.commands.registry import command
from sentrykv_server.notify import GENERIC, LIST, notify
from sentrykv_server.store.hashes import Hash
from sentrykv_server.store.lists import QuickList
from sentrykv_server.store.pqsort import pqsort
from sentrykv_server.store.sets import RedisSet, members
from sentrykv_server.store.zset import ZSet

if TYPE_CHECKING:
    from sentrykv_server.protocol.connection import Client
    from sentrykv_server.store.keyspace import Database

CONVERSION_ERROR = "ERR One or more scores can't be converted into double"
_LONG_MIN, _LONG_MAX = -(1 << 63), (1 << 63) - 1
_STORE_CHUNK = 1024
_DBL_MIN = 2.2250738585072014e-308

# strtod's grammar (glibc): blanks, a sign, then inf/nan, a hex float or a decimal float.
_STRTOD = re.compile(
    rb"[ \t\n\v\f\r]*(?P<num>[+-]?(?:"
    rb"(?P<inf>inf(?:inity)?)|(?P<nan>nan(?:\([0-9A-Za-z_]*\))?)"
    rb"|0[xX](?P<hex>(?:[0-9a-fA-F]+(?:\.[0-9a-fA-F]*)?|\.[0-9a-fA-F]+)(?:[pP][+-]?[0-9]+)?)"
    rb"|(?P<dec>(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)))",
    re.IGNORECASE,
)


def in_script(c: Client) -> bool:
    """True while a script runs the command (the scripting engine sets ``in_script``)."""
    return bool(getattr(c, "in_script", False))


def strtod_weight(raw: bytes) -> float | None:
    """A weight as Redis reads it: strtod over the C string (up to a NUL) that must consume
    all of it, without ERANGE (overflow, or an inexact underflow) and not NaN; else None."""
    if 0 < len(raw) <= 300 and (raw.isdigit() or (raw[0] == 45 and raw[1:].isdigit())):
        return float(raw)  # a plain integer: no prefix, garbage or range question (fast path)
    nul = raw.find(b"\0")
    text = raw if nul < 0 else raw[:nul]
    if not text:
        return 0.0  # no conversion, and the end pointer is already at the terminator
    match = _STRTOD.match(text)
    if match is None or match.end() != len(text):
        return None
    number = match.group("num")
    if match.group("nan") is not None:
        return None
    if match.group("inf") is not None:
        return -math.inf if number[:1] == b"-" else math.inf
    negative = number[:1] == b"-"
    try:
        if match.group("hex") is not None:
            value = float.fromhex(("-0x" if negative else "0x") + match.group("hex").decode())
        else:
            value = float(number)
    except OverflowError:
        return None
    if math.isinf(value):
        return None  # ERANGE: a finite literal too large
    if abs(value) < _DBL_MIN:
        exact = _exact(number, match.group("hex"), negative)
        if exact != 0 and Fraction(value) != exact:
            return None  # ERANGE: underflow to zero or an inexact subnormal
    return value


def _exact(number: bytes, hexpart: bytes | None, negative: bool) -> Fraction:
    if hexpart is None:
        return Fraction(number.decode())
    mantissa, _, exponent = hexpart.lower().partition(b"p")
    whole, _, frac = mantissa.partition(b".")
    digits = (whole + frac) or b"0"
    value = Fraction(int(digits, 16), 16 ** len(frac)) * Fraction(2) ** int(exponent or b"0")
    return -value if negative else value


def lookup_by_pattern(db: Database, pattern: bytes, subst: bytes) -> bytes | None:
    """lookupKeyByPattern: the string (or hash field) that ``pattern`` names for an element."""
    if pattern[:1] == b"#" and (len(pattern) == 1 or pattern[1] == 0):
        return subst
    nul = pattern.find(b"\0")
    visible = pattern if nul < 0 else pattern[:nul]
    star = visible.find(b"*")
    if star < 0:
        return None
    arrow = visible.find(b"->", star + 1)
    field: bytes | None = None
    fieldlen = 0
    if arrow >= 0 and arrow + 2 < len(visible):
        fieldlen = len(pattern) - arrow - 2
        field = pattern[arrow + 2:]
    postfix = len(pattern) - (star + 1) - (fieldlen + 2 if fieldlen else 0)
    key = pattern[:star] + subst + pattern[star + 1:star + 1 + postfix]
    value = db.lookup_read(key)
    if value is None:
        return None
    if field is not None:
        return value.get(field) if type(value) is Hash else None
    return value if type(value) is bytes else None


def _ctext(value: bytes) -> bytes:
    """A string as strcoll() sees it in the C locale: the bytes before the first NUL."""
    nul = value.find(b"\0")
    return value if nul < 0 else value[:nul]


class _Request:
    __slots__ = ("desc", "alpha", "start", "count", "store", "by", "dontsort", "gets")

    def __init__(self) -> None:
        self.desc = self.alpha = self.dontsort = False
        self.start, self.count = 0, -1
        self.store: bytes | None = None
        self.by: bytes | None = None
        self.gets: list[bytes] = []


def _parse(c: Client, argv: list[bytes], readonly: bool) -> _Request:
    req = _Request()
    # BY and GET patterns read keys the ACL check could not see: Redis allows them only
    # to a user that may read every key.
    full_access = unrestricted_key_access(c, "sort_ro" if readonly else "sort", argv)
    j, n = 2, len(argv)
    while j < n:
        left = n - j - 1
        opt = argv[j].lower()
        if opt == b"asc":
            req.desc = False
        elif opt == b"desc":
            req.desc = True
        elif opt == b"alpha":
            req.alpha = True
        elif opt == b"limit" and left >= 2:
            req.start = parse_int(argv[j + 1])
            req.count = parse_int(argv[j + 2])
            j += 2
        elif opt == b"store" and left >= 1 and not readonly:
            req.store = argv[j + 1]
            j += 1
        elif opt == b"by" and left >= 1:
            req.by = argv[j + 1]
            if b"*" not in _ctext(req.by):
                req.dontsort = True
            elif not full_access:
                raise CommandError("ERR BY option of SORT denied due to insufficient ACL permissions.")
            j += 1
        elif opt == b"get" and left >= 1:
            if not full_access:
                raise CommandError("ERR GET option of SORT denied due to insufficient ACL permissions.")
            req.gets.append(argv[j + 1])
            j += 1
        else:
            raise syntax_error()
        j += 1
    return req


def _window(req: _Request, length: int) -> tuple[int, int]:
    start = min(max(req.start, 0), length)
    count = min(max(req.count, -1), length)
    end = length - 1 if count < 0 else start + count - 1
    if start >= length:
        start, end = length - 1, length - 2
    if end >= length:
        end = length - 1
    return start, end


def sort_generic(c: Client, argv: list[bytes], readonly: bool) -> Any:
    req = _parse(c, argv, readonly)
    db = c.db
    key = argv[1]
    value = db.lookup_read(key)
    if value is not None and type(value) not in (QuickList, RedisSet, ZSet):
        raise wrong_type()
    if value is None:
        value = QuickList()
    dontsort, alpha, by = req.dontsort, req.alpha, req.by
    if dontsort and type(value) is RedisSet and (req.store is not None or in_script(c)):
        dontsort, alpha, by = False, True, None
    if type(value) is ZSet and not value.big:
        # Redis converts a listpack sorted set to a skiplist for good.
        will_modify(db, key)
        value.big = True
        c.server.propagate(db.id, [b"SORT_RO", key, b"BY", b"nosort", b"LIMIT", b"0", b"0"])
    length = len(value)
    start, end = _window(req, length)
    elements = _load(value, dontsort, req.desc, start, end)
    if dontsort and type(value) is not RedisSet:
        end -= start
        start = 0
    error = False
    if not dontsort:
        error = _sort(c, elements, by, alpha, req.desc, req.store is not None, start, end)
    if error:
        raise CommandError(CONVERSION_ERROR)
    window = elements[start:end + 1] if end >= start else []
    if req.store is None:
        if not req.gets:
            return window
        out: list[Any] = []
        for element in window:
            for pattern in req.gets:
                out.append(lookup_by_pattern(db, pattern, element))
        return out
    return _store(c, req, window)


def _load(value: Any, dontsort: bool, desc: bool, start: int, end: int) -> list[bytes]:
    """The elements to sort, in the order Redis loads them (only the window when unsorted)."""
    kind = type(value)
    if kind is RedisSet:
        return members(value)
    limited = dontsort and (start != 0 or end != len(value) - 1)
    if kind is QuickList:
        if not dontsort:
            return list(value)
        if end < start:
            return []
        ordered = list(reversed(value)) if desc else list(value)
        return ordered[start:end + 1] if limited else ordered
    if not dontsort:
        return list(value.scores)
    ranks = range(len(value) - 1 - start, len(value) - 2 - end, -1) if desc else range(start, end + 1)
    if not limited:
        ranks = range(len(value) - 1, -1, -1) if desc else range(len(value))
    return [value.at(rank)[1] for rank in ranks]


def _sort(c: Client, elements: list[bytes], by: bytes | None, alpha: bool, desc: bool,
          store: bool, start: int, end: int) -> bool:
    """Sort in place as Redis does; True when a weight is not a number."""
    db = c.db
    error = False
    weights: list[Any] = []
    for element in elements:
        weight = lookup_by_pattern(db, by, element) if by is not None else element
        if alpha:
            weights.append(weight if by is not None else None)
            continue
        score = 0.0
        if weight is not None:
            parsed = strtod_weight(weight)
            if parsed is None:
                error = True
            else:
                score = parsed
        weights.append(score)
    items = list(zip(weights, elements, strict=True))
    text = (lambda v: v) if store else _ctext
    if by is not None and (start != 0 or end != len(items) - 1):
        pqsort(items, _comparator(alpha, by is not None, text, desc), start, end)
    elif not alpha:
        items.sort(key=lambda item: (item[0], item[1]), reverse=desc)
    elif by is not None:
        items.sort(key=lambda item: (0, b"") if item[0] is None else (1, text(item[0])), reverse=desc)
    else:
        items.sort(key=lambda item: text(item[1]), reverse=desc)
    elements[:] = [element for _w, element in items]
    return error


def _comparator(alpha: bool, by_pattern: bool, text: Any, desc: bool) -> Any:
    """sortCompare for the partial sort (the full sorts use equivalent keys)."""
    def compare(a: tuple[Any, bytes], b: tuple[Any, bytes]) -> int:
        if not alpha:
            if a[0] > b[0]:
                cmp = 1
            elif a[0] < b[0]:
                cmp = -1
            else:
                cmp = (a[1] > b[1]) - (a[1] < b[1])
        elif by_pattern:
            if a[0] is None or b[0] is None:
                cmp = 0 if a[0] is b[0] else (-1 if a[0] is None else 1)
            else:
                x, y = text(a[0]), text(b[0])
                cmp = (x > y) - (x < y)
        else:
            x, y = text(a[1]), text(b[1])
            cmp = (x > y) - (x < y)
        return -cmp if desc else cmp

    return compare


def _store(c: Client, req: _Request, window: list[bytes]) -> int:
    db = c.db
    dst = req.store
    assert dst is not None
    if req.gets:
        result: list[bytes] = []
        for element in window:
            for pattern in req.gets:
                found = lookup_by_pattern(db, pattern, element)
                result.append(b"" if found is None else found)
    else:
        result = window
    if not result:
        if db.lookup(dst) is not None:
            db.delete(dst)
            c.server.propagate(db.id, [b"DEL", dst])
            notify(c.server, GENERIC, b"del", db, dst)
        return 0
    db.set(dst, QuickList(result))
    notify(c.server, LIST, b"sortstore", db, dst)
    db.keyspace.signal_ready(db, dst)
    c.server.propagate(db.id, [b"DEL", dst])
    for i in range(0, len(result), _STORE_CHUNK):
        c.server.propagate(db.id, [b"RPUSH", dst, *result[i:i + _STORE_CHUNK]])
    return len(result)


def sort_keys(argv: list[bytes]) -> list[int]:
    """sortGetKeys: the sorted key, plus the last STORE destination."""
    keys = [1]
    store = None
    skips = {b"limit": 2, b"get": 1, b"by": 1}
    i = 2
    while i < len(argv):
        word = argv[i].lower()
        if word in skips:
            i += skips[word]
        elif word == b"store" and i + 1 < len(argv):
            store = i + 1
        i += 1
    return keys + ([store] if store is not None else [])


@command("sort", -2, "write denyoom movablekeys", 1, 1, 1, group="generic", since="1.0.0",
         keys=sort_keys)
def sort_cmd(c: Client, argv: list[bytes]) -> Any:
    """Sort a list, set or sorted set (BY, LIMIT, GET, ASC|DESC, ALPHA, STORE)."""
    return sort_generic(c, argv, False)


@command("sort_ro", -2, "readonly movablekeys", 1, 1, 1, group="generic", since="7.0.0")
def sort_ro_cmd(c: Client, argv: list[bytes]) -> Any:
    """Read-only SORT (no STORE)."""
    return sort_generic(c, argv, True)
