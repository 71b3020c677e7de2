"""Truck load planning: hotel lanes of sorted bags → trucks, and each truck's stop order.

Bags arrive in the baggage yard sorted by hotel lane. Lanes are ordered along one tour of all
their hotels (nearest neighbour + 2-opt over road travel times) and cut into truckloads of at
most `capacity` bags ("route first, cluster second"), so each truck serves neighbouring hotels;
a lane larger than a truck fills whole trucks first. Each truck's stop order is then improved
by nearest neighbour + 2-opt; :func:`order_stops` never returns an order slower than the one
it was given.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import networkx as nx

Cost = Callable[[str, str], float]


def path_cost(start: str, order: Sequence[str], cost: Cost) -> float:
    """Travel time from `start` through the stops in order (an open path: trucks go back empty)."""
    total = 0.0
    here = start
    for stop in order:
        total += cost(here, stop)
        here = stop
    return total


def nearest_neighbour(start: str, stops: Sequence[str], cost: Cost) -> list[str]:
    left = list(stops)
    order: list[str] = []
    here = start
    while left:
        nxt = min(left, key=lambda s: (cost(here, s), s))
        left.remove(nxt)
        order.append(nxt)
        here = nxt
    return order


def two_opt(start: str, order: Sequence[str], cost: Cost, max_rounds: int = 50) -> list[str]:
    """Reverse segments while that shortens the path (full re-costing: travel times may be
    asymmetric on one-way streets)."""
    best = list(order)
    best_cost = path_cost(start, best, cost)
    for _ in range(max_rounds):
        improved = False
        for i in range(len(best) - 1):
            for j in range(i + 1, len(best)):
                candidate = best[:i] + best[i : j + 1][::-1] + best[j + 1 :]
                c = path_cost(start, candidate, cost)
                if c < best_cost - 1e-9:
                    best, best_cost, improved = candidate, c, True
        if not improved:
            break
    return best


def order_stops(start: str, given: Sequence[str], cost: Cost) -> list[str]:
    """A good stop order: the better of 2-opt from nearest neighbour and 2-opt from `given`."""
    if len(given) <= 1:
        return list(given)
    candidates = [
        two_opt(start, nearest_neighbour(start, given, cost), cost),
        two_opt(start, given, cost),
    ]
    return min(candidates, key=lambda o: path_cost(start, o, cost))


class TravelTimes:
    """Free-flow road travel times to a node from every node: one Dijkstra on the reversed
    graph per destination, kept for the `keep` destinations used last. A planner that
    orders a vehicle's stops again and again (the stream replans every few minutes of
    event time) then pays for each hotel's Dijkstra once, not every time."""

    def __init__(self, graph: nx.DiGraph, keep: int = 512) -> None:
        self._reverse = graph.reverse(copy=False)
        self._keep = keep
        self._to: OrderedDict[str, dict[str, float]] = OrderedDict()

    def to(self, node: str) -> dict[str, float]:
        found = self._to.get(node)
        if found is None:
            found = nx.single_source_dijkstra_path_length(
                self._reverse, node, weight="travel_time_s"
            )
            self._to[node] = found
            if len(self._to) > self._keep:
                self._to.popitem(last=False)
        else:
            self._to.move_to_end(node)
        return found

    def cost(self, a: str, b: str) -> float:
        return float(self.to(b).get(a, float("inf")))


def travel_time_cost(graph: nx.DiGraph, nodes: Sequence[str]) -> Cost:
    """Road travel time (free flow) between the given nodes, from one Dijkstra per node."""
    table: dict[str, dict[str, float]] = {}
    wanted = set(nodes)
    for node in wanted:
        lengths = nx.single_source_dijkstra_path_length(graph, node, weight="travel_time_s")
        table[node] = {n: float(lengths[n]) for n in wanted if n in lengths}

    def cost(a: str, b: str) -> float:
        return table[a].get(b, float("inf"))

    return cost


@dataclass(frozen=True, slots=True)
class TruckLoad:
    """One truck: the tags it carries per hotel, and the hotels in stop order."""

    truck_index: int
    stops: tuple[str, ...]  # hotel ids in stop order
    bags: dict[str, tuple[str, ...]]  # hotel id → tags
    travel_time_s: float  # free flow, yard → last stop

    @property
    def bag_count(self) -> int:
        return sum(len(t) for t in self.bags.values())


def plan_trucks(
    graph: nx.DiGraph,
    yard_node: str,
    lanes: Mapping[str, Sequence[str]],
    hotel_nodes: Mapping[str, str],
    capacity: int,
) -> list[TruckLoad]:
    """Assign the bags of each hotel lane (hotel id → tags) to trucks and order their stops."""
    if capacity < 1:
        raise ValueError("a truck carries at least one bag")
    hotels = [h for h in sorted(lanes) if lanes[h]]
    missing = [h for h in hotels if h not in hotel_nodes]
    if missing:
        raise ValueError(f"no road node for hotels {missing}")
    node_cost = travel_time_cost(graph, [yard_node, *(hotel_nodes[h] for h in hotels)])

    def cost(a: str, b: str) -> float:
        return node_cost(hotel_nodes.get(a, a), hotel_nodes.get(b, b))

    tour = order_stops(yard_node, hotels, cost)
    loads: list[dict[str, tuple[str, ...]]] = []
    current: dict[str, tuple[str, ...]] = {}
    room = capacity
    for hotel in tour:
        tags = tuple(lanes[hotel])
        while tags:
            if room == 0:
                loads.append(current)
                current, room = {}, capacity
            take = tags[:room]
            if len(take) < len(tags) and current:
                # A lane that does not fit starts a fresh truck rather than splitting twice.
                loads.append(current)
                current, room = {}, capacity
                take = tags[:room]
            current[hotel] = current.get(hotel, ()) + take
            room -= len(take)
            tags = tags[len(take) :]
    if current:
        loads.append(current)
    trucks = []
    for k, load in enumerate(loads):
        given = [h for h in tour if h in load]
        stops = order_stops(yard_node, given, cost)
        trucks.append(TruckLoad(k, tuple(stops), load, path_cost(yard_node, stops, cost)))
    return trucks
