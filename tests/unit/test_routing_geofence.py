"""Geofences: the batch index and enter/exit sequences."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from routing.geofence import Fence, FenceIndex, GeofenceTracker, circle, default_fences
from routing.hotels import place_hotels
from routing.network import shipped_network

T0 = datetime(2025, 5, 20, 8, tzinfo=UTC)


@pytest.fixture(scope="module")
def index() -> FenceIndex:
    graph = shipped_network()
    hotels = place_hotels(graph, "makkah", 3500, 1) + place_hotels(graph, "madinah", 450, 1)
    return FenceIndex(default_fences(graph, hotels))


def test_places_fall_in_their_fences(index: FenceIndex) -> None:
    graph = shipped_network()
    yard = graph.nodes["jed:baggage_yard"]
    assert {"airport:JED", "yard:JED"} <= set(index.locate_one(yard["lat"], yard["lon"]))
    exit_ = graph.nodes["jed:exit"]
    assert "airport:JED" not in index.locate_one(exit_["lat"], exit_["lon"])
    hotel = index.by_id["MAK-H0001"]
    found = index.locate_one(hotel.lat, hotel.lon)
    assert "MAK-H0001" in found
    assert sum(1 for f in found if index.by_id[f].kind == "district") == 1


def test_batch_locate_matches_one_by_one(index: FenceIndex) -> None:
    rng = random.Random(3)
    hotels = [f for f in index.fences if f.kind == "hotel"]
    lats, lons = [], []
    for _ in range(500):
        h = rng.choice(hotels)
        lats.append(h.lat + rng.gauss(0, 0.0003))
        lons.append(h.lon + rng.gauss(0, 0.0003))
    batch = index.locate(lats, lons)
    assert batch == [index.locate_one(a, b) for a, b in zip(lats, lons, strict=True)]
    for ids, lat, lon in zip(batch, lats, lons, strict=True):
        for fence_id in ids:
            assert index.by_id[fence_id].polygon.covers(__import__("shapely").Point(lon, lat))
    assert any(ids for ids in batch)


def test_enter_exit_sequence() -> None:
    a = Fence("A", "hotel", "A", 21.42, 39.82, circle(21.42, 39.82, 100))
    b = Fence("B", "district", "B", 21.42, 39.82, circle(21.42, 39.821, 300))
    tracker = GeofenceTracker(FenceIndex([a, b]))
    path = [
        (21.40, 39.82),
        (21.4197, 39.821),
        (21.42, 39.82),
        (21.42, 39.82),
        (21.4197, 39.821),
        (21.40, 39.82),
    ]
    events = []
    for k, (lat, lon) in enumerate(path):
        events += tracker.feed("bus-1", T0 + timedelta(minutes=k), lat, lon)
    assert [(e.fence_id, e.kind, (e.at - T0).seconds // 60) for e in events] == [
        ("B", "entered", 1),
        ("A", "entered", 2),
        ("A", "exited", 4),
        ("B", "exited", 5),
    ]
    # A stale fix (older than the latest) changes nothing.
    assert tracker.feed("bus-1", T0, 21.42, 39.82) == []
    assert tracker.inside("bus-1") == frozenset()


def test_batch_feed_keeps_vehicles_apart() -> None:
    a = Fence("A", "airport", "A", 21.42, 39.82, circle(21.42, 39.82, 500))
    tracker = GeofenceTracker(FenceIndex([a]))
    events = tracker.feed_many(
        [
            ("v1", T0, 21.42, 39.82),
            ("v2", T0, 21.50, 39.82),
            ("v1", T0 + timedelta(minutes=1), 21.50, 39.82),
            ("v2", T0 + timedelta(minutes=1), 21.42, 39.82),
        ]
    )
    assert [(e.vehicle_id, e.kind) for e in events] == [
        ("v1", "entered"),
        ("v1", "exited"),
        ("v2", "entered"),
    ]
