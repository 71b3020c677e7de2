"""Hotel notices end to end over a real PostgreSQL and a real local HTTP receiver."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import aiohttp
import asyncpg
import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from dashboards.keys import POOL, SETTINGS, VERIFIER
from dashboards.notices_api import setup_notice_routes
from dashboards.security import authenticate
from stream.delivery import Delivery, deliver_forever, deliver_once
from tariq.adapters.db import create_pool, migrate
from tariq.adapters.db.outbox import enqueue_notices, set_webhook
from tariq.adapters.db.tokens import TokenVerifier, create_token
from tariq.config import Settings
from tariq.domain.addresses import parse_allow
from tariq.domain.notices import (
    FAST_SCHEDULE,
    Notice,
    bags_delivered,
    bags_en_route,
    verify,
)
from tests.support.infra import create_database, drop_database

pytestmark = pytest.mark.integration

SECRET = "hotel-shared-secret"
LEFT = datetime(2026, 5, 18, 6, 30, tzinfo=UTC)
# Bounds on waiting, not timing asserts: a broken deliverer fails the test instead of hanging.
MAX_ROUNDS = 500
PAUSE_S = 0.01


@dataclass
class Received:
    body: bytes
    signature: str | None
    status: int

    @property
    def notice_id(self) -> str:
        return str(orjson.loads(self.body)["notice_id"])


@dataclass
class Receiver:
    """A hotel's server: answers 500 to its first `failures` requests, then 200."""

    failures: int = 0
    port: int = 0
    received: list[Received] = field(default_factory=list)
    _runner: web.AppRunner | None = None

    async def handle(self, request: web.Request) -> web.Response:
        status = 500 if self.failures > 0 else 200
        self.failures -= status == 500
        body = await request.read()
        self.received.append(Received(body, request.headers.get("X-Tariq-Signature"), status))
        return web.Response(status=status)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/notices", self.handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port, reuse_address=True)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/notices"

    def accepted(self) -> list[str]:
        return [r.notice_id for r in self.received if r.status == 200]


@pytest.fixture(autouse=True)
def webhooks_may_reach_this_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    """The receiver listens on 127.0.0.1, which webhooks may reach only when allowed
    (contract v1.1 section 3)."""
    monkeypatch.setenv("TARIQ_WEBHOOK_ALLOW", "127.0.0.0/8")


@pytest.fixture
async def pool(postgres_server: str) -> AsyncIterator[asyncpg.Pool]:
    name = f"tariq_test_notices_{uuid.uuid4().hex[:10]}"
    pool = await create_pool(await create_database(postgres_server, name), max_size=6)
    try:
        await migrate(pool)
        yield pool
    finally:
        await pool.close()
        await drop_database(postgres_server, name)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    running = Receiver()
    await running.start()
    try:
        yield running
    finally:
        await running.stop()


def en_route(hotel_id: str = "H-1", trip_id: str = "trip-1") -> Notice:
    return bags_en_route(
        hotel_id=hotel_id,
        vehicle_id="TRK-7",
        trip_id=trip_id,
        tags=["0123456789", "0987654321"],
        eta=LEFT + timedelta(minutes=70),
        occurred_at=LEFT,
    )


def delivered(hotel_id: str = "H-1", scan: str = "scan-1") -> Notice:
    return bags_delivered(
        hotel_id=hotel_id,
        vehicle_id="TRK-7",
        tags=["0123456789", "0987654321"],
        event_ids=[scan],
        occurred_at=LEFT + timedelta(minutes=72),
    )


async def enqueue(pool: asyncpg.Pool, notices: list[Notice]) -> list[Notice]:
    async with pool.acquire() as conn, conn.transaction():
        return await enqueue_notices(conn, notices)


async def outbox(pool: asyncpg.Pool) -> dict[str, asyncpg.Record]:
    rows = await pool.fetch("SELECT * FROM notice_outbox")
    return {row["notice_id"]: row for row in rows}


async def pending(pool: asyncpg.Pool) -> int:
    return int(await pool.fetchval("SELECT count(*) FROM notice_outbox WHERE delivered_at IS NULL"))


async def deliver_until_done(pool: asyncpg.Pool, *deliverers: Delivery) -> None:
    async with aiohttp.ClientSession() as session:
        for _ in range(MAX_ROUNDS):
            if await pending(pool) == 0:
                return
            await asyncio.gather(*(deliver_once(pool, session, d) for d in deliverers))
            await asyncio.sleep(PAUSE_S)
    raise AssertionError(f"{await pending(pool)} notices still pending after {MAX_ROUNDS} rounds")


async def test_notices_arrive_signed_once_each_after_the_hotel_fails_three_times(
    pool: asyncpg.Pool, receiver: Receiver
) -> None:
    receiver.failures = 3
    await set_webhook(pool, "H-1", receiver.url, SECRET)
    first = await enqueue(pool, [en_route(), delivered()])
    # The stream re-processing the same events enqueues the same notice ids: ignored.
    again = await enqueue(pool, [delivered(), en_route(), en_route()])
    assert [n.kind for n in first] == ["bags_en_route", "bags_delivered"]
    assert again == []

    stop = asyncio.Event()
    loop = asyncio.create_task(
        deliver_forever(pool, stop=stop, schedule=FAST_SCHEDULE, poll_s=PAUSE_S, timeout_s=2)
    )
    try:
        for _ in range(MAX_ROUNDS):
            if await pending(pool) == 0:
                break
            await asyncio.sleep(PAUSE_S)
    finally:
        stop.set()
        await loop
    assert await pending(pool) == 0

    assert [r.status for r in receiver.received] == [500, 500, 500, 200, 200]
    assert all(verify(r.body, SECRET, r.signature) for r in receiver.received)
    assert not any(verify(r.body, "another secret", r.signature) for r in receiver.received)
    # In order, each accepted exactly once, and the same bytes on every retry.
    assert receiver.accepted() == [en_route().notice_id, delivered().notice_id]
    assert len({r.body for r in receiver.received[:4]}) == 1
    body = orjson.loads(receiver.received[-1].body)
    assert body["kind"] == "bags_delivered" and body["hotel_id"] == "H-1"

    rows = await outbox(pool)
    assert rows[en_route().notice_id]["attempts"] == 4
    assert rows[delivered().notice_id]["attempts"] == 1
    assert all(row["last_error"] is None for row in rows.values())


async def test_a_notice_enqueued_while_the_hotel_is_down_arrives_when_it_is_back(
    pool: asyncpg.Pool, receiver: Receiver
) -> None:
    await set_webhook(pool, "H-1", receiver.url, SECRET)
    await receiver.stop()
    await enqueue(pool, [en_route()])
    fast = Delivery(FAST_SCHEDULE, timeout_s=2)
    async with aiohttp.ClientSession() as session:
        for _ in range(MAX_ROUNDS):
            await deliver_once(pool, session, fast)
            row = (await outbox(pool))[en_route().notice_id]
            if row["attempts"] >= 2:
                break
            await asyncio.sleep(PAUSE_S)
    assert row["attempts"] >= 2 and row["delivered_at"] is None
    assert row["last_error"]  # why it failed is kept for the operator

    await receiver.start()  # same port: the hotel's server is back
    await deliver_until_done(pool, fast)
    assert receiver.accepted() == [en_route().notice_id]
    assert verify(receiver.received[0].body, SECRET, receiver.received[0].signature)


async def test_a_hotel_without_a_webhook_keeps_its_notices_until_it_has_one(
    pool: asyncpg.Pool, receiver: Receiver
) -> None:
    await enqueue(pool, [en_route("H-2")])
    fast = Delivery(FAST_SCHEDULE, timeout_s=2)
    assert await deliver_once(pool, None, fast) == 0
    assert (await outbox(pool))[en_route("H-2").notice_id]["attempts"] == 0

    await set_webhook(pool, "H-2", receiver.url, SECRET)
    assert await deliver_once(pool, None, fast) == 1
    assert receiver.accepted() == [en_route("H-2").notice_id]


async def test_deliverers_running_at_once_send_each_notice_once_in_order(
    pool: asyncpg.Pool, receiver: Receiver
) -> None:
    receiver.failures = 5
    hotels = ["H-A", "H-B", "H-C"]
    for hotel in hotels:
        await set_webhook(pool, hotel, receiver.url, SECRET)
    expected: dict[str, list[str]] = {hotel: [] for hotel in hotels}
    for trip in range(6):
        batch = [en_route(hotel, f"trip-{trip}") for hotel in hotels]
        batch += [delivered(hotel, f"scan-{trip}") for hotel in hotels]
        for notice in await enqueue(pool, batch):
            expected[notice.hotel_id].append(notice.notice_id)

    # Two deliverers, each serving at most two hotels a round and two notices a claim.
    deliverers = [Delivery(FAST_SCHEDULE, concurrency=2, batch=2, timeout_s=2) for _ in "ab"]
    await deliver_until_done(pool, *deliverers)

    counts = Counter(receiver.accepted())
    assert set(counts) == {nid for ids in expected.values() for nid in ids}
    assert set(counts.values()) == {1}
    for hotel, ids in expected.items():
        got = [r.notice_id for r in receiver.received if r.status == 200]
        assert [nid for nid in got if nid in set(ids)] == ids, hotel


async def test_webhook_and_notice_endpoints(pool: asyncpg.Pool) -> None:
    app = web.Application(middlewares=[authenticate])
    app[SETTINGS] = Settings(webhook_allow=parse_allow("127.0.0.0/8"))
    app[POOL] = pool
    app[VERIFIER] = TokenVerifier(pool)
    setup_notice_routes(app)
    operator = {"Authorization": f"Bearer {await create_token(pool, 'operator', None)}"}
    hotel = {"Authorization": f"Bearer {await create_token(pool, 'hotel', 'H-1')}"}
    await enqueue(pool, [en_route("H-1"), delivered("H-1"), en_route("H-2")])

    async with TestClient(TestServer(app)) as client:
        hook = {"url": "https://hotel.example/notices", "secret": SECRET}
        put = client.put
        assert (await put("/api/hotels/H-1/webhook", json=hook)).status == 401
        assert (await put("/api/hotels/H-1/webhook", json=hook, headers=hotel)).status == 403
        bad = {"url": "mailto:desk@hotel.example", "secret": SECRET}
        assert (await put("/api/hotels/H-1/webhook", json=bad, headers=operator)).status == 400
        response = await put("/api/hotels/H-1/webhook", json=hook, headers=operator)
        assert response.status == 200
        assert SECRET not in await response.text()
        row = await pool.fetchrow("SELECT url, secret FROM hotel_webhooks WHERE hotel_id = 'H-1'")
        assert (row["url"], row["secret"]) == (hook["url"], SECRET)

        response = await client.get("/api/hotels/H-1/notices?limit=1", headers=hotel)
        page = await response.json()
        assert response.status == 200
        assert (page["total"], page["limit"], page["offset"]) == (2, 1, 0)
        # Newest first, with its delivery state.
        assert page["notices"][0]["notice_id"] == delivered("H-1").notice_id
        assert page["notices"][0]["status"] == "pending"
        assert (await client.get("/api/hotels/H-2/notices", headers=hotel)).status == 403
        everything = await client.get("/api/hotels/H-2/notices", headers=operator)
        assert (await everything.json())["total"] == 1
        bad_page = await client.get("/api/hotels/H-1/notices?limit=0", headers=operator)
        assert bad_page.status == 400
