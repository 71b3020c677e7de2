"""Geofences (shapely polygons) with a batch spatial index and a per-vehicle enter/exit machine.

Fences are polygons in lon/lat degrees: the arrival airports, their baggage yards, hotel
buildings (small circles), hotel districts (Voronoi cells around the district centres, clipped
to each city's street area) and the police checkpoints on the roads into Makkah.
:class:`FenceIndex` answers "which fences hold each of these points" for 20,000 vehicles in one
vectorised STRtree query; :class:`GeofenceTracker` turns each vehicle's fixes into
``entered``/``exited`` events.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import networkx as nx
import numpy as np
import shapely
from shapely.geometry import MultiPoint, Point, Polygon, box

from routing.geo import LocalProjection, offset
from routing.hotels import CITY_AREAS, DISTRICTS, City, HotelSite

FenceKind = Literal["airport", "baggage_yard", "hotel", "district", "checkpoint"]
HOTEL_RADIUS_M = 25.0


@dataclass(frozen=True, slots=True)
class Fence:
    """A named area; `lat`/`lon` is its centre (a hotel's door, an airport's middle)."""

    id: str
    kind: FenceKind
    name: str
    lat: float
    lon: float
    polygon: Polygon


def circle(lat: float, lon: float, radius_m: float, segments: int = 16) -> Polygon:
    """A circle of `radius_m` metres around a point, as a lon/lat polygon."""
    pts = []
    for k in range(segments):
        angle = 2 * math.pi * k / segments
        plat, plon = offset(lat, lon, radius_m * math.cos(angle), radius_m * math.sin(angle))
        pts.append((plon, plat))
    return Polygon(pts)


def hotel_fence(site: HotelSite, radius_m: float = HOTEL_RADIUS_M) -> Fence:
    return Fence(
        site.id, "hotel", site.name, site.lat, site.lon, circle(site.lat, site.lon, radius_m)
    )


def _node_latlon(graph: nx.DiGraph, node: str) -> tuple[float, float]:
    data = graph.nodes[node]
    return float(data["lat"]), float(data["lon"])


def _district_fences(graph: nx.DiGraph, city: City) -> list[Fence]:
    """Voronoi cells of the district centres, clipped to the city's street area."""
    if not any(d.get("city") == city for _, d in graph.nodes(data=True)):
        return []
    centre, (west, east, south, north), _, _ = CITY_AREAS[city]
    proj = LocalProjection(*centre)
    margin = 150.0
    area = box(-west - margin, -south - margin, east + margin, north + margin)
    districts = DISTRICTS[city]
    centres = [proj.to_xy(d.lat, d.lon) for d in districts]
    cells = shapely.voronoi_polygons(MultiPoint(centres), extend_to=area.buffer(1000))
    fences = []
    for district, (cx, cy) in zip(districts, centres, strict=True):
        cell = next(c for c in cells.geoms if c.contains(Point(cx, cy)))
        clipped = cell.intersection(area)

        polygon = shapely.transform(clipped, lambda xy: _to_lonlat(proj, xy))
        slug = district.name.lower().replace(" ", "-")
        fences.append(
            Fence(
                f"district:{city}:{slug}",
                "district",
                district.name,
                district.lat,
                district.lon,
                polygon,
            )
        )
    return fences


def _to_lonlat(proj: LocalProjection, xy: np.ndarray) -> np.ndarray:
    lats, lons = proj.to_latlon_arrays(xy[:, 0], xy[:, 1])
    return np.column_stack([lons, lats])


def default_fences(graph: nx.DiGraph, hotels: Iterable[HotelSite] = ()) -> list[Fence]:
    """The fences of the shipped network's places, plus one per hotel site given."""
    fences: list[Fence] = []
    airports = (
        (
            "JED",
            "King Abdulaziz Intl, Hajj terminal",
            "jed:hajj_terminal",
            "jed:baggage_yard",
            1500.0,
        ),
        ("MED", "Prince Mohammad bin Abdulaziz Intl", "med:terminal", "med:baggage_yard", 1400.0),
    )
    for code, name, terminal, yard, radius in airports:
        if terminal not in graph or yard not in graph:
            continue
        t_lat, t_lon = _node_latlon(graph, terminal)
        y_lat, y_lon = _node_latlon(graph, yard)
        c_lat, c_lon = (t_lat + y_lat) / 2, (t_lon + y_lon) / 2
        fences.append(
            Fence(
                f"airport:{code}", "airport", name, c_lat, c_lon, circle(c_lat, c_lon, radius, 48)
            )
        )
        fences.append(
            Fence(
                f"yard:{code}",
                "baggage_yard",
                f"{code} baggage yard",
                y_lat,
                y_lon,
                circle(y_lat, y_lon, 150),
            )
        )
    for node, name in (
        ("hw:jed-mak:checkpoint", "Jeddah–Makkah road checkpoint"),
        ("hw:mad-mak:checkpoint", "Madinah–Makkah road checkpoint"),
    ):
        if node in graph:
            lat, lon = _node_latlon(graph, node)
            slug = node.split(":")[1]
            fences.append(
                Fence(f"checkpoint:{slug}", "checkpoint", name, lat, lon, circle(lat, lon, 300))
            )
    fences.extend(_district_fences(graph, "makkah"))
    fences.extend(_district_fences(graph, "madinah"))
    fences.extend(hotel_fence(site) for site in hotels)
    return fences


class FenceIndex:
    """An STRtree over the fences, queried for many points at once."""

    def __init__(self, fences: Sequence[Fence]) -> None:
        self.fences: tuple[Fence, ...] = tuple(fences)
        ids = [f.id for f in self.fences]
        if len(set(ids)) != len(ids):
            raise ValueError("fence ids must be unique")
        self.by_id: dict[str, Fence] = {f.id: f for f in self.fences}
        self._tree = shapely.STRtree([f.polygon for f in self.fences])

    def locate(self, lats: Sequence[float], lons: Sequence[float]) -> list[list[str]]:
        """For each point, the ids of the fences that contain it (in index order)."""
        points = shapely.points(np.asarray(lons, dtype=float), np.asarray(lats, dtype=float))
        found: list[list[str]] = [[] for _ in range(len(points))]
        if len(points) == 0 or not self.fences:
            return found
        point_idx, fence_idx = self._tree.query(points, predicate="within")
        for p, f in zip(point_idx.tolist(), fence_idx.tolist(), strict=True):
            found[p].append(self.fences[f].id)
        return found

    def locate_one(self, lat: float, lon: float) -> list[str]:
        return self.locate([lat], [lon])[0]


@dataclass(frozen=True, slots=True)
class FenceEvent:
    vehicle_id: str
    fence_id: str
    fence_kind: FenceKind
    kind: Literal["entered", "exited"]
    at: datetime


class GeofenceTracker:
    """Per-vehicle fence membership; each new fix yields the fences exited and entered.

    A fix older than the vehicle's latest is stale and changes nothing (the trip machine in
    routing.trips reorders within a window before it gets here).
    """

    def __init__(self, index: FenceIndex) -> None:
        self.index = index
        self._inside: dict[str, frozenset[str]] = {}
        self._last: dict[str, datetime] = {}

    def inside(self, vehicle_id: str) -> frozenset[str]:
        return self._inside.get(vehicle_id, frozenset())

    def feed(self, vehicle_id: str, at: datetime, lat: float, lon: float) -> list[FenceEvent]:
        return self.feed_many([(vehicle_id, at, lat, lon)])

    def feed_many(self, fixes: Sequence[tuple[str, datetime, float, float]]) -> list[FenceEvent]:
        """Apply many fixes (one batch index query); events in the order of the fixes."""
        located = self.index.locate([f[2] for f in fixes], [f[3] for f in fixes])
        events: list[FenceEvent] = []
        for (vehicle_id, at, _lat, _lon), ids in zip(fixes, located, strict=True):
            last = self._last.get(vehicle_id)
            if last is not None and at < last:
                continue
            self._last[vehicle_id] = at
            before = self._inside.get(vehicle_id, frozenset())
            now = frozenset(ids)
            if now == before:
                continue
            self._inside[vehicle_id] = now
            by_id = self.index.by_id
            for fence_id in sorted(before - now):
                events.append(FenceEvent(vehicle_id, fence_id, by_id[fence_id].kind, "exited", at))
            for fence_id in sorted(now - before):
                events.append(FenceEvent(vehicle_id, fence_id, by_id[fence_id].kind, "entered", at))
        return events
