"""The web application factory (aiohttp): API, live feeds and pages."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator
from pathlib import Path

from aiohttp import web

from dashboards.edge import edge
from dashboards.hub import FeedHub
from dashboards.keys import HUB, LIVE, POOL, PRODUCER, READINESS, SETTINGS, VERIFIER
from dashboards.metrics import METRICS, WebMetrics
from dashboards.routes import setup_routes
from dashboards.security import authenticate
from tariq.adapters.db import create_pool, migrate
from tariq.adapters.db.tokens import TokenVerifier
from tariq.adapters.kafka import EventProducer, ensure_topics
from tariq.adapters.live import LiveMirror
from tariq.adapters.outages import BROKER, OutageLog, retry_while_down
from tariq.config import Settings
from tariq.services.launch import SUPERVISOR_STATE_ENV, spool_accepted
from tariq.services.readiness import ReadinessProbe

log = logging.getLogger(__name__)


def create_app(settings: Settings) -> web.Application:
    # Outermost first: `edge` gives every response the security headers, even a 400 or a
    # 401, observes every request (metrics, access log), makes errors under /api/ JSON and
    # answers 503 for a request that needs a dependency that is down; then the token.
    app = web.Application(middlewares=[edge, authenticate], client_max_size=64 * 1024 * 1024)
    app[SETTINGS] = settings
    app[METRICS] = WebMetrics()
    app.cleanup_ctx.append(_resources)
    setup_routes(app)
    return app


async def _resources(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    _kafka_url, redis_url, database_url = settings.require_urls()
    # Started while a dependency is down (a restart during an outage): wait for it.
    starting = OutageLog(log, "web")
    pool = await retry_while_down(lambda: create_pool(database_url, max_size=8), starting)
    await retry_while_down(lambda: migrate(pool), starting)
    await retry_while_down(lambda: ensure_topics(settings), starting, plain=BROKER)
    live = LiveMirror.from_url(redis_url, settings.redis_prefix)
    state_file = os.environ.get(SUPERVISOR_STATE_ENV)
    readiness = ReadinessProbe(
        database_url, live, supervisor_state=Path(state_file) if state_file else None
    )
    app[READINESS] = readiness
    probing = asyncio.create_task(readiness.run())
    # Concurrent POSTs are sent together (`SharedSends`): the POSTs that arrive while one
    # group is sent make the next, so thousands of single-event POSTs a second cost the
    # broker (and the spool) a request per group, not per POST. Under `tariq up` with an
    # embedded broker, what is accepted is also spooled (README "Reliability"), so a 202
    # survives a restart of a broker that keeps nothing.
    producer = EventProducer(
        settings, via="http", spool=pool if spool_accepted() else None, shared=True
    )
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
        probing.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await probing
        await hub.stop()
        await producer.stop()
        await live.close()
        await pool.close()
