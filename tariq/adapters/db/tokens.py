"""API tokens in PostgreSQL: created, and verified with a short cache."""

from __future__ import annotations

import time

import asyncpg

from tariq.domain.tokens import Principal, check_role, hash_token, new_token


async def create_token(
    conn: asyncpg.Connection | asyncpg.Pool, role: str, hotel_id: str | None
) -> str:
    check_role(role, hotel_id)
    token = new_token()
    await conn.execute(
        "INSERT INTO tokens (token_hash, role, hotel_id) VALUES ($1, $2, $3)",
        hash_token(token),
        role,
        hotel_id,
    )
    return token


class TokenVerifier:
    """Looks tokens up in PostgreSQL, caching hits briefly to keep requests cheap."""

    def __init__(self, pool: asyncpg.Pool, ttl_s: float = 30.0) -> None:
        self.pool = pool
        self.ttl_s = ttl_s
        self._cache: dict[str, tuple[float, Principal]] = {}

    async def verify(self, token: str | None) -> Principal | None:
        if not token:
            return None
        digest = hash_token(token)
        now = time.monotonic()
        hit = self._cache.get(digest)
        if hit and hit[0] > now:
            return hit[1]
        row = await self.pool.fetchrow(
            "SELECT role, hotel_id FROM tokens WHERE token_hash = $1", digest
        )
        if row is None:
            return None
        principal = Principal(role=row["role"], hotel_id=row["hotel_id"])
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[digest] = (now + self.ttl_s, principal)
        return principal
