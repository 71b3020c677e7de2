"""The alert rules of contract section 2, pure: what is open given the facts and the clock.

Each rule reads facts that are themselves order-free folds (tariq/domain/bags.py,
tariq/domain/entities.py), so "after any set of events, in any order, the open alerts are
exactly those whose condition holds". Time-based rules also say when, in event time,
they would start to hold, so the reconciler knows when to look again.

Readings where the contract leaves a choice (also in the README):
- "past A + 2 h" is strictly after; "20 min or more" is at least.
- delivery_overdue: H is the pilgrim's earliest check-in at the hotel the bag is coded for.
- missing_at_arrival: A is the flight's earliest arrival.
- left_behind, loaded_without_pilgrim: "F departed" holds once the clock has reached the
  (earliest) departure time.
- vehicle_stalled (contract v1.1, geographic; what the vehicle carries does not matter):
  the longest run of its latest fixes (by occurred_at, event_id) that are all within the
  radius (50 m) of each other has at least two fixes, began the stall time (20 min) or
  more before the clock, and "that place" -- the latest fix -- is more than 1 km from both
  arrival airports (routing/geo.py AIRPORTS) and more than 300 m from every registered
  hotel. A vehicle that sent no fix since its run began still counts (its fixes of the
  last 20 min are trivially within 50 m).
- A vehicle's status: `stalled` while that alert holds; else `on_trip` while it carries
  something not yet dropped (a pilgrim whose latest bus boarding names it and who has not
  checked in since; a bag whose latest `truck_loaded` names it and has no delivery since)
  and, since the latest such loading, it has been seen more than 1 km from both arrival
  airports; else `idle`.
- Deadline rules (missing_at_arrival, delivery_overdue, vehicle_stalled) and "F departed"
  are judged against the reconciler's judge clock (tariq/domain/watermark.py: a low
  watermark while input lags; the latest event time once all input is processed).
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
# The stored fields the bag rules (`judge_bag`) read, besides each state's key; the
# reconciler loads only these (tariq/adapters/db/states.py `projection`): a bag row has 21
# columns. A pilgrim's boardings and check-ins always come with it. A rule that reads
# another field adds it here (tests/unit/test_alerts.py checks the rules against whole
# states).
BAG_FIELDS_JUDGED: Final = (
    "pilgrim_id",
    "flight_id",
    "hotel_id",
    "coded_at",
    "stage_rank",
    "scanned",
    "loaded_seen",
    "hotel_scan_hotel",
    "delivered_hotels",
)
FLIGHT_FIELDS_JUDGED: Final = ("departed_at", "arrived_at")
PILGRIM_FIELDS_JUDGED: Final = ()


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

    # "F departed" is judged in event time too: once the clock has reached the departure
    # (with lagging input, the low watermark), so a loaded scan still waiting in a lagging
    # partition does not make a false left_behind. After all input, the clock is past it.
    departure = flight.departed_at if flight is not None else None
    departed = departure is not None and clock is not None and clock >= departure
    if departure is not None and not departed:
        due.append(departure)
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


def stall_run(fixes: Sequence[Fix], radius_m: float) -> list[Fix]:
    """The longest run of latest fixes all within `radius_m` of each other, latest first."""
    ordered = sorted(fixes, key=lambda f: (f.at, f.event_id))
    run: list[Fix] = []
    for fix in reversed(ordered):
        if any(haversine_m(fix.lat, fix.lon, o.lat, o.lon) > radius_m for o in run):
            break
        run.append(fix)
    return run


def stall_start(fixes: Sequence[Fix], radius_m: float) -> datetime | None:
    """When the longest run of latest fixes, all within `radius_m` of each other, began."""
    run = stall_run(fixes, radius_m)
    return run[-1].at if run else None


def away_from_stops(
    lat: float, lon: float, hotels: Iterable[tuple[float, float]], thresholds: AlertThresholds
) -> bool:
    """More than the airport distance from both arrival airports and more than the hotel
    distance from every registered hotel (a vehicle waiting there is not stalled)."""
    return all(
        haversine_m(lat, lon, *airport) > thresholds.stall_airport_m
        for airport in AIRPORTS.values()
    ) and all(haversine_m(lat, lon, *hotel) > thresholds.stall_hotel_m for hotel in hotels)


def judge_stall(
    fixes: Sequence[Fix],
    clock: datetime | None,
    hotels: Iterable[tuple[float, float]],
    thresholds: AlertThresholds,
) -> tuple[bool, datetime | None]:
    """(stalled, when the clock reaches the stall time of the current run of fixes).

    The second is None when there is no run of at least two fixes; it is kept when the
    place is an airport or a hotel, so that the vehicle is looked at again if the
    registered hotels change.
    """
    run = stall_run(fixes, thresholds.stall_radius_m)
    if len(run) < 2:
        return False, None
    due = run[-1].at + timedelta(seconds=thresholds.stall_after_s)
    if clock is None or clock < due:
        return False, due
    return away_from_stops(run[0].lat, run[0].lon, hotels, thresholds), due


# Fixes before `fixes_from` that the stall rule reads besides those after it (see below).
FIXES_BEFORE: Final = 2


def fixes_from(
    clock: datetime | None, since: datetime | None, thresholds: AlertThresholds
) -> datetime | None:
    """The earliest fix time a judgement of the vehicle needs (None: no fix is needed).

    The trip needs the fixes since the latest loading (`since`). The stall rule needs the
    fixes from the stall time before the clock, W = clock - stall time, and the
    `FIXES_BEFORE` (2) latest before W: if the run of latest fixes reaches back over all
    of them, it has at least two fixes and began before W, so it is stalled whatever older
    fixes say; otherwise the run, its start and its count are exact. A vehicle parked for
    days is so judged from a few fixes.
    """
    window = None if clock is None else clock - timedelta(seconds=thresholds.stall_after_s)
    found = [t for t in (window, since) if t is not None]
    return min(found, default=None)


def judge_vehicle(
    vehicle_id: str,
    fixes: Sequence[Fix],
    since: datetime | None,
    clock: datetime | None,
    thresholds: AlertThresholds,
    hotels: Iterable[tuple[float, float]],
) -> tuple[str, Judgement]:
    """The vehicle's status (idle / on_trip / stalled) and its stall alert, if any; the
    judgement's `next_due` is the stall time of its current run of fixes."""
    stalled, due = judge_stall(fixes, clock, hotels, thresholds)
    if stalled:
        alert = Alert("vehicle_stalled", vehicle_id, vehicle_id=vehicle_id)
        return "stalled", Judgement((alert,), due)
    return ("on_trip" if on_trip(since, fixes) else "idle"), Judgement((), due)
