"""Small geodesy helpers shared by the routing modules (pure, no I/O)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

EARTH_RADIUS_M = 6_371_008.8

# The arrival airports and their reference points (contract section 2), the one table of
# them: the road network, the alert rules, the truck planner and the simulator use it.
AIRPORTS: Final[dict[str, tuple[float, float]]] = {
    "JED": (21.679, 39.157),
    "MED": (24.553, 39.705),
}
# Where the maps write the cities' names (the one table of them): Makkah and Madinah at their
# mosques (routing.network builds each city's streets around it), Jeddah at its centre.
CITIES: Final[dict[str, tuple[float, float]]] = {
    "makkah": (21.4225, 39.8262),
    "madinah": (24.467, 39.611),
    "jeddah": (21.5433, 39.1728),
}
_M_PER_DEG_LAT = math.pi * EARTH_RADIUS_M / 180.0

FloatArray = npt.NDArray[np.float64]


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp = p2 - p1
    dl = math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def bearing_deg(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Heading from the first point to the second, degrees clockwise from north in [0, 360)
    (flat-earth, like `offset`: for the direction of travel along a road)."""
    dy = lat2 - lat1
    dx = (lon2 - lon1) * math.cos(math.radians(lat1))
    return math.degrees(math.atan2(dx, dy)) % 360.0


def offset(lat: float, lon: float, east_m: float, north_m: float) -> tuple[float, float]:
    """The point `east_m`/`north_m` metres away (flat-earth; fine below a few tens of km)."""
    dlat = north_m / _M_PER_DEG_LAT
    dlon = east_m / (_M_PER_DEG_LAT * math.cos(math.radians(lat)))
    return lat + dlat, lon + dlon


@dataclass(frozen=True, slots=True)
class LocalProjection:
    """Equirectangular projection to metres around a reference latitude.

    Good to a few per cent over the ~450 km network, which is enough to pick the nearest
    road or fence; exact distances use haversine.
    """

    lat0: float
    lon0: float

    @property
    def _kx(self) -> float:
        return _M_PER_DEG_LAT * math.cos(math.radians(self.lat0))

    def to_xy(self, lat: float, lon: float) -> tuple[float, float]:
        return (lon - self.lon0) * self._kx, (lat - self.lat0) * _M_PER_DEG_LAT

    def to_latlon(self, x: float, y: float) -> tuple[float, float]:
        return self.lat0 + y / _M_PER_DEG_LAT, self.lon0 + x / self._kx

    def to_xy_arrays(self, lats: FloatArray, lons: FloatArray) -> tuple[FloatArray, FloatArray]:
        return (lons - self.lon0) * self._kx, (lats - self.lat0) * _M_PER_DEG_LAT

    def to_latlon_arrays(self, x: FloatArray, y: FloatArray) -> tuple[FloatArray, FloatArray]:
        return self.lat0 + y / _M_PER_DEG_LAT, self.lon0 + x / self._kx


def pairwise_max_m(lats: FloatArray, lons: FloatArray) -> float:
    """Largest distance between any two of the points, in metres (local projection)."""
    if len(lats) < 2:
        return 0.0
    proj = LocalProjection(float(lats.mean()), float(lons.mean()))
    x, y = proj.to_xy_arrays(lats, lons)
    dx = x[:, None] - x[None, :]
    dy = y[:, None] - y[None, :]
    return float(np.sqrt((dx * dx + dy * dy).max()))
