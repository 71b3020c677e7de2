"""Operators' triage of alerts (table `alert_triage`, migration 007): acknowledge, assign,
note; who did it and when."""

from __future__ import annotations

from typing import Any

import asyncpg

TRIAGE_COLUMNS = "acknowledged_at, acknowledged_by, assignee, note, updated_at, updated_by"


async def update(
    conn: asyncpg.Connection,
    alert_id: str,
    who: str,
    *,
    acknowledge: bool | None,
    assignee: str | None,
    note: str | None,
    fields: set[str],
) -> dict[str, Any] | None:
    """Apply the given fields (`acknowledge`, `assignee`, `note`) to an existing alert's
    triage; returns the alert's triage, or None when there is no such alert."""
    if not await conn.fetchval("SELECT 1 FROM alerts WHERE alert_id = $1", alert_id):
        return None
    row = await conn.fetchrow(
        "INSERT INTO alert_triage AS t (alert_id, acknowledged_at, acknowledged_by, assignee,"
        " note, updated_by)"
        " VALUES ($1, CASE WHEN $2 THEN now() END, CASE WHEN $2 THEN $6 END, $3, $4, $6)"
        " ON CONFLICT (alert_id) DO UPDATE SET"
        " acknowledged_at = CASE WHEN $5 AND $2 THEN coalesce(t.acknowledged_at, now())"
        "  WHEN $5 THEN NULL ELSE t.acknowledged_at END,"
        " acknowledged_by = CASE WHEN $5 AND $2 THEN coalesce(t.acknowledged_by, $6)"
        "  WHEN $5 THEN NULL ELSE t.acknowledged_by END,"
        " assignee = CASE WHEN $7 THEN EXCLUDED.assignee ELSE t.assignee END,"
        " note = CASE WHEN $8 THEN EXCLUDED.note ELSE t.note END,"
        " updated_at = now(), updated_by = $6"
        f" RETURNING alert_id, {TRIAGE_COLUMNS}",
        alert_id,
        bool(acknowledge),
        assignee,
        note,
        "acknowledge" in fields,
        who,
        "assignee" in fields,
        "note" in fields,
    )
    return dict(row) if row else None


async def of_alerts(conn: asyncpg.Connection, alert_ids: list[str]) -> dict[str, dict[str, Any]]:
    if not alert_ids:
        return {}
    rows = await conn.fetch(
        f"SELECT alert_id, {TRIAGE_COLUMNS} FROM alert_triage WHERE alert_id = ANY($1::text[])",
        alert_ids,
    )
    return {r["alert_id"]: dict(r) for r in rows}
