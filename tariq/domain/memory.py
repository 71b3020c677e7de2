"""The whole reconciliation in memory, pure: fold a set of events into entity states and
judge every alert. The service does the same incrementally (stream/ingest.py and
stream/reconciler.py); this form serves the tests and small what-if evaluations.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tariq.config import AlertThresholds
from tariq.domain.alerts import Alert, Fix, judge_bags, judge_vehicle, loaded_since
from tariq.domain.events import AnyEvent, VehiclePosition
from tariq.domain.records import ENTITY_KINDS, Accepted, InputRecord, fold


@dataclass(frozen=True)
class Reconciled:
    clock: datetime | None
    states: dict[str, dict[str, Any]]
    alerts: dict[tuple[str, str], Alert]


def reconcile(events: Iterable[AnyEvent], thresholds: AlertThresholds) -> Reconciled:
    """States and open alerts after these events (any order; duplicates change nothing)."""
    seen: dict[str, AnyEvent] = {}
    for event in events:
        seen.setdefault(event.event_id, event)
    unique = list(seen.values())
    states: dict[str, dict[str, Any]] = {kind: {} for kind in ENTITY_KINDS}
    record = InputRecord(b"", "memory", 0, 0)
    fold(states, [Accepted(record, e) for e in unique])
    clock = max((e.occurred_at for e in unique), default=None)
    alerts: dict[tuple[str, str], Alert] = judge_bags(
        states["bag"].values(), states["flight"], states["pilgrim"], clock, thresholds
    )
    fixes: dict[str, list[Fix]] = {}
    for e in unique:
        if isinstance(e, VehiclePosition):
            fixes.setdefault(e.vehicle_id, []).append(Fix(e.occurred_at, e.event_id, e.lat, e.lon))
    vehicles = {
        *fixes,
        *(b.truck_vehicle_id for b in states["bag"].values() if b.truck_vehicle_id),
        *(p.bus_vehicle_id for p in states["pilgrim"].values() if p.bus_vehicle_id),
    }
    hotels = [
        (h.lat, h.lon) for h in states["hotel"].values() if h.lat is not None and h.lon is not None
    ]
    for vehicle in vehicles:
        since = loaded_since(vehicle, states["pilgrim"].values(), states["bag"].values())
        _, judgement = judge_vehicle(
            vehicle, fixes.get(vehicle, []), since, clock, thresholds, hotels
        )
        alerts.update((a.key, a) for a in judgement.open)
    return Reconciled(clock, states, alerts)
