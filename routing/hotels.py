"""Hotel (residence building) sites in the hotel districts of Makkah and Madinah.

The simulator calls :func:`place_hotels` to get N buildings with ids, names, positions and
districts, each attached to its nearest road node. Placement is deterministic for a given
network, city, count and seed: denser near the mosque, never inside it, and buildings at least
`min_spacing_m` apart so their geofences do not overlap.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Literal

import networkx as nx

from routing.geo import haversine_m, offset
from routing.network import HARAM, PROPHETS_MOSQUE, NodeIndex

City = Literal["makkah", "madinah"]


@dataclass(frozen=True, slots=True)
class District:
    name: str
    lat: float
    lon: float


@dataclass(frozen=True, slots=True)
class HotelSite:
    """A residence building: `node` is the road node a vehicle drives to."""

    id: str
    name: str
    city: City
    lat: float
    lon: float
    district: str
    node: str


def _d(name: str, centre: tuple[float, float], east_m: float, north_m: float) -> District:
    lat, lon = offset(*centre, east_m, north_m)
    return District(name, round(lat, 5), round(lon, 5))


# Hotel districts (approximate bearings from the mosques); a building belongs to the nearest.
DISTRICTS: dict[City, tuple[District, ...]] = {
    "makkah": (
        _d("Ajyad", HARAM, 200, -900),
        _d("Al-Misfalah", HARAM, -700, -1400),
        _d("Kudai", HARAM, 300, -2200),
        _d("Jarwal", HARAM, -1500, 800),
        _d("Al-Shubaika", HARAM, -1000, -100),
        _d("Al-Rusaifah", HARAM, -2200, -1500),
        _d("Al-Ghazzah", HARAM, 500, 1000),
        _d("Al-Shisha", HARAM, 1900, 1800),
        _d("Al-Aziziyah", HARAM, 3200, -600),
        _d("Al-Hujun", HARAM, 1600, 300),
    ),
    "madinah": (
        _d("Central North", PROPHETS_MOSQUE, 0, 700),
        _d("Central South", PROPHETS_MOSQUE, 0, -700),
        _d("Central West", PROPHETS_MOSQUE, -800, 0),
        _d("Central East", PROPHETS_MOSQUE, 800, 0),
        _d("Bani Haritha", PROPHETS_MOSQUE, 1500, 1500),
        _d("Quba", PROPHETS_MOSQUE, -300, -2000),
    ),
}

# Extent of each city's street grid around its mosque (west, east, south, north, in metres),
# the mosque's footprint, and how fast building density falls with distance from the mosque.
CITY_AREAS: dict[
    City, tuple[tuple[float, float], tuple[float, float, float, float], float, float]
] = {
    "makkah": (HARAM, (2500, 3900, 2500, 2500), 300.0, 1800.0),
    "madinah": (PROPHETS_MOSQUE, (1900, 1900, 2300, 1900), 230.0, 900.0),
}
_PREFIX: dict[City, str] = {"makkah": "MAK", "madinah": "MAD"}


def place_hotels(
    network: nx.DiGraph, city: City, n: int, seed: int = 0, *, min_spacing_m: float = 50.0
) -> list[HotelSite]:
    """Place `n` hotel buildings in `city`'s districts, each linked to its nearest road node.

    Raises ValueError if `n` buildings cannot be placed `min_spacing_m` apart.
    """
    if city not in CITY_AREAS:
        raise ValueError(f"unknown city {city!r}")
    centre, (west, east, south, north), mosque_m, falloff_m = CITY_AREAS[city]
    rng = random.Random(f"hotels:{city}:{seed}")
    city_nodes = [node for node, data in network.nodes(data=True) if data.get("city") == city]
    if not city_nodes:
        raise ValueError(f"the network has no {city} streets")
    index = NodeIndex(network, city_nodes)
    cell = min_spacing_m
    taken: dict[tuple[int, int], list[tuple[float, float]]] = {}
    sites: list[HotelSite] = []
    misses = 0  # consecutive rejected draws: a full city stops accepting
    while len(sites) < n:
        misses += 1
        if misses > 50_000:
            raise ValueError(f"could not place {n} hotels in {city} {min_spacing_m} m apart")
        x = rng.uniform(-west, east)
        y = rng.uniform(-south, north)
        dist = math.hypot(x, y)
        if dist < mosque_m or rng.random() > math.exp(-(dist - mosque_m) / falloff_m):
            continue
        key = (math.floor(x / cell), math.floor(y / cell))
        near = (
            p
            for dx in (-1, 0, 1)
            for dy in (-1, 0, 1)
            for p in taken.get((key[0] + dx, key[1] + dy), ())
        )
        if any(math.hypot(x - px, y - py) < min_spacing_m for px, py in near):
            continue
        misses = 0
        taken.setdefault(key, []).append((x, y))
        lat, lon = offset(*centre, x, y)
        lat, lon = round(lat, 6), round(lon, 6)
        district = min(DISTRICTS[city], key=lambda d: haversine_m(lat, lon, d.lat, d.lon))
        number = len(sites) + 1
        sites.append(
            HotelSite(
                id=f"{_PREFIX[city]}-H{number:04d}",
                name=f"{district.name} Residence {number}",
                city=city,
                lat=lat,
                lon=lon,
                district=district.name,
                node=index.nearest(lat, lon),
            )
        )
    return sites
