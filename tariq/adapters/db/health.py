"""The readiness probe's own PostgreSQL connection: one connection, outside every pool,
so /health answers even while the pools are busy."""

from __future__ import annotations

import asyncpg


async def connect_probe(url: str, timeout_s: float) -> asyncpg.Connection:
    return await asyncpg.connect(url, timeout=timeout_s)


async def answers(conn: asyncpg.Connection, timeout_s: float) -> bool:
    return bool(await conn.fetchval("SELECT 1", timeout=timeout_s) == 1)
