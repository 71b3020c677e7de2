"""The bag state machine (contract section 1), pure.

A bag's stage is the highest checkpoint seen and its location follows its latest scan
in event time, whatever order the scans arrive in. Every field is a maximum, a minimum,
a set union or "the latest by (occurred_at, event_id)", so applying a set of events in any
order, with any duplicates, gives the same state.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from tariq.domain.events import STAGE_RANK, STAGES, BagCoded, BagScanned

LOADED = STAGE_RANK["loaded"]
# Scans that say which hotel a bag is headed to or arrived at (for misdelivered).
HOTEL_SCANS = frozenset({"sorted", "delivered", "claimed"})
DROP_SCANS = frozenset({"delivered", "claimed"})


def later(at: datetime, event_id: str, current_at: datetime | None, current_id: str | None) -> bool:
    """Whether (at, event_id) is later than the current (at, id): ties broken by id."""
    if current_at is None:
        return True
    return (at, event_id) > (current_at, current_id or "")


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
    scanned: bool = False
    loaded_seen: bool = False
    hotel_scan_hotel: str | None = None
    hotel_scan_at: datetime | None = None
    hotel_scan_event_id: str | None = None
    delivered_hotels: list[str] = field(default_factory=list)
    last_drop_at: datetime | None = None
    truck_vehicle_id: str | None = None
    truck_at: datetime | None = None
    truck_event_id: str | None = None

    @property
    def stage(self) -> str:
        return STAGES[self.stage_rank]

    @property
    def is_coded(self) -> bool:
        return self.coded_at is not None

    def apply(self, event: BagCoded | BagScanned) -> None:
        """Fold one event into the state (idempotent, order-independent)."""
        at, event_id = event.occurred_at, event.event_id
        if isinstance(event, BagCoded):
            if later(at, event_id, self.coded_at, self.coded_event_id):
                # A re-coding (a new label for the same tag) wins if it is later.
                self.pilgrim_id = event.pilgrim_id
                self.flight_id = event.flight_id
                self.hotel_id = event.hotel_id
                self.coded_at = at
                self.coded_event_id = event_id
        else:
            self.scanned = True
            checkpoint = event.checkpoint
            self.stage_rank = max(self.stage_rank, STAGE_RANK[checkpoint])
            if later(at, event_id, self.location_at, self.location_event_id):
                self.location = event.location
                self.location_at = at
                self.location_event_id = event_id
            if checkpoint == "loaded":
                self.loaded_seen = True
            if checkpoint in HOTEL_SCANS and later(
                at, event_id, self.hotel_scan_at, self.hotel_scan_event_id
            ):
                self.hotel_scan_hotel = event.hotel_id if checkpoint == "sorted" else event.location
                self.hotel_scan_at = at
                self.hotel_scan_event_id = event_id
            if checkpoint in DROP_SCANS:
                if event.location not in self.delivered_hotels:
                    self.delivered_hotels = sorted({*self.delivered_hotels, event.location})
                if self.last_drop_at is None or at > self.last_drop_at:
                    self.last_drop_at = at
            if checkpoint == "truck_loaded" and later(
                at, event_id, self.truck_at, self.truck_event_id
            ):
                self.truck_vehicle_id = event.vehicle_id
                self.truck_at = at
                self.truck_event_id = event_id
        if self.updated_at is None or at > self.updated_at:
            self.updated_at = at
