"""API tokens: random bearer tokens with a role, stored only as SHA-256 hashes."""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import Final, Literal

import asyncpg

Role = Literal["operator", "hotel", "device"]
ROLES: Final[tuple[Role, ...]] = ("operator", "hotel", "device")


@dataclass(frozen=True, slots=True)
class Principal:
    role: Role
    hotel_id: str | None = None


def new_token() -> str:
    return "tq_" + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def create_token(
    conn: asyncpg.Connection | asyncpg.Pool, role: str, hotel_id: str | None
) -> str:
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    if (role == "hotel") != (hotel_id is not None):
        raise ValueError("a hotel token needs --hotel ID, and only a hotel token takes one")
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
