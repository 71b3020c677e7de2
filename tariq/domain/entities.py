"""Flights, pilgrims, hotels and vehicles as the stream knows them, pure.

Like bags, each state is a fold of its events that does not depend on their order:
earliest times for one-off facts (a flight departs once), "latest by (occurred_at,
event_id)" for facts that can be corrected (a registration, a bus boarding).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from tariq.domain.bags import later
from tariq.domain.events import (
    FlightArrived,
    FlightDeparted,
    FlightScheduled,
    HotelRegistered,
    PilgrimArrived,
    PilgrimBoarded,
    PilgrimBusBoarded,
    PilgrimHotelArrived,
    PilgrimRegistered,
    VehiclePosition,
)


def earliest(current: datetime | None, at: datetime) -> datetime:
    return at if current is None or at < current else current


@dataclass(slots=True)
class FlightState:
    flight_id: str
    origin: str | None = None
    destination: str | None = None
    scheduled_departure: datetime | None = None
    scheduled_arrival: datetime | None = None
    scheduled_at: datetime | None = None
    scheduled_event_id: str | None = None
    departed_at: datetime | None = None
    arrived_at: datetime | None = None

    def apply(self, event: FlightScheduled | FlightDeparted | FlightArrived) -> None:
        if isinstance(event, FlightScheduled):
            if later(event.occurred_at, event.event_id, self.scheduled_at, self.scheduled_event_id):
                self.origin = event.origin
                self.destination = event.destination
                self.scheduled_departure = event.scheduled_departure
                self.scheduled_arrival = event.scheduled_arrival
                self.scheduled_at = event.occurred_at
                self.scheduled_event_id = event.event_id
        elif isinstance(event, FlightDeparted):
            self.departed_at = earliest(self.departed_at, event.occurred_at)
        else:
            self.arrived_at = earliest(self.arrived_at, event.occurred_at)

    @property
    def status(self) -> str:
        if self.arrived_at is not None:
            return "arrived"
        if self.departed_at is not None:
            return "departed"
        return "scheduled" if self.scheduled_at is not None else "unknown"


PilgrimEvent = (
    PilgrimRegistered | PilgrimBoarded | PilgrimArrived | PilgrimBusBoarded | PilgrimHotelArrived
)


@dataclass(slots=True)
class PilgrimState:
    pilgrim_id: str
    group_id: str | None = None
    flight_id: str | None = None
    hotel_id: str | None = None
    nationality: str | None = None
    # Personal data: kept for the operator's view; the passport number is never stored.
    name: str | None = None
    registered_at: datetime | None = None
    registered_event_id: str | None = None
    # The keyed hash of the winning registration's passport number (set by the stream with
    # its key: tariq/domain/records.py `seal_registrations`), never the number itself.
    passport_hash: str | None = None
    arrived_airport: str | None = None
    arrived_at: datetime | None = None
    bus_vehicle_id: str | None = None
    bus_boarded_at: datetime | None = None
    bus_event_id: str | None = None
    last_checkin_at: datetime | None = None
    # Flights boarded (earliest boarding each) and hotels checked in (earliest each).
    boardings: dict[str, datetime] = field(default_factory=dict)
    checkins: dict[str, datetime] = field(default_factory=dict)

    def apply(self, event: PilgrimEvent) -> None:
        at, event_id = event.occurred_at, event.event_id
        if isinstance(event, PilgrimRegistered):
            if later(at, event_id, self.registered_at, self.registered_event_id):
                self.group_id = event.group_id
                self.flight_id = event.flight_id
                self.hotel_id = event.hotel_id
                self.nationality = event.nationality
                self.name = event.name
                self.registered_at = at
                self.registered_event_id = event_id
                self.passport_hash = None  # the new winner's, if it has one, is set after
        elif isinstance(event, PilgrimBoarded):
            self.boardings[event.flight_id] = earliest(self.boardings.get(event.flight_id), at)
        elif isinstance(event, PilgrimArrived):
            if self.arrived_at is None or at < self.arrived_at:
                self.arrived_at = at
                self.arrived_airport = event.airport
        elif isinstance(event, PilgrimBusBoarded):
            if later(at, event_id, self.bus_boarded_at, self.bus_event_id):
                self.bus_vehicle_id = event.vehicle_id
                self.bus_boarded_at = at
                self.bus_event_id = event_id
        else:
            self.checkins[event.hotel_id] = earliest(self.checkins.get(event.hotel_id), at)
            if self.last_checkin_at is None or at > self.last_checkin_at:
                self.last_checkin_at = at


@dataclass(slots=True)
class HotelState:
    hotel_id: str
    name: str | None = None
    city: str | None = None
    lat: float | None = None
    lon: float | None = None
    at: datetime | None = None
    event_id: str | None = None

    def apply(self, event: HotelRegistered) -> None:
        if later(event.occurred_at, event.event_id, self.at, self.event_id):
            self.name, self.city = event.name, event.city
            self.lat, self.lon = event.lat, event.lon
            self.at, self.event_id = event.occurred_at, event.event_id


@dataclass(slots=True)
class VehicleState:
    """A vehicle's latest fix; its whole track is kept as fixes for the stall rule."""

    vehicle_id: str
    kind: str | None = None
    lat: float | None = None
    lon: float | None = None
    speed_kmh: float | None = None
    heading: float | None = None
    at: datetime | None = None
    event_id: str | None = None

    def apply(self, event: VehiclePosition) -> None:
        if later(event.occurred_at, event.event_id, self.at, self.event_id):
            self.kind = event.kind
            self.lat, self.lon = event.lat, event.lon
            self.speed_kmh, self.heading = event.speed_kmh, event.heading
            self.at, self.event_id = event.occurred_at, event.event_id
