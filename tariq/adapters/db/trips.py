"""What each hotel was last told about a truck's trip: the ETA of its latest `bags_en_route`
or `eta_changed` notice (table `trip_etas`, migration 007)."""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from tariq.domain.vehicles import TripEta


async def told_etas(
    conn: asyncpg.Connection, vehicle_ids: Sequence[str]
) -> dict[tuple[str, str], TripEta]:
    """(vehicle_id, hotel_id) -> what the hotel was told about the vehicle's latest trip."""
    if not vehicle_ids:
        return {}
    rows = await conn.fetch(
        "SELECT DISTINCT ON (vehicle_id, hotel_id) vehicle_id, hotel_id, departed_at, eta"
        " FROM trip_etas WHERE vehicle_id = ANY($1::text[])"
        " ORDER BY vehicle_id, hotel_id, departed_at DESC",
        list(vehicle_ids),
    )
    return {
        (r["vehicle_id"], r["hotel_id"]): TripEta(
            r["vehicle_id"], r["hotel_id"], r["departed_at"], r["eta"]
        )
        for r in rows
    }


async def save_told(conn: asyncpg.Connection, told: Sequence[TripEta]) -> None:
    if not told:
        return
    await conn.execute(
        "INSERT INTO trip_etas (vehicle_id, hotel_id, departed_at, eta)"
        " SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::timestamptz[])"
        " ON CONFLICT (vehicle_id, hotel_id, departed_at) DO UPDATE SET eta = EXCLUDED.eta",
        [t.vehicle_id for t in told],
        [t.hotel_id for t in told],
        [t.departed_at for t in told],
        [t.eta for t in told],
    )
