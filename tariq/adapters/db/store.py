"""The stream's writes in PostgreSQL (asyncpg): journal, dead letters, duplicates, entity
locks and per-partition counters, batched: each batch costs a fixed number of round trips."""

from __future__ import annotations

import secrets
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from tariq.adapters.db import staging
from tariq.domain.records import Accepted, DeadLetter, journal_payload
from tariq.domain.watermark import PartitionProgress


@dataclass(frozen=True, slots=True)
class ScopeTotals:
    """Absolute counters of one scope after a batch, for the live mirror."""

    scope: str
    version: int
    processed: int
    duplicates: int
    rejected: int
    clock: datetime | None
    stages: dict[str, int]


async def lock_scopes(conn: asyncpg.Connection, scopes: Sequence[str]) -> None:
    """Create and lock the counter rows of the batch's scopes, in a fixed order (so two
    batches never deadlock on them); held until commit, they make each scope's version
    grow in commit order, which the live mirror relies on."""
    ordered = sorted(set(scopes))
    await conn.execute(
        "INSERT INTO counters (scope) SELECT unnest($1::text[]) ON CONFLICT DO NOTHING", ordered
    )
    await conn.execute(
        "SELECT 1 FROM counters WHERE scope = ANY($1::text[]) ORDER BY scope FOR UPDATE", ordered
    )


async def lock_entities(conn: asyncpg.Connection, keys: Sequence[str]) -> None:
    """Serialise writers of the same entities ("kind:id"), whatever partition their events
    came from; one statement, in a fixed order, so two batches never deadlock."""
    if keys:
        await conn.execute(
            "SELECT pg_advisory_xact_lock(h) FROM"
            " (SELECT DISTINCT hashtextextended(t, 0) AS h FROM unnest($1::text[]) t) s"
            " ORDER BY h",
            list(keys),
        )


async def insert_journal(conn: asyncpg.Connection, accepted: Sequence[Accepted]) -> set[str]:
    """Journal the events (their ids unique in `accepted`); returns the ids that were
    journaled already (duplicates and redeliveries): only those cross the wire back, not
    every new id.

    The ids already journaled are looked up, and the rest is COPYed straight into the
    journal: a staged `INSERT … ON CONFLICT DO NOTHING` wrote every row twice and probed
    the unique index for each, ~16 µs a row against ~10 (docs/benchmarks.md). A copy of
    one of these events that another transaction journals meanwhile (a duplicate in a
    batch still in flight) makes the COPY fail on the unique index, after that transaction
    commits; the COPY is then undone (a savepoint) and the batch's events go in the old
    way, which waits for such rows and skips them.

    Rows go in in event_id order: two batches in flight that share duplicated events then
    wait on each other's unique-index entries in one global order, never in a cycle.
    """
    if not accepted:
        return set()
    ordered = sorted(accepted, key=lambda a: a.event.event_id)
    before = {
        r[0]
        for r in await conn.fetch(
            "SELECT event_id FROM journal WHERE event_id = ANY($1::text[])",
            [a.event.event_id for a in ordered],
        )
    }
    new = [a for a in ordered if a.event.event_id not in before]
    if not new:
        return before
    try:
        async with conn.transaction():  # a savepoint
            await conn.copy_records_to_table(
                "journal", records=_journal_rows(new), columns=list(staging.STAGED["journal"])
            )
    except asyncpg.UniqueViolationError:
        return before | await _insert_journal_skipping(conn, new)
    return before


def _journal_rows(accepted: Sequence[Accepted]) -> Iterator[tuple[Any, ...]]:
    """The journal's rows, in the order of `staging.STAGED["journal"]`."""
    for a in accepted:
        yield (
            a.event.event_id,
            a.event.type,
            a.event.occurred_at,
            getattr(a.event, "tag", None),
            a.record.parent_event_id,
            journal_payload(a),
            a.record.source_ref,
        )


async def _insert_journal_skipping(
    conn: asyncpg.Connection, accepted: Sequence[Accepted]
) -> set[str]:
    """Journal the events, skipping those journaled already (waiting for transactions
    that are journaling them); returns the ids skipped."""
    stage = await staging.copy(conn, "journal", _journal_rows(accepted))
    columns = ", ".join(staging.STAGED["journal"])
    rows = await conn.fetch(
        f"WITH new AS (INSERT INTO journal ({columns}) SELECT {columns} FROM {stage}"
        " ORDER BY event_id ON CONFLICT (event_id) DO NOTHING RETURNING event_id)"
        f" SELECT s.event_id FROM {stage} s"
        " WHERE NOT EXISTS (SELECT 1 FROM new WHERE new.event_id = s.event_id)"
    )
    return {r[0] for r in rows}


async def record_duplicates(
    conn: asyncpg.Connection, duplicates: Sequence[Accepted]
) -> list[Accepted]:
    """Keep true duplicates by source; returns those seen for the first time.

    A message whose own source is the journaled original is a redelivery, not a duplicate.
    """
    if not duplicates:
        return []
    originals = {
        r["event_id"]: r["source_ref"]
        for r in await conn.fetch(
            "SELECT j.event_id, j.source_ref FROM unnest($1::text[]) k(key)"
            " JOIN journal j ON j.event_id = k.key",
            list({d.event.event_id for d in duplicates}),
        )
    }
    candidates = sorted(
        (d for d in duplicates if originals.get(d.event.event_id) != d.record.source_ref),
        key=lambda d: d.record.source_ref,
    )
    if not candidates:
        return []
    rows = await conn.fetch(
        "INSERT INTO duplicate_receipts (source_ref, event_id)"
        " SELECT * FROM unnest($1::text[], $2::text[])"
        " ON CONFLICT DO NOTHING RETURNING source_ref",
        [d.record.source_ref for d in candidates],
        [d.event.event_id for d in candidates],
    )
    new_refs = {r["source_ref"] for r in rows}
    return [d for d in candidates if d.record.source_ref in new_refs]


async def insert_dead_letters(
    conn: asyncpg.Connection, dead: Sequence[DeadLetter]
) -> list[DeadLetter]:
    """Keep dead letters once per source; returns those that were new."""
    if not dead:
        return []
    dead = sorted(dead, key=lambda d: d.source_ref)
    rows = await conn.fetch(
        "INSERT INTO dead_letters (source_ref, reason, raw, length, sha256, truncated)"
        " SELECT * FROM unnest($1::text[], $2::text[], $3::bytea[], $4::bigint[], $5::text[],"
        " $6::boolean[])"
        " ON CONFLICT (source_ref) DO NOTHING RETURNING source_ref",
        [d.source_ref for d in dead],
        [d.reason for d in dead],
        [d.raw for d in dead],
        [d.length for d in dead],
        [d.sha256 for d in dead],
        [d.truncated for d in dead],
    )
    new_refs = {r["source_ref"] for r in rows}
    return [d for d in dead if d.source_ref in new_refs]


async def pii_key(conn: asyncpg.Connection, configured: str | None) -> bytes:
    """The key of the passport hashes: `TARIQ_PII_KEY` when set, else one generated at
    random the first time and kept in PostgreSQL (the same for every process)."""
    if configured:
        return configured.encode()
    await conn.execute(
        "INSERT INTO service_keys (name, value) VALUES ('pii', $1) ON CONFLICT DO NOTHING",
        secrets.token_bytes(32),
    )
    return bytes(await conn.fetchval("SELECT value FROM service_keys WHERE name = 'pii'"))


@dataclass(slots=True)
class ScopeChange:
    processed: int = 0
    duplicates: int = 0
    rejected: int = 0
    clock: datetime | None = None
    first: datetime | None = None  # the batch's earliest event time in this scope
    # Where the batch left its input partition (None when the consumer does not say).
    progress: PartitionProgress | None = None


async def update_scopes(
    conn: asyncpg.Connection,
    changes: dict[str, ScopeChange],
    stage_delta: dict[str, dict[str, int]],
) -> list[ScopeTotals]:
    """Add a batch's counts to its scopes, and where it left their input partitions
    (offsets only grow: batches in flight may commit out of order); returns the scopes'
    new absolute totals."""
    scopes = sorted(changes)
    progress = [changes[s].progress for s in scopes]
    rows = await conn.fetch(
        "UPDATE counters c SET version = c.version + 1,"
        " processed = c.processed + u.processed, duplicates = c.duplicates + u.duplicates,"
        " rejected = c.rejected + u.rejected,"
        " clock = GREATEST(c.clock, u.clock), first_clock = LEAST(c.first_clock, u.first),"
        " input_offset = GREATEST(c.input_offset, u.input_offset),"
        " input_end = GREATEST(c.input_end, u.input_end),"
        " lag_at = CASE WHEN u.input_end IS NULL THEN c.lag_at ELSE now() END"
        " FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[],"
        " $5::timestamptz[], $6::bigint[], $7::bigint[], $8::timestamptz[])"
        " AS u(scope, processed, duplicates, rejected, clock, input_offset, input_end, first)"
        " WHERE c.scope = u.scope"
        " RETURNING c.scope, c.version, c.processed, c.duplicates, c.rejected, c.clock",
        scopes,
        [changes[s].processed for s in scopes],
        [changes[s].duplicates for s in scopes],
        [changes[s].rejected for s in scopes],
        [changes[s].clock for s in scopes],
        [p.next_offset if p else None for p in progress],
        [p.end if p else None for p in progress],
        [changes[s].first for s in scopes],
    )
    flat = [(s, stage, n) for s, d in stage_delta.items() for stage, n in d.items() if n]
    if flat:
        await conn.execute(
            "INSERT INTO stage_counts (scope, stage, bags)"
            " SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[])"
            " ON CONFLICT (scope, stage) DO UPDATE SET bags = stage_counts.bags + EXCLUDED.bags",
            [f[0] for f in flat],
            [f[1] for f in flat],
            [f[2] for f in flat],
        )
    stages = await _stage_counts(conn, scopes)
    return _totals(rows, stages)


async def update_flight_stages(conn: asyncpg.Connection, delta: dict[tuple[str, int], int]) -> None:
    """Add a batch's bags per (flight, stage) (the airports' flow); in key order, so two
    batches in flight never deadlock on the rows."""
    if delta:
        keys = sorted(delta)
        await conn.execute(
            "INSERT INTO flight_stage_counts (flight_id, stage_rank, bags)"
            " SELECT * FROM unnest($1::text[], $2::smallint[], $3::bigint[])"
            " ON CONFLICT (flight_id, stage_rank)"
            " DO UPDATE SET bags = flight_stage_counts.bags + EXCLUDED.bags",
            [k[0] for k in keys],
            [k[1] for k in keys],
            [delta[k] for k in keys],
        )


async def _stage_counts(
    conn: asyncpg.Connection, scopes: Sequence[str] | None
) -> dict[str, dict[str, int]]:
    if scopes is None:
        rows = await conn.fetch("SELECT scope, stage, bags FROM stage_counts")
    else:
        rows = await conn.fetch(
            "SELECT scope, stage, bags FROM stage_counts WHERE scope = ANY($1::text[])",
            list(scopes),
        )
    result: dict[str, dict[str, int]] = {}
    for r in rows:
        result.setdefault(r["scope"], {})[r["stage"]] = r["bags"]
    return result


async def all_scope_totals(conn: asyncpg.Connection) -> list[ScopeTotals]:
    stages = await _stage_counts(conn, None)
    rows = await conn.fetch(
        "SELECT scope, version, processed, duplicates, rejected, clock FROM counters"
    )
    return _totals(rows, stages)


def _totals(rows: Sequence[asyncpg.Record], stages: dict[str, dict[str, int]]) -> list[ScopeTotals]:
    return [
        ScopeTotals(
            scope=r["scope"],
            version=r["version"],
            processed=r["processed"],
            duplicates=r["duplicates"],
            rejected=r["rejected"],
            clock=r["clock"],
            stages=stages.get(r["scope"], {}),
        )
        for r in rows
    ]
