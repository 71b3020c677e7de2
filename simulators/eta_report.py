"""ETA quality of the stream's own planner on the generator's trips (`tariq bench eta`).

The generator drives its buses and trucks along the road graph (simulators/roads.py) and hands
each finished trip over with its true arrival at every hotel door. For each trip and hotel, the
ETA the stream would show is computed as the stream computes it: routing.eta.EtaPlanner (what
stream/reconciler.py plans with), from the vehicle's fix, with the hotels it still carries
loads for (tariq.domain.vehicles.destinations), at two moments:
- trip start: the stream's departure, the first fix more than 1 km from both airports
  (tariq.domain.vehicles.departure);
- half-way: the latest fix at or before half of the true time from departure to that hotel
  (the stream replans every 5 min of vehicle time, so the ETA it shows may be a few minutes
  older than this one).
The error is ETA - true arrival. The same is done with the planner at free flow (no
congestion model) as the baseline.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from routing.congestion import free_flow_model
from routing.eta import EtaPlanner
from simulators.generate import generate
from simulators.roads import TripTruth
from simulators.season import Hotel, build_schedule
from tariq.domain.alerts import Fix as StreamFix
from tariq.domain.entities import HotelState
from tariq.domain.vehicles import departure, destinations

ESTIMATORS: Final = ("stream planner", "free flow")
MOMENTS: Final = ("start", "halfway")
Planner = Callable[[float, float, datetime, frozenset[str]], dict[str, datetime]]


@dataclass(frozen=True, slots=True)
class EtaError:
    kind: str  # e.g. "truck JED"
    estimator: str
    moment: str
    error_s: float  # ETA - true arrival (negative: the ETA was too early)
    ahead_s: float  # true time left until the arrival when the ETA was made


def _planner(planner: EtaPlanner, hotels: Mapping[str, HotelState]) -> Planner:
    def plan(lat: float, lon: float, at: datetime, on_board: frozenset[str]) -> dict[str, datetime]:
        stops = planner.plan(lat, lon, at, destinations(on_board, hotels))
        return {s.hotel_id: s.eta for s in stops}

    return plan


def trip_errors(trip: TripTruth, planners: Mapping[str, Planner]) -> list[EtaError]:
    """The ETA errors of one trip, for each hotel, estimator and moment."""
    fixes = [
        StreamFix(datetime.fromtimestamp(f.t, UTC), f"{trip.vehicle_id}:{n}", f.lat, f.lon)
        for n, f in enumerate(trip.fixes)
    ]
    if not fixes:
        return []
    departed = departure(fixes[0].at, fixes)
    if departed is None:
        return []
    kind = f"{trip.kind} {trip.airport}"
    arrivals = [(h, datetime.fromtimestamp(t, UTC)) for h, t in trip.stops]
    start = next(f for f in fixes if f.at == departed)
    moments: list[tuple[str, StreamFix, list[str]]] = [("start", start, [h for h, _ in arrivals])]
    for hotel, arrival in arrivals:
        if arrival <= departed:
            continue
        half = departed + (arrival - departed) / 2
        fix = max((f for f in fixes if f.at <= half), key=lambda f: f.at)
        moments.append(("halfway", fix, [hotel]))
    errors: list[EtaError] = []
    for moment, fix, hotels in moments:
        on_board = frozenset(h for h, a in arrivals if a > fix.at)
        for name, plan in planners.items():
            etas = plan(fix.lat, fix.lon, fix.at, on_board)
            for hotel, arrival in arrivals:
                if hotel in hotels and hotel in etas:
                    error = (etas[hotel] - arrival).total_seconds()
                    ahead = (arrival - fix.at).total_seconds()
                    errors.append(EtaError(kind, name, moment, error, ahead))
    return errors


def _percentile(values: Sequence[float], q: float) -> float:
    """The q-quantile (0..1) by linear interpolation between order statistics."""
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q
    low, high = math.floor(pos), math.ceil(pos)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def summarize(errors: Iterable[EtaError]) -> list[dict[str, Any]]:
    """Rows by kind (and "all"), estimator and moment: count, median and p90 of the absolute
    error, median signed error, median time ahead (minutes)."""
    groups: dict[tuple[str, str, str], list[EtaError]] = {}
    for e in errors:
        for kind in (e.kind, "all"):
            groups.setdefault((kind, e.estimator, e.moment), []).append(e)
    rows = []
    for (kind, estimator, moment), group in sorted(
        groups.items(),
        key=lambda item: (
            item[0][0] == "all",
            item[0][0],
            ESTIMATORS.index(item[0][1]),
            MOMENTS.index(item[0][2]),
        ),
    ):
        absolute = [abs(e.error_s) for e in group]
        rows.append(
            {
                "kind": kind,
                "estimator": estimator,
                "moment": moment,
                "n": len(group),
                "median_abs_min": round(statistics.median(absolute) / 60, 1),
                "p90_abs_min": round(_percentile(absolute, 0.9) / 60, 1),
                "median_signed_min": round(statistics.median(e.error_s for e in group) / 60, 1),
                "median_ahead_min": round(statistics.median(e.ahead_s for e in group) / 60, 1),
            }
        )
    return rows


def run_eta_report(
    scale: str = "day",
    seed: int = 1,
    pilgrims: int | None = None,
    flights: int | None = None,
    gps_interval_s: int = 60,
) -> dict[str, Any]:
    """Generate the scenario (events discarded), then measure every finished trip."""
    schedule = build_schedule(scale, seed=seed, pilgrims=pilgrims, flights=flights)
    trips: list[TripTruth] = []
    scenario = generate(schedule, lambda _: None, gps_interval_s, on_trip=trips.append)
    hotels = _hotel_states(schedule.hotels)
    planners = {
        "stream planner": _planner(EtaPlanner(), hotels),
        "free flow": _planner(EtaPlanner(congestion=free_flow_model()), hotels),
    }
    errors = [e for trip in trips for e in trip_errors(trip, planners)]
    return {
        "scenario": {
            "scale": scale,
            "seed": seed,
            "pilgrims": schedule.pilgrims,
            "flights": len(schedule.flights),
            "trips": len(trips),
            "breakdowns_left_out": len(scenario.breakdowns),
        },
        "rows": summarize(errors),
    }


def _hotel_states(hotels: Iterable[Hotel]) -> dict[str, HotelState]:
    return {h.hotel_id: HotelState(h.hotel_id, h.name, h.city, h.lat, h.lon) for h in hotels}


def summary_lines(report: dict[str, Any]) -> list[str]:
    s = report["scenario"]
    lines = [
        f"ETA error of the stream's planner on {s['trips']} generated trips "
        f"({s['scale']}, seed {s['seed']}, {s['pilgrims']:,} pilgrims; "
        f"{s['breakdowns_left_out']} broken-down bus trips left out); minutes, ETA - arrival",
        f"{'kind':10s} {'estimator':15s} {'moment':8s} {'n':>5s} {'median|e|':>9s} "
        f"{'p90|e|':>7s} {'median e':>8s} {'ahead':>6s}",
    ]
    for r in report["rows"]:
        lines.append(
            f"{r['kind']:10s} {r['estimator']:15s} {r['moment']:8s} {r['n']:5d} "
            f"{r['median_abs_min']:9.1f} {r['p90_abs_min']:7.1f} {r['median_signed_min']:8.1f} "
            f"{r['median_ahead_min']:6.1f}"
        )
    return lines
