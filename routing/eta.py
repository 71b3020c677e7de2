"""Trip plans with ETAs for the stream: where a loaded vehicle goes next, and when.

Given a vehicle's position, the time, and the hotels it carries loads for, the plan orders
the stops (nearest neighbour improved by 2-opt over road travel times, routing/trucks.py)
and times the drive under the season's congestion (routing/congestion.py). Pure apart from
the shipped road network, loaded once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import networkx as nx

from routing.congestion import CongestionModel, timed_route
from routing.network import NodeIndex, PathCache, shipped_network
from routing.trucks import TravelTimes, TruckLoad, order_stops, plan_trucks

# 1 Dhul-Qa'dah 1446 (the 2025 season's first arrival day); congestion follows the season.
SEASON_START = datetime.fromisoformat("2025-04-29T00:00:00+03:00")


@dataclass(frozen=True, slots=True)
class Destination:
    hotel_id: str
    lat: float
    lon: float


@dataclass(frozen=True, slots=True)
class PlannedStop:
    hotel_id: str
    eta: datetime


class EtaPlanner:
    def __init__(
        self, graph: nx.DiGraph | None = None, congestion: CongestionModel | None = None
    ) -> None:
        self.graph = graph if graph is not None else shipped_network()
        self.index = NodeIndex(self.graph)
        self.paths = PathCache(self.graph)
        self.travel_times = TravelTimes(self.graph)
        self.congestion = congestion or CongestionModel(season_start=SEASON_START)

    def plan(
        self, lat: float, lon: float, at: datetime, destinations: Sequence[Destination]
    ) -> list[PlannedStop]:
        """Stops in a good order, each with its ETA; unreachable stops are left out."""
        if not destinations:
            return []
        start = self.index.nearest(lat, lon)
        node_of = {d.hotel_id: self.index.nearest(d.lat, d.lon) for d in destinations}
        by_node: dict[str, list[str]] = {}
        for hotel_id, node in node_of.items():
            by_node.setdefault(node, []).append(hotel_id)
        order = sorted(by_node)
        if len(order) > 1:  # only to choose an order; a Dijkstra per stop, kept
            order = order_stops(start, order, self.travel_times.cost)
        stops: list[PlannedStop] = []
        here, elapsed = start, 0.0
        for node in order:
            try:
                path = self.paths.path(here, node)
            except nx.NetworkXNoPath:
                continue
            times = timed_route(self.graph, path, at + timedelta(seconds=elapsed), self.congestion)
            elapsed += times[-1]
            eta = at + timedelta(seconds=elapsed)
            stops.extend(PlannedStop(h, eta) for h in sorted(by_node[node]))
            here = node
        return stops

    def truck_loads(
        self,
        yard: tuple[float, float],
        lanes: dict[str, list[str]],
        hotels: dict[str, tuple[float, float]],
        capacity: int,
    ) -> list[TruckLoad]:
        """Trucks for the bags waiting in the yard by hotel (routing/trucks.py)."""
        yard_node = self.index.nearest(*yard)
        hotel_nodes = {h: self.index.nearest(*hotels[h]) for h in lanes if h in hotels}
        known = {h: tags for h, tags in lanes.items() if h in hotel_nodes}
        return plan_trucks(self.graph, yard_node, known, hotel_nodes, capacity)
