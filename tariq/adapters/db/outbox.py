"""The hotel notice outbox in PostgreSQL: enqueue, webhooks, listing, and the leases and
outcomes of delivery. Delivery itself (the loop, the HTTP POST) is in stream/delivery.py."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, TypeAlias

import asyncpg
import orjson

from tariq.domain.notices import Notice, encode_body

Executor: TypeAlias = asyncpg.Connection | asyncpg.Pool
_ERROR_CHARS: Final = 500


async def enqueue_notices(conn: asyncpg.Connection, notices: Sequence[Notice]) -> list[Notice]:
    """Add notices to the outbox in the caller's transaction; a notice whose `notice_id` is
    already there (re-processed events) is ignored. Returns the notices that are new."""
    unique: dict[str, Notice] = {}
    for notice in notices:
        unique.setdefault(notice.notice_id, notice)
    if not unique:
        return []
    batch = list(unique.values())
    rows = await conn.fetch(
        """
        INSERT INTO notice_outbox (notice_id, hotel_id, kind, body)
        SELECT n.notice_id, n.hotel_id, n.kind, n.body
        FROM unnest($1::text[], $2::text[], $3::text[], $4::bytea[])
             WITH ORDINALITY AS n (notice_id, hotel_id, kind, body, position)
        ORDER BY n.position
        ON CONFLICT (notice_id) DO NOTHING
        RETURNING notice_id
        """,
        [n.notice_id for n in batch],
        [n.hotel_id for n in batch],
        [n.kind for n in batch],
        [encode_body(n) for n in batch],
    )
    new = {row["notice_id"] for row in rows}
    return [n for n in batch if n.notice_id in new]


async def set_webhook(pool: Executor, hotel_id: str, url: str, secret: str) -> None:
    """Where the hotel's notices go from now on. Its pending notices are due at once, so a
    fixed URL gets the backlog without waiting out the backoff earned by the old one."""
    async with _connection(pool) as conn, conn.transaction():
        await conn.execute(
            """
            INSERT INTO hotel_webhooks (hotel_id, url, secret) VALUES ($1, $2, $3)
            ON CONFLICT (hotel_id)
            DO UPDATE SET url = EXCLUDED.url, secret = EXCLUDED.secret, updated_at = now()
            """,
            hotel_id,
            url,
            secret,
        )
        await conn.execute(
            "UPDATE notice_outbox SET next_attempt_at = now()"
            " WHERE hotel_id = $1 AND delivered_at IS NULL AND next_attempt_at > now()",
            hotel_id,
        )


async def fetch_notices(
    pool: Executor, hotel_id: str, limit: int, offset: int = 0
) -> tuple[int, list[dict[str, Any]]]:
    """(total, a page of the hotel's notices, newest first), each the notice body with its
    delivery state: `status` (`pending`/`delivered`), `attempts`, `created_at`,
    `delivered_at`, `last_error`."""
    async with _connection(pool) as conn:
        total = await conn.fetchval(
            "SELECT count(*) FROM notice_outbox WHERE hotel_id = $1", hotel_id
        )
        rows = await conn.fetch(
            "SELECT body, attempts, created_at, delivered_at, last_error FROM notice_outbox"
            " WHERE hotel_id = $1 ORDER BY seq DESC LIMIT $2 OFFSET $3",
            hotel_id,
            limit,
            offset,
        )
    items = []
    for row in rows:
        item = orjson.loads(row["body"])
        item.update(
            status="pending" if row["delivered_at"] is None else "delivered",
            attempts=row["attempts"],
            created_at=row["created_at"],
            delivered_at=row["delivered_at"],
            last_error=row["last_error"],
        )
        items.append(item)
    return int(total), items


@asynccontextmanager
async def _connection(executor: Executor) -> AsyncIterator[asyncpg.Connection]:
    """A connection from a pool (acquired, then released), or the connection given."""
    if isinstance(executor, asyncpg.Pool):
        async with executor.acquire() as conn:
            yield conn
    else:
        yield executor


@dataclass(frozen=True, slots=True)
class Claim:
    """A deliverer's lease on one hotel's queue."""

    hotel_id: str
    url: str
    secret: str
    leased_until: datetime


_CLAIM = """
WITH due AS (
    SELECT w.hotel_id, head.next_attempt_at
    FROM hotel_webhooks AS w
    CROSS JOIN LATERAL (
        SELECT o.next_attempt_at FROM notice_outbox AS o
        WHERE o.hotel_id = w.hotel_id AND o.delivered_at IS NULL
        ORDER BY o.seq LIMIT 1
    ) AS head
    WHERE (w.leased_until IS NULL OR w.leased_until <= now())
      AND head.next_attempt_at <= now()
    ORDER BY head.next_attempt_at
    LIMIT $1
    FOR UPDATE OF w SKIP LOCKED
)
UPDATE hotel_webhooks AS w SET leased_until = now() + make_interval(secs => $2)
FROM due
WHERE w.hotel_id = due.hotel_id
RETURNING w.hotel_id, w.url, w.secret, w.leased_until
"""


async def claim_hotels(pool: asyncpg.Pool, concurrency: int, lease_s: float) -> list[Claim]:
    """Lease up to `concurrency` hotels whose oldest pending notice is due."""
    return [
        Claim(row["hotel_id"], row["url"], row["secret"], row["leased_until"])
        for row in await pool.fetch(_CLAIM, concurrency, lease_s)
    ]


async def pending_notices(pool: asyncpg.Pool, hotel_id: str, limit: int) -> list[asyncpg.Record]:
    """The hotel's undelivered notices in the order they were enqueued."""
    return await pool.fetch(
        "SELECT notice_id, body, attempts FROM notice_outbox"
        " WHERE hotel_id = $1 AND delivered_at IS NULL ORDER BY seq LIMIT $2",
        hotel_id,
        limit,
    )


async def mark_delivered(pool: asyncpg.Pool, notice_id: str) -> None:
    await pool.execute(
        "UPDATE notice_outbox SET delivered_at = now(), attempts = attempts + 1,"
        " last_error = NULL WHERE notice_id = $1",
        notice_id,
    )


async def mark_failed(pool: asyncpg.Pool, notice_id: str, failure: str, wait_s: float) -> None:
    await pool.execute(
        "UPDATE notice_outbox SET attempts = attempts + 1, last_error = $2,"
        " next_attempt_at = now() + make_interval(secs => $3) WHERE notice_id = $1",
        notice_id,
        failure[:_ERROR_CHARS],
        wait_s,
    )


async def release_claim(pool: asyncpg.Pool, claim: Claim) -> None:
    """Only our own lease is released: if it lapsed, another deliverer owns the hotel."""
    await pool.execute(
        "UPDATE hotel_webhooks SET leased_until = NULL WHERE hotel_id = $1 AND leased_until = $2",
        claim.hotel_id,
        claim.leased_until,
    )
