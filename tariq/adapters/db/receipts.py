"""A hotel's own word about bags (docs/contract-extensions.md): it confirms receipt of its
bags, and reports a bag that is not its own. Kept in `hotel_receipts` (migration 007)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import asyncpg

Action = Literal["confirmed", "reported_wrong"]


async def bag_hotels(conn: asyncpg.Connection, tag: str) -> dict[str, Any] | None:
    """The hotel a bag is coded for and the hotel its latest sorted/delivered/claimed scan
    names, or None for a tag never seen."""
    row = await conn.fetchrow(
        "SELECT hotel_id, hotel_scan_hotel, $1 AS tag FROM bags WHERE tag = $1", tag
    )
    return dict(row) if row else None


async def record(
    conn: asyncpg.Connection,
    hotel_id: str,
    tag: str,
    action: Action,
    token_id: str | None,
    note: str | None,
) -> datetime:
    """Keep the hotel's confirmation or report (again: the latest time wins); returns when."""
    at: datetime = await conn.fetchval(
        "INSERT INTO hotel_receipts (hotel_id, tag, action, token_id, note)"
        " VALUES ($1, $2, $3, $4, $5)"
        " ON CONFLICT (hotel_id, tag, action)"
        " DO UPDATE SET at = now(), token_id = EXCLUDED.token_id, note = EXCLUDED.note"
        " RETURNING at",
        hotel_id,
        tag,
        action,
        token_id,
        note,
    )
    return at


async def of_bag(conn: asyncpg.Connection, tag: str) -> list[dict[str, Any]]:
    """Every hotel's word about one bag (for operators), oldest first."""
    rows = await conn.fetch(
        "SELECT hotel_id, action, at, note FROM hotel_receipts WHERE tag = $1 ORDER BY at",
        tag,
    )
    return [dict(r) for r in rows]
