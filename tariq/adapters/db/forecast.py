"""What the per-hotel forecast (tariq/domain/forecast.py) is made from: the hotel's bags in
groups, the ETAs of the trucks carrying them, the hotel's position and the service clock."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

from tariq.adapters.db.trips import told_etas
from tariq.domain.events import STAGE_RANK, STAGES
from tariq.domain.forecast import BagGroup
from tariq.domain.pages import hotel_eta


async def bag_groups(conn: asyncpg.Connection, hotel_id: str) -> list[BagGroup]:
    """The hotel's bags grouped by stage, flight (its airport and arrival) and truck: one
    row per group, so a hotel of thousands of bags is a few dozen rows."""
    rows = await conn.fetch(
        "SELECT b.stage_rank, f.destination AS airport,"
        " coalesce(f.arrived_at, f.scheduled_arrival) AS arrival,"
        " CASE WHEN b.stage_rank = $2 THEN b.truck_vehicle_id END AS vehicle_id,"
        " $1 = ANY(b.delivered_hotels) AS delivered_here,"
        " coalesce(b.hotel_scan_hotel <> $1, false) AS held_elsewhere,"
        " count(*) AS n, max(coalesce(b.location_at, b.updated_at)) AS stage_at"
        " FROM bags b LEFT JOIN flights f USING (flight_id)"
        " WHERE b.hotel_id = $1 GROUP BY 1, 2, 3, 4, 5, 6",
        hotel_id,
        STAGE_RANK["truck_loaded"],
    )
    return [
        BagGroup(
            stage=STAGES[r["stage_rank"]],
            count=r["n"],
            airport=r["airport"],
            arrival=r["arrival"],
            stage_at=r["stage_at"],
            vehicle_id=r["vehicle_id"],
            delivered_here=r["delivered_here"],
            held_elsewhere=r["held_elsewhere"],
        )
        for r in rows
    ]


async def truck_etas(
    conn: asyncpg.Connection, hotel_id: str, vehicle_ids: list[str]
) -> dict[str, datetime]:
    """vehicle_id -> its ETA at the hotel: the stream's trip plan (or next-stop ETA), else
    what the hotel was last told (`trip_etas`)."""
    if not vehicle_ids:
        return {}
    rows = await conn.fetch(
        "SELECT vehicle_id, plan, next_stop, eta FROM vehicle_judgements"
        " WHERE vehicle_id = ANY($1::text[])",
        vehicle_ids,
    )
    etas: dict[str, datetime] = {}
    for r in rows:
        eta = hotel_eta(r["plan"], r["next_stop"], r["eta"], hotel_id)
        if eta is not None:
            etas[r["vehicle_id"]] = eta
    for (vehicle_id, told_hotel), told in (await told_etas(conn, vehicle_ids)).items():
        if told_hotel == hotel_id and vehicle_id not in etas and told.eta is not None:
            etas[vehicle_id] = told.eta
    return etas


async def hotel_place(conn: asyncpg.Connection, hotel_id: str) -> dict[str, Any] | None:
    """The hotel's position, or None if it is not registered with one."""
    row = await conn.fetchrow(
        "SELECT lat, lon FROM hotels WHERE hotel_id = $1 AND lat IS NOT NULL", hotel_id
    )
    return dict(row) if row else None
