"""The ground truth of a scenario: contract section 2 applied literally, and nothing clever.

`judge(events)` takes the valid events of a scenario (in any order, duplicates allowed) and
returns each coded bag's final stage and location and the alerts that must be open. It is
deliberately independent of the service: it folds every event into order-free aggregates
(maxima, minima, sets, "latest by (occurred_at, event_id)"), so the result cannot depend on
the order events arrive in, and a repeated event changes nothing.

Readings of the contract (docs/simulator.md explains each):
- clock: the latest `occurred_at` among the events (`iata.message` ignored: its translation
  belongs to the service, and the generator never emits one later than the last valid event);
- "past A + 2 h" is strictly after; "20 min or more" is at least;
- misdelivered: the latest `sorted`/`delivered`/`claimed` scan (ties by event_id) names a hotel
  other than the coded one;
- delivery_overdue: H is the pilgrim's earliest check-in at the bag's coded hotel;
- missing_at_arrival: A is the flight's earliest `flight.arrived`;
- vehicle_stalled (contract v1.1: geographic, whatever the vehicle carries): the longest run of
  its latest fixes (by occurred_at, event_id) that are all within 50 m of each other has at
  least two fixes, began 20 min or more before the clock, and its latest fix ("that place") is
  more than 1 km from both arrival airports and more than 300 m from every registered hotel
  (each hotel where its latest `hotel.registered`, by occurred_at and event_id, puts it).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from routing.geo import AIRPORTS
from simulators.track import distance_m
from tariq.domain.events import (
    STAGE_RANK,
    AnyEvent,
    BagCoded,
    BagScanned,
    FlightArrived,
    FlightDeparted,
    HotelRegistered,
    IataMessage,
    PilgrimBoarded,
    PilgrimHotelArrived,
    VehiclePosition,
)

LOADED_RANK: Final = STAGE_RANK["loaded"]
HOTEL_SCANS: Final = frozenset({"sorted", "delivered", "claimed"})
DROP_SCANS: Final = frozenset({"delivered", "claimed"})
# Order-free "latest": compare (occurred_at, event_id) keys.
Key = tuple[float, str]


@dataclass(frozen=True)
class Thresholds:
    missing_after_arrival_s: float = 2 * 3600
    delivery_overdue_after_checkin_s: float = 4 * 3600
    stall_radius_m: float = 50.0
    stall_after_s: float = 20 * 60
    stall_airport_m: float = 1_000.0
    stall_hotel_m: float = 300.0


@dataclass(frozen=True)
class BagTruth:
    tag: str
    pilgrim_id: str
    flight_id: str
    hotel_id: str
    stage: str
    location: str | None


@dataclass(frozen=True, order=True)
class AlertTruth:
    type: str
    tag: str | None = None
    vehicle_id: str | None = None
    pilgrim_id: str | None = None
    flight_id: str | None = None
    hotel_id: str | None = None

    @property
    def key(self) -> tuple[str, str]:
        """What identifies an open alert: its type and its bag or vehicle."""
        return (self.type, self.tag or self.vehicle_id or "")

    @property
    def alert_id(self) -> str:
        return f"{self.type}:{self.tag or self.vehicle_id}"


@dataclass(frozen=True)
class OracleResult:
    clock: float | None
    bags: dict[str, BagTruth]
    alerts: tuple[AlertTruth, ...]


class _Bag:
    __slots__ = (
        "coded",
        "drop_hotels",
        "latest_hotel_scan",
        "latest_scan",
        "loaded",
        "rank",
        "scanned",
    )

    def __init__(self) -> None:
        self.coded: tuple[str, str, str] | None = None  # pilgrim, flight, hotel
        self.rank = 0
        self.scanned = False
        self.loaded = False
        self.latest_scan: tuple[float, str, str] | None = None  # t, event_id, location
        self.latest_hotel_scan: tuple[float, str, str] | None = None  # t, event_id, hotel
        self.drop_hotels: frozenset[str] = frozenset()


class _Pilgrim:
    __slots__ = ("boarded_flights", "checkins")

    def __init__(self) -> None:
        # Small immutable collections: there are hundreds of thousands of pilgrims.
        self.boarded_flights: frozenset[str] = frozenset()
        self.checkins: tuple[tuple[str, float], ...] = ()  # (hotel, earliest check-in)


def _later(
    current: tuple[float, str, str] | None, candidate: tuple[float, str, str]
) -> tuple[float, str, str]:
    if current is None or candidate[:2] > current[:2]:
        return candidate
    return current


class Oracle:
    """The order-free fold behind `judge`; the generator feeds it one event at a time."""

    def __init__(self, thresholds: Thresholds | None = None) -> None:
        self.thresholds = thresholds or Thresholds()
        self.clock: float | None = None
        self.bags: dict[str, _Bag] = {}
        self.pilgrims: dict[str, _Pilgrim] = {}
        self.departed: set[str] = set()
        self.arrived: dict[str, float] = {}
        self.fixes: dict[str, dict[str, tuple[float, float, float]]] = {}
        # hotel -> (occurred_at, event_id, lat, lon) of its latest registration
        self.hotels: dict[str, tuple[float, str, float, float]] = {}

    def _bag(self, tag: str) -> _Bag:
        bag = self.bags.get(tag)
        if bag is None:
            bag = self.bags[tag] = _Bag()
        return bag

    def _pilgrim(self, pilgrim_id: str) -> _Pilgrim:
        pilgrim = self.pilgrims.get(pilgrim_id)
        if pilgrim is None:
            pilgrim = self.pilgrims[pilgrim_id] = _Pilgrim()
        return pilgrim

    def add(self, event: AnyEvent) -> None:
        if isinstance(event, IataMessage):
            return
        t = event.occurred_at.timestamp()
        if self.clock is None or t > self.clock:
            self.clock = t
        eid = event.event_id
        if isinstance(event, BagScanned):
            bag = self._bag(event.tag)
            bag.scanned = True
            rank = STAGE_RANK[event.checkpoint]
            if rank > bag.rank:
                bag.rank = rank
            bag.latest_scan = _later(bag.latest_scan, (t, eid, event.location))
            checkpoint = event.checkpoint
            if checkpoint == "loaded":
                bag.loaded = True
            if checkpoint in HOTEL_SCANS:
                hotel = event.hotel_id if checkpoint == "sorted" else event.location
                assert hotel is not None  # a sorted scan always names its lane
                bag.latest_hotel_scan = _later(bag.latest_hotel_scan, (t, eid, hotel))
            if checkpoint in DROP_SCANS and event.location not in bag.drop_hotels:
                bag.drop_hotels = bag.drop_hotels | {event.location}
        elif isinstance(event, VehiclePosition):
            self.fixes.setdefault(event.vehicle_id, {})[eid] = (t, event.lat, event.lon)
        elif isinstance(event, BagCoded):
            self._bag(event.tag).coded = (event.pilgrim_id, event.flight_id, event.hotel_id)
        elif isinstance(event, PilgrimBoarded):
            pilgrim = self._pilgrim(event.pilgrim_id)
            if event.flight_id not in pilgrim.boarded_flights:
                pilgrim.boarded_flights = pilgrim.boarded_flights | {event.flight_id}
        elif isinstance(event, PilgrimHotelArrived):
            pilgrim = self._pilgrim(event.pilgrim_id)
            checkins = dict(pilgrim.checkins)
            earliest = checkins.get(event.hotel_id)
            if earliest is None or t < earliest:
                checkins[event.hotel_id] = t
                pilgrim.checkins = tuple(checkins.items())
        elif isinstance(event, FlightDeparted):
            self.departed.add(event.flight_id)
        elif isinstance(event, FlightArrived):
            earliest = self.arrived.get(event.flight_id)
            if earliest is None or t < earliest:
                self.arrived[event.flight_id] = t
        elif isinstance(event, HotelRegistered):
            registration = (t, eid, event.lat, event.lon)
            current = self.hotels.get(event.hotel_id)
            if current is None or registration[:2] > current[:2]:
                self.hotels[event.hotel_id] = registration
        # flight.scheduled, pilgrim.registered, pilgrim.arrived, pilgrim.bus_boarded: no
        # rule of section 2 reads them beyond what bag.coded already carries (a vehicle's
        # load does not matter to vehicle_stalled).

    def result(self) -> OracleResult:
        clock = self.clock
        th = self.thresholds
        no_pilgrim = _Pilgrim()
        bags: dict[str, BagTruth] = {}
        alerts: list[AlertTruth] = []
        for tag, bag in self.bags.items():
            if bag.coded is None:
                if bag.scanned:
                    alerts.append(AlertTruth("unknown_tag", tag=tag))
                continue
            pilgrim_id, flight_id, hotel_id = bag.coded
            bags[tag] = BagTruth(
                tag,
                pilgrim_id,
                flight_id,
                hotel_id,
                "coded" if not bag.scanned else _STAGES[bag.rank],
                bag.latest_scan[2] if bag.latest_scan else None,
            )
            pilgrim = self.pilgrims.get(pilgrim_id, no_pilgrim)

            def alert(
                kind: str, coded: tuple[str, str, str] = bag.coded, tag: str = tag
            ) -> AlertTruth:
                return AlertTruth(kind, tag, None, *coded)

            if bag.latest_hotel_scan is not None and bag.latest_hotel_scan[2] != hotel_id:
                alerts.append(alert("misdelivered"))
            departed = flight_id in self.departed
            boarded = flight_id in pilgrim.boarded_flights
            if boarded and departed and not bag.loaded:
                alerts.append(alert("left_behind"))
            if bag.loaded and departed and not boarded:
                alerts.append(alert("loaded_without_pilgrim"))
            arrived_at = self.arrived.get(flight_id)
            if (
                bag.loaded
                and arrived_at is not None
                and clock is not None
                and clock > arrived_at + th.missing_after_arrival_s
                and bag.rank <= LOADED_RANK
            ):
                alerts.append(alert("missing_at_arrival"))
            checkin = dict(pilgrim.checkins).get(hotel_id)
            if (
                checkin is not None
                and clock is not None
                and clock > checkin + th.delivery_overdue_after_checkin_s
                and hotel_id not in bag.drop_hotels
            ):
                alerts.append(alert("delivery_overdue"))
        alerts.extend(self._stalled())
        return OracleResult(clock, bags, tuple(sorted(alerts)))

    def _stalled(self) -> list[AlertTruth]:
        clock = self.clock
        if clock is None:
            return []
        th = self.thresholds
        hotels = [(lat, lon) for _, _, lat, lon in self.hotels.values()]
        alerts: list[AlertTruth] = []
        for vehicle, by_id in sorted(self.fixes.items()):
            fixes = sorted((t, eid, lat, lon) for eid, (t, lat, lon) in by_id.items())
            run: list[tuple[float, float]] = []
            first_t = fixes[-1][0]
            for t, _, lat, lon in reversed(fixes):
                point = (lat, lon)
                if any(distance_m(point, other) > th.stall_radius_m for other in run):
                    break
                run.append(point)
                first_t = t
            if len(run) < 2 or clock - first_t < th.stall_after_s:
                continue
            place = run[0]
            if any(distance_m(place, a) <= th.stall_airport_m for a in AIRPORTS.values()):
                continue  # waiting at an arrival airport
            if any(distance_m(place, h) <= th.stall_hotel_m for h in hotels):
                continue  # waiting at a hotel
            alerts.append(AlertTruth("vehicle_stalled", vehicle_id=vehicle))
        return alerts


_STAGES: Final = tuple(sorted(STAGE_RANK, key=STAGE_RANK.__getitem__))


def judge(
    events: Iterable[AnyEvent], thresholds: Thresholds | None = None, clock: float | None = None
) -> OracleResult:
    """Final bag states and open alerts after the given valid events, in any order; with
    `clock` (epoch seconds, at or after every event's time) judged at that instant instead
    of the latest event's: "as of T" is `judge(events with occurred_at <= T, clock=T)`."""
    oracle = Oracle(thresholds)
    for event in events:
        oracle.add(event)
    if clock is not None:
        oracle.clock = clock
    return oracle.result()


__all__ = ["AlertTruth", "BagTruth", "Oracle", "OracleResult", "Thresholds", "judge"]
