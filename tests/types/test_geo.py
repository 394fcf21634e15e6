"""Geo commands against redis-server: scores, distances, search areas, ordering, STORE.

Scripted cases cover argument validation and error texts; seeded random
searches (radius and box, around points and members, near the poles and the
antimeridian, COUNT/ANY/ASC/DESC with equal distances, every WITH* option in
RESP2 and RESP3, STORE/STOREDIST) must give Redis's replies digit for digit.
"""

from __future__ import annotations

import random

import pytest

from tests.types.diff import Differ
from tests.types.scripted import run_script

COMMANDS = """
GEOADD Sicily 13.361389 38.115556 "Palermo" 15.087269 37.502669 "Catania"
GEOADD Sicily 13.361389 38.115556 "Palermo"
GEOADD Sicily CH 13.361389 38.115557 "Palermo"
GEOADD Sicily NX XX 1 1 a
GEOADD Sicily NX 1 1 a 2 2
GEOADD Sicily 200 1 a
GEOADD Sicily 1 86 a
GEOADD Sicily x 1 a
GEOADD Sicily 1 nan a
GEOADD Sicily inf 1 a
GEOADD Sicily XX 1 1 newone
GEOADD Sicily 180 85.05112878 top -180 -85.05112878 bot 0 0 origin -0.0001 0.0001 o2
ZRANGE Sicily 0 -1 WITHSCORES
GEOPOS Sicily Palermo Catania nonex top bot origin o2
GEOPOS nokey a b
GEOPOS Sicily
GEODIST Sicily Palermo Catania
GEODIST Sicily Palermo Catania km
GEODIST Sicily Palermo Catania mi
GEODIST Sicily Palermo Catania ft
GEODIST Sicily Palermo Catania FT
GEODIST Sicily Palermo Catania foo
GEODIST Sicily Palermo Catania km x
GEODIST Sicily Palermo nonex
GEODIST nokey a b
GEODIST Sicily top bot
GEODIST Sicily origin o2
GEOHASH Sicily Palermo Catania nonex top bot origin
GEOHASH nokey a
GEORADIUS Sicily 15 37 200 km WITHDIST WITHCOORD
GEORADIUS Sicily 15 37 200 km WITHDIST WITHCOORD WITHHASH ASC
GEORADIUS Sicily 15 37 200 km DESC
GEORADIUS Sicily 15 37 200 km COUNT 1
GEORADIUS Sicily 15 37 200 km COUNT 1 DESC
GEORADIUS Sicily 15 37 200 km COUNT 1 ANY
GEORADIUS Sicily 15 37 200 km ANY
GEORADIUS Sicily 15 37 200 km COUNT 0
GEORADIUS Sicily 15 37 200 km COUNT -1
GEORADIUS Sicily 15 37 200 km COUNT x
GEORADIUS Sicily 15 37 -1 km
GEORADIUS Sicily 15 37 x km
GEORADIUS Sicily 15 37 200 parsecs
GEORADIUS Sicily 15 37 200 km STORE dst
ZRANGE dst 0 -1 WITHSCORES
GEORADIUS Sicily 15 37 200 km STOREDIST dst2
ZRANGE dst2 0 -1 WITHSCORES
GEORADIUS Sicily 15 37 200 km STORE dst WITHDIST
GEORADIUS Sicily 15 37 1 m STORE dst
EXISTS dst
GEORADIUS_RO Sicily 15 37 200 km STORE dst
GEORADIUS_RO Sicily 15 37 200 km WITHDIST
GEORADIUS nokey 15 37 200 km
GEORADIUS nokey 15 37 200 km STORE dst2
EXISTS dst2
GEORADIUSBYMEMBER Sicily Palermo 200 km WITHDIST
GEORADIUSBYMEMBER Sicily nonex 200 km WITHDIST
GEORADIUSBYMEMBER nokey nonex x km WITHDIST
GEORADIUSBYMEMBER_RO Sicily Palermo 200 km WITHCOORD
GEOSEARCH Sicily FROMMEMBER Palermo BYRADIUS 200 km WITHDIST
GEOSEARCH Sicily FROMLONLAT 15 37 BYBOX 400 400 km WITHDIST WITHCOORD ASC
GEOSEARCH Sicily FROMLONLAT 15 37 BYBOX 400 400 km WITHHASH COUNT 1
GEOSEARCH Sicily FROMLONLAT 15 37 BYRADIUS 200 km BYBOX 1 1 km
GEOSEARCH Sicily FROMLONLAT 15 37 FROMMEMBER Palermo BYRADIUS 200 km
GEOSEARCH Sicily BYRADIUS 200 km
GEOSEARCH Sicily FROMLONLAT 15 37
GEOSEARCH Sicily FROMLONLAT 15 37 BYRADIUS 200 km STORE x
GEOSEARCH Sicily FROMLONLAT 15 37 BYBOX -1 2 km
GEOSEARCH Sicily FROMLONLAT 15 37 BYBOX a 2 km
GEOSEARCH Sicily FROMLONLAT 15 37 BYBOX 1 b km
GEOSEARCH Sicily FROMMEMBER nonex BYRADIUS 200 km
GEOSEARCH nokey FROMMEMBER nonex BYRADIUS 200 km
GEOSEARCH Sicily FROMLONLAT 15 37 BYRADIUS 200 km ANY
geosearch Sicily FROMLONLAT 15 37 BYRADIUS 200
geosearch Sicily FROMLONLAT 15 37 COUNT 5
GEOSEARCHSTORE dst Sicily FROMLONLAT 15 37 BYBOX 400 400 km STOREDIST
ZRANGE dst 0 -1 WITHSCORES
GEOSEARCHSTORE dst Sicily FROMLONLAT 15 37 BYBOX 400 400 km
ZRANGE dst 0 -1 WITHSCORES
GEOSEARCHSTORE dst Sicily FROMLONLAT 15 37 BYBOX 400 400 km WITHDIST
GEOSEARCHSTORE dst Sicily FROMLONLAT 15 37 BYBOX 1 1 m
EXISTS dst
GEOSEARCH Sicily FROMLONLAT 0 0 BYRADIUS 20000 km WITHDIST
GEOSEARCH Sicily FROMLONLAT 0 0 BYBOX 40000 40000 km WITHDIST ASC
GEORADIUS Sicily 0 0 20000 km WITHDIST ASC COUNT 3
SET str x
GEOADD str 1 1 a
GEOPOS str a
GEORADIUS str 1 1 1 km
GEOSEARCH str FROMLONLAT 1 1 BYRADIUS 1 km
GEOSEARCHSTORE dst str FROMLONLAT 1 1 BYRADIUS 1 km
"""


def test_geo_commands_match_redis(differ: Differ) -> None:
    run_script(differ, COMMANDS)


def _points(rng: random.Random, cx: float, cy: float, spread: float, n: int) -> list[tuple[float, float]]:
    pts: list[tuple[float, float]] = []
    for _ in range(n):
        if pts and rng.random() < 0.1:
            pts.append(rng.choice(pts))  # duplicates: equal distances
            continue
        x = max(-180.0, min(180.0, cx + rng.uniform(-spread, spread)))
        y = max(-85.05, min(85.05, cy + rng.uniform(-spread, spread) / 2))
        pts.append((x, y))
    return pts


SCALE = {"m": 1000.0, "km": 1.0, "mi": 0.62, "ft": 3280.0}


@pytest.mark.parametrize("seed,center,spread,n", [
    (1, (13.4, 38.1), 1.0, 300),
    (2, (179.5, 10.0), 2.0, 200),       # across the antimeridian
    (3, (-20.0, 84.0), 5.0, 200),       # near the northern limit
    (4, (100.0, -70.0), 20.0, 400),     # far south, large cells
    (5, (0.0, 0.0), 0.01, 150),         # dense cluster around the origin
])
def test_random_searches_match_redis(differ: Differ, seed: int, center: tuple[float, float],
                                     spread: float, n: int) -> None:
    rng = random.Random(seed)
    d = differ
    d.reset({"zset-max-listpack-entries": "128"})
    pts = _points(rng, center[0], center[1], spread, n)
    args: list[bytes] = []
    for i, (x, y) in enumerate(pts):
        args += [repr(x).encode(), repr(y).encode(), b"m%d" % i]
    d.run((b"GEOADD", b"g", *args))
    for _ in range(70):
        x, y = rng.choice(pts) if rng.random() < 0.6 else (center[0] + rng.uniform(-spread, spread),
                                                            center[1] + rng.uniform(-spread, spread) / 2)
        x, y = max(-180.0, min(180.0, x)), max(-85.0, min(85.0, y))
        unit = rng.choice(list(SCALE))
        radius = rng.choice([0, 0.3, 3, 30, 300, 3000, 15000]) * SCALE[unit]
        opts = [o for o in (b"WITHDIST", b"WITHCOORD", b"WITHHASH") if rng.random() < 0.5]
        if rng.random() < 0.6:
            opts += [b"COUNT", str(rng.choice([1, 2, 3, 10, 50])).encode()]
            if rng.random() < 0.3:
                opts.append(b"ANY")
        opts += rng.choice([[], [b"ASC"], [b"DESC"]])
        proto = rng.choice([2, 3])
        kind = rng.random()
        member = b"m%d" % rng.randrange(len(pts))
        r_arg = repr(radius).encode()
        if kind < 0.3:
            d.run((b"GEORADIUS", b"g", repr(x).encode(), repr(y).encode(), r_arg, unit.encode(), *opts), proto)
        elif kind < 0.6:
            w = repr(rng.choice([1, 10, 100, 1000, 10000]) * SCALE[unit]).encode()
            h = repr(rng.choice([1, 10, 100, 1000, 10000]) * SCALE[unit]).encode()
            d.run((b"GEOSEARCH", b"g", b"FROMLONLAT", repr(x).encode(), repr(y).encode(), b"BYBOX", w, h,
                   unit.encode(), *opts), proto)
        elif kind < 0.8:
            d.run((b"GEOSEARCH", b"g", b"FROMMEMBER", member, b"BYRADIUS", r_arg, unit.encode(), *opts), proto)
        else:
            plain_opts = [o for o in opts if not o.startswith(b"WITH")]
            dist = [b"STOREDIST"] if rng.random() < 0.5 else []
            d.run((b"GEOSEARCHSTORE", b"dst", b"g", b"FROMMEMBER", member, b"BYRADIUS", r_arg, unit.encode(),
                   *plain_opts, *dist))
            d.run((b"ZRANGE", b"dst", b"0", b"-1", b"WITHSCORES"), proto)
            d.run((b"OBJECT", b"ENCODING", b"dst"))
    for i in range(0, len(pts), 9):
        d.run((b"GEODIST", b"g", b"m%d" % i, b"m%d" % ((i * 13) % len(pts)), rng.choice([b"m", b"km", b"mi"])))
        d.run((b"GEOHASH", b"g", b"m%d" % i, b"nope"))
        d.run((b"GEOPOS", b"g", b"m%d" % i, b"nope"), rng.choice([2, 3]))
    d.compare_state()
