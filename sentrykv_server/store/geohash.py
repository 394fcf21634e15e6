"""Geohash arithmetic as Redis computes it (geohash.c and geohash_helper.c, Redis 7.0).

A position is stored as a sorted-set score: longitude and latitude are each
scaled to 26 bits over [-180, 180] and [-85.05112878, 85.05112878] (the
Web-Mercator limits) and interleaved, latitude in the even bits, into a
52-bit integer -- exactly representable in a double.

Area searches reproduce Redis's cell logic: the step (cell size) estimated
from the radius, the 3x3 block of cells around the centre, the cells dropped
when the search area cannot reach them, and the score range of each cell.
Distances use the haversine formula on Redis's earth radius with the same
double operations through the platform libm, so the printed digits match.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

LONG_MIN, LONG_MAX = -180.0, 180.0
LAT_MIN, LAT_MAX = -85.05112878, 85.05112878
STEP_MAX = 26
EARTH_RADIUS_IN_METERS = 6372797.560856
MERCATOR_MAX = 20037726.37
D_R = math.pi / 180.0

_M64 = (1 << 64) - 1
_EVEN = 0x5555555555555555
_ODD = 0xAAAAAAAAAAAAAAAA

CIRCULAR, RECTANGLE = 0, 1


def deg_rad(angle: float) -> float:
    return angle * D_R


def rad_deg(angle: float) -> float:
    return angle / D_R


# -- bit interleaving --------------------------------------------------------------------
def _spread(v: int) -> int:
    """The 32 bits of v moved to the even bit positions of a 64-bit word."""
    v = (v | (v << 16)) & 0x0000FFFF0000FFFF
    v = (v | (v << 8)) & 0x00FF00FF00FF00FF
    v = (v | (v << 4)) & 0x0F0F0F0F0F0F0F0F
    v = (v | (v << 2)) & 0x3333333333333333
    return (v | (v << 1)) & _EVEN


def _squash(v: int) -> int:
    """The even bits of a 64-bit word packed into 32 bits (inverse of _spread)."""
    v &= _EVEN
    v = (v | (v >> 1)) & 0x3333333333333333
    v = (v | (v >> 2)) & 0x0F0F0F0F0F0F0F0F
    v = (v | (v >> 4)) & 0x00FF00FF00FF00FF
    v = (v | (v >> 8)) & 0x0000FFFF0000FFFF
    return (v | (v >> 16)) & 0x00000000FFFFFFFF


def interleave(lat_bits: int, long_bits: int) -> int:
    return _spread(lat_bits & 0xFFFFFFFF) | (_spread(long_bits & 0xFFFFFFFF) << 1)


def encode(longitude: float, latitude: float, step: int = STEP_MAX,
           long_range: tuple[float, float] = (LONG_MIN, LONG_MAX),
           lat_range: tuple[float, float] = (LAT_MIN, LAT_MAX)) -> int | None:
    """geohashEncode: the ``2*step``-bit cell of a point, or None out of the supported range."""
    if step > 32 or step == 0:
        return None
    if longitude > 180 or longitude < -180 or latitude > 85.05112878 or latitude < -85.05112878:
        return None
    if latitude < lat_range[0] or latitude > lat_range[1] or \
            longitude < long_range[0] or longitude > long_range[1]:
        return None
    lat_offset = (latitude - lat_range[0]) / (lat_range[1] - lat_range[0])
    long_offset = (longitude - long_range[0]) / (long_range[1] - long_range[0])
    scale = float(1 << step)
    return interleave(int(lat_offset * scale), int(long_offset * scale))


@dataclass
class Area:
    """A decoded cell: its hash and its longitude / latitude bounds."""

    bits: int
    step: int
    long_min: float
    long_max: float
    lat_min: float
    lat_max: float


def decode(bits: int, step: int,
           long_range: tuple[float, float] = (LONG_MIN, LONG_MAX),
           lat_range: tuple[float, float] = (LAT_MIN, LAT_MAX)) -> Area:
    """geohashDecode: the bounds of a cell."""
    ilato = _squash(bits)
    ilono = _squash(bits >> 1)
    lat_scale = lat_range[1] - lat_range[0]
    long_scale = long_range[1] - long_range[0]
    div = float(1 << step)
    return Area(
        bits, step,
        long_range[0] + (ilono * 1.0 / div) * long_scale,
        long_range[0] + (((ilono + 1) & 0xFFFFFFFF) * 1.0 / div) * long_scale,
        lat_range[0] + (ilato * 1.0 / div) * lat_scale,
        lat_range[0] + (((ilato + 1) & 0xFFFFFFFF) * 1.0 / div) * lat_scale,
    )


def score_bits(score: float) -> int:
    """A score as C's ``(uint64_t)`` cast reads it on x86-64 (what decodeGeohash does)."""
    if score != score:
        return 1 << 63
    if score >= 9223372036854775808.0:
        rest = score - 9223372036854775808.0
        low = int(rest) if rest < 9223372036854775808.0 else 1 << 63
        return (low ^ (1 << 63)) & _M64
    if score < -9223372036854775808.0:
        return 1 << 63
    return int(score) & _M64


def decode_score(score: float) -> tuple[float, float]:
    """(longitude, latitude) of a stored score: the cell centre, clamped to the valid range."""
    area = decode(score_bits(score), STEP_MAX)
    x = (area.long_min + area.long_max) / 2
    x = min(max(x, LONG_MIN), LONG_MAX)
    y = (area.lat_min + area.lat_max) / 2
    y = min(max(y, LAT_MIN), LAT_MAX)
    return x, y


# Decoded points by score: (longitude, latitude, and the radians / cosine the distance
# formula needs), so repeated searches over the same set skip the bit arithmetic.  The
# values are exactly what the formulas compute each time; the cache only saves time.
_POINTS: dict[float, tuple[float, float, float, float, float]] = {}
_POINTS_MAX = 1 << 18


def point(score: float) -> tuple[float, float, float, float, float]:
    """(longitude, latitude, longitude in radians, latitude in radians, cos(latitude))."""
    cached = _POINTS.get(score)
    if cached is None:
        x, y = decode_score(score)
        lat_r = deg_rad(y)
        cached = (x, y, deg_rad(x), lat_r, math.cos(lat_r))
        if len(_POINTS) >= _POINTS_MAX:
            _POINTS.clear()
        _POINTS[score] = cached
    return cached


def align52(bits: int, step: int) -> int:
    return (bits << (52 - step * 2)) & _M64


# -- neighbours --------------------------------------------------------------------------
def _move(bits: int, step: int, d: int, axis: int) -> int:
    """geohash_move_x (axis = the odd, longitude bits) / geohash_move_y (the even bits):
    one cell east/north (d > 0) or west/south (d < 0), wrapping around."""
    if d == 0:
        return bits
    moving = bits & axis
    other = bits & (_M64 ^ axis)
    zz = (_M64 ^ axis) >> (64 - step * 2)
    if d > 0:
        moving = moving + (zz + 1)
    else:
        moving = ((moving | zz) - (zz + 1)) & _M64
    moving &= axis >> (64 - step * 2)
    return moving | other


# Redis's search order: the centre cell, then N S E W NE NW SE SW.
_DIRECTIONS = {
    "north": (0, 1), "south": (0, -1), "east": (1, 0), "west": (-1, 0),
    "north_east": (1, 1), "north_west": (-1, 1), "south_east": (1, -1), "south_west": (-1, -1),
}
SEARCH_ORDER = ("north", "south", "east", "west", "north_east", "north_west", "south_east", "south_west")


def neighbors(bits: int, step: int) -> dict[str, int]:
    return {name: _move(_move(bits, step, dx, _ODD), step, dy, _EVEN) for name, (dx, dy) in _DIRECTIONS.items()}


# -- distances ---------------------------------------------------------------------------
def lat_distance(lat1: float, lat2: float) -> float:
    return EARTH_RADIUS_IN_METERS * math.fabs(deg_rad(lat2) - deg_rad(lat1))


def c_cos(x: float) -> float:
    """C's cos: NaN for an infinite argument (Python raises), e.g. a radius of ``inf``."""
    return math.cos(x) if math.isfinite(x) else math.nan


def c_asin(x: float) -> float:
    """C's asin: NaN outside [-1, 1] (Python raises); rounding can push haversine's argument
    one ulp past 1 for points nearly antipodal."""
    return math.asin(x) if -1.0 <= x <= 1.0 else math.nan


def distance(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Haversine great-circle distance in meters (geohashGetDistance)."""
    lon1r = deg_rad(lon1)
    lon2r = deg_rad(lon2)
    v = math.sin((lon2r - lon1r) / 2)
    if v == 0.0:
        return lat_distance(lat1, lat2)
    lat1r = deg_rad(lat1)
    lat2r = deg_rad(lat2)
    u = math.sin((lat2r - lat1r) / 2)
    a = u * u + math.cos(lat1r) * math.cos(lat2r) * v * v
    return 2.0 * EARTH_RADIUS_IN_METERS * c_asin(math.sqrt(a))


# -- search areas ------------------------------------------------------------------------
@dataclass
class Shape:
    """A search: centre (x = longitude, y = latitude), unit factor, radius or box size."""

    x: float = 0.0
    y: float = 0.0
    conversion: float = 1.0
    kind: int = CIRCULAR
    radius: float = 0.0
    width: float = 0.0
    height: float = 0.0
    bounds: list[float] = field(default_factory=lambda: [0.0] * 4)

    def scan(self, entries: Iterable[tuple[float, bytes]], found: list[Any], limit: int) -> None:
        """Append (member, lon, lat, distance, score) for every entry inside the shape.

        geoWithinShape for a whole score range, with the centre's radians computed once and
        each point's taken from the decode cache; the arithmetic is that of
        :func:`distance` and :func:`lat_distance` operation for operation.
        """
        sin, asin, sqrt, fabs = math.sin, c_asin, math.sqrt, math.fabs
        two_r = 2.0 * EARTH_RADIUS_IN_METERS
        c_lon = deg_rad(self.x)
        c_lat = deg_rad(self.y)
        c_cos = math.cos(c_lat)
        circle = self.kind == CIRCULAR
        radius = self.radius * self.conversion
        half_w = self.width * self.conversion / 2
        half_h = self.height * self.conversion / 2
        append = found.append
        for score, member in entries:
            x, y, p_lon, p_lat, p_cos = point(score)
            if not circle:
                if EARTH_RADIUS_IN_METERS * fabs(c_lat - p_lat) > half_h:
                    if limit and found and len(found) >= limit:
                        return
                    continue
                v = sin((c_lon - p_lon) / 2)
                width = 0.0 if v == 0.0 else two_r * asin(sqrt(0.0 + p_cos * p_cos * v * v))
                if width > half_w:
                    if limit and found and len(found) >= limit:
                        return
                    continue
            v = sin((p_lon - c_lon) / 2)
            if v == 0.0:
                d = EARTH_RADIUS_IN_METERS * fabs(p_lat - c_lat)
            else:
                u = sin((p_lat - c_lat) / 2)
                d = two_r * asin(sqrt(u * u + c_cos * p_cos * v * v))
            if circle and d > radius:
                if limit and found and len(found) >= limit:
                    return
                continue
            append((member, x, y, d, score))
            if limit and len(found) >= limit:
                return

    def contains(self, lon: float, lat: float) -> float | None:
        """geoWithinShape: the distance from the centre when the point is inside, else None."""
        if self.kind == CIRCULAR:
            d = distance(self.x, self.y, lon, lat)
            return None if d > self.radius * self.conversion else d
        width_m = self.width * self.conversion
        height_m = self.height * self.conversion
        if lat_distance(lat, self.y) > height_m / 2:
            return None
        if distance(lon, lat, self.x, lat) > width_m / 2:
            return None
        return distance(self.x, self.y, lon, lat)


def estimate_steps(range_meters: float, lat: float) -> int:
    """geohashEstimateStepsByRadius: the cell size for a search radius at a latitude."""
    if range_meters == 0:
        return 26
    step = 1
    while range_meters < MERCATOR_MAX:
        range_meters *= 2
        step += 1
    step -= 2
    if lat > 66 or lat < -66:
        step -= 1
        if lat > 80 or lat < -80:
            step -= 1
    return max(1, min(26, step))


def bounding_box(shape: Shape) -> list[float]:
    """geohashBoundingBox: [min_lon, min_lat, max_lon, max_lat] of the search area."""
    lon, lat = shape.x, shape.y
    half_h = shape.radius if shape.kind == CIRCULAR else shape.height / 2
    half_w = shape.radius if shape.kind == CIRCULAR else shape.width / 2
    height = shape.conversion * half_h
    width = shape.conversion * half_w
    lat_delta = rad_deg(height / EARTH_RADIUS_IN_METERS)
    long_delta_top = rad_deg(width / EARTH_RADIUS_IN_METERS / c_cos(deg_rad(lat + lat_delta)))
    long_delta_bottom = rad_deg(width / EARTH_RADIUS_IN_METERS / c_cos(deg_rad(lat - lat_delta)))
    southern = lat < 0
    delta = long_delta_bottom if southern else long_delta_top
    return [lon - delta, lat - lat_delta, lon + delta, lat + lat_delta]


def search_cells(shape: Shape) -> list[tuple[int, int] | None]:
    """geohashCalculateAreasByShapeWGS84: the centre cell and its 8 neighbours, in Redis's
    search order, as (bits, step); None for a neighbour the search area cannot reach."""
    shape.bounds = bounding_box(shape)
    min_lon, min_lat, max_lon, max_lat = shape.bounds
    lon, lat = shape.x, shape.y
    if shape.kind == CIRCULAR:
        radius_meters = shape.radius
    else:
        radius_meters = math.sqrt((shape.width / 2) * (shape.width / 2) + (shape.height / 2) * (shape.height / 2))
    radius_meters *= shape.conversion
    steps = estimate_steps(radius_meters, lat)
    bits = encode(lon, lat, steps)
    assert bits is not None
    around = neighbors(bits, steps)
    north = decode(around["north"], steps)
    south = decode(around["south"], steps)
    east = decode(around["east"], steps)
    west = decode(around["west"], steps)
    if steps > 1 and (north.lat_max < max_lat or south.lat_min > min_lat
                      or east.long_max < max_lon or west.long_min > min_lon):
        steps -= 1
        bits = encode(lon, lat, steps)
        assert bits is not None
        around = neighbors(bits, steps)
    area = decode(bits, steps)
    dropped: set[str] = set()
    if steps >= 2:
        if area.lat_min < min_lat:
            dropped.update(("south", "south_west", "south_east"))
        if area.lat_max > max_lat:
            dropped.update(("north", "north_east", "north_west"))
        if area.long_min < min_lon:
            dropped.update(("west", "south_west", "north_west"))
        if area.long_max > max_lon:
            dropped.update(("east", "south_east", "north_east"))
    cells: list[tuple[int, int] | None] = [(bits, steps)]
    for name in SEARCH_ORDER:
        cells.append(None if name in dropped else (around[name], steps))
    return cells


def cell_score_range(bits: int, step: int) -> tuple[int, int]:
    """Scores [min, max) of the points inside a cell (scoresOfGeoHashBox)."""
    return align52(bits, step), align52(bits + 1, step)


# -- GEOHASH strings ---------------------------------------------------------------------
_ALPHABET = b"0123456789bcdefghjkmnpqrstuvwxyz"


def geohash_string(score: float) -> bytes:
    """The standard 11-character geohash of a stored point (re-encoded over [-90, 90])."""
    lon, lat = decode_score(score)
    bits = encode(lon, lat, 26, (-180.0, 180.0), (-90.0, 90.0))
    if bits is None:
        bits = 0
    out = bytearray(11)
    for i in range(11):
        idx = 0 if i == 10 else (bits >> (52 - (i + 1) * 5)) & 0x1F
        out[i] = _ALPHABET[idx]
    return bytes(out)
