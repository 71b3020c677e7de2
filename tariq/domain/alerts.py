"""The alert rules of contract section 2, pure: what is open given the facts and the clock.

Each rule reads facts that are themselves order-free folds (tariq/domain/bags.py,
tariq/domain/entities.py), so "after any set of events, in any order, the open alerts are
exactly those whose condition holds". Time-based rules also say when, in event time,
they would start to hold, so the reconciler knows when to look again.

Readings where the contract leaves a choice (also in the README):
- "past A + 2 h" is strictly after; "20 min or more" is at least.
- delivery_overdue: H is the pilgrim's earliest check-in at the hotel the bag is coded for.
- missing_at_arrival: A is the flight's earliest arrival.
- A vehicle is on a trip while it carries something not yet dropped (a pilgrim whose
  latest bus boarding names it and who has not checked in since; a bag whose latest
  `truck_loaded` names it and has no delivery since) and, since the latest such loading,
  it has been seen more than 1 km from both arrival airports.
- Stalled: the longest run of its latest fixes that are all within the radius of each
  other began the stall time or more before the clock.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from routing.geo import AIRPORTS, haversine_m
from tariq.config import AlertThresholds
from tariq.domain.bags import LOADED, BagState
from tariq.domain.entities import FlightState, PilgrimState

ALERT_TYPES: Final = (
    "misdelivered",
    "left_behind",
    "loaded_without_pilgrim",
    "missing_at_arrival",
    "delivery_overdue",
    "unknown_tag",
    "vehicle_stalled",
)
LEFT_AIRPORT_M: Final = 1_000.0


@dataclass(frozen=True, slots=True)
class Alert:
    """An alert whose condition holds; `subject` is the bag's tag or the vehicle id."""

    type: str
    subject: str
    tag: str | None = None
    pilgrim_id: str | None = None
    flight_id: str | None = None
    hotel_id: str | None = None
    vehicle_id: str | None = None

    @property
    def key(self) -> tuple[str, str]:
        return (self.type, self.subject)


@dataclass(frozen=True, slots=True)
class Judgement:
    open: tuple[Alert, ...]
    # The earliest event time after which a time-based alert not yet open would open.
    next_due: datetime | None = None


def judge_bag(
    bag: BagState,
    flight: FlightState | None,
    pilgrim: PilgrimState | None,
    clock: datetime | None,
    thresholds: AlertThresholds,
) -> Judgement:
    if not bag.is_coded:
        if bag.scanned:
            return Judgement((Alert("unknown_tag", bag.tag, tag=bag.tag),))
        return Judgement(())

    def alert(kind: str) -> Alert:
        return Alert(
            kind,
            bag.tag,
            tag=bag.tag,
            pilgrim_id=bag.pilgrim_id,
            flight_id=bag.flight_id,
            hotel_id=bag.hotel_id,
        )

    found: list[Alert] = []
    due: list[datetime] = []
    if bag.hotel_scan_hotel is not None and bag.hotel_scan_hotel != bag.hotel_id:
        found.append(alert("misdelivered"))

    departed = flight is not None and flight.departed_at is not None
    boarded = pilgrim is not None and bag.flight_id in pilgrim.boardings
    if boarded and departed and not bag.loaded_seen:
        found.append(alert("left_behind"))
    if bag.loaded_seen and departed and not boarded:
        found.append(alert("loaded_without_pilgrim"))

    if bag.loaded_seen and bag.stage_rank <= LOADED and flight and flight.arrived_at:
        deadline = flight.arrived_at + timedelta(seconds=thresholds.missing_after_arrival_s)
        if clock is not None and clock > deadline:
            found.append(alert("missing_at_arrival"))
        else:
            due.append(deadline)

    checkin = pilgrim.checkins.get(bag.hotel_id or "") if pilgrim else None
    if checkin is not None and bag.hotel_id not in bag.delivered_hotels:
        deadline = checkin + timedelta(seconds=thresholds.delivery_overdue_after_checkin_s)
        if clock is not None and clock > deadline:
            found.append(alert("delivery_overdue"))
        else:
            due.append(deadline)
    return Judgement(tuple(found), min(due, default=None))


def judge_bags(
    bags: Iterable[BagState],
    flights: Mapping[str, FlightState],
    pilgrims: Mapping[str, PilgrimState],
    clock: datetime | None,
    thresholds: AlertThresholds,
) -> dict[tuple[str, str], Alert]:
    """The open alerts of these bags, by key, in the bags' order."""
    found: dict[tuple[str, str], Alert] = {}
    for bag in bags:
        judgement = judge_bag(
            bag,
            flights.get(bag.flight_id or ""),
            pilgrims.get(bag.pilgrim_id or ""),
            clock,
            thresholds,
        )
        for alert in judgement.open:
            found[alert.key] = alert
    return found


def alert_changes(
    open_now: Mapping[tuple[str, str], str],
    desired: Mapping[tuple[str, str], Alert],
    judged_bags: Collection[str],
    judged_vehicles: Collection[str],
) -> tuple[list[str], list[Alert]]:
    """(ids of the open alerts to resolve, alerts to raise) after judging these subjects.

    `open_now` maps the open alerts of the judged subjects, (type, subject), to their ids;
    `desired` holds the alerts whose condition holds. An open alert is resolved only when
    its subject was judged (a vehicle for `vehicle_stalled`, a bag for the others).
    """
    to_resolve = [
        alert_id
        for (kind, subject), alert_id in open_now.items()
        if (kind, subject) not in desired
        and (subject in judged_vehicles if kind == "vehicle_stalled" else subject in judged_bags)
    ]
    to_raise = [a for key, a in desired.items() if key not in open_now]
    return to_resolve, to_raise


# ---- vehicles ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Fix:
    at: datetime
    event_id: str
    lat: float
    lon: float


@dataclass(frozen=True, slots=True)
class Carried:
    """What a vehicle carries and has not dropped yet."""

    since: datetime | None  # the latest loading of it
    hotels: frozenset[str]  # where it is headed (the loads' hotels)
    tags_by_hotel: dict[str, tuple[str, ...]]  # bags on board, by the hotel coded for


def carried_by(
    vehicle_id: str, pilgrims: Iterable[PilgrimState], bags: Iterable[BagState]
) -> Carried:
    since: datetime | None = None
    hotels: set[str] = set()
    tags: dict[str, list[str]] = {}
    for p in pilgrims:
        if p.bus_vehicle_id != vehicle_id or p.bus_boarded_at is None:
            continue
        if p.last_checkin_at is not None and p.last_checkin_at >= p.bus_boarded_at:
            continue
        since = p.bus_boarded_at if since is None else max(since, p.bus_boarded_at)
        if p.hotel_id:
            hotels.add(p.hotel_id)
    for b in bags:
        if b.truck_vehicle_id != vehicle_id or b.truck_at is None:
            continue
        if b.last_drop_at is not None and b.last_drop_at >= b.truck_at:
            continue
        since = b.truck_at if since is None else max(since, b.truck_at)
        if b.hotel_id:
            hotels.add(b.hotel_id)
            tags.setdefault(b.hotel_id, []).append(b.tag)
    return Carried(since, frozenset(hotels), {h: tuple(sorted(t)) for h, t in tags.items()})


def loaded_since(
    vehicle_id: str, pilgrims: Iterable[PilgrimState], bags: Iterable[BagState]
) -> datetime | None:
    """The latest loading of something the vehicle still carries, or None if empty."""
    return carried_by(vehicle_id, pilgrims, bags).since


def on_trip(since: datetime | None, fixes: Sequence[Fix]) -> bool:
    if since is None:
        return False
    return any(
        f.at >= since
        and all(
            haversine_m(f.lat, f.lon, *airport) > LEFT_AIRPORT_M for airport in AIRPORTS.values()
        )
        for f in fixes
    )


def stall_start(fixes: Sequence[Fix], radius_m: float) -> datetime | None:
    """When the longest run of latest fixes, all within `radius_m` of each other, began."""
    ordered = sorted(fixes, key=lambda f: (f.at, f.event_id))
    run: list[Fix] = []
    for fix in reversed(ordered):
        if any(haversine_m(fix.lat, fix.lon, o.lat, o.lon) > radius_m for o in run):
            break
        run.append(fix)
    return run[-1].at if run else None


def judge_vehicle(
    vehicle_id: str,
    fixes: Sequence[Fix],
    since: datetime | None,
    clock: datetime | None,
    thresholds: AlertThresholds,
) -> tuple[str, Judgement]:
    """The vehicle's status (idle / on_trip / stalled) and its stall alert, if any."""
    if not on_trip(since, fixes):
        return "idle", Judgement(())
    start = stall_start(fixes, thresholds.stall_radius_m)
    if start is None:
        return "on_trip", Judgement(())
    due = start + timedelta(seconds=thresholds.stall_after_s)
    if clock is not None and clock >= due:
        return "stalled", Judgement((Alert("vehicle_stalled", vehicle_id, vehicle_id=vehicle_id),))
    return "on_trip", Judgement((), due)
