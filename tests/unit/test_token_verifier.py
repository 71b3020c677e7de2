"""TokenVerifier with a fake pool: one lookup of a token at a time, and a lookup that a
revocation notice overtook is not cached (tariq/adapters/db/tokens.py)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest

from tariq.adapters.db.tokens import TokenVerifier
from tariq.domain.tokens import Principal, hash_token, token_id_of

TOKEN = "tq_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8S9t0U1v"


class SlowPool:
    """Answers `fetchrow` for TOKEN (a device of BUS-7) once `answer` is set."""

    def __init__(self) -> None:
        self.queries = 0
        self.asked = asyncio.Event()
        self.answer = asyncio.Event()
        self.fail: Exception | None = None

    async def fetchrow(self, _query: str, digest: str) -> dict[str, Any] | None:
        self.queries += 1
        self.asked.set()
        await self.answer.wait()
        if self.fail is not None:
            raise self.fail
        if digest != hash_token(TOKEN):
            return None
        now = datetime.now(UTC)
        return {"role": "device", "hotel_id": None, "vehicle_id": "BUS-7",
                "expires_at": None, "db_now": now}  # fmt: skip


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


DEVICE = Principal("device", None, "BUS-7", token_id_of(hash_token(TOKEN)))


async def test_concurrent_requests_share_one_lookup_of_a_token() -> None:
    pool, clock = SlowPool(), Clock()
    verifier = TokenVerifier(pool, clock=clock)
    waiting = [asyncio.ensure_future(verifier.verify(TOKEN)) for _ in range(50)]
    await pool.asked.wait()
    pool.answer.set()
    assert await asyncio.gather(*waiting) == [DEVICE] * 50
    assert pool.queries == 1
    assert await verifier.verify(TOKEN) == DEVICE  # from the cache
    assert pool.queries == 1
    clock.now += 2  # past the cache bound: looked up again
    assert await verifier.verify(TOKEN) == DEVICE
    assert pool.queries == 2


async def test_a_caller_that_goes_away_leaves_the_lookup_to_the_others() -> None:
    pool = SlowPool()
    verifier = TokenVerifier(pool, clock=Clock())
    leaving = asyncio.ensure_future(verifier.verify(TOKEN))
    staying = asyncio.ensure_future(verifier.verify(TOKEN))
    await pool.asked.wait()
    leaving.cancel()
    pool.answer.set()
    assert await staying == DEVICE
    assert pool.queries == 1


async def test_a_failed_lookup_fails_its_callers_and_the_next_request_asks_again() -> None:
    pool = SlowPool()
    verifier = TokenVerifier(pool, clock=Clock())
    pool.fail = ConnectionError("database down")
    waiting = [asyncio.ensure_future(verifier.verify(TOKEN)) for _ in range(3)]
    await pool.asked.wait()
    pool.answer.set()
    for outcome in await asyncio.gather(*waiting, return_exceptions=True):
        assert isinstance(outcome, ConnectionError)
    pool.fail = None
    assert await verifier.verify(TOKEN) == DEVICE
    assert pool.queries == 2


async def test_a_lookup_overtaken_by_a_revocation_notice_is_not_cached() -> None:
    pool = SlowPool()
    verifier = TokenVerifier(pool, clock=Clock())
    racing = asyncio.ensure_future(verifier.verify(TOKEN))
    await pool.asked.wait()
    verifier._forget()  # the notice of a revocation, while the row was being read
    pool.answer.set()
    assert await racing == DEVICE  # in flight before the revocation, like any request
    assert await verifier.verify(TOKEN) == DEVICE
    assert pool.queries == 2  # not answered from a cache filled before the notice


@pytest.mark.parametrize("token", [None, ""])
async def test_no_token_is_no_principal_and_no_query(token: str | None) -> None:
    pool = SlowPool()
    assert await TokenVerifier(pool).verify(token) is None
    assert pool.queries == 0
