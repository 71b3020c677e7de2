"""The generator's buses and trucks drive the road graph, deterministically by seed, and the
ETA report of the stream's planner runs on their trips."""

from __future__ import annotations

import io
from collections import defaultdict
from datetime import datetime
from typing import Any

import orjson

from routing.geo import AIRPORTS, haversine_m
from routing.network import shipped_network
from routing.trips import RoadMatcher
from simulators.eta_report import ESTIMATORS, MOMENTS, run_eta_report, summary_lines
from simulators.faults import FaultRates
from simulators.generate import Scenario, generate
from simulators.roads import TripTruth
from simulators.season import build_schedule
from tariq.domain.events import InvalidEvent, decode_event

# GPS noise is 8 m (σ, per axis) on the road, parked jitter 4 m: 50 m is over six σ.
ON_ROAD_M = 50.0
# A hotel's door is up to a few hundred metres from its road node (the driveway is no edge).
DOOR_ZONE_M = 300.0
RATES = FaultRates().with_overrides({"bus_breakdown": 0.3})


def scenario(seed: int) -> tuple[bytes, Scenario, list[TripTruth]]:
    schedule = build_schedule("day", seed=seed, pilgrims=900, flights=3, rates=RATES)
    out = io.BytesIO()
    trips: list[TripTruth] = []
    result = generate(schedule, out.write, on_trip=trips.append)
    return out.getvalue(), result, trips


DATA, SCENARIO, TRIPS = scenario(5)


def _epoch(text: object) -> int:
    return int(datetime.fromisoformat(str(text)).timestamp())


def positions(data: bytes) -> list[dict[str, Any]]:
    found = []
    for line in data.splitlines():
        try:
            event = decode_event(line)
        except InvalidEvent:
            continue
        if event.type == "vehicle.position":
            found.append(orjson.loads(line))
    return found


def test_every_fix_away_from_a_door_lies_on_a_road_of_the_network() -> None:
    fixes = positions(DATA)
    doors = [(h.lat, h.lon) for h in SCENARIO.schedule.hotels]
    on_road = [
        f for f in fixes if all(haversine_m(f["lat"], f["lon"], *d) > DOOR_ZONE_M for d in doors)
    ]
    # Most of a trip is on the road, not at a door: the check covers the bulk of the fixes.
    assert len(on_road) > 0.7 * len(fixes) > 0
    matcher = RoadMatcher(shipped_network())
    matches = matcher.match_many([f["lat"] for f in on_road], [f["lon"] for f in on_road])
    off = [(f, round(m.distance_m)) for f, m in zip(on_road, matches, strict=True)]
    assert [x for x in off if x[1] > ON_ROAD_M] == []
    # Both kinds drive, and every fix keeps a plausible speed and a heading.
    assert {f["kind"] for f in fixes} == {"bus", "truck"}
    assert all(0 <= f["speed_kmh"] <= 140 and 0 <= f["heading"] < 360 for f in fixes)


def test_a_moving_vehicle_follows_its_road_from_fix_to_fix() -> None:
    # Consecutive fixes of a trip are never farther apart than the speed limit allows (no
    # teleporting between roads), and the trips end at their hotel doors.
    hotels = {h.hotel_id: (h.lat, h.lon) for h in SCENARIO.schedule.hotels}
    assert TRIPS
    for trip in TRIPS:
        for a, b in zip(trip.fixes, trip.fixes[1:], strict=False):
            assert haversine_m(a.lat, a.lon, b.lat, b.lon) <= 130 / 3.6 * (b.t - a.t) + 60
        assert trip.fixes[-1].t <= trip.stops[-1][1]
        assert [t for _, t in trip.stops] == sorted(t for _, t in trip.stops)
        start = trip.fixes[0]
        assert haversine_m(start.lat, start.lon, *AIRPORTS[trip.airport]) < 1_000
    # After its last stop a vehicle stands at that hotel's door (a few metres of jitter).
    by_vehicle: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for f in positions(DATA):
        by_vehicle[str(f["vehicle_id"])].append(f)
    parked = 0
    for trip in TRIPS:
        hotel, arrived = trip.stops[-1]
        for f in by_vehicle[trip.vehicle_id]:
            if _epoch(f["occurred_at"]) > arrived:
                assert haversine_m(f["lat"], f["lon"], *hotels[hotel]) < 20
                parked += 1
    assert parked >= len(TRIPS)


def test_check_ins_and_deliveries_follow_the_arrival_at_the_door() -> None:
    arrived: dict[tuple[str, str], int] = {}
    for trip in TRIPS:
        for hotel, t in trip.stops:
            arrived[(trip.vehicle_id, hotel)] = t
    delivered: dict[str, list[tuple[str, int]]] = defaultdict(list)
    loaded: dict[str, str] = {}
    for e in (orjson.loads(line) for line in DATA.splitlines() if b'"bag.scanned"' in line):
        try:
            checkpoint, tag = e["checkpoint"], e["tag"]
            at = _epoch(e["occurred_at"])
        except (KeyError, ValueError):
            continue  # an injected malformed line
        if checkpoint == "truck_loaded":
            loaded[tag] = e["vehicle_id"]
        elif checkpoint == "delivered":
            delivered[tag].append((e["location"], at))
    checked = 0
    for tag, drops in delivered.items():
        truck = loaded.get(tag)
        location, at = min(drops, key=lambda d: d[1])  # the first drop is off the truck
        if truck is not None and (truck, location) in arrived:
            assert at >= arrived[(truck, location)]
            checked += 1
    assert checked > 100


def test_same_seed_same_tracks_other_seed_other_tracks() -> None:
    again, _, trips = scenario(5)
    assert again == DATA
    assert trips == TRIPS
    other, _, _ = scenario(6)
    assert positions(other) != positions(DATA)


def test_breakdowns_happen_on_the_open_road_and_raise_their_alert() -> None:
    stalled = {a.vehicle_id or "" for a in SCENARIO.result.alerts if a.type == "vehicle_stalled"}
    hotels = [(h.lat, h.lon) for h in SCENARIO.schedule.hotels]
    by_vehicle: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for f in positions(DATA):
        by_vehicle[str(f["vehicle_id"])].append(f)
    # Nothing but a broken-down bus stalls (no false stall in traffic or at a door).
    assert stalled and stalled <= set(SCENARIO.breakdowns)
    for bus in stalled:
        spot = max(by_vehicle[bus], key=lambda f: _epoch(f["occurred_at"]))
        assert all(haversine_m(spot["lat"], spot["lon"], *a) > 1_000 for a in AIRPORTS.values())
        assert all(haversine_m(spot["lat"], spot["lon"], *h) > 300 for h in hotels)
    # A broken-down bus not stalled at the end was cut by it: it had not been standing 20 min.
    for bus in set(SCENARIO.breakdowns) - stalled:
        latest = max((_epoch(f["occurred_at"]) for f in by_vehicle[bus]), default=SCENARIO.end)
        assert SCENARIO.end - latest < 20 * 60


def test_the_eta_report_runs_on_a_small_scenario() -> None:
    report = run_eta_report("day", seed=5, pilgrims=600, flights=2)
    rows = report["rows"]
    assert report["scenario"]["trips"] > 0
    overall = {(r["estimator"], r["moment"]): r for r in rows if r["kind"] == "all"}
    assert set(overall) == {(e, m) for e in ESTIMATORS for m in MOMENTS}
    for row in rows:
        assert row["n"] > 0
        assert 0 <= row["median_abs_min"] <= row["p90_abs_min"]
    # Free flow ignores the season's traffic: its ETAs are early, and worse than the planner's.
    planner, free = overall[("stream planner", "start")], overall[("free flow", "start")]
    assert free["median_signed_min"] < 0
    assert planner["median_abs_min"] < free["median_abs_min"]
    # Half-way, with half the road behind, the planner's error shrinks.
    assert overall[("stream planner", "halfway")]["median_abs_min"] <= planner["median_abs_min"]
    assert len(summary_lines(report)) == 2 + len(rows)
