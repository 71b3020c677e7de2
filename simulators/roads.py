"""The simulator's buses and trucks on the shipped road network.

Each trip is driven by routing.tracks (the one simulation of GPS tracks: season congestion from
routing.congestion, a per-trip pace, per-edge randomness, GPS noise, dropped fixes and outages)
along the quickest route of the road graph: from the arrival airport's bus terminal or baggage
yard to each hotel's door. Routes are planned once per origin/destination pair (a PathCache),
hotels are attached to their nearest road node once per scenario.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final, Literal

import networkx as nx
import numpy as np

from routing.congestion import CongestionModel
from routing.eta import SEASON_START
from routing.geo import AIRPORTS, haversine_m
from routing.network import PLACE_NODES, NodeIndex, PathCache, shipped_network
from routing.tracks import StopSpec, TrackOptions, simulate_track
from routing.trips import PlannedRoute, plan_route
from routing.trucks import order_stops
from simulators.season import Hotel
from simulators.track import Fix

VehicleKind = Literal["bus", "truck"]
# Where each kind of vehicle leaves from at each arrival airport (nodes of the road graph).
ORIGINS: Final[dict[tuple[str, VehicleKind], str]] = {
    ("JED", "bus"): PLACE_NODES["jed_hajj_terminal"],
    ("JED", "truck"): PLACE_NODES["jed_baggage_yard"],
    ("MED", "bus"): PLACE_NODES["med_terminal"],
    ("MED", "truck"): PLACE_NODES["med_baggage_yard"],
}
# A breakdown happens on the open road: farther than the stall rule's exemptions (1 km from
# an airport, 300 m from a hotel) with a margin, so that it raises `vehicle_stalled`.
BREAKDOWN_AIRPORT_M: Final = 2_000.0
BREAKDOWN_HOTEL_M: Final = 600.0
ROUTES_KEPT: Final = 4_096  # planned routes remembered (a season has a few hundred hotels)


@dataclass(frozen=True, slots=True)
class Drive:
    fixes: list[Fix]
    arrivals: list[int]  # at each stop's door, in stop order (epoch seconds)
    end: int  # when the drive ended: at the last door, or at the route's last node


@dataclass(frozen=True, slots=True)
class TripTruth:
    """A generated trip as it really went, for the ETA quality report."""

    vehicle_id: str
    kind: VehicleKind
    airport: str
    stops: tuple[tuple[str, int], ...]  # (hotel_id, arrival at its door), in visiting order
    fixes: tuple[Fix, ...]  # the trip's fixes from the origin to the last door


class Roads:
    """The road graph as the generator uses it (one per scenario)."""

    def __init__(
        self,
        hotels: Mapping[str, Hotel],
        gps_interval_s: int,
        graph: nx.DiGraph | None = None,
        model: CongestionModel | None = None,
    ) -> None:
        self.graph = graph if graph is not None else shipped_network()
        self.hotels = hotels
        self.paths = PathCache(self.graph)
        self.model = model or CongestionModel(season_start=SEASON_START)
        # No wait at the origin: the generator's departure time is when the wheels turn.
        self.options = TrackOptions(fix_interval_s=float(gps_interval_s), wait_before_s=0.0)
        index = NodeIndex(self.graph)
        self.node_of = {h.hotel_id: index.nearest(h.lat, h.lon) for h in hotels.values()}
        self._hotel_points = [(h.lat, h.lon) for h in hotels.values()]
        self._routes: dict[tuple[str, ...], PlannedRoute] = {}

    def order(self, origin: str, hotel_ids: Sequence[str]) -> list[str]:
        """A good stop order (the truck planner's: nearest neighbour + 2-opt, free flow)."""
        node_of = self.node_of

        def cost(a: str, b: str) -> float:
            return self.paths.seconds(node_of.get(a, a), node_of.get(b, b))

        return order_stops(origin, hotel_ids, cost)

    def route(self, origin: str, hotel_ids: Sequence[str]) -> PlannedRoute:
        """The quickest route from `origin` through the hotels in the given order (kept:
        every bus of a hotel takes the same one)."""
        key = (origin, *hotel_ids)
        route = self._routes.get(key)
        if route is None:
            if len(self._routes) >= ROUTES_KEPT:
                self._routes.clear()
            stops = [(h, self.node_of[h]) for h in hotel_ids]
            route = self._routes[key] = plan_route(self.graph, origin, stops, self.paths)
        return route

    def position(self, node: str) -> tuple[float, float]:
        data = self.graph.nodes[node]
        return float(data["lat"]), float(data["lon"])

    def breakdown_index(self, route: PlannedRoute, share: float) -> int:
        """The route node where a vehicle that broke down after `share` of the free-flow
        drive stands: the first from there on (else the last before) on the open road."""
        cumulative = np.concatenate([[0.0], np.cumsum(route.free_s)])
        total = float(cumulative[-1])
        at = int(np.searchsorted(cumulative, share * total))
        at = min(max(at, 1), len(route.nodes) - 1)
        candidates = [*range(at, len(route.nodes)), *range(at - 1, 0, -1)]
        for k in candidates:
            if self._open_road(self.position(route.nodes[k])):
                return k
        return at

    def _open_road(self, point: tuple[float, float]) -> bool:
        return all(
            haversine_m(*point, *airport) > BREAKDOWN_AIRPORT_M for airport in AIRPORTS.values()
        ) and all(haversine_m(*point, *h) > BREAKDOWN_HOTEL_M for h in self._hotel_points)

    def drive(
        self,
        nodes: Sequence[str],
        stops: Sequence[tuple[str, int]],
        depart: int,
        seed: int,
        dwell_s: Sequence[float] = (),
    ) -> Drive:
        """Drive `nodes` from `depart`, stopping at each (hotel_id, node index) door for its
        `dwell_s` (0 when not given; the drive ends on reaching the last door)."""
        specs = [
            StopSpec(
                index,
                self.hotels[hotel].lat,
                self.hotels[hotel].lon,
                dwell_s[n] if n < len(dwell_s) else 0.0,
            )
            for n, (hotel, index) in enumerate(stops)
        ]
        track = simulate_track(
            self.graph,
            nodes,
            datetime.fromtimestamp(depart, UTC),
            self.model,
            seed=seed,
            stops=specs,
            options=self.options,
        )
        fixes = [
            Fix(round(f.t.timestamp()), round(f.lat, 6), round(f.lon, 6), f.speed_kmh, f.heading)
            for f in track.fixes
        ]
        # Whole seconds, never before the vehicle is really there.
        arrivals = [math.ceil(a.timestamp()) for a in track.stop_arrivals]
        return Drive(fixes, arrivals, math.ceil(track.end.timestamp()))
