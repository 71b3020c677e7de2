"""The public contract's events (contract.md section 1), validated with msgspec.

One tagged union decodes and validates an event in one pass (~1 µs each), so the
stream and the web tier share exactly the same rules. Unknown extra fields are
ignored for forward compatibility; everything the contract names is checked.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Final, Literal

import msgspec
from msgspec import Meta, Struct

EventId = Annotated[str, Meta(min_length=1, max_length=64)]
Id = Annotated[str, Meta(min_length=1, max_length=64)]
# RFC 3339 with an offset: a naive time is ambiguous in event time, so it is refused.
Instant = Annotated[datetime, Meta(tz=True)]
TagNumber = Annotated[str, Meta(pattern=r"^[0-9]{10}$")]
AirportCode = Annotated[str, Meta(pattern=r"^[A-Z]{3}$")]
Latitude = Annotated[float, Meta(ge=-90, le=90)]
Longitude = Annotated[float, Meta(ge=-180, le=180)]

Checkpoint = Literal[
    "accepted", "loaded", "offloaded", "sorted", "truck_loaded", "delivered", "claimed"
]
# The contract's order of checkpoints; a bag's stage is the highest one seen.
CHECKPOINTS: Final[tuple[str, ...]] = (
    "accepted",
    "loaded",
    "offloaded",
    "sorted",
    "truck_loaded",
    "delivered",
    "claimed",
)
STAGES: Final[tuple[str, ...]] = ("coded", *CHECKPOINTS)
STAGE_RANK: Final[dict[str, int]] = {stage: rank for rank, stage in enumerate(STAGES)}


class Event(Struct, kw_only=True, tag_field="type", frozen=True):
    """The envelope shared by every event."""

    event_id: EventId
    occurred_at: Instant
    source: str | None = None

    @property
    def type(self) -> str:
        return str(self.__struct_config__.tag)


class HotelRegistered(Event, tag="hotel.registered", frozen=True):
    hotel_id: Id
    name: Annotated[str, Meta(min_length=1)]
    city: Literal["makkah", "madinah"]
    lat: Latitude
    lon: Longitude


class FlightScheduled(Event, tag="flight.scheduled", frozen=True):
    flight_id: Id
    origin: AirportCode
    destination: Literal["JED", "MED"]
    scheduled_departure: Instant
    scheduled_arrival: Instant


class PilgrimRegistered(Event, tag="pilgrim.registered", frozen=True):
    pilgrim_id: Id
    group_id: Id
    flight_id: Id
    hotel_id: Id
    nationality: Annotated[str, Meta(min_length=2, max_length=64)]
    name: str | None = None
    passport_no: str | None = None


class BagCoded(Event, tag="bag.coded", frozen=True):
    tag: TagNumber
    pilgrim_id: Id
    flight_id: Id
    hotel_id: Id


class BagScanned(Event, tag="bag.scanned", frozen=True):
    tag: TagNumber
    checkpoint: Checkpoint
    location: Id
    vehicle_id: Id | None = None
    hotel_id: Id | None = None
    uld: str | None = None

    def __post_init__(self) -> None:
        # Fields the contract requires only for some checkpoints.
        if self.checkpoint == "truck_loaded" and self.vehicle_id is None:
            raise ValueError("a truck_loaded scan needs `vehicle_id`")
        if self.checkpoint == "sorted" and self.hotel_id is None:
            raise ValueError("a sorted scan needs `hotel_id` (the hotel lane)")


class FlightDeparted(Event, tag="flight.departed", frozen=True):
    flight_id: Id


class FlightArrived(Event, tag="flight.arrived", frozen=True):
    flight_id: Id


class PilgrimBoarded(Event, tag="pilgrim.boarded", frozen=True):
    pilgrim_id: Id
    flight_id: Id


class PilgrimArrived(Event, tag="pilgrim.arrived", frozen=True):
    pilgrim_id: Id
    airport: Literal["JED", "MED"]


class PilgrimBusBoarded(Event, tag="pilgrim.bus_boarded", frozen=True):
    pilgrim_id: Id
    vehicle_id: Id


class PilgrimHotelArrived(Event, tag="pilgrim.hotel_arrived", frozen=True):
    pilgrim_id: Id
    hotel_id: Id


class VehiclePosition(Event, tag="vehicle.position", frozen=True):
    vehicle_id: Id
    kind: Literal["bus", "truck"]
    lat: Latitude
    lon: Longitude
    speed_kmh: Annotated[float, Meta(ge=0)] | None = None
    heading: Annotated[float, Meta(ge=0, le=360)] | None = None


class IataMessage(Event, tag="iata.message", frozen=True):
    text: Annotated[str, Meta(min_length=1)]


AnyEvent = (
    HotelRegistered
    | FlightScheduled
    | PilgrimRegistered
    | BagCoded
    | BagScanned
    | FlightDeparted
    | FlightArrived
    | PilgrimBoarded
    | PilgrimArrived
    | PilgrimBusBoarded
    | PilgrimHotelArrived
    | VehiclePosition
    | IataMessage
)

EVENT_TYPES: Final[tuple[str, ...]] = tuple(
    str(cls.__struct_config__.tag)
    for cls in (
        HotelRegistered,
        FlightScheduled,
        PilgrimRegistered,
        BagCoded,
        BagScanned,
        FlightDeparted,
        FlightArrived,
        PilgrimBoarded,
        PilgrimArrived,
        PilgrimBusBoarded,
        PilgrimHotelArrived,
        VehiclePosition,
        IataMessage,
    )
)

_decoder: Final = msgspec.json.Decoder(AnyEvent)
_converter_type: Final = AnyEvent


class InvalidEvent(ValueError):
    """Input that is not a contract event; the message says why."""


def decode_event(raw: bytes | str) -> AnyEvent:
    """Decode and validate one event from its JSON text."""
    try:
        return _decoder.decode(raw)
    except msgspec.ValidationError as exc:
        raise InvalidEvent(_reason(str(exc))) from None
    except msgspec.DecodeError as exc:
        raise InvalidEvent(f"not JSON: {exc}") from None


def event_from_object(obj: object) -> AnyEvent:
    """Validate an already-parsed JSON value (for example one item of a posted array)."""
    try:
        return msgspec.convert(obj, _converter_type)
    except msgspec.ValidationError as exc:
        raise InvalidEvent(_reason(str(exc))) from None


def event_as_dict(event: AnyEvent) -> dict[str, object]:
    """The event as contract JSON values (times as RFC 3339 strings)."""
    result = msgspec.to_builtins(event)
    assert isinstance(result, dict)
    return result


def _reason(message: str) -> str:
    # msgspec says "Expected `object`, got `array`"; for a missing tag field it names
    # `$.type`. Keep its wording (it names the field) and make unknown types explicit.
    if message.startswith("Invalid value") and "`$.type`" in message:
        return f"unknown event type: {message}"
    return message


def rfc3339(value: datetime | None) -> str | None:
    """A time as the contract writes it (RFC 3339, `Z` for UTC)."""
    return value.isoformat().replace("+00:00", "Z") if value else None


def partition_key(event: AnyEvent) -> str:
    """The key an event is published under: bag events by tag, others by their main id.

    Keeping a bag's events in one partition means one worker owns its state at a time.
    """
    for attr in ("tag", "flight_id", "pilgrim_id", "vehicle_id", "hotel_id"):
        value = getattr(event, attr, None)
        if isinstance(value, str):
            return value
    return event.event_id
