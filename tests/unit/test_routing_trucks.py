"""Truck load planning and the stop-order heuristic."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from routing.hotels import place_hotels
from routing.network import shipped_network
from routing.trucks import order_stops, path_cost, plan_trucks


@st.composite
def instances(draw: st.DrawFn) -> tuple[list[str], dict[tuple[str, str], float]]:
    n = draw(st.integers(min_value=0, max_value=9))
    stops = [f"h{i}" for i in range(n)]
    names = ["depot", *stops]
    costs = {
        (a, b): draw(st.floats(min_value=0, max_value=1000, allow_nan=False))
        for a in names
        for b in names
        if a != b
    }
    given_order = draw(st.permutations(stops))
    return list(given_order), costs


@settings(max_examples=150, deadline=None)
@given(instances())
def test_stop_order_never_worse_than_given(
    instance: tuple[list[str], dict[tuple[str, str], float]],
) -> None:
    given_order, costs = instance

    def cost(a: str, b: str) -> float:
        return costs[(a, b)]

    result = order_stops("depot", given_order, cost)
    assert sorted(result) == sorted(given_order)
    assert path_cost("depot", result, cost) <= path_cost("depot", given_order, cost) + 1e-9


def test_stop_order_on_a_line_is_optimal() -> None:
    positions = {"depot": 0.0, "a": 5.0, "b": 1.0, "c": 3.0, "d": 9.0}

    def cost(x: str, y: str) -> float:
        return abs(positions[x] - positions[y])

    assert order_stops("depot", ["d", "a", "c", "b"], cost) == ["b", "c", "a", "d"]


def test_plan_trucks_assigns_every_bag_once() -> None:
    graph = shipped_network()
    hotels = place_hotels(graph, "makkah", 3500, 1)[:25]
    lanes = {h.id: [f"{h.id}-{k}" for k in range(5 + (i * 7) % 30)] for i, h in enumerate(hotels)}
    lanes[hotels[0].id] = [f"big-{k}" for k in range(130)]  # larger than a truck
    nodes = {h.id: h.node for h in hotels}
    trucks = plan_trucks(graph, "jed:baggage_yard", lanes, nodes, capacity=60)
    carried = [tag for t in trucks for tags in t.bags.values() for tag in tags]
    assert sorted(carried) == sorted(tag for tags in lanes.values() for tag in tags)
    assert all(t.bag_count <= 60 for t in trucks)
    assert all(set(t.stops) == set(t.bags) for t in trucks)
    # A lane that fits in one truck is never split between trucks.
    for hotel, tags in lanes.items():
        if len(tags) <= 60:
            assert sum(1 for t in trucks if hotel in t.bags) == 1
    assert len(trucks) >= -(-len(carried) // 60)
    assert all(t.travel_time_s > 0 for t in trucks)


def test_kept_travel_times_equal_the_dijkstra_table() -> None:
    from routing.network import shipped_network
    from routing.trucks import TravelTimes, travel_time_cost

    graph = shipped_network()
    nodes = sorted(graph.nodes)[::200]
    table = travel_time_cost(graph, nodes)
    kept = TravelTimes(graph, keep=2)  # fewer than the nodes: entries are dropped and redone
    for _ in range(2):
        for a in nodes:
            for b in nodes:
                assert kept.cost(a, b) == pytest.approx(table(a, b), rel=1e-12)
