"""ETA quality on simulated trips: ``python -m routing.eta_quality [--trips N] [--seed S]``.

Trips are driven along the shipped network by routing.tracks (season congestion, a per-trip
pace, per-edge randomness, GPS noise, dropped fixes and outages) and replayed into a
TripTracker. For each trip the ETA at its last stop is read at trip start and when half of the
true driving time has passed, and compared with the true arrival. Three estimators are
reported: the full one (congestion + observed pace), congestion only, and free flow.
"""

from __future__ import annotations

import argparse
import random
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import timedelta

from routing.congestion import CongestionModel, free_flow_model
from routing.eta import SEASON_START
from routing.geofence import FenceIndex, default_fences
from routing.hotels import HotelSite, place_hotels
from routing.network import shipped_network
from routing.tracks import StopSpec, simulate_track
from routing.trips import Fix, TripParams, TripTracker, plan_route


@dataclass(frozen=True, slots=True)
class TripError:
    kind: str
    at_start_s: float
    halfway_s: float
    duration_s: float


def run(trips: int = 60, seed: int = 7) -> dict[str, list[TripError]]:
    graph = shipped_network()
    makkah = place_hotels(graph, "makkah", 3500, seed=1)
    madinah = place_hotels(graph, "madinah", 450, seed=1)
    hotels: dict[str, HotelSite] = {h.id: h for h in makkah + madinah}
    index = FenceIndex(default_fences(graph, hotels.values()))
    model = CongestionModel(SEASON_START)
    params = TripParams()
    estimators = {
        "congestion+pace": (model, params),
        "congestion only": (model, replace(params, pace_bounds=(1.0, 1.0))),
        "free flow": (free_flow_model(), replace(params, pace_bounds=(1.0, 1.0))),
    }
    rng = random.Random(seed)
    kinds: Sequence[tuple[str, str, list[HotelSite], int]] = (
        ("JED yard → Makkah (truck)", "jed:baggage_yard", makkah, 3),
        ("JED terminal → Makkah (bus)", "jed:hajj_terminal", makkah, 1),
        ("MED yard → Madinah (truck)", "med:baggage_yard", madinah, 3),
        ("MED terminal → Makkah (bus)", "med:terminal", makkah, 1),
    )
    results: dict[str, list[TripError]] = {name: [] for name in estimators}
    for n in range(trips):
        kind, origin, pool, count = kinds[n % len(kinds)]
        stops = rng.sample(pool, count)
        route = plan_route(graph, origin, [(h.id, h.node) for h in stops])
        start = SEASON_START + timedelta(
            days=rng.randint(0, 34), minutes=rng.randint(0, 24 * 60 - 1)
        )
        track = simulate_track(
            graph,
            route.nodes,
            start,
            model,
            seed=rng.randrange(1 << 30),
            stops=[StopSpec(i, hotels[h].lat, hotels[h].lon) for h, i in route.stops],
        )
        truth = track.stop_arrivals[-1]
        last = stops[-1].id
        halfway = track.departed_at + (truth - track.departed_at) / 2
        for name, (m, p) in estimators.items():
            tracker = TripTracker(graph, index, hotels, m, p)
            tracker.plan("V", [h.id for h in stops])
            at_start: float | None = None
            at_half: float | None = None
            for fix in track.fixes:
                events = tracker.feed("V", Fix(fix.t, fix.lat, fix.lon, fix.speed_kmh))
                started = any(e.kind == "trip_started" for e in events)
                if (started and at_start is None) or (at_half is None and fix.t >= halfway):
                    eta = next(
                        (e.eta for e in tracker.etas("V", fix.t) if e.hotel_id == last), None
                    )
                    if eta is None:
                        continue
                    error = abs((eta - truth).total_seconds())
                    if at_start is None:
                        at_start = error
                    else:
                        at_half = error
            if at_start is not None and at_half is not None:
                results[name].append(
                    TripError(kind, at_start, at_half, (truth - track.departed_at).total_seconds())
                )
    return results


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m routing.eta_quality")
    parser.add_argument("--trips", type=int, default=60)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    results = run(args.trips, args.seed)
    for name, errors in results.items():
        if not errors:
            print(f"{name}: no trips measured")
            continue
        start = statistics.mean(e.at_start_s for e in errors) / 60
        half = statistics.mean(e.halfway_s for e in errors) / 60
        rel_start = statistics.mean(e.at_start_s / e.duration_s for e in errors) * 100
        rel_half = statistics.mean(e.halfway_s / e.duration_s for e in errors) * 100
        print(
            f"{name:16s} trips={len(errors):3d}  MAE at start {start:5.1f} min"
            f" ({rel_start:4.1f}% of trip)  at halfway {half:5.1f} min ({rel_half:4.1f}%)"
        )
    full = results["congestion+pace"]
    for kind in sorted({e.kind for e in full}):
        sub = [e for e in full if e.kind == kind]
        trip_min = statistics.mean(e.duration_s for e in sub) / 60
        print(
            f"  {kind:28s} n={len(sub):2d} mean trip {trip_min:5.0f} min"
            f"  MAE start {statistics.mean(e.at_start_s for e in sub) / 60:5.1f}"
            f"  halfway {statistics.mean(e.halfway_s for e in sub) / 60:5.1f} min"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
