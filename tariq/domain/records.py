"""What one batch of input messages means, pure: decoding, dead letters, duplicates
within the batch, and the bag state changes. The I/O around it is in stream/ingest.py.

Personal data (contract v1.1): a passport number is never kept in clear. Dead letters
keep the raw input masked (`mask_personal_data`) and truncated, with the original length
and SHA-256; the journal keeps the event with its passport number masked
(`journal_payload`); the pilgrims table keeps a keyed hash (`passport_hash`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import orjson

from tariq.domain.bags import BagState
from tariq.domain.entities import FlightState, HotelState, PilgrimState, VehicleState
from tariq.domain.events import (
    AnyEvent,
    BagCoded,
    BagScanned,
    FlightArrived,
    FlightDeparted,
    FlightScheduled,
    HotelRegistered,
    InvalidEvent,
    PilgrimArrived,
    PilgrimBoarded,
    PilgrimBusBoarded,
    PilgrimHotelArrived,
    PilgrimRegistered,
    VehiclePosition,
    decode_event,
)

MASK: Final = "[masked]"
HASH_PREFIX: Final = "hmac:"
MAX_DEAD_LETTER_BYTES: Final = 64 * 1024
MAX_REASON_CHARS: Final = 1_000
# `"passport_no": "…"` anywhere in a text, parseable or not (the key may be escaped).
_PASSPORT_JSON: Final = re.compile(
    rb'("(?:passport_no|passport\\u005[fF]no)"\s*:\s*)"(?:[^"\\]|\\.)*"?', re.DOTALL
)
# IATA Type B elements that carry personal data: the passenger name (`.P/`) and an APIS
# document (`DOCS`/`PSPT`, the passport number among them), to the end of the line.
_LINE_START: Final = rb"(?:^|(?<=\n)|(?<=\r)|(?<=\\n)|(?<=\\r))"
_IATA_NAME: Final = re.compile(_LINE_START + rb"(\.P/)[^\r\n\\\"]*")
_IATA_DOCUMENT: Final = re.compile(rb"(?<![A-Z])((?:DOCS|PSPT)[ /])[^\r\n\\\"]*")
_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True, slots=True)
class InputRecord:
    """One message of the input topic, with where it came from."""

    value: bytes
    topic: str
    partition: int
    offset: int
    # Set on events the service derived itself (from an `iata.message`).
    parent_event_id: str | None = None
    # How it reached the topic: "http" (the web intake marks its messages) or "topic".
    via: str = "topic"
    # The Kafka message timestamp (ms since the epoch), for the end-to-end latency metric.
    timestamp_ms: int | None = None
    # Where it was (what makes a redelivery change nothing), and its partition's counters
    # row: made once here, since a batch reads them several times a record.
    source_ref: str = field(init=False, compare=False)
    scope: str = field(init=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "source_ref", f"kafka:{self.topic}:{self.partition}:{self.offset}")
        object.__setattr__(self, "scope", f"p{self.partition}")


def mask_personal_data(raw: bytes, *, names: bool = True) -> bytes:
    """The input with every recognisable passport number (a JSON `passport_no`, an IATA
    document element) replaced by a mask, and with `names` the IATA passenger element too;
    works on any bytes, JSON or not."""
    mask = MASK.encode()
    if b"passport" in raw:
        raw = _PASSPORT_JSON.sub(rb'\1"' + mask + rb'"', raw)
    if b"DOCS" in raw or b"PSPT" in raw:
        raw = _IATA_DOCUMENT.sub(rb"\1" + mask, raw)
    if names and b".P/" in raw:
        raw = _IATA_NAME.sub(rb"\1" + mask, raw)
    return raw


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """Bad input kept for an operator: masked, at most 64 KiB, with the original's length
    and SHA-256. Build one with `DeadLetter.of`."""

    source_ref: str
    scope: str
    reason: str
    raw: bytes
    length: int
    sha256: str
    truncated: bool

    @classmethod
    def of(cls, source_ref: str, scope: str, reason: str, raw: bytes) -> DeadLetter:
        masked = mask_personal_data(raw)
        clean_reason = _CONTROL.sub("?", reason)[:MAX_REASON_CHARS]
        clean_reason = mask_personal_data(clean_reason.encode()).decode("utf-8", "replace")
        return cls(
            source_ref=source_ref,
            scope=scope,
            reason=clean_reason,
            raw=masked[:MAX_DEAD_LETTER_BYTES],
            length=len(raw),
            sha256=hashlib.sha256(raw).hexdigest(),
            truncated=len(masked) > MAX_DEAD_LETTER_BYTES,
        )


@dataclass(frozen=True, slots=True)
class Accepted:
    record: InputRecord
    event: AnyEvent


@dataclass(slots=True)
class DecodedBatch:
    accepted: list[Accepted] = field(default_factory=list)
    dead: list[DeadLetter] = field(default_factory=list)


def decode_batch(records: Iterable[InputRecord]) -> DecodedBatch:
    """Split records into valid events and dead letters; nothing is dropped."""
    batch = DecodedBatch()
    for record in records:
        try:
            event = decode_event(record.value)
        except InvalidEvent as exc:
            batch.dead.append(
                DeadLetter.of(record.source_ref, record.scope, str(exc), record.value)
            )
            continue
        batch.accepted.append(Accepted(record, event))
    return batch


def normalise_passport(passport_no: str) -> str:
    """The form a passport number is hashed in: upper case, no spaces or hyphens."""
    return re.sub(r"[\s-]", "", passport_no).upper()


def passport_hash(key: bytes, passport_no: str) -> str:
    """The keyed hash kept instead of a passport number: `hmac:` and the HMAC-SHA256 in
    unpadded base64url (48 characters, so it still fits the field's 64). A value that is
    already such a hash (the HTTP intake seals registrations) is returned as it is."""
    if passport_no.startswith(HASH_PREFIX):
        return passport_no
    digest = hmac.new(key, normalise_passport(passport_no).encode(), hashlib.sha256).digest()
    return HASH_PREFIX + base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def seal_passport(raw: bytes, event: AnyEvent, key: bytes) -> bytes:
    """A registration's JSON with its passport number replaced by the keyed hash (what the
    HTTP intake publishes, so the input topic never carries the number); other events and
    registrations without a passport number are returned unchanged."""
    if not isinstance(event, PilgrimRegistered) or event.passport_no is None:
        return raw
    if event.passport_no.startswith(HASH_PREFIX):
        return raw
    return replace_passport(raw, passport_hash(key, event.passport_no))


def journal_payload(item: Accepted) -> str:
    """The text the journal keeps for an event: as received, except that a passport
    number is masked."""
    value = item.record.value
    event = item.event
    if isinstance(event, PilgrimRegistered) and event.passport_no is not None:
        return replace_passport(value, MASK).decode("utf-8")
    return mask_personal_data(value, names=False).decode("utf-8")


def replace_passport(raw: bytes, new_value: str) -> bytes:
    """A registration's JSON text with `passport_no` set to `new_value`, otherwise byte for
    byte as received; re-encoded only when the key is spelt with unusual escapes. Raises
    InvalidEvent when it cannot be done (the input is then a dead letter)."""
    replaced = _PASSPORT_JSON.sub(rb"\1" + orjson.dumps(new_value), raw)
    try:
        if getattr(decode_event(replaced), "passport_no", None) == new_value:
            return replaced
        parsed = orjson.loads(raw)
        parsed["passport_no"] = new_value
        return orjson.dumps(parsed)
    except (InvalidEvent, orjson.JSONDecodeError, orjson.JSONEncodeError) as exc:
        raise InvalidEvent(f"`passport_no` could not be masked: {exc}") from None


def seal_registrations(
    key: bytes, pilgrims: dict[str, PilgrimState], accepted: Iterable[Accepted]
) -> None:
    """Give each folded pilgrim whose winning registration (by event time) is among
    `accepted` that registration's keyed passport hash; one that lost changes nothing, in
    any order of arrival."""
    for a in accepted:
        event = a.event
        if isinstance(event, PilgrimRegistered) and event.passport_no:
            state = pilgrims.get(event.pilgrim_id)
            if state is not None and state.registered_event_id == event.event_id:
                state.passport_hash = passport_hash(key, event.passport_no)


def child_event_id(parent_event_id: str, index: int) -> str:
    """A stable id for the index-th event derived from a parent event (at most 64 chars)."""
    candidate = f"{parent_event_id}/{index}"
    if len(candidate) <= 64:
        return candidate
    digest = hashlib.sha256(candidate.encode()).hexdigest()[:48]
    return f"derived-{digest}"


# ---- folding a batch into entity states ---------------------------------------------------

ENTITY_KINDS: Final = ("bag", "flight", "pilgrim", "hotel", "vehicle")
_ENTITY_OF: Final[dict[type, tuple[str, str]]] = {
    BagCoded: ("bag", "tag"),
    BagScanned: ("bag", "tag"),
    FlightScheduled: ("flight", "flight_id"),
    FlightDeparted: ("flight", "flight_id"),
    FlightArrived: ("flight", "flight_id"),
    PilgrimRegistered: ("pilgrim", "pilgrim_id"),
    PilgrimBoarded: ("pilgrim", "pilgrim_id"),
    PilgrimArrived: ("pilgrim", "pilgrim_id"),
    PilgrimBusBoarded: ("pilgrim", "pilgrim_id"),
    PilgrimHotelArrived: ("pilgrim", "pilgrim_id"),
    HotelRegistered: ("hotel", "hotel_id"),
    VehiclePosition: ("vehicle", "vehicle_id"),
}
_NEW_STATE: Final[dict[str, Callable[[str], Any]]] = {
    "bag": BagState,
    "flight": FlightState,
    "pilgrim": PilgrimState,
    "hotel": HotelState,
    "vehicle": VehicleState,
}


def entity_of(event: AnyEvent) -> tuple[str, str] | None:
    """(kind, id) of the entity an event changes; None for `iata.message`."""
    found = _ENTITY_OF.get(type(event))
    return (found[0], getattr(event, found[1])) if found else None


def touched_entities(events: Iterable[AnyEvent]) -> dict[str, set[str]]:
    touched: dict[str, set[str]] = {kind: set() for kind in ENTITY_KINDS}
    for event in events:
        entity = entity_of(event)
        if entity:
            touched[entity[0]].add(entity[1])
    return touched


@dataclass(slots=True)
class Folded:
    changed: dict[str, dict[str, Any]]  # kind → id → state, for the entities that changed
    stage_delta: dict[str, dict[str, int]]  # scope → stage → change in bags
    # (flight_id, stage_rank) → change in bags: the arrival airports' flow, kept per flight
    # so that a flight's destination can be learnt after its bags (adapters/db/airports.py).
    flight_stage_delta: dict[tuple[str, int], int]
    dirty: set[tuple[str, str]]  # what the reconciler must judge again


def fold(states: dict[str, dict[str, Any]], accepted: Sequence[Accepted]) -> Folded:
    """Apply fresh events to the loaded states (missing ones are created).

    Bag stage moves are charged to the scope of the event that made them; only the sum
    over scopes is ever shown.
    """
    # The stage each bag is counted under in the totals (a new bag is counted nowhere).
    counted: dict[str, str | None] = {tag: bag.stage for tag, bag in states["bag"].items()}
    before_vehicle = {
        **{("bag", t): b.truck_vehicle_id for t, b in states["bag"].items()},
        **{("pilgrim", p): s.bus_vehicle_id for p, s in states["pilgrim"].items()},
    }
    placed: dict[str, tuple[str, int] | None] = {
        tag: (bag.flight_id, bag.stage_rank) if bag.flight_id else None
        for tag, bag in states["bag"].items()
    }
    flight_delta: Counter[tuple[str, int]] = Counter()
    changed: dict[str, dict[str, Any]] = {kind: {} for kind in ENTITY_KINDS}
    stage_delta: dict[str, Counter[str]] = {}
    dirty: set[tuple[str, str]] = set()
    for item in accepted:
        entity = entity_of(item.event)
        if entity is None:
            continue
        kind, key = entity
        state = states[kind].get(key)
        if state is None:
            state = states[kind][key] = _NEW_STATE[kind](key)
        state.apply(item.event)
        changed[kind][key] = state
        if kind != "hotel":
            dirty.add((kind, key))
        if kind == "bag":
            now = (state.flight_id, state.stage_rank) if state.flight_id else None
            before = placed.get(key)
            if now != before:
                if before is not None:
                    flight_delta[before] -= 1
                if now is not None:
                    flight_delta[now] += 1
                placed[key] = now
        if kind == "bag" and state.stage != counted.get(key):
            # Not setdefault(scope, Counter()): a Counter built per bag event and thrown
            # away was 4% of a worker's samples (py-spy).
            delta = stage_delta.get(item.record.scope)
            if delta is None:
                delta = stage_delta[item.record.scope] = Counter()
            old = counted.get(key)
            if old is not None:
                delta[old] -= 1
            delta[state.stage] += 1
            counted[key] = state.stage
    for kind, attribute in (("bag", "truck_vehicle_id"), ("pilgrim", "bus_vehicle_id")):
        for key, state in changed[kind].items():
            # Loading or unloading changes what a vehicle carries: judge it again.
            for vehicle in (before_vehicle.get((kind, key)), getattr(state, attribute)):
                if vehicle:
                    dirty.add(("vehicle", vehicle))
    return Folded(
        changed=changed,
        stage_delta={s: dict(d) for s, d in stage_delta.items()},
        flight_stage_delta={k: n for k, n in flight_delta.items() if n},
        dirty=dirty,
    )
