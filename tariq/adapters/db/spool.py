"""The accepted-events spool (migration 008): what the web intake answered 202 for, kept in
PostgreSQL until a worker has processed that copy, for a broker that forgets messages on a
restart. A copy is processed when the journal (its first copy) or the duplicate receipts
(a later copy) name its `source_ref`; a copy whose place on the broker was never recorded
counts as processed once its event_id is journaled."""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

_PROCESSED = (
    "(s.source_ref IS NOT NULL AND (EXISTS (SELECT 1 FROM journal j"
    " WHERE j.event_id = s.event_id AND j.source_ref = s.source_ref)"
    " OR EXISTS (SELECT 1 FROM duplicate_receipts d WHERE d.source_ref = s.source_ref)))"
    " OR (s.source_ref IS NULL AND EXISTS (SELECT 1 FROM journal j"
    " WHERE j.event_id = s.event_id))"
)


async def keep(pool: asyncpg.Pool, items: Sequence[tuple[bytes | None, bytes]]) -> list[int]:
    """Spool (key, value) messages (each value a valid contract event, JSON in UTF-8);
    returns their ids, in order."""
    if not items:
        return []
    keys = [k.decode() if k is not None else None for k, _ in items]
    values = [v.decode() for _, v in items]
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            "INSERT INTO accepted_spool (event_id, key, value)"
            " SELECT v::jsonb->>'event_id', k, v"
            " FROM unnest($1::text[], $2::text[]) WITH ORDINALITY u(k, v, n) ORDER BY n"
            " RETURNING id",
            keys,
            values,
        )
    return sorted(r["id"] for r in rows)


async def placed(pool: asyncpg.Pool, ids: Sequence[int], refs: Sequence[str]) -> None:
    """Record where the broker put each spooled copy."""
    async with pool.acquire() as conn:
        await conn.execute(
            "UPDATE accepted_spool s SET source_ref = u.ref"
            " FROM unnest($1::bigint[], $2::text[]) u(id, ref) WHERE s.id = u.id",
            list(ids),
            list(refs),
        )


async def prune(conn: asyncpg.Connection) -> int:
    """Forget the copies that were processed; returns how many rows went."""
    status = await conn.execute(f"DELETE FROM accepted_spool s WHERE {_PROCESSED}")
    return int(status.split()[-1])


async def pending(conn: asyncpg.Connection) -> list[tuple[int, bytes | None, bytes]]:
    """(id, key, value) of the copies not processed yet, in the order they were accepted."""
    rows = await conn.fetch(
        f"SELECT id, key, value FROM accepted_spool s WHERE NOT ({_PROCESSED}) ORDER BY id"
    )
    return [
        (r["id"], r["key"].encode() if r["key"] is not None else None, r["value"].encode())
        for r in rows
    ]


async def forget(conn: asyncpg.Connection, ids: Sequence[int]) -> None:
    await conn.execute("DELETE FROM accepted_spool WHERE id = ANY($1::bigint[])", list(ids))
