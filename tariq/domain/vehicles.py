"""A reconciler round's vehicle step, pure: status, trip plan, next stop and ETA, notices.

The reconciler (stream/reconciler.py) loads what it needs, calls `judge_vehicles` with it
and an ETA planner, and saves what comes back. Per vehicle:
- its status and stall alert follow the rules of tariq/domain/alerts.py (the stall rule
  is geographic: every vehicle with fixes is judged, whatever it carries);
- on a trip (it carries something and has left the airport) with a known position, the
  plan (stop order and ETAs, from where the vehicle is) is made again when a new trip
  began, when there is none, or when the last one is `replan_every` old in the vehicle's
  time; otherwise the saved one is kept;
- a trip is known by its departure: the first fix, after the latest loading, more than
  1 km from both airports. Once the clock has reached the departure (so that, with the
  low-watermark clock, every loading before it has been processed), each hotel the truck
  carries bags for gets one `bags_en_route` notice with all of them; later, when a new plan
  moves the trip's ETA for a hotel by ETA_CHANGE or more from what it was told, an
  `eta_changed` notice (what each hotel was told is kept: `TripEta`);
- the next stop is the plan's first stop that still has a load on board;
- the vehicle's view (status, next stop, ETA) is published only when it changed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import orjson

from routing.eta import Destination, PlannedStop
from routing.geo import AIRPORTS, haversine_m
from tariq.config import AlertThresholds
from tariq.domain.alerts import LEFT_AIRPORT_M, Alert, Carried, Fix, judge_vehicle, on_trip
from tariq.domain.entities import HotelState, VehicleState
from tariq.domain.notices import ETA_CHANGE, Notice, bags_en_route, eta_changed

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
class TripEta:
    """What a hotel was last told about a truck's trip (the trip known by its departure)."""

    vehicle_id: str
    hotel_id: str
    departed_at: datetime
    eta: datetime | None


@dataclass(frozen=True, slots=True)
class VehicleOutcome:
    judgement: VehicleJudgement
    alerts: tuple[Alert, ...]
    notices: tuple[Notice, ...]
    view: dict[str, Any] | None  # None when status, next stop and ETA are unchanged
    told: tuple[TripEta, ...] = ()


@dataclass(frozen=True, slots=True)
class VehiclesRound:
    judgements: list[VehicleJudgement]
    alerts: list[Alert]
    notices: list[Notice]
    views: list[dict[str, Any]]
    told: list[TripEta] = field(default_factory=list)  # what the notices told each hotel


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


def departure(since: datetime | None, fixes: Sequence[Fix]) -> datetime | None:
    """When the vehicle left the airport with its load: its first fix at or after the
    latest loading that is more than 1 km from both airports (None: not left yet)."""
    if since is None:
        return None
    for fix in sorted(fixes, key=lambda f: (f.at, f.event_id)):
        if fix.at >= since and all(
            haversine_m(fix.lat, fix.lon, *airport) > LEFT_AIRPORT_M
            for airport in AIRPORTS.values()
        ):
            return fix.at
    return None


def plan_etas(plan: str | None) -> dict[str, datetime]:
    return {s["hotel_id"]: datetime.fromisoformat(s["eta"]) for s in orjson.loads(plan or "[]")}


def trip_notices(
    vehicle_id: str,
    load: Carried,
    departed: datetime | None,
    plan: str | None,
    replanned_at: datetime | None,
    clock: datetime | None,
    told: Mapping[tuple[str, str], TripEta],
) -> tuple[list[Notice], list[TripEta]]:
    """The trip's notices this round, and what they tell each hotel: `bags_en_route` once
    per departure and hotel (all its bags on board), once the clock has reached the
    departure; `eta_changed` when a new plan (made at `replanned_at`) moves the hotel's ETA
    by ETA_CHANGE or more from what it was told."""
    if departed is None or clock is None or clock < departed or not load.tags_by_hotel:
        return [], []
    trip_id = f"{vehicle_id}@{departed.isoformat()}"
    etas = plan_etas(plan)
    notices: list[Notice] = []
    now_told: list[TripEta] = []
    for hotel, tags in sorted(load.tags_by_hotel.items()):
        before = told.get((vehicle_id, hotel))
        eta = etas.get(hotel)
        if before is None or before.departed_at != departed:
            notices.append(
                bags_en_route(
                    hotel_id=hotel,
                    vehicle_id=vehicle_id,
                    trip_id=trip_id,
                    tags=tags,
                    eta=eta,
                    occurred_at=departed,
                )
            )
        elif (
            replanned_at is not None
            and eta is not None
            and before.eta is not None
            and abs(eta - before.eta) >= ETA_CHANGE
        ):
            notices.append(
                eta_changed(
                    hotel_id=hotel,
                    vehicle_id=vehicle_id,
                    trip_id=trip_id,
                    tags=tags,
                    eta=eta,
                    previous_eta=before.eta,
                    occurred_at=replanned_at,
                )
            )
        else:
            continue
        now_told.append(TripEta(vehicle_id, hotel, departed, eta))
    return notices, now_told


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
    told: Mapping[tuple[str, str], TripEta] | None = None,
    *,
    stall_hotels: Sequence[tuple[float, float]],
) -> VehicleOutcome:
    status, judgement = judge_vehicle(
        vehicle_id, fixes, load.since, clock, thresholds, stall_hotels
    )
    plan: str | None = None
    planned_at: datetime | None = None
    replanned_at: datetime | None = None
    travelling = on_trip(load.since, fixes)
    if travelling and position is not None and position.at is not None:
        if needs_plan(before, load.since, position.at, replan_every):
            # From where the vehicle is now: the ETA follows its progress.
            planned_at = replanned_at = position.at
            stops = planner(
                position.lat or 0.0,
                position.lon or 0.0,
                position.at,
                destinations(load.hotels, hotels),
            )
            plan = plan_text(stops)
        else:
            plan, planned_at = before.plan, before.planned_at
    notices: list[Notice] = []
    now_told: list[TripEta] = []
    if travelling:
        departed = departure(load.since, fixes)
        notices, now_told = trip_notices(
            vehicle_id, load, departed, plan, replanned_at, clock, told or {}
        )
    stop, eta = next_stop(plan, load.hotels)
    after = VehicleJudgement(
        vehicle_id, status, judgement.next_due, load.since, plan, planned_at, stop, eta
    )
    return VehicleOutcome(
        after, judgement.open, tuple(notices), changed_view(before, after), tuple(now_told)
    )


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
    told: Mapping[tuple[str, str], TripEta] | None = None,
    *,
    stall_hotels: Sequence[tuple[float, float]],
) -> VehiclesRound:
    """Judge each vehicle, in the given order; a vehicle never judged before was idle.
    `hotels` are the destinations' hotels; `stall_hotels` every registered hotel's place;
    `told`: (vehicle_id, hotel_id) -> what the hotel was last told about its trip."""
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
            told,
            stall_hotels=stall_hotels,
        )
        result.judgements.append(outcome.judgement)
        result.told.extend(outcome.told)
        result.alerts.extend(outcome.alerts)
        result.notices.extend(outcome.notices)
        if outcome.view is not None:
            result.views.append(outcome.view)
    return result
