"""Trip plans with ETAs (routing/eta.py) on the shipped road network."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from routing.eta import Destination, EtaPlanner
from routing.hotels import place_hotels

JED = (21.679, 39.157)


@pytest.fixture(scope="module")
def planner() -> EtaPlanner:
    return EtaPlanner()


def test_a_plan_visits_every_hotel_once_with_etas_that_never_go_back(planner: EtaPlanner) -> None:
    hotels = place_hotels(planner.graph, "makkah", 6, seed=3)
    start = datetime(2025, 5, 20, 8, tzinfo=UTC)
    destinations = [Destination(h.id, h.lat, h.lon) for h in hotels]
    plan = planner.plan(*JED, start, destinations)
    assert sorted(s.hotel_id for s in plan) == sorted(d.hotel_id for d in destinations)
    etas = [s.eta for s in plan]
    assert etas == sorted(etas)
    # Jeddah airport to central Makkah: 45 min to 2 h 30 at most, whatever the congestion.
    assert timedelta(minutes=40) < etas[0] - start < timedelta(hours=2, minutes=30)


def test_no_destinations_no_plan(planner: EtaPlanner) -> None:
    assert planner.plan(*JED, datetime(2025, 5, 20, 8, tzinfo=UTC), []) == []


def test_hotels_on_the_same_road_node_share_a_stop(planner: EtaPlanner) -> None:
    start = datetime(2025, 5, 20, 8, tzinfo=UTC)
    twins = [Destination("A", 21.4245, 39.8290), Destination("B", 21.4245, 39.8290)]
    plan = planner.plan(*JED, start, twins)
    assert [s.hotel_id for s in plan] == ["A", "B"]
    assert plan[0].eta == plan[1].eta
