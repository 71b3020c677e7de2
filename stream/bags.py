"""The bag state machine (contract section 1), pure.

A bag's stage is the highest checkpoint seen and its location follows its latest scan
in event time, whatever order the scans arrive in. Both are maxima over the events, so
applying a set of events in any order gives the same state; ties in event time are
broken by `event_id` so the result never depends on arrival order.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from tariq.events import STAGE_RANK, STAGES, BagCoded, BagScanned


@dataclass(slots=True)
class BagState:
    tag: str
    pilgrim_id: str | None = None
    flight_id: str | None = None
    hotel_id: str | None = None
    coded_at: datetime | None = None
    coded_event_id: str | None = None
    stage_rank: int = 0
    location: str | None = None
    location_at: datetime | None = None
    location_event_id: str | None = None
    updated_at: datetime | None = None

    @property
    def stage(self) -> str:
        return STAGES[self.stage_rank]

    @property
    def is_coded(self) -> bool:
        return self.coded_at is not None

    def apply(self, event: BagCoded | BagScanned) -> None:
        """Fold one event into the state (idempotent, order-independent)."""
        if isinstance(event, BagCoded):
            if _later(event.occurred_at, event.event_id, self.coded_at, self.coded_event_id):
                # A re-coding (a new label for the same tag) wins if it is later.
                self.pilgrim_id = event.pilgrim_id
                self.flight_id = event.flight_id
                self.hotel_id = event.hotel_id
                self.coded_at = event.occurred_at
                self.coded_event_id = event.event_id
        else:
            self.stage_rank = max(self.stage_rank, STAGE_RANK[event.checkpoint])
            if _later(event.occurred_at, event.event_id, self.location_at, self.location_event_id):
                self.location = event.location
                self.location_at = event.occurred_at
                self.location_event_id = event.event_id
        if self.updated_at is None or event.occurred_at > self.updated_at:
            self.updated_at = event.occurred_at


def _later(
    at: datetime, event_id: str, current_at: datetime | None, current_id: str | None
) -> bool:
    if current_at is None:
        return True
    return (at, event_id) > (current_at, current_id or "")
