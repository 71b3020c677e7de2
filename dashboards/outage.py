"""Requests that need a dependency that is down (PostgreSQL, Redis, the broker) answer a
503 JSON error naming it, instead of a 500 with a traceback; the web server stays up and
serves again as soon as the dependency is back (pools and clients reconnect)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from dashboards.responses import error
from tariq.adapters.outages import OutageLog, dependency_down

log = logging.getLogger(__name__)
_outages = OutageLog(log, "web")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def unavailable_dependencies(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        response = await handler(request)
    except web.HTTPException:
        raise
    except Exception as exc:
        dependency = dependency_down(exc)
        if dependency is None:
            raise
        _outages.failed(dependency, exc)
        response = error(503, f"{dependency} unavailable; retry shortly")
        response.headers["Retry-After"] = "1"
        return response
    if response.status < 500:
        _outages.recovered()
    return response
