"""The operators' replay: the map, the counters and the open alerts as they were at an
event time T (`GET /api/replay?at=`, docs/contract-extensions.md).

"As they were at T" means what the contract's rules give with only the events whose
`occurred_at` is at or before T and the clock at T:
- bag alerts and stages: the spans and steps that tariq/domain/history.py computes from
  the journal (migration 010), read where their range contains T;
- vehicles: each one's latest fix at or before T, and `vehicle_stalled` judged at T by the
  same rule as the reconciler (tariq/domain/alerts.py `judge_stall`) from its fixes of the
  stall window before T and the two before (`fixes_from`), with the hotels registered by T.
A vehicle's status at T is `stalled` or null: whether it was on a trip depends on loads
that the database keeps only as they are now.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import asyncpg

from routing.geo import AIRPORTS, haversine_m
from tariq.adapters.db import history
from tariq.config import AlertThresholds
from tariq.domain.alerts import ALERT_TYPES, FIXES_BEFORE, Fix, judge_stall


def nearest_airport(lat: float, lon: float) -> str:
    return min(AIRPORTS, key=lambda code: haversine_m(lat, lon, *AIRPORTS[code]))


def _vehicle(
    vehicle_id: str,
    kind: str | None,
    fixes: list[Fix],
    at: datetime,
    hotels: list[tuple[float, float]],
    thresholds: AlertThresholds,
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The vehicle as it was at `at`, and its stall alert if it was stalled."""
    last = max(fixes, key=lambda f: (f.at, f.event_id))
    stalled, due = judge_stall(fixes, at, hotels, thresholds)
    view = {
        "vehicle_id": vehicle_id,
        "kind": kind,
        "lat": last.lat,
        "lon": last.lon,
        "at": last.at,
        "status": "stalled" if stalled else None,
    }
    if not stalled:
        return view, None
    alert = {
        "type": "vehicle_stalled",
        "tag": None,
        "vehicle_id": vehicle_id,
        "pilgrim_id": None,
        "flight_id": None,
        "hotel_id": None,
        "airport": nearest_airport(last.lat, last.lon),
        "began_at": due,
        "ended_at": None,
    }
    return view, alert


async def as_of(
    conn: asyncpg.Connection, at: datetime, thresholds: AlertThresholds
) -> dict[str, Any]:
    """The replay's view at `at` (one REPEATABLE READ snapshot: the caller's transaction)."""
    window = at - timedelta(seconds=thresholds.stall_after_s)
    kinds, fixes = await history.fixes_at(conn, at, window, FIXES_BEFORE)
    hotels = await history.hotel_places_at(conn, at)
    vehicles: list[dict[str, Any]] = []
    stalls: list[dict[str, Any]] = []
    for vehicle_id in sorted(fixes):
        view, stall = _vehicle(
            vehicle_id, kinds[vehicle_id], fixes[vehicle_id], at, hotels, thresholds
        )
        vehicles.append(view)
        if stall is not None:
            stalls.append(stall)
    alerts = [{**a, "vehicle_id": None} for a in await history.alerts_at(conn, at)]
    alerts = sorted(
        [*alerts, *stalls],
        key=lambda a: (a["began_at"], a["type"], a["tag"] or a["vehicle_id"]),
        reverse=True,
    )
    by_type = dict.fromkeys(ALERT_TYPES, 0)
    for a in alerts:
        by_type[a["type"]] += 1
    by_stage, by_airport = await history.stages_at(conn, at)
    return {
        "at": at,
        "first": await history.first_event_time(conn),
        "clock": await history.service_clock(conn),
        "vehicles": vehicles,
        "bags_by_stage": by_stage,
        "bags_by_airport": by_airport,
        "alerts_open_by_type": by_type,
        "alerts": alerts,
    }
