"""Tokens and webhooks over a real PostgreSQL: expiry, listing, revocation within the
verifier's cache bound, bound device tokens; the webhook address rules on `PUT` and again
at connect time (a host that resolves to loopback, as DNS rebinding would make it), and the
generic delivery error a hotel sees."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import aiohttp
import asyncpg
import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from dashboards.keys import POOL, SETTINGS, VERIFIER
from dashboards.notices_api import GENERIC_DELIVERY_ERROR, setup_notice_routes
from dashboards.security import authenticate
from stream.delivery import Delivery, deliver_once
from tariq.adapters import webhooks
from tariq.adapters.db import create_pool, migrate
from tariq.adapters.db.outbox import enqueue_notices, set_webhook
from tariq.adapters.db.tokens import (
    CACHE_TTL_S,
    TokenVerifier,
    create_token,
    list_tokens,
    revoke_token,
)
from tariq.config import Settings
from tariq.domain.addresses import parse_allow
from tariq.domain.notices import FAST_SCHEDULE, bags_en_route
from tariq.domain.tokens import Principal, hash_token, token_id_of
from tests.support.infra import create_database, drop_database, with_database

pytestmark = pytest.mark.integration

SECRET = "hotel-shared-secret"


@pytest.fixture
async def pool(postgres_server: str) -> AsyncIterator[asyncpg.Pool]:
    name = f"tariq_test_websec_{uuid.uuid4().hex[:10]}"
    pool = await create_pool(await create_database(postgres_server, name), max_size=4)
    try:
        await migrate(pool)
        yield pool
    finally:
        await pool.close()
        await drop_database(postgres_server, name)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# --------------------------------------------------------------------------- tokens


async def test_tokens_are_listed_without_secrets_and_revoked(pool: asyncpg.Pool) -> None:
    operator = await create_token(pool, "operator", None)
    device = await create_token(
        pool, "device", None, vehicle_id="BUS-7", lifetime=timedelta(days=30)
    )
    hotel = await create_token(pool, "hotel", "H-1")
    listed = {row["token_id"]: row for row in await list_tokens(pool)}
    ids = {t: token_id_of(hash_token(t)) for t in (operator, device, hotel)}
    assert set(listed) == set(ids.values())
    row = listed[ids[device]]
    assert (row["role"], row["hotel_id"], row["vehicle_id"]) == ("device", None, "BUS-7")
    lifetime = row["expires_at"] - row["created_at"]
    assert timedelta(days=30) - timedelta(seconds=5) < lifetime <= timedelta(days=30)
    assert listed[ids[hotel]]["hotel_id"] == "H-1" and listed[ids[operator]]["expires_at"] is None
    # Never the secret, nor its hash.
    text = repr(listed)
    assert not any(t in text or hash_token(t) in text for t in (operator, device, hotel))

    clock = Clock()
    verifier = TokenVerifier(pool, clock=clock)
    principal = await verifier.verify(device)
    assert principal == Principal("device", None, "BUS-7", ids[device])

    assert await revoke_token(pool, ids[device]) == "revoked"
    assert await revoke_token(pool, ids[device]) == "already revoked"
    assert await revoke_token(pool, "000000000000") is None
    assert (await list_tokens(pool))[1]["revoked_at"] is not None
    # The verifier's cache holds a token at most CACHE_TTL_S: past that, the revocation holds.
    clock.now += CACHE_TTL_S + 0.001
    assert await verifier.verify(device) is None
    # A fresh verifier (another web process) refuses it at once.
    assert await TokenVerifier(pool).verify(device) is None
    assert await TokenVerifier(pool).verify(operator) is not None


async def test_a_listening_verifier_forgets_a_revoked_token_at_once(
    pool: asyncpg.Pool, postgres_server: str
) -> None:
    """With the revocation notice, a cached token is dropped without waiting for the cache
    bound: the verifier's clock stands still here, so only the notice can do it."""
    token = await create_token(pool, "device", None)
    verifier = TokenVerifier(pool, clock=Clock())
    await verifier.listen(
        with_database(postgres_server, await pool.fetchval("SELECT current_database()"))
    )
    try:
        assert await verifier.verify(token) is not None
        assert await verifier.verify(token) is not None  # from the cache
        assert await revoke_token(pool, token_id_of(hash_token(token))) == "revoked"
        for _ in range(200):  # a bound on waiting for the notice, not a timing assert
            if await verifier.verify(token) is None:
                break
            await asyncio.sleep(0.05)
        assert await verifier.verify(token) is None
    finally:
        await verifier.close()


async def test_an_expired_token_is_refused(pool: asyncpg.Pool) -> None:
    token = await create_token(pool, "operator", None, lifetime=timedelta(hours=1))
    clock = Clock()
    verifier = TokenVerifier(pool, clock=clock)
    assert await verifier.verify(token) is not None
    # An hour goes by (moved in the database rather than waited for).
    await pool.execute(
        "UPDATE tokens SET expires_at = now() - interval '1 second' WHERE token_hash = $1",
        hash_token(token),
    )
    clock.now += CACHE_TTL_S + 0.001
    assert await verifier.verify(token) is None


async def test_the_cache_never_outlives_a_token(pool: asyncpg.Pool) -> None:
    """A token expiring before the cache bound is cached only until it expires."""
    token = await create_token(pool, "operator", None, lifetime=timedelta(seconds=45))
    await pool.execute(
        "UPDATE tokens SET expires_at = now() + interval '100 milliseconds' WHERE token_hash = $1",
        hash_token(token),
    )
    verifier = TokenVerifier(pool, ttl_s=3600)
    assert await verifier.verify(token) is not None
    until, _ = verifier._cache[hash_token(token)]
    assert until <= verifier.clock() + 0.1


# --------------------------------------------------------------------------- webhooks


def notices_app(pool: asyncpg.Pool, allow: str) -> web.Application:
    app = web.Application(middlewares=[authenticate])
    app[SETTINGS] = Settings(webhook_allow=parse_allow(allow))
    app[POOL] = pool
    app[VERIFIER] = TokenVerifier(pool)
    setup_notice_routes(app)
    return app


@pytest.mark.parametrize(
    "host",
    ["169.254.169.254", "127.0.0.1", "[::1]", "10.0.0.7", "192.168.1.20", "0.0.0.0",
     "[::ffff:127.0.0.1]", "localhost"],
)  # fmt: skip
async def test_put_webhook_refuses_hosts_that_are_not_public(pool: asyncpg.Pool, host: str) -> None:
    operator = {"Authorization": f"Bearer {await create_token(pool, 'operator', None)}"}
    async with TestClient(TestServer(notices_app(pool, ""))) as client:
        hook = {"url": f"http://{host}:6379/latest/meta-data", "secret": SECRET}
        response = await client.put("/api/hotels/H-1/webhook", json=hook, headers=operator)
        assert response.status == 400
        assert "TARIQ_WEBHOOK_ALLOW" in (await response.json())["error"]
    assert await pool.fetchval("SELECT count(*) FROM hotel_webhooks") == 0


async def test_put_webhook_takes_public_and_allowed_addresses(pool: asyncpg.Pool) -> None:
    operator = {"Authorization": f"Bearer {await create_token(pool, 'operator', None)}"}
    async with TestClient(TestServer(notices_app(pool, "127.0.0.0/8,10.9.0.0/16"))) as client:
        for url in ("http://127.0.0.1:8099/hook", "https://10.9.1.2/hook",
                    "https://93.184.216.34/hook"):  # fmt: skip
            response = await client.put(
                "/api/hotels/H-1/webhook", json={"url": url, "secret": SECRET}, headers=operator
            )
            assert response.status == 200, url
        # Allowed networks only: 10.8.x and link-local stay refused.
        for url in ("http://10.8.0.1/hook", "http://169.254.169.254/"):
            response = await client.put(
                "/api/hotels/H-1/webhook", json={"url": url, "secret": SECRET}, headers=operator
            )
            assert response.status == 400, url
        for url in ("ftp://93.184.216.34/x", "file:///etc/passwd", "gopher://127.0.0.1:6379/"):
            response = await client.put(
                "/api/hotels/H-1/webhook", json={"url": url, "secret": SECRET}, headers=operator
            )
            assert response.status == 400, url


class Receiver:
    """A server on 127.0.0.1 that records every request it gets."""

    def __init__(self) -> None:
        self.hits: list[str] = []
        self.runner: web.AppRunner | None = None
        self.port = 0

    async def handle(self, request: web.Request) -> web.Response:
        self.hits.append(request.headers.get("Host", ""))
        return web.Response(status=503, text="internal: redis at 10.0.0.5 refused AUTH")

    async def __aenter__(self) -> Receiver:
        app = web.Application()
        app.router.add_post("/hook", self.handle)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", 0).start()
        self.port = self.runner.addresses[0][1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.runner is not None
        await self.runner.cleanup()


async def test_delivery_checks_the_address_again_when_it_connects(
    pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stored URL whose host now resolves to loopback (`localhost` stands for a name that
    DNS rebinding turned into 127.0.0.1 after the PUT) is never connected to; with the
    address allowed it is, with the URL's host in the Host header."""
    monkeypatch.delenv("TARIQ_WEBHOOK_ALLOW", raising=False)
    notice = bags_en_route(
        hotel_id="H-1",
        vehicle_id="TRK-1",
        trip_id="trip-1",
        tags=["0065500000"],
        eta=None,
        occurred_at=datetime(2026, 5, 18, 6, 0, tzinfo=UTC),
    )
    async with pool.acquire() as conn, conn.transaction():
        await enqueue_notices(conn, [notice])
    fast = Delivery(FAST_SCHEDULE, timeout_s=2)
    async with Receiver() as receiver, aiohttp.ClientSession() as session:
        for host in ("localhost", "127.0.0.1", "[::ffff:127.0.0.1]"):
            await set_webhook(pool, "H-1", f"http://{host}:{receiver.port}/hook", SECRET)
            await pool.execute("UPDATE notice_outbox SET next_attempt_at = now()")
            assert await deliver_once(pool, session, fast) == 0
            error = await pool.fetchval("SELECT last_error FROM notice_outbox")
            assert error.startswith("refused to connect") and "loopback" in error, error
        assert receiver.hits == []

        # Straight through the adapter too, whatever session it is given.
        direct = await webhooks.post_notice(
            session, f"http://localhost:{receiver.port}/hook", SECRET, "n-1", b"{}", 2, allow=()
        )
        assert direct is not None and direct.startswith("refused to connect")
        assert receiver.hits == []

        monkeypatch.setenv("TARIQ_WEBHOOK_ALLOW", "127.0.0.0/8,::1/128")
        await set_webhook(pool, "H-1", f"http://localhost:{receiver.port}/hook", SECRET)
        await pool.execute("UPDATE notice_outbox SET next_attempt_at = now()")
        await deliver_once(pool, session, fast)
        assert receiver.hits == [f"localhost:{receiver.port}"]
        # The far side's answer is kept for operators only.
        assert await pool.fetchval("SELECT last_error FROM notice_outbox") == "HTTP 503"

    operator = {"Authorization": f"Bearer {await create_token(pool, 'operator', None)}"}
    hotel = {"Authorization": f"Bearer {await create_token(pool, 'hotel', 'H-1')}"}
    async with TestClient(TestServer(notices_app(pool, ""))) as client:
        seen = await (await client.get("/api/hotels/H-1/notices", headers=hotel)).json()
        assert seen["notices"][0]["last_error"] == GENERIC_DELIVERY_ERROR
        detail = await (await client.get("/api/hotels/H-1/notices", headers=operator)).json()
        assert detail["notices"][0]["last_error"] == "HTTP 503"
    assert "10.0.0.5" not in orjson.dumps(seen).decode()
