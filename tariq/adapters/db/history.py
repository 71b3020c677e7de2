"""History in event time (migration 010): the bags' alert spans and stage steps that the
reconciler writes, and the reads of the operators' replay ("as of T").

Each read is served by an index and bounded by what existed at T, never by the journal:
- `bag_events`: journal_by_tag (tag, occurred_at), the judged bags' own events;
- `alerts_at`: alert_spans_during (GiST on the span's range), the spans containing T;
- `stages_at`: bag_steps_during (GiST), one step per bag that existed at T;
- `fixes_at`: vehicle_fixes' primary key (vehicle_id, at, event_id), per vehicle the fixes
  of the stall window before T and the few before it;
- `hotel_places_at`: hotels (a few hundred rows);
- `first_event_time`: the counters (a row per input partition).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final

import asyncpg

from routing.geo import AIRPORTS
from tariq.domain.alerts import Fix
from tariq.domain.events import STAGES
from tariq.domain.history import BagHistory

# Reads by a list of tags are written as a LATERAL subquery per tag, fenced by OFFSET 0 so
# the planner cannot flatten it into a join: a join's method follows the statistics, and
# while the tables grow faster than autovacuum analyses them the planner chose to scan
# them whole, first for `tag = ANY($1)` (110 ms a call on the day bench), then for the
# join with `unnest` (42–48 ms a call in the stream bench's latency run, against 1.3 ms
# with the lookups; pg_stat_statements, issue 16). Per tag, the primary key or journal_by_tag
# answers an equality on the leading column whatever the estimate.


async def bag_events(conn: asyncpg.Connection, tags: Sequence[str]) -> list[tuple[str, str]]:
    """(tag, payload) of every journaled `bag.coded` and `bag.scanned` of these bags."""
    if not tags:
        return []
    # One index lookup per tag whatever the statistics say (the note above).
    rows = await conn.fetch(
        "SELECT k.tag, j.payload FROM unnest($1::text[]) k(tag), LATERAL"
        " (SELECT payload FROM journal WHERE tag = k.tag"
        " AND type IN ('bag.coded', 'bag.scanned') OFFSET 0) j",
        list(tags),
    )
    return [(r["tag"], r["payload"]) for r in rows]


# The columns of each history table, in the order `_history_rows` gives them.
_HISTORY_COLUMNS: Final = {
    "alert_spans": ("tag", "type", "began_at", "ended_at", "pilgrim_id", "flight_id", "hotel_id"),
    "bag_steps": ("tag", "since", "until", "stage"),
}


async def save_bag_histories(
    conn: asyncpg.Connection, tags: Sequence[str], histories: Sequence[BagHistory]
) -> None:
    """Make these bags' spans and steps their histories: only the rows that changed are
    deleted and inserted.

    A bag's history is computed again whenever it is judged, and mostly only its last
    step's end and one new step differ; rewriting every row cost a GiST and a B-tree
    entry each (the largest statement of the reconciler's rounds in pg_stat_statements).
    """
    if not tags:
        return
    for table, wanted in _history_rows(histories).items():
        columns = _HISTORY_COLUMNS[table]
        # Found by lookups per tag (the note above `bag_events`), deleted by ctid (a TID
        # scan). A bag's rows are written by one round at a time (`take_stale` holds its
        # marker until commit), so a row found is still there to delete.
        found = await conn.fetch(
            f"SELECT t.* FROM unnest($1::text[]) k(tag), LATERAL"
            f" (SELECT ctid, {', '.join(columns)} FROM {table} WHERE tag = k.tag OFFSET 0) t",
            list(tags),
        )
        stored = {tuple(r)[1:]: r["ctid"] for r in found}
        gone = [ctid for row, ctid in stored.items() if row not in wanted]
        if gone:
            await conn.execute(f"DELETE FROM {table} WHERE ctid = ANY($1::tid[])", gone)
        new = [row for row in wanted if row not in stored]
        if new:
            await conn.copy_records_to_table(table, records=new, columns=list(columns))


def _history_rows(histories: Sequence[BagHistory]) -> dict[str, dict[tuple[Any, ...], None]]:
    """The rows of each history table for these histories (keys of an ordered dict)."""
    spans = {
        (
            h.tag,
            s.alert.type,
            s.began_at,
            s.ended_at,
            s.alert.pilgrim_id,
            s.alert.flight_id,
            s.alert.hotel_id,
        ): None
        for h in histories
        for s in h.spans
    }
    steps = {(h.tag, s.since, s.until, s.stage): None for h in histories for s in h.steps}
    return {"alert_spans": spans, "bag_steps": steps}


async def alerts_at(conn: asyncpg.Connection, at: datetime) -> list[dict[str, Any]]:
    """The bag alerts whose condition held at `at`, each with its airport."""
    rows = await conn.fetch(
        "SELECT s.type, s.tag, s.began_at, s.ended_at, s.pilgrim_id, s.flight_id,"
        " s.hotel_id, f.destination AS airport"  # a bag alert's airport (airports.py)
        " FROM alert_spans s LEFT JOIN flights f ON f.flight_id = s.flight_id"
        " WHERE tstzrange(s.began_at, s.ended_at, '[)') @> $1::timestamptz"
        " ORDER BY s.began_at DESC, s.type, s.tag",
        at,
    )
    return [dict(r) for r in rows]


async def stages_at(
    conn: asyncpg.Connection, at: datetime
) -> tuple[dict[str, int], dict[str, dict[str, int]]]:
    """(bags by stage, bags by arrival airport and stage) as they were at `at`: every bag
    that existed, and per airport those whose flight names its destination (as
    /api/summary counts them)."""
    rows = await conn.fetch(
        "SELECT s.stage, f.destination AS airport, count(*) AS n"
        " FROM bag_steps s JOIN bags b ON b.tag = s.tag"
        " LEFT JOIN flights f ON f.flight_id = b.flight_id"
        " WHERE tstzrange(s.since, s.until, '[)') @> $1::timestamptz GROUP BY 1, 2",
        at,
    )
    by_stage = dict.fromkeys(STAGES, 0)
    by_airport = {code: dict.fromkeys(STAGES, 0) for code in AIRPORTS}
    for r in rows:
        by_stage[r["stage"]] += int(r["n"])
        if r["airport"] is not None:
            by_airport.setdefault(r["airport"], dict.fromkeys(STAGES, 0))[r["stage"]] += int(r["n"])
    return by_stage, by_airport


async def fixes_at(
    conn: asyncpg.Connection, at: datetime, window_from: datetime, before: int
) -> tuple[dict[str, str | None], dict[str, list[Fix]]]:
    """(kind by vehicle, fixes by vehicle): each vehicle's fixes in [window_from, at] and
    the `before` latest before `window_from` (tariq/domain/alerts.py `fixes_from`), for
    the vehicles seen by `at`."""
    rows = await conn.fetch(
        "SELECT v.vehicle_id, v.kind, w.at, w.event_id, w.lat, w.lon FROM vehicles v"
        " CROSS JOIN LATERAL (SELECT f.at, f.event_id, f.lat, f.lon FROM vehicle_fixes f"
        "  WHERE f.vehicle_id = v.vehicle_id AND f.at >= $2 AND f.at <= $1) w"
        " UNION ALL"
        " SELECT v.vehicle_id, v.kind, b.at, b.event_id, b.lat, b.lon FROM vehicles v"
        " CROSS JOIN LATERAL (SELECT f.at, f.event_id, f.lat, f.lon FROM vehicle_fixes f"
        "  WHERE f.vehicle_id = v.vehicle_id AND f.at < $2"
        "  ORDER BY f.at DESC, f.event_id DESC LIMIT $3) b",
        at,
        window_from,
        before,
    )
    kinds: dict[str, str | None] = {}
    fixes: dict[str, list[Fix]] = {}
    for r in rows:
        kinds[r["vehicle_id"]] = r["kind"]
        fixes.setdefault(r["vehicle_id"], []).append(
            Fix(r["at"], r["event_id"], r["lat"], r["lon"])
        )
    return kinds, fixes


async def hotel_places_at(conn: asyncpg.Connection, at: datetime) -> list[tuple[float, float]]:
    """Where the hotels registered by `at` are (their latest registration's place)."""
    rows = await conn.fetch(
        "SELECT lat, lon FROM hotels WHERE at <= $1 AND lat IS NOT NULL AND lon IS NOT NULL",
        at,
    )
    return [(r["lat"], r["lon"]) for r in rows]


async def first_event_time(conn: asyncpg.Connection) -> datetime | None:
    """The earliest event time journaled (each batch keeps its partition's earliest)."""
    first: datetime | None = await conn.fetchval("SELECT min(first_clock) FROM counters")
    return first


async def mark_stale(conn: asyncpg.Connection, tags: Sequence[str]) -> None:
    """These bags' histories must be computed again (migration 011)."""
    if tags:
        await conn.execute(
            "INSERT INTO history_stale (tag) SELECT unnest($1::text[]) ON CONFLICT DO NOTHING",
            list(tags),
        )


async def take_stale(conn: asyncpg.Connection, limit: int) -> list[str]:
    """Up to `limit` bags whose history is stale, no longer marked (held until commit)."""
    # `= ANY(ARRAY(…))`, not `IN (…)`: the planner made `IN` a hash join over the whole
    # table (5 ms a call in the stream bench's latency run); this is a lookup per tag.
    rows = await conn.fetch(
        "DELETE FROM history_stale WHERE tag = ANY(ARRAY("
        "SELECT tag FROM history_stale LIMIT $1 FOR UPDATE SKIP LOCKED)) RETURNING tag",
        limit,
    )
    return sorted(r["tag"] for r in rows)


async def service_clock(conn: asyncpg.Connection) -> datetime | None:
    """The latest event time processed (the summary's clock)."""
    clock: datetime | None = await conn.fetchval("SELECT max(clock) FROM counters")
    return clock
