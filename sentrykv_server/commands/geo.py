"""Geo commands (Redis's geo.c): GEOADD GEODIST GEOHASH GEOPOS GEORADIUS[_RO]
GEORADIUSBYMEMBER[_RO] GEOSEARCH GEOSEARCHSTORE.

A geo set is a sorted set whose scores are 52-bit geohashes (store/geohash.py),
so every sorted-set command works on it.  GEOADD is ZADD with the encoded
scores and is logged as that ZADD.  A search scans the score range of each of
the (up to) nine cells around the centre in Redis's order, keeps the points
inside the shape, and orders them by distance the way Redis does: a stable
sort for the whole result, Redis's partial quicksort when COUNT cuts it.

STORE / STOREDIST / GEOSEARCHSTORE are logged as their effect -- ``DEL dst`` plus
``ZADD dst score member ...`` of the stored result, or ``DEL dst`` alone -- so a
replay never depends on how the search ran.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sentrykv_server.commands.containers import parse_double
from sentrykv_server.commands.errors import CommandError, parse_int, syntax_error
from sentrykv_server.commands.registry import command
from sentrykv_server.commands.zsets import _zadd, build_zset, get_zset
from sentrykv_server.notify import GENERIC, ZSET, notify
from sentrykv_server.protocol.reply import NULL_ARRAY, Raw
from sentrykv_server.store import geohash as gh
from sentrykv_server.store.pqsort import pqsort
from sentrykv_server.store.zset import ZSet

if TYPE_CHECKING:
    from sentrykv_server.protocol.connection import Client

UNITS = {b"m": 1.0, b"km": 1000.0, b"ft": 0.3048, b"mi": 1609.34}
UNIT_ERROR = "ERR unsupported unit provided. please use M, KM, FT, MI"
MEMBER_ERROR = "ERR could not decode requested zset member"

# georadiusGeneric flags
RADIUS_COORDS, RADIUS_MEMBER, RADIUS_NOSTORE, GEOSEARCH, GEOSEARCHSTORE = 1, 2, 4, 8, 16
SORT_NONE, SORT_ASC, SORT_DESC = 0, 1, 2


# -- argument helpers --------------------------------------------------------------------
def lonlat(raw_lon: bytes, raw_lat: bytes) -> tuple[float, float]:
    """extractLongLatOrReply: two floats within the geohash limits."""
    lon = parse_double(raw_lon)
    lat = parse_double(raw_lat)
    if lon < gh.LONG_MIN or lon > gh.LONG_MAX or lat < gh.LAT_MIN or lat > gh.LAT_MAX:
        raise CommandError(f"ERR invalid longitude,latitude pair {lon:f},{lat:f}")
    return lon, lat


def unit_factor(raw: bytes) -> float:
    factor = UNITS.get(raw.lower())
    if factor is None:
        raise CommandError(UNIT_ERROR)
    return factor


def _radius(raw: bytes, unit: bytes, shape: gh.Shape) -> None:
    radius = parse_double(raw, "ERR need numeric radius")
    if radius < 0:
        raise CommandError("ERR radius cannot be negative")
    shape.radius = radius
    shape.conversion = unit_factor(unit)
    shape.kind = gh.CIRCULAR


def _box(raw_w: bytes, raw_h: bytes, unit: bytes, shape: gh.Shape) -> None:
    width = parse_double(raw_w, "ERR need numeric width")
    height = parse_double(raw_h, "ERR need numeric height")
    if height < 0 or width < 0:
        raise CommandError("ERR height or width cannot be negative")
    shape.width, shape.height = width, height
    shape.conversion = unit_factor(unit)
    shape.kind = gh.RECTANGLE


def _member_center(z: ZSet, member: bytes, shape: gh.Shape) -> None:
    score = z.scores.get(member)
    if score is None:
        raise CommandError(MEMBER_ERROR)
    shape.x, shape.y = gh.decode_score(score)


def distance_text(meters: float) -> bytes:
    """addReplyDoubleDistance: four decimals."""
    return b"%.4f" % meters


def human_double(value: float) -> bytes:
    """ld2string(LD_STR_HUMAN) of a double: 17 decimals, trailing zeros dropped."""
    text = b"%.17f" % value
    if b"." in text:
        text = text.rstrip(b"0").rstrip(b".")
    return b"0" if text == b"-0" else text


def coordinate_reply(value: float, resp3: bool) -> Any:
    """addReplyHumanLongDouble: a bulk string in RESP2, a double in RESP3 (same digits)."""
    text = human_double(value)
    return Raw(b"," + text + b"\r\n") if resp3 else text


# -- GEOADD ------------------------------------------------------------------------------
@command("geoadd", -5, "write denyoom", 1, 1, 1, group="geo", since="3.2.0")
def geoadd_cmd(c: Client, argv: list[bytes]) -> Any:
    """Add points (longitude latitude member ...) to a geo set; NX|XX, CH as in ZADD."""
    i, n = 2, len(argv)
    nx = xx = False
    while i < n:
        opt = argv[i].lower()
        if opt == b"nx":
            nx = True
        elif opt == b"xx":
            xx = True
        elif opt != b"ch":
            break
        i += 1
    if (n - i) % 3 or (nx and xx):
        raise syntax_error()
    zargv = [b"zadd", *argv[1:i]]
    for j in range(i, n, 3):
        lon, lat = lonlat(argv[j], argv[j + 1])
        bits = gh.encode(lon, lat)
        assert bits is not None
        zargv.append(b"%d" % gh.align52(bits, gh.STEP_MAX))
        zargv.append(argv[j + 2])
    return _zadd(c, zargv, False)


# -- point reads -------------------------------------------------------------------------
@command("geodist", -4, "readonly", 1, 1, 1, group="geo", since="3.2.0")
def geodist_cmd(c: Client, argv: list[bytes]) -> Any:
    """Distance between two members (m, km, ft or mi)."""
    factor = 1.0
    if len(argv) == 5:
        factor = unit_factor(argv[4])
    elif len(argv) > 5:
        raise syntax_error()
    z = get_zset(c.db, argv[1], read=True)
    if z is None:
        return None
    s1 = z.scores.get(argv[2])
    s2 = z.scores.get(argv[3])
    if s1 is None or s2 is None:
        return None
    x1, y1 = gh.decode_score(s1)
    x2, y2 = gh.decode_score(s2)
    return distance_text(gh.distance(x1, y1, x2, y2) / factor)


def _member_scores(c: Client, argv: list[bytes]) -> list[float | None]:
    """The score of every member named after the key (None when absent or no key)."""
    z = get_zset(c.db, argv[1], read=True)
    if z is None:
        return [None] * (len(argv) - 2)
    return [z.scores.get(member) for member in argv[2:]]


def _position(score: float, resp3: bool) -> list[Any]:
    x, y = gh.decode_score(score)
    return [coordinate_reply(x, resp3), coordinate_reply(y, resp3)]


@command("geohash", -2, "readonly", 1, 1, 1, group="geo", since="3.2.0")
def geohash_cmd(c: Client, argv: list[bytes]) -> Any:
    """Standard 11-character geohash strings of members."""
    return [None if s is None else gh.geohash_string(s) for s in _member_scores(c, argv)]


@command("geopos", -2, "readonly", 1, 1, 1, group="geo", since="3.2.0")
def geopos_cmd(c: Client, argv: list[bytes]) -> Any:
    """Longitude and latitude of members."""
    return [NULL_ARRAY if s is None else _position(s, c.resp3) for s in _member_scores(c, argv)]


# -- searches ----------------------------------------------------------------------------
Point = tuple[bytes, float, float, float, float]  # member, longitude, latitude, distance, score


def search_points(z: ZSet, shape: gh.Shape, limit: int) -> list[Point]:
    """membersOfAllNeighbors: the points inside the shape, in Redis's discovery order."""
    cells = gh.search_cells(shape)
    found: list[Point] = []
    last: tuple[int, int] | None = None
    for i, cell in enumerate(cells):
        if cell is None:
            continue
        # A huge radius can make neighbouring cells identical: skip a repeat of the last one.
        if last is not None and i and cell == last:
            continue
        if found and limit and len(found) >= limit:
            break
        lo, hi = gh.cell_score_range(*cell)
        start, stop = z.score_span(float(lo), False, float(hi), True)
        shape.scan(z.islice(start, stop), found, limit)
        if i:
            last = cell
    return found


def _by_distance(a: Point, b: Point) -> int:
    return 1 if a[3] > b[3] else (0 if a[3] == b[3] else -1)


def _by_distance_desc(a: Point, b: Point) -> int:
    return -_by_distance(a, b)


def georadius_generic(c: Client, argv: list[bytes], src_index: int, flags: int) -> Any:
    db = c.db
    z = get_zset(db, argv[src_index], read=True)
    shape = gh.Shape()
    store_key: bytes | None = None
    storedist = False
    if flags & RADIUS_COORDS:
        base = 6
        shape.x, shape.y = lonlat(argv[2], argv[3])
        _radius(argv[4], argv[5], shape)
    elif flags & RADIUS_MEMBER:
        base = 5
        if z is not None:
            _member_center(z, argv[2], shape)
            _radius(argv[3], argv[4], shape)
    else:
        base = 2
        if flags & GEOSEARCHSTORE:
            base = 3
            store_key = argv[1]
    withdist = withhash = withcoord = any_ = False
    frommember = fromloc = byradius = bybox = False
    sort = SORT_NONE
    count = 0
    search = bool(flags & GEOSEARCH)
    can_store = not (flags & RADIUS_NOSTORE) and not search
    i, n = base, len(argv)
    while i < n:
        arg = argv[i].lower()
        left = n - i - 1
        if arg == b"withdist":
            withdist = True
        elif arg == b"withhash":
            withhash = True
        elif arg == b"withcoord":
            withcoord = True
        elif arg == b"any":
            any_ = True
        elif arg == b"asc":
            sort = SORT_ASC
        elif arg == b"desc":
            sort = SORT_DESC
        elif arg == b"count" and left >= 1:
            count = parse_int(argv[i + 1])
            if count <= 0:
                raise CommandError("ERR COUNT must be > 0")
            i += 1
        elif arg in (b"store", b"storedist") and left >= 1 and can_store:
            store_key = argv[i + 1]
            storedist = arg == b"storedist"
            i += 1
        elif arg == b"storedist" and search and flags & GEOSEARCHSTORE:
            storedist = True
        elif arg == b"frommember" and left >= 1 and search and not fromloc:
            if z is not None:
                _member_center(z, argv[i + 1], shape)
            frommember = True
            i += 1
        elif arg == b"fromlonlat" and left >= 2 and search and not frommember:
            shape.x, shape.y = lonlat(argv[i + 1], argv[i + 2])
            fromloc = True
            i += 2
        elif arg == b"byradius" and left >= 2 and search and not bybox:
            _radius(argv[i + 1], argv[i + 2], shape)
            byradius = True
            i += 2
        elif arg == b"bybox" and left >= 3 and search and not byradius:
            _box(argv[i + 1], argv[i + 2], argv[i + 3], shape)
            bybox = True
            i += 3
        else:
            raise syntax_error()
        i += 1
    if store_key is not None and (withdist or withhash or withcoord):
        what = "GEOSEARCHSTORE" if flags & GEOSEARCHSTORE else "STORE option in GEORADIUS"
        raise CommandError(f"ERR {what} is not compatible with WITHDIST, WITHHASH and WITHCOORD options")
    name = argv[0].decode("utf-8", "replace")
    if search and not (frommember or fromloc):
        raise CommandError(f"ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for {name}")
    if search and not (byradius or bybox):
        raise CommandError(f"ERR exactly one of BYRADIUS and BYBOX can be specified for {name}")
    if any_ and not count:
        raise CommandError("ERR the ANY argument requires COUNT argument")
    if z is None:
        if store_key is not None:
            if db.lookup(store_key) is not None:
                db.delete(store_key)
                c.server.propagate(db.id, [b"DEL", store_key])
                notify(c.server, GENERIC, b"del", db, store_key)
            return 0
        return []
    if count and sort == SORT_NONE and not any_:
        sort = SORT_ASC
    points = search_points(z, shape, count if any_ else 0)
    if not points and store_key is None:
        return []
    total = len(points)
    returned = total if (count == 0 or total < count) else count
    if sort != SORT_NONE:
        if returned == total:
            points.sort(key=lambda p: p[3], reverse=sort == SORT_DESC)
        else:
            pqsort(points, _by_distance if sort == SORT_ASC else _by_distance_desc, 0, returned - 1)
    chosen = points[:returned]
    if store_key is None:
        return _search_reply(c, chosen, shape.conversion, withdist, withhash, withcoord)
    event = b"geosearchstore" if flags & GEOSEARCHSTORE else b"georadiusstore"
    return _store(c, store_key, chosen, shape.conversion, storedist, event)


def _search_reply(c: Client, points: list[Point], conversion: float,
                  withdist: bool, withhash: bool, withcoord: bool) -> list[Any]:
    if not (withdist or withhash or withcoord):
        return [p[0] for p in points]
    out: list[Any] = []
    for member, x, y, dist, score in points:
        item: list[Any] = [member]
        if withdist:
            item.append(distance_text(dist / conversion))
        if withhash:
            item.append(int(score))
        if withcoord:
            item.append([coordinate_reply(x, c.resp3), coordinate_reply(y, c.resp3)])
        out.append(item)
    return out


def _store(c: Client, key: bytes, points: list[Point], conversion: float, storedist: bool,
           event: bytes) -> int:
    """Write the result set (or delete the destination when it is empty), logged as its effect."""
    db = c.db
    if not points:
        if db.lookup(key) is not None:
            db.delete(key)
            c.server.propagate(db.id, [b"DEL", key])
            notify(c.server, GENERIC, b"del", db, key)
        return 0
    pairs: dict[bytes, float] = {}
    for member, _x, _y, dist, score in points:
        pairs.setdefault(member, dist / conversion if storedist else score)
    longest = max(len(m) for m in pairs)
    z = build_zset(pairs.items(), len(pairs), longest, c)
    db.set(key, z)
    notify(c.server, ZSET, event, db, key)
    db.keyspace.signal_ready(db, key)
    zadd = [b"ZADD", key]
    for member, score in pairs.items():
        zadd.append(repr(score).encode() if storedist else b"%d" % int(score))
        zadd.append(member)
    c.server.propagate(db.id, [b"DEL", key])
    c.server.propagate(db.id, zadd)
    return len(points)


def _radius_keys(first_option: int) -> Any:
    def find(argv: list[bytes]) -> list[int]:
        """The source key, then the key after the first STORE and after the first
        STOREDIST (Redis's keyword key specs, in that order)."""
        keys = [1]
        for word in (b"store", b"storedist"):
            for i in range(first_option, len(argv) - 1):
                if argv[i].lower() == word:
                    keys.append(i + 1)
                    break
        return keys

    return find


# name -> (index of the source key, georadiusGeneric flags)
_VARIANTS = {
    b"georadius": (1, RADIUS_COORDS),
    b"georadius_ro": (1, RADIUS_COORDS | RADIUS_NOSTORE),
    b"georadiusbymember": (1, RADIUS_MEMBER),
    b"georadiusbymember_ro": (1, RADIUS_MEMBER | RADIUS_NOSTORE),
    b"geosearch": (1, GEOSEARCH),
    b"geosearchstore": (2, GEOSEARCH | GEOSEARCHSTORE),
}


def geosearch_cmd(c: Client, argv: list[bytes]) -> Any:
    """Members within a radius or a box, around a member or a point."""
    src_index, flags = _VARIANTS[argv[0].lower()]
    return georadius_generic(c, argv, src_index, flags)


for _name, _arity, _flags, _first, _last, _since, _keys, _summary in (
    ("georadius", -6, "write denyoom movablekeys", 1, 1, "3.2.0", _radius_keys(6),
     "Members within a radius of a point (STORE / STOREDIST write the result)."),
    ("georadius_ro", -6, "readonly", 1, 1, "3.2.10", None, "Read-only GEORADIUS."),
    ("georadiusbymember", -5, "write denyoom movablekeys", 1, 1, "3.2.0", _radius_keys(5),
     "Members within a radius of a member."),
    ("georadiusbymember_ro", -5, "readonly", 1, 1, "3.2.10", None, "Read-only GEORADIUSBYMEMBER."),
    ("geosearch", -7, "readonly", 1, 1, "6.2.0", None,
     "Members within a radius or a box, around a member or a point."),
    ("geosearchstore", -8, "write denyoom", 1, 2, "6.2.0", None,
     "GEOSEARCH into a destination sorted set (distances with STOREDIST)."),
):
    command(_name, _arity, _flags, _first, _last, 1, group="geo", since=_since, keys=_keys,
            summary=_summary)(geosearch_cmd)
