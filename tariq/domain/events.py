"""The public contract's events (contract.md section 1), validated with msgspec.

One tagged union decodes and validates an event in one pass, after checks on the raw
bytes (size, UTF-8, nesting depth) and followed by the string rule (no control
character anywhere) — a few µs an event — so the stream, the web tier and replay share
exactly the same rules (contract v1.1 "Limits and strings"; docs/security.md). Unknown
extra fields are ignored for forward compatibility but obey the string rule.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Annotated, Final, Literal

import msgspec
import orjson
from msgspec import Meta, Struct

# Contract v1.1 "Limits and strings": no NUL or other control character in any string
# (TAB, CR and LF are allowed inside an `iata.message` text only). Checked on the raw
# text by `_check_strings` (a msgspec pattern per field would cost ~3 µs a field).
MAX_ID_CHARS: Final = 64
MAX_NAME_CHARS: Final = 200
MAX_TEXT_BYTES: Final = 16 * 1024
MAX_EVENT_BYTES: Final = 64 * 1024
MAX_DEPTH: Final = 32

EventId = Annotated[str, Meta(min_length=1, max_length=MAX_ID_CHARS)]
Id = Annotated[str, Meta(min_length=1, max_length=MAX_ID_CHARS)]
Name = Annotated[str, Meta(min_length=1, max_length=MAX_NAME_CHARS)]
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
    source: Name | None = None

    @property
    def type(self) -> str:
        return str(self.__struct_config__.tag)


class HotelRegistered(Event, tag="hotel.registered", frozen=True):
    hotel_id: Id
    name: Name
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
    name: Name | None = None
    # Personal data: masked in the journal, only a keyed hash is kept (docs/security.md).
    passport_no: Id | None = None


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
    uld: Id | None = None

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
    text: Annotated[str, Meta(min_length=1, max_length=MAX_TEXT_BYTES)]

    def __post_init__(self) -> None:
        if len(self.text.encode("utf-8", "surrogatepass")) > MAX_TEXT_BYTES:
            raise ValueError(f"`text` is over {MAX_TEXT_BYTES} bytes")


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


class InvalidEvent(ValueError):
    """Input that is not a contract event; the message says why."""


# A JSON string (its escapes included) and the brackets: what the depth check looks at.
_STRING_OR_BRACKET: Final = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.DOTALL)
# An escape inside a JSON string that means a control character (an odd run of
# backslashes before it). (msgspec itself refuses a lone UTF-16 surrogate escape.)
_CONTROL_ESCAPE: Final = re.compile(rb"(?<!\\)(?:\\\\)*\\(?:u00[01][0-9a-fA-F]|u007[fF]|[bfnrt])")
_LINE_ESCAPE: Final = re.compile(rb"\\(?:u000[9aAdD]|[nrt])$")


def json_depth_exceeds(raw: bytes, limit: int = MAX_DEPTH) -> bool:
    """Whether the JSON text nests deeper than `limit`, without parsing it (so that no
    recursive parser ever sees a 1,000-deep value). Brackets inside strings do not count."""
    if raw.count(b"[") + raw.count(b"{") <= limit:
        return False
    depth = 0
    for match in _STRING_OR_BRACKET.finditer(raw):
        token = match.group()
        if token in (b"[", b"{"):
            depth += 1
            if depth > limit:
                return True
        elif token in (b"]", b"}"):
            depth -= 1
    return False


def check_raw(raw: bytes) -> None:
    """The contract's limits that are checked on the bytes, before any parse: size,
    UTF-8, nesting depth. Raises InvalidEvent with the reason."""
    if len(raw) > MAX_EVENT_BYTES:
        raise InvalidEvent(f"event too large: {len(raw)} bytes (at most {MAX_EVENT_BYTES})")
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidEvent(f"not UTF-8: invalid byte at {exc.start}") from None
    if json_depth_exceeds(raw):
        raise InvalidEvent(f"JSON nested deeper than {MAX_DEPTH} levels")


_CONTROL_CHAR: Final = re.compile(r"[\x00-\x1f\x7f]")
_CONTROL_BUT_LINES: Final = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _check_strings(raw: bytes, event: AnyEvent) -> None:
    """No control character in any string of the object (known fields, unknown fields and
    keys). Raw control bytes are not JSON (the parser refuses them) except DEL, so only DEL
    and escapes need a look; the common event has neither and costs two byte searches."""
    if b"\x7f" not in raw and not (b"\\" in raw and _CONTROL_ESCAPE.search(raw)):
        return
    iata = isinstance(event, IataMessage)
    # Decided on the raw text (a repeated key cannot hide one); the parse names the field.
    forbidden = b"\x7f" in raw or any(
        not (iata and _LINE_ESCAPE.search(match.group())) for match in _CONTROL_ESCAPE.finditer(raw)
    )
    try:
        parsed = orjson.loads(raw)
    except orjson.JSONDecodeError:  # numbers orjson cannot hold; the depth is bounded
        parsed = json.loads(raw)
    path = _control_path(parsed, "$", iata)
    if forbidden or path is not None:
        where = f"`{path}`" if path else "a string"
        raise InvalidEvent(f"control character in {where} (U+0000-U+001F, U+007F)")


def _control_path(value: object, path: str, iata: bool) -> str | None:
    """Where the first string with a control character is (the depth is already bounded)."""
    if isinstance(value, str):
        allowed_lines = iata and path == "$.text"
        found = (_CONTROL_BUT_LINES if allowed_lines else _CONTROL_CHAR).search(value)
        return path if found else None
    if isinstance(value, list):
        for index, item in enumerate(value):
            hit = _control_path(item, f"{path}[{index}]", iata)
            if hit:
                return hit
    elif isinstance(value, dict):
        for key, item in value.items():
            if _CONTROL_CHAR.search(key):
                return f"{path} (a key)"
            hit = _control_path(item, f"{path}.{key}", iata)
            if hit:
                return hit
    return None


def decode_event(raw: bytes | str) -> AnyEvent:
    """Decode and validate one event from its JSON text, by every rule of contract v1.1
    section 1; anything else raises InvalidEvent with the reason, never another error."""
    data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else bytes(raw)
    check_raw(data)
    try:
        event = _decoder.decode(data)
    except msgspec.ValidationError as exc:
        raise InvalidEvent(_reason(str(exc))) from None
    except msgspec.DecodeError as exc:
        raise InvalidEvent(f"not JSON: {exc}") from None
    except (RecursionError, ValueError, OverflowError) as exc:  # defence in depth
        raise InvalidEvent(f"not a contract event: {type(exc).__name__}") from None
    _check_strings(data, event)
    return event


def decode_journaled(raw: bytes | str) -> AnyEvent:
    """Decode an event the journal kept: it passed `decode_event` when it was received,
    so only its JSON is decoded into the event's struct (the byte-level checks, a third of
    the decoding, are not repeated). Raises InvalidEvent if it no longer decodes."""
    try:
        return _decoder.decode(raw)
    except (msgspec.DecodeError, RecursionError, ValueError, OverflowError) as exc:
        raise InvalidEvent(f"journaled event no longer decodes: {exc}") from None


def event_from_object(obj: object) -> AnyEvent:
    """Validate an already-parsed JSON value (for example an event derived from an IATA
    message), by the same rules: it is encoded and decoded as if it had been received."""
    try:
        raw = msgspec.json.encode(obj)
    except (TypeError, ValueError, OverflowError, RecursionError) as exc:
        raise InvalidEvent(f"not JSON-encodable: {type(exc).__name__}") from None
    return decode_event(raw)


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
