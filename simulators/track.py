"""Places and GPS fixes for the simulator: the fix tuple, distances, building sites, and the
fixes of a parked vehicle. Moving vehicles drive the road graph (simulators/roads.py).

A parked vehicle jitters by a few metres, bounded, so that its fixes stay well within the
stall rule's 50 m of each other however long it stands.
"""

from __future__ import annotations

import math
import random
from typing import Final, NamedTuple

# Anchors from domain.md ("Places").
HARAM: Final = (21.4225, 39.8262)
PROPHETS_MOSQUE: Final = (24.467, 39.611)
EARTH_RADIUS_M: Final = 6_371_000.0
_GOLDEN_ANGLE: Final = math.pi * (3 - math.sqrt(5))


class Fix(NamedTuple):
    t: int
    lat: float
    lon: float
    speed_kmh: float
    heading: float


def distance_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Equirectangular distance: exact enough for tens of metres to hundreds of kilometres."""
    lat1, lon1 = math.radians(a[0]), math.radians(a[1])
    lat2, lon2 = math.radians(b[0]), math.radians(b[1])
    x = (lon2 - lon1) * math.cos((lat1 + lat2) / 2)
    return EARTH_RADIUS_M * math.hypot(x, lat2 - lat1)


def offset_point(origin: tuple[float, float], east_m: float, north_m: float) -> tuple[float, float]:
    lat = origin[0] + math.degrees(north_m / EARTH_RADIUS_M)
    lon = origin[1] + math.degrees(east_m / (EARTH_RADIUS_M * math.cos(math.radians(origin[0]))))
    return (lat, lon)


def spiral_site(
    centre: tuple[float, float], index: int, count: int, radius_m: float, inner_m: float
) -> tuple[float, float]:
    """The index-th of `count` evenly spread sites in a ring around a centre (sunflower layout),
    so that no two buildings sit within a few dozen metres of each other."""
    fraction = (index + 0.5) / max(count, 1)
    r = inner_m + (radius_m - inner_m) * math.sqrt(fraction)
    angle = index * _GOLDEN_ANGLE
    return offset_point(centre, r * math.cos(angle), r * math.sin(angle))


def parked(
    where: tuple[float, float],
    t_start: int,
    t_end: int,
    interval_s: int,
    rng: random.Random,
    jitter_m: float = 4.0,
) -> list[Fix]:
    """Fixes of a vehicle standing still (GPS jitter of a few metres)."""
    fixes: list[Fix] = []
    t = t_start
    while t <= t_end:
        lat, lon = offset_point(
            where, rng.uniform(-jitter_m, jitter_m), rng.uniform(-jitter_m, jitter_m)
        )
        fixes.append(Fix(t, round(lat, 6), round(lon, 6), 0.0, 0.0))
        t += interval_s
    return fixes
