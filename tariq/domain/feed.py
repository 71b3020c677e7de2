"""Live-feed messages (docs/feeds.md) as typed values, pure: one msgspec Struct per `kind`.

Two audiences share these shapes:

- the Redis channel of changes, written by the worker (`tariq/adapters/live.py`) and read by
  every web process (`dashboards/hub.py`): `Change`, a tagged union decoded in one go;
- the websocket clients, to whom the hub forwards changes and sends its own messages
  (`Summary`, the snapshots, `VehicleUpdate`, `Passengers`).

Times are `datetime`s, encoded as RFC 3339 with `Z` for UTC.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

import msgspec
from msgspec import UNSET, Struct, UnsetType

# ------------------------------------------------------------------ parts of messages


class Bag(Struct):
    """A bag as it is now, with its pilgrim's group."""

    tag: str
    stage: str
    location: str | None
    hotel_id: str | None
    flight_id: str | None
    pilgrim_id: str | None
    group_id: str | None
    updated_at: datetime | None


class Position(Struct):
    """Where a vehicle is: its latest fix (`at` is the event time of the fix)."""

    vehicle_id: str
    kind: str | None  # bus | truck
    lat: float | None
    lon: float | None
    speed_kmh: float | None
    heading: float | None
    at: datetime | None


class Status(Struct):
    """The reconciler's judgement of a vehicle: status, next stop and its ETA."""

    vehicle_id: str
    status: str  # idle | on_trip | stalled | arrived
    next_stop: str | None
    eta: datetime | None


class Vehicle(Struct):
    """A vehicle whole: its position and its status (snapshots and the bus screen)."""

    vehicle_id: str
    kind: str | None = None
    lat: float | None = None
    lon: float | None = None
    speed_kmh: float | None = None
    heading: float | None = None
    at: datetime | None = None
    status: str = "idle"
    next_stop: str | None = None
    eta: datetime | None = None


class Alert(Struct):
    """An alert raised (status open) or resolved; the ids that apply, the others null."""

    alert_id: str
    type: str
    status: str  # open | resolved
    raised_at: datetime
    resolved_at: datetime | None
    tag: str | None
    pilgrim_id: str | None
    flight_id: str | None
    hotel_id: str | None
    vehicle_id: str | None
    # The arrival airport it concerns: the bag's flight destination, or the airport nearest
    # the vehicle (docs/contract-extensions.md); null when neither is known.
    airport: str | None = None
    # Triage (docs/contract-extensions.md): urgency by type and age, and the operators' word.
    severity: str | None = None
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None
    assignee: str | None = None
    note: str | None = None


class Triage(Struct):
    """The operators' triage of one alert, as last changed (who and when)."""

    alert_id: str
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    assignee: str | None
    note: str | None
    updated_at: datetime
    updated_by: str | None


class Notice(Struct):
    """A notice to a hotel, as its webhook body (docs/notices.md)."""

    notice_id: str
    hotel_id: str
    kind: str  # bags_en_route | bags_delivered | eta_changed
    vehicle_id: str | None
    tags: list[str]
    eta: datetime | None
    occurred_at: datetime
    previous_eta: datetime | UnsetType | None = UNSET  # eta_changed only: the ETA it replaces


class NoticeRecord(Struct):
    """A notice with its delivery state (the hotel snapshot's list)."""

    notice_id: str
    hotel_id: str
    kind: str
    vehicle_id: str | None
    tags: list[str]
    eta: datetime | None
    occurred_at: datetime
    status: str  # pending | delivered
    attempts: int
    created_at: datetime
    delivered_at: datetime | None
    last_error: str | None
    previous_eta: datetime | UnsetType | None = UNSET


class HotelBag(Struct):
    """A bag on its way to a hotel; `eta` only while on a truck en route."""

    tag: str
    pilgrim_id: str | None
    group_id: str | None
    flight_id: str | None
    stage: str
    location: str | None
    vehicle_id: str | None
    updated_at: datetime | None
    eta: str | UnsetType = UNSET
    # Hotel truth (docs/contract-extensions.md): the hotel the bag is coded for; whether it
    # was delivered (or claimed) at that hotel; the hotel another hotel's bag was sorted or
    # delivered to (`not_ours`: it sits at this hotel but belongs to `hotel_id`); and the
    # hotel's own confirmation of receipt or report of a wrong bag.
    hotel_id: str | None = None
    delivered: bool = False
    held_at: str | None = None
    not_ours: bool = False
    confirmed_at: datetime | None = None
    reported_wrong_at: datetime | None = None


class PassengerBag(Struct):
    tag: str
    stage: str
    location: str | None


class Passenger(Struct):
    """A pilgrim on a bus, with bags (no name: the screen is in a public place)."""

    pilgrim_id: str
    hotel_id: str | None
    bags: list[PassengerBag]


class Events(Struct):
    processed: int
    duplicates: int
    rejected: int


class Figures(Struct):
    """The operators' summary: bags per stage, event counters, open alerts per type."""

    bags_by_stage: dict[str, int]
    events: Events
    alerts_open_by_type: dict[str, int]
    clock: str | None
    # Bags per stage by arrival airport (their flight's destination), from PostgreSQL.
    bags_by_airport: dict[str, dict[str, int]] = msgspec.field(default_factory=dict)


# ------------------------------------------------------------------ messages


class Message(Struct, tag_field="kind"):
    """A feed message: encoded as a JSON object whose `kind` names its type."""


class Scope(Message, tag="scope"):
    """A scope's (partition's) absolute counters, versioned by PostgreSQL."""

    scope: str
    version: int
    processed: int
    duplicates: int
    rejected: int
    clock: str | None
    stages: dict[str, int]


class Bags(Message, tag="bags"):
    bags: list[Bag]


class Vehicles(Message, tag="vehicles"):
    """New positions (from the ingest)."""

    vehicles: list[Position]


class VehicleStatuses(Message, tag="vehicle_status"):
    """Changed statuses, next stops and ETAs (from the reconciler)."""

    vehicles: list[Status]


class Alerts(Message, tag="alerts"):
    alerts: list[Alert]


class AlertCounts(Message, tag="alert_counts"):
    """The open alerts per type after reconciler round `round`."""

    round: int
    open: dict[str, int]


class NoticeMessage(Message, tag="notice"):
    notice: Notice


class AlertTriage(Message, tag="alert_triage"):
    """An operator acknowledged, assigned or annotated an alert."""

    triage: Triage


class Summary(Figures, tag_field="kind", tag="summary"):
    """The summary again, whenever a figure in it changes."""


class LiveSnapshot(Message, tag="snapshot"):
    """First message of `/ws/live`."""

    summary: Figures
    vehicles: list[Vehicle]
    alerts: list[Alert]


class HotelSnapshot(Message, tag="snapshot"):
    """First message of `/ws/hotel`."""

    hotel_id: str
    bags: list[HotelBag]
    notices: list[NoticeRecord]
    alerts: list[Alert]
    # The trucks carrying this hotel's bags now: status (stalled?), next stop, ETA.
    trucks: list[Vehicle] = msgspec.field(default_factory=list)


class BusSnapshot(Message, tag="snapshot"):
    """First message of `/ws/bus/{vehicle_id}`."""

    vehicle: Vehicle
    passengers: list[Passenger]


class VehicleUpdate(Message, tag="vehicle"):
    """The bus screen's vehicle, whole, after a new position or status."""

    vehicle: Vehicle


class Passengers(Message, tag="passengers"):
    """The bus screen's passengers, again after the bus's status changed."""

    passengers: list[Passenger]


# What the worker announces on the Redis channel, and the web processes read.
Change = (
    Scope | Bags | Vehicles | VehicleStatuses | Alerts | AlertCounts | NoticeMessage | AlertTriage
)
CHANGES: Final = (
    Scope,
    Bags,
    Vehicles,
    VehicleStatuses,
    Alerts,
    AlertCounts,
    NoticeMessage,
    AlertTriage,
)
# What the web processes send to websocket clients besides the changes they forward.
TO_CLIENTS: Final = (Summary, LiveSnapshot, HotelSnapshot, BusSnapshot, VehicleUpdate, Passengers)

_encoder: Final = msgspec.json.Encoder()
_decoder: Final = msgspec.json.Decoder(Change)


def encode(message: Struct) -> bytes:
    return _encoder.encode(message)


def decode_change(data: bytes | str) -> Change:
    """A message of the channel of changes (msgspec.ValidationError/DecodeError if not)."""
    return _decoder.decode(data)


def merge_position(vehicle: Vehicle, position: Position) -> Vehicle:
    """The vehicle at a new position; its status, next stop and ETA stay."""
    return msgspec.structs.replace(
        vehicle,
        kind=position.kind,
        lat=position.lat,
        lon=position.lon,
        speed_kmh=position.speed_kmh,
        heading=position.heading,
        at=position.at,
    )


def merge_status(vehicle: Vehicle, status: Status) -> Vehicle:
    """The vehicle with a new status, next stop and ETA; its position stays."""
    return msgspec.structs.replace(
        vehicle, status=status.status, next_stop=status.next_stop, eta=status.eta
    )
