"""Queries of the operators' exports (CSV and GeoJSON): rows streamed with a server-side
cursor, in the same order and with the same filters as the API's lists, so an export is
the list without paging. No export holds a passport number (none is stored) or a name."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import datetime
from typing import Any

import asyncpg
import orjson

from tariq.adapters.db.reads import ALERT_COLUMNS
from tariq.domain.events import STAGES

PREFETCH = 2_000


def _where(equal: Mapping[str, str], args: list[Any]) -> list[str]:
    clauses = []
    for column, value in equal.items():
        args.append(value)
        clauses.append(f"{column} = ${len(args)}")
    return clauses


def _clause(where: Sequence[str]) -> str:
    return f" WHERE {' AND '.join(where)}" if where else ""


async def bags(
    conn: asyncpg.Connection, filters: Mapping[str, str]
) -> AsyncIterator[dict[str, Any]]:
    """Bags in tag order (as `GET /api/bags`); `filters`: hotel_id, flight_id, pilgrim_id.
    Call inside a transaction (a cursor needs one)."""
    args: list[Any] = []
    where = _where(filters, args)
    query = (
        "SELECT tag, pilgrim_id, flight_id, hotel_id, stage_rank, location, updated_at"
        f" FROM bags{_clause(where)} ORDER BY tag"
    )
    async for row in conn.cursor(query, *args, prefetch=PREFETCH):
        yield {
            "tag": row["tag"],
            "pilgrim_id": row["pilgrim_id"],
            "flight_id": row["flight_id"],
            "hotel_id": row["hotel_id"],
            "stage": STAGES[row["stage_rank"]],
            "location": row["location"],
            "updated_at": row["updated_at"],
        }


async def alerts(
    conn: asyncpg.Connection,
    *,
    status: str | None,
    types: Sequence[str],
    filters: Mapping[str, str],
) -> AsyncIterator[dict[str, Any]]:
    """Alerts newest first (as `GET /api/alerts`), with its filters. In a transaction."""
    args: list[Any] = []
    where = _where({"status": status} if status else {}, args)
    if types:
        args.append(list(types))
        where.append(f"type = ANY(${len(args)}::text[])")
    where += _where(filters, args)
    query = f"SELECT {ALERT_COLUMNS} FROM alerts{_clause(where)} ORDER BY raised_at DESC, alert_id"
    async for row in conn.cursor(query, *args, prefetch=PREFETCH):
        yield dict(row)


async def notices(conn: asyncpg.Connection, hotel_id: str | None) -> AsyncIterator[dict[str, Any]]:
    """Notices newest first (as `GET /api/hotels/{hotel_id}/notices`), of one hotel or all.
    The far side's answers (`last_error`) are not exported. In a transaction."""
    args: list[Any] = []
    where = _where({"hotel_id": hotel_id} if hotel_id else {}, args)
    query = (
        "SELECT body, attempts, created_at, delivered_at"
        f" FROM notice_outbox{_clause(where)} ORDER BY seq DESC"
    )
    async for row in conn.cursor(query, *args, prefetch=PREFETCH):
        yield {
            **orjson.loads(row["body"]),
            "status": "pending" if row["delivered_at"] is None else "delivered",
            "attempts": row["attempts"],
            "created_at": row["created_at"],
            "delivered_at": row["delivered_at"],
        }


async def vehicle_known(conn: asyncpg.Connection, vehicle_id: str) -> bool:
    found = await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM vehicle_fixes WHERE vehicle_id = $1)"
        " OR EXISTS (SELECT 1 FROM vehicles WHERE vehicle_id = $1)",
        vehicle_id,
    )
    return bool(found)


async def track(
    conn: asyncpg.Connection,
    vehicle_id: str,
    start: datetime | None,
    end: datetime | None,
) -> AsyncIterator[dict[str, Any]]:
    """A vehicle's fixes in event time, `start` <= at <= `end`. The speed is not a column of
    `vehicle_fixes`: it comes from the fix's journal entry (null when the fix had none)."""
    args: list[Any] = [vehicle_id]
    where = ["f.vehicle_id = $1"]
    if start is not None:
        args.append(start)
        where.append(f"f.at >= ${len(args)}")
    if end is not None:
        args.append(end)
        where.append(f"f.at <= ${len(args)}")
    query = (
        "SELECT f.lat, f.lon, f.at, (j.payload::jsonb->>'speed_kmh')::double precision"
        " AS speed_kmh FROM vehicle_fixes f LEFT JOIN journal j ON j.event_id = f.event_id"
        f"{_clause(where)} ORDER BY f.at, f.event_id"
    )
    async for row in conn.cursor(query, *args, prefetch=PREFETCH):
        yield dict(row)
