"""API tokens in PostgreSQL: created, listed, revoked, and verified with a short cache."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from tariq.domain.tokens import Principal, check_role, hash_token, new_token, token_id_of

log = logging.getLogger(__name__)

# How long the web process trusts a token it verified: a revoked or expired token is refused
# at most this long after `tariq token revoke` returns (or after it expires), even when the
# revocation notice below is lost.
CACHE_TTL_S = 1.0
# `tariq token revoke` notifies this channel; every web process's verifier listening on it
# empties its cache at once.
REVOKED_CHANNEL = "tariq_tokens_revoked"


async def create_token(
    conn: asyncpg.Connection | asyncpg.Pool,
    role: str,
    hotel_id: str | None,
    *,
    vehicle_id: str | None = None,
    lifetime: timedelta | None = None,
) -> str:
    """A new token (the secret: shown once, stored only as its hash)."""
    check_role(role, hotel_id, vehicle_id)
    token = new_token()
    await conn.execute(
        "INSERT INTO tokens (token_hash, role, hotel_id, vehicle_id, expires_at)"
        " VALUES ($1, $2, $3, $4, now() + $5::interval)",
        hash_token(token),
        role,
        hotel_id,
        vehicle_id,
        lifetime,
    )
    return token


async def list_tokens(conn: asyncpg.Connection | asyncpg.Pool) -> list[dict[str, Any]]:
    """Every token, oldest first: id, role, hotel, vehicle, created, expires, revoked."""
    rows = await conn.fetch(
        "SELECT token_id, role, hotel_id, vehicle_id, created_at, expires_at, revoked_at"
        " FROM tokens ORDER BY created_at, token_id"
    )
    return [dict(row) for row in rows]


async def revoke_token(conn: asyncpg.Connection | asyncpg.Pool, token_id: str) -> str | None:
    """Revoke a token by its public id: "revoked", "already revoked", or None if unknown."""
    row = await conn.fetchrow(
        "WITH hit AS (SELECT token_id, revoked_at FROM tokens WHERE token_id = $1),"
        " upd AS (UPDATE tokens SET revoked_at = now()"
        "  WHERE token_id = $1 AND revoked_at IS NULL RETURNING token_id)"
        " SELECT (SELECT count(*) FROM hit) AS found, (SELECT count(*) FROM upd) AS changed",
        token_id,
    )
    if row is None or not row["found"]:
        return None
    if not row["changed"]:
        return "already revoked"
    await conn.execute("SELECT pg_notify($1, $2)", REVOKED_CHANNEL, token_id)
    return "revoked"


class TokenVerifier:
    """Looks tokens up in PostgreSQL, caching hits for at most CACHE_TTL_S (and never past
    the token's expiry) to keep requests cheap: a revocation takes effect within that."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        ttl_s: float = CACHE_TTL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.pool = pool
        self.ttl_s = ttl_s
        self.clock = clock
        self._cache: dict[str, tuple[float, Principal]] = {}
        self._lookups: dict[str, asyncio.Future[Principal | None]] = {}
        self._revocations = 0  # how many notices came: a lookup begun before one is stale
        self._listener: asyncpg.Connection | None = None

    async def listen(self, database_url: str) -> None:
        """Empty the cache the moment any token is revoked (`revoke_token` notifies), over a
        connection of its own (the pool may be busy). Without it, CACHE_TTL_S still holds."""
        try:
            self._listener = await asyncpg.connect(database_url)
            await self._listener.add_listener(REVOKED_CHANNEL, self._forget)
        except (OSError, asyncpg.PostgresError) as exc:
            log.warning("token revocations take up to %.0f s to apply: %s", self.ttl_s, exc)

    def _forget(self, *_: object) -> None:
        self._revocations += 1
        self._cache.clear()

    async def close(self) -> None:
        if self._listener is not None:
            await self._listener.close()
            self._listener = None

    async def verify(self, token: str | None) -> Principal | None:
        if not token:
            return None
        digest = hash_token(token)
        hit = self._cache.get(digest)
        if hit and hit[0] > self.clock():
            return hit[1]
        # One lookup of a token at a time. Every request that came while the lookup after
        # an expiry was in flight looked the token up too: at 2,000 POSTs/s with one
        # token, 1,055 queries in a 20 s run (pg_stat_statements). They wait for it now.
        lookup = self._lookups.get(digest)
        if lookup is None:
            lookup = asyncio.ensure_future(self._look_up(digest))
            self._lookups[digest] = lookup
            lookup.add_done_callback(lambda done: self._looked_up(digest, done))
        # Shielded: a caller that goes away does not cancel the others' lookup.
        return await asyncio.shield(lookup)

    def _looked_up(self, digest: str, done: asyncio.Future[Principal | None]) -> None:
        self._lookups.pop(digest, None)
        if not done.cancelled():
            done.exception()  # retrieved: the callers that waited have raised it

    async def _look_up(self, digest: str) -> Principal | None:
        revocations = self._revocations
        now = self.clock()
        row = await self.pool.fetchrow(
            "SELECT role, hotel_id, vehicle_id, expires_at, now() AS db_now FROM tokens"
            " WHERE token_hash = $1 AND revoked_at IS NULL"
            " AND (expires_at IS NULL OR expires_at > now())",
            digest,
        )
        if row is None:
            self._cache.pop(digest, None)
            return None
        principal = Principal(
            role=row["role"],
            hotel_id=row["hotel_id"],
            vehicle_id=row["vehicle_id"],
            token_id=token_id_of(digest),
        )
        if revocations != self._revocations:
            return principal  # read before a revocation was noticed: not kept
        until = now + self.ttl_s
        expires_at: datetime | None = row["expires_at"]
        if expires_at is not None:
            until = min(until, now + (expires_at - row["db_now"]).total_seconds())
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[digest] = (until, principal)
        return principal
