"""A reconciler round's vehicle step, pure: status, trip plan, next stop and ETA, notices.

The reconciler (stream/reconciler.py) loads what it needs, calls `judge_vehicles` with it
and an ETA planner, and saves what comes back. Per vehicle:
- its status and stall alert follow the rules of tariq/domain/alerts.py (the stall rule
  is geographic: every vehicle with fixes is judged, whatever it carries);
- on a trip (it carries something and has left the airport) with a known position, the
  plan (stop order and ETAs, from where the vehicle is) is made again when a new trip
  began, when there is none, or when the last one is `replan_every` old in the vehicle's
  time; otherwise the saved one is kept;
- a new trip's plan makes a `bags_en_route` notice per hotel it carries bags for;
- the next stop is the plan's first stop that still has a load on board;
- the vehicle's view (status, next stop, ETA) is published only when it changed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson

from routing.eta import Destination, PlannedStop
from tariq.config import AlertThresholds
from tariq.domain.alerts import Alert, Carried, Fix, judge_vehicle, on_trip
from tariq.domain.entities import HotelState, VehicleState
from tariq.domain.notices import Notice, bags_en_route

# (lat, lon, at, destinations) -> the stops in order with their ETAs (routing.eta.EtaPlanner).
Planner = Callable[[float, float, datetime, Sequence[Destination]], Sequence[PlannedStop]]


@dataclass(frozen=True, slots=True)
class VehicleJudgement:
    """What a round decided about a vehicle (a row of `vehicle_judgements`)."""

    vehicle_id: str
    status: str = "idle"
    stall_due_at: datetime | None = None
    trip_since: datetime | None = None
    plan: str | None = None  # [{hotel_id, eta}] as JSON text
    planned_at: datetime | None = None
    next_stop: str | None = None
    eta: datetime | None = None


@dataclass(frozen=True, slots=True)
class VehicleOutcome:
    judgement: VehicleJudgement
    alerts: tuple[Alert, ...]
    notices: tuple[Notice, ...]
    view: dict[str, Any] | None  # None when status, next stop and ETA are unchanged


@dataclass(frozen=True, slots=True)
class VehiclesRound:
    judgements: list[VehicleJudgement]
    alerts: list[Alert]
    notices: list[Notice]
    views: list[dict[str, Any]]


def needs_plan(
    before: VehicleJudgement, since: datetime | None, at: datetime, replan_every: timedelta
) -> bool:
    """Whether to plan the trip again at `at` (the vehicle's latest fix)."""
    new_trip = before.trip_since != since
    stale = before.planned_at is None or at - before.planned_at >= replan_every
    return new_trip or not before.plan or stale


def plan_text(stops: Sequence[PlannedStop]) -> str:
    return orjson.dumps(
        [{"hotel_id": s.hotel_id, "eta": s.eta.isoformat()} for s in stops]
    ).decode()


def destinations(hotel_ids: frozenset[str], hotels: Mapping[str, HotelState]) -> list[Destination]:
    """The registered hotels among `hotel_ids`, in id order."""
    found = []
    for h in sorted(hotel_ids):
        hotel = hotels.get(h)
        if hotel is not None and hotel.lat is not None:
            # A registered hotel has both coordinates.
            found.append(Destination(h, hotel.lat, hotel.lon))  # type: ignore[arg-type]
    return found


def trip_notices(
    vehicle_id: str, load: Carried, stops: Sequence[PlannedStop], at: datetime
) -> list[Notice]:
    """The `bags_en_route` notices of a new trip: one per hotel it carries bags for."""
    trip_id = f"{vehicle_id}@{load.since.isoformat() if load.since else ''}"
    etas = {s.hotel_id: s.eta for s in stops}
    return [
        bags_en_route(
            hotel_id=hotel,
            vehicle_id=vehicle_id,
            trip_id=trip_id,
            tags=tags,
            eta=etas.get(hotel),
            occurred_at=at,
        )
        for hotel, tags in sorted(load.tags_by_hotel.items())
    ]


def next_stop(plan: str | None, hotels: frozenset[str]) -> tuple[str | None, datetime | None]:
    """The plan's first stop with a load still on board, and its ETA."""
    for stop in orjson.loads(plan or "[]"):
        if stop["hotel_id"] in hotels:
            return stop["hotel_id"], datetime.fromisoformat(stop["eta"])
    return None, None


def changed_view(before: VehicleJudgement, after: VehicleJudgement) -> dict[str, Any] | None:
    """The vehicle's published view, if its status, next stop or ETA changed."""
    if (before.status, before.next_stop, before.eta) == (after.status, after.next_stop, after.eta):
        return None
    return {
        "vehicle_id": after.vehicle_id,
        "status": after.status,
        "next_stop": after.next_stop,
        "eta": after.eta,
    }


def judge_one(
    vehicle_id: str,
    load: Carried,
    fixes: Sequence[Fix],
    before: VehicleJudgement,
    position: VehicleState | None,
    hotels: Mapping[str, HotelState],
    clock: datetime | None,
    thresholds: AlertThresholds,
    planner: Planner,
    replan_every: timedelta,
    stall_hotels: Sequence[tuple[float, float]],
) -> VehicleOutcome:
    status, judgement = judge_vehicle(
        vehicle_id, fixes, load.since, clock, thresholds, stall_hotels
    )
    plan: str | None = None
    planned_at: datetime | None = None
    notices: list[Notice] = []
    travelling = on_trip(load.since, fixes)
    if travelling and position is not None and position.at is not None:
        if needs_plan(before, load.since, position.at, replan_every):
            # From where the vehicle is now: the ETA follows its progress.
            planned_at = position.at
            stops = planner(
                position.lat or 0.0,
                position.lon or 0.0,
                position.at,
                destinations(load.hotels, hotels),
            )
            plan = plan_text(stops)
            if before.trip_since != load.since and load.tags_by_hotel:
                notices = trip_notices(vehicle_id, load, stops, position.at)
        else:
            plan, planned_at = before.plan, before.planned_at
    stop, eta = next_stop(plan, load.hotels)
    after = VehicleJudgement(
        vehicle_id, status, judgement.next_due, load.since, plan, planned_at, stop, eta
    )
    return VehicleOutcome(after, judgement.open, tuple(notices), changed_view(before, after))


def judge_vehicles(
    vehicle_ids: Sequence[str],
    loads: Mapping[str, Carried],
    fixes: Mapping[str, Sequence[Fix]],
    previous: Mapping[str, VehicleJudgement],
    positions: Mapping[str, VehicleState],
    hotels: Mapping[str, HotelState],
    clock: datetime | None,
    thresholds: AlertThresholds,
    planner: Planner,
    replan_every: timedelta,
    *,
    stall_hotels: Sequence[tuple[float, float]],
) -> VehiclesRound:
    """Judge each vehicle, in the given order; a vehicle never judged before was idle.
    `hotels` are the destinations' hotels; `stall_hotels` every registered hotel's place."""
    result = VehiclesRound([], [], [], [])
    for v in vehicle_ids:
        outcome = judge_one(
            v,
            loads[v],
            fixes.get(v, ()),
            previous.get(v) or VehicleJudgement(v),
            positions.get(v),
            hotels,
            clock,
            thresholds,
            planner,
            replan_every,
            stall_hotels,
        )
        result.judgements.append(outcome.judgement)
        result.alerts.extend(outcome.alerts)
        result.notices.extend(outcome.notices)
        if outcome.view is not None:
            result.views.append(outcome.view)
    return result
