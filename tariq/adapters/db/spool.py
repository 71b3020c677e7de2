"""The accepted-events spool (migration 008): what the web intake answered 202 for, kept in
PostgreSQL until the journal has it, for a broker that forgets messages on a restart."""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg


async def keep(pool: asyncpg.Pool, items: Sequence[tuple[bytes | None, bytes]]) -> None:
    """Spool (key, value) messages; each value is a valid contract event (JSON, UTF-8)."""
    if not items:
        return
    keys = [k.decode() if k is not None else None for k, _ in items]
    values = [v.decode() for _, v in items]
    async with pool.acquire() as conn:
        await conn.execute(
            "INSERT INTO accepted_spool (event_id, key, value)"
            " SELECT v::jsonb->>'event_id', k, v FROM unnest($1::text[], $2::text[]) u(k, v)",
            keys,
            values,
        )


async def prune(conn: asyncpg.Connection) -> int:
    """Forget what the journal has (processed); returns how many rows went."""
    status = await conn.execute(
        "DELETE FROM accepted_spool s USING journal j WHERE j.event_id = s.event_id"
    )
    return int(status.split()[-1])


async def pending(conn: asyncpg.Connection) -> list[tuple[bytes | None, bytes]]:
    """Spooled messages not processed yet, in the order they were accepted."""
    rows = await conn.fetch(
        "SELECT key, value FROM accepted_spool s"
        " WHERE NOT EXISTS (SELECT 1 FROM journal j WHERE j.event_id = s.event_id)"
        " ORDER BY id"
    )
    return [
        (r["key"].encode() if r["key"] is not None else None, r["value"].encode()) for r in rows
    ]
