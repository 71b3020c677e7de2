"""What one batch of input messages means, pure: decoding, dead letters, duplicates
within the batch, and the bag state changes. The I/O around it is in stream/processor.py.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

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

    @property
    def source_ref(self) -> str:
        return f"kafka:{self.topic}:{self.partition}:{self.offset}"

    @property
    def scope(self) -> str:
        return f"p{self.partition}"


@dataclass(frozen=True, slots=True)
class DeadLetter:
    source_ref: str
    scope: str
    reason: str
    raw: bytes


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
            batch.dead.append(DeadLetter(record.source_ref, record.scope, str(exc), record.value))
            continue
        batch.accepted.append(Accepted(record, event))
    return batch


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
        if kind == "bag" and state.stage != counted.get(key):
            delta = stage_delta.setdefault(item.record.scope, Counter())
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
    return Folded(changed, {s: dict(d) for s, d in stage_delta.items()}, dirty)
