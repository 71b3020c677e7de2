"""The web application factory (aiohttp): API, live feeds and pages."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from aiohttp import web

from dashboards.headers import reject_control_characters, security_headers
from dashboards.hub import FeedHub
from dashboards.keys import HUB, LIVE, POOL, PRODUCER, SETTINGS, VERIFIER
from dashboards.metrics import METRICS, WebMetrics, observe
from dashboards.openapi import api_errors
from dashboards.routes import setup_routes
from dashboards.security import authenticate
from tariq.adapters.db import create_pool, migrate
from tariq.adapters.db.tokens import TokenVerifier
from tariq.adapters.kafka import EventProducer, ensure_topics
from tariq.adapters.live import LiveMirror
from tariq.config import Settings

log = logging.getLogger(__name__)


def create_app(settings: Settings) -> web.Application:
    # Outermost first: every response gets the security headers, even a 400 or a 401;
    # requests are observed (metrics, access log) and errors under /api/ made JSON.
    middlewares = [security_headers, observe, api_errors, reject_control_characters, authenticate]
    app = web.Application(middlewares=middlewares, client_max_size=64 * 1024 * 1024)
    app[SETTINGS] = settings
    app[METRICS] = WebMetrics()
    app.cleanup_ctx.append(_resources)
    setup_routes(app)
    return app


async def _resources(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    _kafka_url, redis_url, database_url = settings.require_urls()
    pool = await create_pool(database_url, max_size=8)
    await migrate(pool)
    await ensure_topics(settings)
    live = LiveMirror.from_url(redis_url, settings.redis_prefix)
    # Concurrent POSTs share produce requests for up to 5 ms: a few ms of latency, several
    # times fewer requests for the broker at thousands of single-event POSTs a second.
    producer = EventProducer(settings, linger_ms=5, via="http")
    await producer.start()
    hub = FeedHub(live, pool, per_token=settings.ws_per_token)
    await hub.start()
    app[POOL], app[LIVE], app[PRODUCER], app[HUB] = pool, live, producer, hub
    verifier = TokenVerifier(pool)
    await verifier.listen(database_url)
    app[VERIFIER] = verifier
    log.info("tariq web ready")
    try:
        yield
    finally:
        await verifier.close()
        await hub.stop()
        await producer.stop()
        await live.close()
        await pool.close()
