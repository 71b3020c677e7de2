"""Vehicle trips from GPS fixes: detection, map-matching, progress, ETAs and the stall judgement.

Pure and synchronous: the stream feeds each `vehicle.position` to :class:`TripTracker` and
publishes what comes back. A trip starts when the vehicle leaves an arrival airport's geofence
(confirmed by `confirm_fixes` fixes outside), records a stop at each hotel geofence where it
dwells at least `min_dwell_s`, and ends on reaching its last planned stop (without a plan: when
it comes back to an airport, or after `final_dwell_s` at one hotel). Fixes may arrive out of
order within `reorder_window_s`; older ones are counted and ignored.

ETAs follow the planned route (quickest path through the remaining stops), each edge timed
with the congestion factor at the moment the vehicle will enter it, then scaled by the pace
observed on this trip so far (actual / predicted driving time, forgetting old stretches, and
shrunk towards 1 while little has been driven).
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal, Protocol

import networkx as nx
import numpy as np
import shapely

from routing.congestion import CongestionModel
from routing.geo import LocalProjection, haversine_m
from routing.geofence import FenceIndex
from routing.network import NodeIndex, PathCache
from tariq.domain.alerts import Fix as StreamFix
from tariq.domain.alerts import stall_start

Phase = Literal["idle", "at_airport", "on_trip"]
TripEventKind = Literal["trip_started", "stop_arrived", "stop_departed", "trip_ended"]


class Stop(Protocol):
    """What a trip needs to know about a hotel (routing.hotels.HotelSite fits)."""

    @property
    def node(self) -> str: ...


@dataclass(frozen=True, slots=True)
class Fix:
    t: datetime
    lat: float
    lon: float
    speed_kmh: float | None = None


@dataclass(frozen=True, slots=True)
class TripEvent:
    kind: TripEventKind
    vehicle_id: str
    trip_id: str
    at: datetime
    fence_id: str | None = None  # the airport for trip_started, the hotel for stops


@dataclass(frozen=True, slots=True)
class StopEta:
    hotel_id: str
    eta: datetime
    remaining_s: float


@dataclass(frozen=True, slots=True)
class TripParams:
    confirm_fixes: int = 2  # fixes outside the airport before a trip starts
    min_dwell_s: float = 90.0  # inside a hotel fence this long makes a stop
    exit_grace_s: float = 90.0  # a visit survives a noisy fix outside for this long
    final_dwell_s: float = 1800.0  # without a plan, a stop this long ends the trip
    reorder_window_s: float = 30.0
    stall_window_s: float = 1200.0  # contract: 20 min
    stall_radius_m: float = 50.0  # contract: 50 m
    stop_dwell_s: float = 600.0  # expected time at each intermediate stop, for ETAs
    off_route_m: float = 250.0
    off_route_fixes: int = 3
    pace_memory_s: float = 1800.0  # predicted driving time over which the pace is averaged
    pace_prior_s: float = 600.0  # pseudo-time at pace 1 (shrinks early estimates)
    pace_bounds: tuple[float, float] = (0.6, 3.0)


# --------------------------------------------------------------------------- stall judgement


def stalled_since(
    fixes: Sequence[Fix],
    now: datetime,
    window_s: float = 1200.0,
    radius_m: float = 50.0,
) -> datetime | None:
    """When the stall began, or None: contract section 2's `vehicle_stalled` condition.

    `fixes` are in time order. The latest fixes that all lie within `radius_m` of each other
    form the stalled cluster (the stream's rule, tariq.domain.alerts.stall_start); the
    vehicle is stalled when the clock is `window_s` or more past the first of them. (So a
    vehicle that went silent for `window_s` on a trip counts too: all its fixes of that time
    are within 50 m of each other.)
    """
    first = stall_start([_as_stream_fix(f) for f in fixes if f.t <= now], radius_m)
    if first is None or (now - first).total_seconds() < window_s:
        return None
    return first


def _as_stream_fix(fix: Fix) -> StreamFix:
    # No event id: the fixes keep the order they came in (time order) among equal times.
    return StreamFix(fix.t, "", fix.lat, fix.lon)


class StallWatch:
    """The longest run of latest fixes that are pairwise within `radius_m`.

    The run is judged by the stream's rule (tariq.domain.alerts.stall_start) when asked;
    the fixes before it are then dropped, since a later run never reaches back past it.
    """

    def __init__(self, radius_m: float = 50.0) -> None:
        self.radius_m = radius_m
        self.cluster: list[StreamFix] = []  # the run when last asked, and the fixes since

    def add(self, fix: Fix) -> None:
        self.cluster.append(_as_stream_fix(fix))

    def cluster_start(self) -> datetime | None:
        start = stall_start(self.cluster, self.radius_m)
        if start is not None:
            self.cluster = [f for f in self.cluster if f.at >= start]
        return start

    def clear(self) -> None:
        self.cluster.clear()


# --------------------------------------------------------------------------- map-matching


@dataclass(frozen=True, slots=True)
class EdgeMatch:
    u: str
    v: str
    fraction: float  # 0 at u, 1 at v
    distance_m: float  # from the fix to the road
    lat: float  # the fix snapped onto the road
    lon: float
    road_class: str


class RoadMatcher:
    """Snaps fixes to the nearest road edge (STRtree over the edges in metres)."""

    def __init__(self, graph: nx.DiGraph) -> None:
        self.graph = graph
        self.edges: list[tuple[str, str]] = []
        seen: set[frozenset[str]] = set()
        lats = np.array([d["lat"] for _, d in graph.nodes(data=True)], dtype=float)
        lons = np.array([d["lon"] for _, d in graph.nodes(data=True)], dtype=float)
        self.projection = LocalProjection(float(lats.mean()), float(lons.mean()))
        lines = []
        for u, v in graph.edges:
            key = frozenset((u, v))
            if key in seen:
                continue  # a two-way road is one line; the match reports one direction
            seen.add(key)
            a, b = graph.nodes[u], graph.nodes[v]
            lines.append(
                shapely.LineString(
                    [
                        self.projection.to_xy(a["lat"], a["lon"]),
                        self.projection.to_xy(b["lat"], b["lon"]),
                    ]
                )
            )
            self.edges.append((u, v))
        self._lines = lines
        self._tree = shapely.STRtree(lines)

    def match(self, lat: float, lon: float) -> EdgeMatch:
        return self.match_many([lat], [lon])[0]

    def match_many(self, lats: Sequence[float], lons: Sequence[float]) -> list[EdgeMatch]:
        x, y = self.projection.to_xy_arrays(
            np.asarray(lats, dtype=float), np.asarray(lons, dtype=float)
        )
        points = shapely.points(x, y)
        idx_points, idx_edges = self._tree.query_nearest(
            points, all_matches=False, return_distance=False
        )
        out: list[EdgeMatch | None] = [None] * len(points)
        for p, e in zip(idx_points.tolist(), idx_edges.tolist(), strict=True):
            line = self._lines[e]
            point = points[p]
            along = line.project(point)
            length = line.length
            snapped = line.interpolate(along)
            s_lat, s_lon = self.projection.to_latlon(snapped.x, snapped.y)
            u, v = self.edges[e]
            out[p] = EdgeMatch(
                u,
                v,
                along / length if length > 0 else 0.0,
                float(point.distance(snapped)),
                s_lat,
                s_lon,
                str(self.graph.edges[u, v]["road_class"]),
            )
        return [m for m in out if m is not None]


# --------------------------------------------------------------------------- planned route


class PlannedRoute:
    """A node path with the stops on it, for progress and ETAs."""

    def __init__(
        self, graph: nx.DiGraph, nodes: Sequence[str], stops: Sequence[tuple[str, int]]
    ) -> None:
        self.nodes = list(nodes)
        self.stops = list(stops)  # (hotel_id, index of its node in `nodes`)
        lats = np.array([graph.nodes[n]["lat"] for n in self.nodes], dtype=float)
        lons = np.array([graph.nodes[n]["lon"] for n in self.nodes], dtype=float)
        self.projection = LocalProjection(float(lats.mean()), float(lons.mean()))
        x, y = self.projection.to_xy_arrays(lats, lons)
        self._xy = np.column_stack([x, y])
        seg = np.hypot(np.diff(x), np.diff(y))
        self.cum_m = np.concatenate([[0.0], np.cumsum(seg)])
        self.length_m = float(self.cum_m[-1])
        self.free_s = np.array(
            [
                graph.edges[u, v]["travel_time_s"]
                for u, v in zip(self.nodes, self.nodes[1:], strict=False)
            ],
            dtype=float,
        )
        self.road_class = [
            str(graph.edges[u, v]["road_class"])
            for u, v in zip(self.nodes, self.nodes[1:], strict=False)
        ]
        self._seg_m = seg

    def locate(self, lat: float, lon: float, lo_m: float, hi_m: float) -> tuple[float, float]:
        """(distance along the route, distance off it) of the nearest point within [lo, hi]."""
        if len(self.nodes) < 2:
            px, py = self.projection.to_xy(lat, lon)
            return 0.0, float(math.hypot(px - self._xy[0, 0], py - self._xy[0, 1]))
        px, py = self.projection.to_xy(lat, lon)
        i0 = max(0, int(np.searchsorted(self.cum_m, lo_m, side="right")) - 1)
        i1 = min(len(self._seg_m), int(np.searchsorted(self.cum_m, hi_m, side="left")) + 1)
        i1 = max(i1, i0 + 1)
        a = self._xy[i0:i1]
        b = self._xy[i0 + 1 : i1 + 1]
        d = b - a
        len2 = (d * d).sum(axis=1)
        t = np.where(
            len2 > 0,
            ((px - a[:, 0]) * d[:, 0] + (py - a[:, 1]) * d[:, 1]) / np.maximum(len2, 1e-12),
            0.0,
        )
        t = np.clip(t, 0.0, 1.0)
        qx = a[:, 0] + t * d[:, 0]
        qy = a[:, 1] + t * d[:, 1]
        dist = np.hypot(qx - px, qy - py)
        k = int(np.argmin(dist))
        along = float(self.cum_m[i0 + k] + t[k] * self._seg_m[i0 + k])
        return min(max(along, lo_m), hi_m) if lo_m <= hi_m else along, float(dist[k])

    def edge_at(self, along_m: float) -> tuple[int, float]:
        """(edge index, fraction along it) at a distance along the route."""
        if len(self.nodes) < 2:
            return 0, 1.0
        i = int(np.searchsorted(self.cum_m, along_m, side="right")) - 1
        i = min(max(i, 0), len(self._seg_m) - 1)
        seg = self._seg_m[i]
        frac = (along_m - self.cum_m[i]) / seg if seg > 0 else 1.0
        return i, min(max(frac, 0.0), 1.0)

    def free_time_between(self, a_m: float, b_m: float) -> float:
        """Free-flow seconds between two distances along the route."""
        if len(self.nodes) < 2 or b_m <= a_m:
            return 0.0
        ia, fa = self.edge_at(a_m)
        ib, fb = self.edge_at(b_m)
        if ia == ib:
            return float(self.free_s[ia] * (fb - fa))
        return float(
            self.free_s[ia] * (1 - fa) + self.free_s[ia + 1 : ib].sum() + self.free_s[ib] * fb
        )

    def etas(
        self,
        now: datetime,
        along_m: float,
        model: CongestionModel,
        pace: float,
        dwell_s: float,
        remaining: Sequence[str],
    ) -> list[StopEta]:
        """ETA at each remaining stop, walking the edges ahead in time."""
        wanted = {h for h in remaining}
        stops_at: dict[int, list[str]] = {}
        for hotel, index in self.stops:
            if hotel in wanted:
                stops_at.setdefault(index, []).append(hotel)
        out: list[StopEta] = []
        if len(self.nodes) < 2:
            return [StopEta(h, now, 0.0) for h in remaining]
        i, frac = self.edge_at(along_m)
        elapsed = 0.0
        for index in sorted(k for k in stops_at if k <= i):
            # Reached the stop's node but not yet seen at the door: due now.
            out.extend(StopEta(h, now, 0.0) for h in stops_at.pop(index))
        first = True
        for j in range(i, len(self.free_s)):
            share = (1 - frac) if first else 1.0
            first = False
            at = now + timedelta(seconds=elapsed)
            elapsed += self.free_s[j] * share * model.factor(at, self.road_class[j]) * pace
            for hotel in stops_at.get(j + 1, ()):
                out.append(StopEta(hotel, now + timedelta(seconds=elapsed), elapsed))
                elapsed += dwell_s
        return out


def plan_route(
    graph: nx.DiGraph,
    start: str,
    stops: Sequence[tuple[str, str]],
    paths: PathCache | None = None,
) -> PlannedRoute:
    """The quickest route from `start` through the (hotel_id, node) stops in order (each leg
    from `paths` when given, so that repeated legs are searched once)."""
    nodes = [start]
    marks: list[tuple[str, int]] = []
    for hotel, node in stops:
        if node != nodes[-1]:
            if paths is not None:
                path = list(paths.path(nodes[-1], node))
            else:
                path = nx.dijkstra_path(graph, nodes[-1], node, weight="travel_time_s")
            nodes.extend(path[1:])
        marks.append((hotel, len(nodes) - 1))
    return PlannedRoute(graph, nodes, marks)


# --------------------------------------------------------------------------- the trip machine


@dataclass
class _Visit:
    hotel_id: str
    first_in: datetime
    last_in: datetime
    confirmed: bool = False


@dataclass
class _Vehicle:
    phase: Phase = "idle"
    airport: str | None = None
    trip_id: str | None = None
    started_at: datetime | None = None
    plan: tuple[str, ...] = ()
    visited: list[str] = field(default_factory=list)
    visit: _Visit | None = None
    pending_exit: list[Fix] = field(default_factory=list)
    route: PlannedRoute | None = None
    along_m: float = 0.0
    off_route: int = 0
    actual_s: float = 0.0
    predicted_s: float = 0.0
    last: Fix | None = None
    stall: StallWatch = field(default_factory=StallWatch)
    buffer: list[tuple[datetime, int, Fix]] = field(default_factory=list)
    released_until: datetime | None = None
    newest: datetime | None = None


@dataclass(frozen=True, slots=True)
class VehicleStatus:
    vehicle_id: str
    phase: Phase
    trip_id: str | None
    at: datetime | None
    lat: float | None
    lon: float | None
    progress: float | None  # share of the planned route driven, 0..1
    remaining_stops: tuple[str, ...]
    pace: float


class TripTracker:
    """Per-vehicle trip state machines over a road graph and a fence index."""

    def __init__(
        self,
        graph: nx.DiGraph,
        fences: FenceIndex,
        hotels: Mapping[str, Stop],
        model: CongestionModel | None = None,
        params: TripParams | None = None,
    ) -> None:
        self.graph = graph
        self.fences = fences
        self.hotels = hotels
        self.model = model or CongestionModel()
        self.params = params or TripParams()
        self.nodes = NodeIndex(graph)
        self.late_fixes = 0
        self._vehicles: dict[str, _Vehicle] = {}
        self._seq = 0

    # -- inputs

    def plan(self, vehicle_id: str, stops: Sequence[str]) -> None:
        """Set the hotels this vehicle will stop at, in order (this or its next trip)."""
        unknown = [h for h in stops if h not in self.hotels]
        if unknown:
            raise ValueError(f"unknown hotels in plan: {unknown}")
        v = self._vehicle(vehicle_id)
        v.plan = tuple(stops)
        if v.phase == "on_trip" and v.last is not None:
            self._reroute(v, v.last)

    def feed(self, vehicle_id: str, fix: Fix) -> list[TripEvent]:
        """Take one fix; returns the trip events it (and any fixes it releases) cause."""
        v = self._vehicle(vehicle_id)
        if v.released_until is not None and fix.t < v.released_until:
            self.late_fixes += 1
            return []
        self._seq += 1
        heapq.heappush(v.buffer, (fix.t, self._seq, fix))
        v.newest = fix.t if v.newest is None or fix.t > v.newest else v.newest
        horizon = v.newest - timedelta(seconds=self.params.reorder_window_s)
        return self._release(vehicle_id, v, horizon)

    def flush(self, vehicle_id: str | None = None) -> list[TripEvent]:
        """Process every buffered fix (end of a replay, or a quiet vehicle)."""
        events: list[TripEvent] = []
        ids = [vehicle_id] if vehicle_id is not None else list(self._vehicles)
        for vid in ids:
            v = self._vehicle(vid)
            if v.newest is not None:
                events.extend(self._release(vid, v, v.newest))
        return events

    # -- outputs

    def status(self, vehicle_id: str) -> VehicleStatus:
        v = self._vehicle(vehicle_id)
        progress = None
        lat = lon = None
        if v.last is not None:
            lat, lon = v.last.lat, v.last.lon
        if v.phase == "on_trip" and v.route is not None and v.route.length_m > 0:
            progress = min(1.0, v.along_m / v.route.length_m)
        return VehicleStatus(
            vehicle_id,
            v.phase,
            v.trip_id,
            v.last.t if v.last else None,
            lat,
            lon,
            progress,
            self._remaining(v),
            self._pace(v),
        )

    def etas(self, vehicle_id: str, now: datetime | None = None) -> list[StopEta]:
        """ETA at each remaining planned stop (empty when not on a planned trip)."""
        v = self._vehicle(vehicle_id)
        if v.phase != "on_trip" or v.route is None or v.last is None:
            return []
        now = now or v.last.t
        return v.route.etas(
            now, v.along_m, self.model, self._pace(v), self.params.stop_dwell_s, self._remaining(v)
        )

    def stalled_since(self, vehicle_id: str, now: datetime) -> datetime | None:
        """Start of the vehicle's stall when `vehicle_stalled` holds at `now`, else None."""
        v = self._vehicle(vehicle_id)
        if v.phase != "on_trip":
            return None
        first = v.stall.cluster_start()
        if first is None or (now - first).total_seconds() < self.params.stall_window_s:
            return None
        return first

    # -- the machine

    def _vehicle(self, vehicle_id: str) -> _Vehicle:
        v = self._vehicles.get(vehicle_id)
        if v is None:
            v = self._vehicles[vehicle_id] = _Vehicle(stall=StallWatch(self.params.stall_radius_m))
        return v

    def _release(self, vehicle_id: str, v: _Vehicle, horizon: datetime) -> list[TripEvent]:
        events: list[TripEvent] = []
        while v.buffer and v.buffer[0][0] <= horizon:
            _, _, fix = heapq.heappop(v.buffer)
            v.released_until = fix.t
            events.extend(self._step(vehicle_id, v, fix))
        return events

    def _remaining(self, v: _Vehicle) -> tuple[str, ...]:
        return tuple(h for h in v.plan if h not in v.visited)

    def _pace(self, v: _Vehicle) -> float:
        p = self.params
        pace = (v.actual_s + p.pace_prior_s) / (v.predicted_s + p.pace_prior_s)
        return min(max(pace, p.pace_bounds[0]), p.pace_bounds[1])

    def _step(self, vehicle_id: str, v: _Vehicle, fix: Fix) -> list[TripEvent]:
        inside = self.fences.locate_one(fix.lat, fix.lon)
        kinds = {fid: self.fences.by_id[fid].kind for fid in inside}
        airport = next((f for f in inside if kinds[f] == "airport"), None)
        events: list[TripEvent] = []
        previous = v.last
        v.last = fix
        if v.phase in ("idle", "at_airport"):
            if airport is not None:
                v.phase, v.airport = "at_airport", airport
                v.pending_exit.clear()
            elif v.phase == "at_airport":
                v.pending_exit.append(fix)
                if len(v.pending_exit) >= self.params.confirm_fixes:
                    events.append(self._start(vehicle_id, v, v.pending_exit[0]))
                    for pending in v.pending_exit[1:]:
                        events.extend(self._on_trip(vehicle_id, v, pending, [], None))
                    v.pending_exit.clear()
            return events
        hotels = [f for f in inside if kinds[f] == "hotel"]
        events.extend(self._on_trip(vehicle_id, v, fix, hotels, previous))
        if v.phase == "on_trip" and airport is not None:
            events.append(self._end(vehicle_id, v, fix.t))
            v.phase, v.airport = "at_airport", airport
        return events

    def _start(self, vehicle_id: str, v: _Vehicle, fix: Fix) -> TripEvent:
        v.phase = "on_trip"
        v.trip_id = f"{vehicle_id}@{fix.t.isoformat()}"
        v.started_at = fix.t
        v.visited = []
        v.visit = None
        v.actual_s = v.predicted_s = 0.0
        v.off_route = 0
        v.stall.clear()
        v.stall.add(fix)
        self._reroute(v, fix)
        v.last = fix
        return TripEvent("trip_started", vehicle_id, v.trip_id, fix.t, v.airport)

    def _end(self, vehicle_id: str, v: _Vehicle, at: datetime) -> TripEvent:
        event = TripEvent("trip_ended", vehicle_id, v.trip_id or "", at, None)
        v.phase = "idle"
        v.route = None
        v.visit = None
        v.stall.clear()
        return event

    def _reroute(self, v: _Vehicle, fix: Fix) -> None:
        remaining = self._remaining(v)
        if not remaining:
            v.route = None
            return
        start = self.nodes.nearest(fix.lat, fix.lon)
        try:
            v.route = plan_route(self.graph, start, [(h, self.hotels[h].node) for h in remaining])
        except nx.NetworkXNoPath:
            v.route = None
        v.along_m = 0.0
        v.off_route = 0

    def _on_trip(
        self, vehicle_id: str, v: _Vehicle, fix: Fix, hotels: list[str], previous: Fix | None
    ) -> list[TripEvent]:
        p = self.params
        events: list[TripEvent] = []
        v.stall.add(fix)
        trip_id = v.trip_id or ""
        # Hotel visits: prefer a planned stop when fences overlap, else the nearest door.
        hotel = None
        if hotels:
            remaining = self._remaining(v)
            planned = [h for h in hotels if h in remaining]
            pool = planned or hotels
            hotel = min(
                pool,
                key=lambda h: haversine_m(
                    fix.lat, fix.lon, self.fences.by_id[h].lat, self.fences.by_id[h].lon
                ),
            )
        visit = v.visit
        if visit is not None and (
            (hotel is not None and hotel != visit.hotel_id)
            or (hotel is None and (fix.t - visit.last_in).total_seconds() > p.exit_grace_s)
        ):
            if visit.confirmed:
                events.append(
                    TripEvent("stop_departed", vehicle_id, trip_id, visit.last_in, visit.hotel_id)
                )
            v.visit = visit = None
        if hotel is not None:
            if visit is None:
                v.visit = visit = _Visit(hotel, fix.t, fix.t)
            visit.last_in = fix.t
            dwell = (visit.last_in - visit.first_in).total_seconds()
            if not visit.confirmed and dwell >= p.min_dwell_s:
                visit.confirmed = True
                if visit.hotel_id not in v.visited:
                    v.visited.append(visit.hotel_id)
                events.append(
                    TripEvent("stop_arrived", vehicle_id, trip_id, visit.first_in, visit.hotel_id)
                )
                if v.plan and (visit.hotel_id == v.plan[-1] or not self._remaining(v)):
                    events.append(self._end(vehicle_id, v, visit.first_in))
                    return events
            if visit.confirmed and not v.plan and dwell >= p.final_dwell_s:
                events.append(self._end(vehicle_id, v, visit.first_in))
                return events
        # Progress along the planned route, and the observed pace.
        route = v.route
        if route is not None and previous is not None:
            dt = max(0.0, (fix.t - previous.t).total_seconds())
            reach = dt * 200 / 3.6 + 300  # no bus covers more than 200 km/h
            along, off = route.locate(
                fix.lat, fix.lon, max(0.0, v.along_m - 100), v.along_m + reach
            )
            if off > p.off_route_m:
                v.off_route += 1
                if v.off_route >= p.off_route_fixes:
                    self._reroute(v, fix)
                return events
            v.off_route = 0
            along = max(along, v.along_m)
            if v.visit is None:
                i, _ = route.edge_at(v.along_m)
                predicted = route.free_time_between(v.along_m, along) * self.model.factor(
                    previous.t, route.road_class[i] if route.road_class else "primary"
                )
                forget = math.exp(-predicted / p.pace_memory_s)
                v.actual_s = v.actual_s * forget + dt
                v.predicted_s = v.predicted_s * forget + predicted
            v.along_m = along
        return events
