"""What one batch of input messages means, pure: decoding, dead letters, duplicates
within the batch, and the bag state changes. The I/O around it is in stream/processor.py.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from stream.bags import BagState
from tariq.events import (
    AnyEvent,
    BagCoded,
    BagScanned,
    InvalidEvent,
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


BagEvent = BagCoded | BagScanned


def bag_events(accepted: Sequence[Accepted]) -> list[BagEvent]:
    return [a.event for a in accepted if isinstance(a.event, BagCoded | BagScanned)]


def apply_bag_events(states: dict[str, BagState], events: Iterable[BagEvent]) -> Counter[str]:
    """Fold events into the bag states (creating bags as needed).

    Returns the change in bags per stage, so per-stage counts can be kept without a scan.
    """
    before = {tag: state.stage for tag, state in states.items()}
    for event in events:
        state = states.get(event.tag)
        if state is None:
            state = states[event.tag] = BagState(tag=event.tag)
        state.apply(event)
    delta: Counter[str] = Counter()
    for tag, state in states.items():
        old = before.get(tag)
        if old != state.stage:
            if old is not None:
                delta[old] -= 1
            delta[state.stage] += 1
    return delta


def latest_time(events: Iterable[AnyEvent]) -> datetime | None:
    return max((e.occurred_at for e in events), default=None)
