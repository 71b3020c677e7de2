"""Trip detection, map-matching, ETAs and the stall judgement."""

from __future__ import annotations

import itertools
import random
from datetime import datetime, timedelta

import pytest

from routing.congestion import LOCAL_TZ, CongestionModel
from routing.geo import offset
from routing.geofence import FenceIndex, default_fences
from routing.hotels import HotelSite, place_hotels
from routing.network import shipped_network
from routing.tracks import Stall, StopSpec, Track, TrackOptions, simulate_track
from routing.trips import Fix, RoadMatcher, TripEvent, TripTracker, plan_route, stalled_since

SEASON = datetime(2025, 4, 29, tzinfo=LOCAL_TZ)
START = datetime(2025, 5, 20, 14, tzinfo=LOCAL_TZ)


@pytest.fixture(scope="module")
def world() -> tuple[FenceIndex, dict[str, HotelSite]]:
    graph = shipped_network()
    hotels = place_hotels(graph, "makkah", 3500, 1) + place_hotels(graph, "madinah", 450, 1)
    return FenceIndex(default_fences(graph, hotels)), {h.id: h for h in hotels}


def _trip(
    world: tuple[FenceIndex, dict[str, HotelSite]],
    stop_ids: list[str],
    seed: int,
    stall: Stall | None = None,
    options: TrackOptions | None = None,
) -> tuple[Track, TripTracker]:
    index, hotels = world
    graph = shipped_network()
    route = plan_route(graph, "jed:baggage_yard", [(h, hotels[h].node) for h in stop_ids])
    model = CongestionModel(SEASON)
    track = simulate_track(
        graph,
        route.nodes,
        START,
        model,
        seed=seed,
        stops=[StopSpec(i, hotels[h].lat, hotels[h].lon) for h, i in route.stops],
        stall=stall,
        options=options,
    )
    tracker = TripTracker(graph, index, hotels, model)
    tracker.plan("truck-7", stop_ids)
    return track, tracker


def _replay(tracker: TripTracker, fixes: list[Fix]) -> list[TripEvent]:
    events: list[TripEvent] = []
    for fix in fixes:
        events += tracker.feed("truck-7", fix)
    return events + tracker.flush()


def _fixes(track: Track) -> list[Fix]:
    return [Fix(f.t, f.lat, f.lon, f.speed_kmh) for f in track.fixes]


STOPS = ["MAK-H0011", "MAK-H0201", "MAK-H1000"]


def test_trip_from_a_noisy_track_with_gaps(world: tuple[FenceIndex, dict[str, HotelSite]]) -> None:
    options = TrackOptions(noise_m=10, drop_share=0.15, gap_chance=0.01, gap_s=(60, 240))
    track, tracker = _trip(world, STOPS, seed=11, options=options)
    events = _replay(tracker, _fixes(track))
    kinds = [(e.kind, e.fence_id) for e in events]
    assert kinds[0] == ("trip_started", "airport:JED")
    assert [f for k, f in kinds if k == "stop_arrived"] == STOPS
    assert kinds[-1] == ("trip_ended", None)
    assert sum(1 for k, _ in kinds if k == "trip_started") == 1
    arrivals = [e.at for e in events if e.kind == "stop_arrived"]
    for seen, truth in zip(arrivals, track.stop_arrivals, strict=True):
        assert abs((seen - truth).total_seconds()) < 120
    started = events[0].at
    assert track.departed_at < started < track.departed_at + timedelta(minutes=10)
    assert events[-1].at == arrivals[-1]
    assert tracker.status("truck-7").phase == "idle"


def test_out_of_order_fixes_within_the_window_change_nothing(
    world: tuple[FenceIndex, dict[str, HotelSite]],
) -> None:
    track, tracker = _trip(world, STOPS[:2], seed=5)
    in_order = _replay(tracker, _fixes(track))
    shuffled = _fixes(track)
    rng = random.Random(2)
    for i in range(0, len(shuffled) - 1, 2):
        if rng.random() < 0.5:
            shuffled[i], shuffled[i + 1] = shuffled[i + 1], shuffled[i]
    _, tracker2 = _trip(world, STOPS[:2], seed=5)
    assert _replay(tracker2, shuffled) == in_order
    assert tracker2.late_fixes == 0


def test_one_noisy_fix_outside_the_airport_starts_no_trip(
    world: tuple[FenceIndex, dict[str, HotelSite]],
) -> None:
    index, hotels = world
    graph = shipped_network()
    tracker = TripTracker(graph, index, hotels)
    yard = graph.nodes["jed:baggage_yard"]
    far = offset(yard["lat"], yard["lon"], 3000, 0)
    t = START
    fixes = [(yard["lat"], yard["lon"])] * 5 + [far] + [(yard["lat"], yard["lon"])] * 5
    events: list[TripEvent] = []
    for lat, lon in fixes:
        t += timedelta(seconds=10)
        events += tracker.feed("bus-1", Fix(t, lat, lon))
    events += tracker.flush()
    assert events == []
    assert tracker.status("bus-1").phase == "at_airport"


def test_eta_at_start_and_halfway(world: tuple[FenceIndex, dict[str, HotelSite]]) -> None:
    track, tracker = _trip(world, STOPS, seed=21)
    truth = track.stop_arrivals[-1]
    halfway = track.departed_at + (truth - track.departed_at) / 2
    errors: dict[str, float] = {}
    for fix in _fixes(track):
        events = tracker.feed("truck-7", fix)
        if any(e.kind == "trip_started" for e in events):
            etas = tracker.etas("truck-7", fix.t)
            assert [e.hotel_id for e in etas] == STOPS
            assert all(a.eta <= b.eta for a, b in itertools.pairwise(etas))
            errors["start"] = abs((etas[-1].eta - truth).total_seconds())
        if "half" not in errors and fix.t >= halfway and "start" in errors:
            errors["half"] = abs((tracker.etas("truck-7", fix.t)[-1].eta - truth).total_seconds())
            progress = tracker.status("truck-7").progress
            assert progress is not None and 0.3 < progress < 0.95
    duration = (truth - track.departed_at).total_seconds()
    assert errors["start"] < 0.3 * duration
    assert errors["half"] < 0.15 * duration


def test_stall_on_a_trip_is_judged(world: tuple[FenceIndex, dict[str, HotelSite]]) -> None:
    track, tracker = _trip(world, STOPS[:1], seed=8, stall=Stall(after_s=1200, duration_s=1800))
    stalled_at: list[datetime] = []
    for fix in _fixes(track):
        tracker.feed("truck-7", fix)
        since = tracker.stalled_since("truck-7", fix.t)
        if since is not None:
            stalled_at.append(fix.t)
    assert stalled_at, "a 30 min stall must be judged"
    first = stalled_at[0]
    stall_begins = track.departed_at + timedelta(seconds=1200)
    # Raised 20 min (+ the reorder window and sampling) after the vehicle stopped.
    assert stall_begins + timedelta(minutes=20) <= first + timedelta(seconds=60)
    assert first <= stall_begins + timedelta(minutes=25)
    assert stalled_at[-1] <= stall_begins + timedelta(minutes=31)


def test_stalled_since_follows_the_contract() -> None:
    t0 = START
    still = [
        Fix(t0 + timedelta(minutes=m), *offset(21.5, 39.5, (m % 3) * 10, 0)) for m in range(0, 25)
    ]
    assert stalled_since(still, t0 + timedelta(minutes=19)) is None
    assert stalled_since(still, t0 + timedelta(minutes=20)) == t0
    # A fix 80 m away 10 minutes in: the stall only counts from the fix after it.
    moved = list(still)
    moved[10] = Fix(moved[10].t, *offset(21.5, 39.5, 80, 0))
    assert stalled_since(moved, t0 + timedelta(minutes=24)) is None
    assert stalled_since(moved, t0 + timedelta(minutes=31)) == t0 + timedelta(minutes=11)
    # Thresholds are parameters.
    assert stalled_since(still, t0 + timedelta(minutes=10), window_s=600) == t0
    assert stalled_since(still, t0 + timedelta(minutes=24), radius_m=5) is None


def test_map_matching_snaps_to_the_nearest_road() -> None:
    graph = shipped_network()
    matcher = RoadMatcher(graph)
    u, v = "mak:r05c10", "mak:r05c11"
    a, b = graph.nodes[u], graph.nodes[v]
    mid = ((a["lat"] + b["lat"]) / 2, (a["lon"] + b["lon"]) / 2)
    fix = offset(*mid, 0, 20)
    match = matcher.match(*fix)
    assert {match.u, match.v} == {u, v}
    assert 15 < match.distance_m < 25
    assert 0.3 < match.fraction < 0.7
    many = matcher.match_many([fix[0], a["lat"]], [fix[1], a["lon"]])
    assert len(many) == 2 and many[1].distance_m < 1
