"""The reconciler's SQL (stream/reconciler.py): its leader lock, its round's markers and
clock, what it loads to judge, and the judgements and alerts it writes.

Every function runs on the caller's connection, so a round's reads and writes stay in its
one REPEATABLE READ transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Final

import asyncpg

from tariq.adapters.db import states
from tariq.domain.alerts import Alert, Fix
from tariq.domain.bags import BagState
from tariq.domain.entities import PilgrimState
from tariq.domain.vehicles import VehicleJudgement
from tariq.domain.watermark import ScopeClock

# Any fixed number: whoever holds this advisory lock is the reconciler.
LEADER_LOCK: Final = 7_262_022


# ---- the leader lock ---------------------------------------------------------------------


async def try_lead(conn: asyncpg.Connection) -> bool:
    """Take the leader lock if no other session holds it (held until `stop_leading`)."""
    return bool(await conn.fetchval("SELECT pg_try_advisory_lock($1)", LEADER_LOCK))


async def stop_leading(conn: asyncpg.Connection) -> None:
    await conn.execute("SELECT pg_advisory_unlock($1)", LEADER_LOCK)


# ---- the round: markers, clock, round number ---------------------------------------------


async def take_marks(conn: asyncpg.Connection, limit: int) -> tuple[int, list[tuple[str, str]]]:
    """Delete the oldest `limit` dirty markers; returns how many, and the distinct
    (kind, key) they name."""
    # `= ANY(ARRAY(…))`, not `IN (…)`: the planner made `IN` a hash join over the whole
    # queue, dead rows included (86 ms a call, 39% of PostgreSQL's time in the stream
    # bench's latency run; 2 ms with the lookups, pg_stat_statements, issue 16).
    # Distinct here: every batch that touched an entity marked it, and a round of a season
    # replay takes seconds of batches; each row fetched costs the reconciler a record.
    rows = await conn.fetch(
        "WITH taken AS (DELETE FROM dirty"
        " WHERE id = ANY(ARRAY(SELECT id FROM dirty ORDER BY id LIMIT $1))"
        " RETURNING kind, key)"
        " SELECT kind, key, count(*) AS n FROM taken GROUP BY kind, key",
        limit,
    )
    return sum(r[2] for r in rows), [(r[0], r[1]) for r in rows]


async def scope_clocks(conn: asyncpg.Connection) -> list[ScopeClock]:
    """Each counters scope's clock and, for input partitions, the lag its latest batch left
    and how many wall seconds ago (tariq/domain/watermark.py judges the clock from them)."""
    rows = await conn.fetch(
        "SELECT scope, clock, input_end - input_offset AS lag,"
        " extract(epoch FROM now() - lag_at)::float8 AS lag_age_s FROM counters"
    )
    return [ScopeClock(r["scope"], r["clock"], r["lag"], r["lag_age_s"]) for r in rows]


async def round_state(conn: asyncpg.Connection) -> tuple[datetime | None, int]:
    """(the clock of the last round, the number of the last round)."""
    row = await conn.fetchrow("SELECT clock, round FROM reconciler_state")
    return row["clock"], row["round"]


async def save_clock(conn: asyncpg.Connection, clock: datetime | None) -> None:
    await conn.execute("UPDATE reconciler_state SET clock = $1", clock)


async def save_round(conn: asyncpg.Connection, clock: datetime | None, round_no: int) -> None:
    await conn.execute("UPDATE reconciler_state SET clock = $1, round = $2", clock, round_no)


# ---- entities whose time-based deadline fell in (previous, clock] -------------------------


async def _due(
    conn: asyncpg.Connection,
    query: str,
    previous: datetime | None,
    clock: datetime,
    delay: timedelta,
) -> list[str]:
    # With no previous round, everything up to clock.
    if previous is None:
        rows = await conn.fetch(f"{query} <= $1", clock - delay)
    else:
        rows = await conn.fetch(
            f"{query} >= $1 AND {query.rsplit(' ', 1)[1]} <= $2",
            previous - delay,
            clock - delay,
        )
    return [r["id"] for r in rows]


async def due_flights(
    conn: asyncpg.Connection, previous: datetime | None, clock: datetime, delay: timedelta
) -> list[str]:
    """Flights that arrived in (previous - delay, clock - delay]."""
    query = "SELECT flight_id AS id FROM flights WHERE arrived_at"
    return await _due(conn, query, previous, clock, delay)


async def due_departures(
    conn: asyncpg.Connection, previous: datetime | None, clock: datetime
) -> list[str]:
    """Flights that departed in (previous, clock] (left_behind and loaded_without_pilgrim
    hold from the departure on)."""
    query = "SELECT flight_id AS id FROM flights WHERE departed_at"
    return await _due(conn, query, previous, clock, timedelta(0))


async def due_pilgrims(
    conn: asyncpg.Connection, previous: datetime | None, clock: datetime, delay: timedelta
) -> list[str]:
    """Pilgrims who checked in somewhere in (previous - delay, clock - delay]."""
    query = "SELECT DISTINCT pilgrim_id AS id FROM checkins WHERE at"
    return await _due(conn, query, previous, clock, delay)


async def due_vehicles(
    conn: asyncpg.Connection, previous: datetime | None, clock: datetime
) -> list[str]:
    """Vehicles whose stall deadline fell in (previous, clock]."""
    query = "SELECT vehicle_id AS id FROM vehicle_judgements WHERE stall_due_at"
    return await _due(conn, query, previous, clock, timedelta(0))


# ---- loading what a round judges ----------------------------------------------------------


async def bags_of(
    conn: asyncpg.Connection, flight_ids: Iterable[str], pilgrim_ids: Iterable[str]
) -> list[str]:
    """Tags of the bags on these flights or of these pilgrims."""
    rows = await conn.fetch(
        "SELECT b.tag FROM unnest($1::text[]) k(key) JOIN bags b ON b.flight_id = k.key"
        " UNION SELECT b.tag FROM unnest($2::text[]) k(key)"
        " JOIN bags b ON b.pilgrim_id = k.key",
        list(flight_ids),
        list(pilgrim_ids),
    )
    return [r["tag"] for r in rows]


async def vehicle_loads(
    conn: asyncpg.Connection, vehicle_ids: Sequence[str]
) -> tuple[dict[str, PilgrimState], dict[str, BagState]]:
    """The pilgrims whose bus and the bags whose truck is one of these vehicles, and who
    are still aboard (the conditions of tariq/domain/alerts.py `carried_by`: a vehicle's
    past trips are not loaded again every time it is judged)."""
    ids = list(vehicle_ids)
    pilgrim_rows = await conn.fetch(
        "SELECT p.pilgrim_id FROM unnest($1::text[]) k(key)"
        " JOIN pilgrims p ON p.bus_vehicle_id = k.key"
        " WHERE p.bus_boarded_at IS NOT NULL"
        " AND (p.last_checkin_at IS NULL OR p.last_checkin_at < p.bus_boarded_at)",
        ids,
    )
    bag_rows = await conn.fetch(
        "SELECT b.tag FROM unnest($1::text[]) k(key) JOIN bags b ON b.truck_vehicle_id = k.key"
        " WHERE b.truck_at IS NOT NULL AND (b.last_drop_at IS NULL OR b.last_drop_at < b.truck_at)",
        ids,
    )
    pilgrims = await states.load(conn, states.PILGRIMS, [r["pilgrim_id"] for r in pilgrim_rows])
    bags = await states.load(conn, states.BAGS, [r["tag"] for r in bag_rows])
    return pilgrims, bags


async def fixes_from(
    conn: asyncpg.Connection, earliest: Mapping[str, datetime], before: int
) -> list[tuple[str, Fix]]:
    """(vehicle_id, fix) for each vehicle's fixes at or after its earliest time, and the
    `before` latest fixes before it (tariq/domain/alerts.py `fixes_from` says why)."""
    ids = sorted(earliest)
    rows = await conn.fetch(
        "SELECT f.vehicle_id, f.at, f.event_id, f.lat, f.lon"
        " FROM unnest($1::text[], $2::timestamptz[]) k(key, earliest)"
        " JOIN vehicle_fixes f ON f.vehicle_id = k.key AND f.at >= k.earliest"
        " UNION ALL"
        " SELECT k.key, b.at, b.event_id, b.lat, b.lon"
        " FROM unnest($1::text[], $2::timestamptz[]) k(key, earliest)"
        " CROSS JOIN LATERAL (SELECT f.at, f.event_id, f.lat, f.lon FROM vehicle_fixes f"
        " WHERE f.vehicle_id = k.key AND f.at < k.earliest"
        " ORDER BY f.at DESC, f.event_id DESC LIMIT $3) b",
        ids,
        [earliest[v] for v in ids],
        before,
    )
    return [(r["vehicle_id"], Fix(r["at"], r["event_id"], r["lat"], r["lon"])) for r in rows]


async def hotels_version(conn: asyncpg.Connection) -> str:
    """Changes whenever a hotel is registered or its registration replaced."""
    version: str = await conn.fetchval(
        "SELECT count(*)::text || ':' || coalesce(md5(string_agg("
        "hotel_id || '/' || coalesce(event_id, ''), ',' ORDER BY hotel_id)), '')"
        " FROM hotels"
    )
    return version


async def hotel_places(conn: asyncpg.Connection) -> list[tuple[float, float]]:
    """(lat, lon) of every registered hotel."""
    rows = await conn.fetch(
        "SELECT lat, lon FROM hotels WHERE lat IS NOT NULL AND lon IS NOT NULL ORDER BY hotel_id"
    )
    return [(r["lat"], r["lon"]) for r in rows]


async def parked_vehicles(conn: asyncpg.Connection) -> list[str]:
    """Vehicles whose latest fixes form a run that may stall (their judgement depends on
    where the hotels are)."""
    rows = await conn.fetch(
        "SELECT vehicle_id FROM vehicle_judgements WHERE stall_due_at IS NOT NULL"
    )
    return [r["vehicle_id"] for r in rows]


async def vehicle_judgements(
    conn: asyncpg.Connection, vehicle_ids: Sequence[str]
) -> dict[str, VehicleJudgement]:
    """The judgements saved by earlier rounds, for the vehicles that have one."""
    rows = await conn.fetch(
        "SELECT j.vehicle_id, j.status, j.trip_since, j.plan, j.planned_at, j.next_stop,"
        " j.eta"
        " FROM unnest($1::text[]) k(key)"
        " JOIN vehicle_judgements j ON j.vehicle_id = k.key",
        list(vehicle_ids),
    )
    return {r["vehicle_id"]: VehicleJudgement(**dict(r)) for r in rows}


# ---- writing what a round decided ---------------------------------------------------------


async def save_vehicle_judgements(
    conn: asyncpg.Connection, judgements: Sequence[VehicleJudgement]
) -> None:
    if not judgements:
        return
    rows = [
        (
            j.vehicle_id,
            j.status,
            j.stall_due_at,
            j.trip_since,
            j.plan,
            j.planned_at,
            j.next_stop,
            j.eta,
        )
        for j in judgements
    ]
    await conn.execute(
        "INSERT INTO vehicle_judgements"
        " (vehicle_id, status, stall_due_at, trip_since, plan, planned_at, next_stop, eta)"
        " SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::timestamptz[],"
        " $5::text[], $6::timestamptz[], $7::text[], $8::timestamptz[])"
        " ON CONFLICT (vehicle_id) DO UPDATE SET status = EXCLUDED.status,"
        " stall_due_at = EXCLUDED.stall_due_at, trip_since = EXCLUDED.trip_since,"
        " plan = EXCLUDED.plan, planned_at = EXCLUDED.planned_at,"
        " next_stop = EXCLUDED.next_stop, eta = EXCLUDED.eta",
        *map(list, zip(*rows, strict=True)),
    )


async def open_alerts_of(
    conn: asyncpg.Connection, subjects: Sequence[str]
) -> dict[tuple[str, str], str]:
    """The open alerts about these subjects: (type, subject) -> alert_id."""
    rows = await conn.fetch(
        "SELECT a.alert_id, a.type, a.subject FROM unnest($1::text[]) k(key)"
        " JOIN alerts a ON a.subject = k.key WHERE a.status = 'open'",
        list(subjects),
    )
    return {(r["type"], r["subject"]): r["alert_id"] for r in rows}


async def resolve_alerts(
    conn: asyncpg.Connection, alert_ids: Sequence[str], at: datetime
) -> list[dict[str, Any]]:
    """Resolve these alerts at `at`; returns their rows as they are now."""
    if not alert_ids:
        return []
    rows = await conn.fetch(
        "UPDATE alerts SET status = 'resolved', resolved_at = $2"
        " FROM unnest($1::text[]) k(key) WHERE alert_id = k.key RETURNING alerts.*",
        list(alert_ids),
        at,
    )
    return [dict(r) for r in rows]


async def raise_alerts(
    conn: asyncpg.Connection, alerts: Sequence[Alert], at: datetime
) -> list[dict[str, Any]]:
    """Open these alerts at `at`, each with a new id; returns their rows."""
    if not alerts:
        return []
    rows = await conn.fetch(
        "INSERT INTO alerts (alert_id, type, subject, status, raised_at, tag, pilgrim_id,"
        " flight_id, hotel_id, vehicle_id)"
        " SELECT u.alert_id, u.type, u.subject, 'open', $9, u.tag, u.pilgrim_id,"
        " u.flight_id, u.hotel_id, u.vehicle_id"
        " FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],"
        " $6::text[], $7::text[], $8::text[]) AS u(alert_id, type, subject, tag,"
        " pilgrim_id, flight_id, hotel_id, vehicle_id)"
        " RETURNING *",
        [uuid.uuid4().hex for _ in alerts],
        [a.type for a in alerts],
        [a.subject for a in alerts],
        [a.tag for a in alerts],
        [a.pilgrim_id for a in alerts],
        [a.flight_id for a in alerts],
        [a.hotel_id for a in alerts],
        [a.vehicle_id for a in alerts],
        at,
    )
    return [dict(r) for r in rows]


async def open_alert_counts(conn: asyncpg.Connection) -> dict[str, int]:
    """Open alerts by type."""
    rows = await conn.fetch(
        "SELECT type, count(*) AS n FROM alerts WHERE status = 'open' GROUP BY type"
    )
    return {r["type"]: r["n"] for r in rows}
