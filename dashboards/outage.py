"""Requests that need a dependency that is down (PostgreSQL, Redis, the broker) answer a
503 JSON error naming it, instead of a 500 with a traceback; the web server stays up and
serves again as soon as the dependency is back (pools and clients reconnect). The one
middleware (dashboards/edge.py) calls these on every request."""

from __future__ import annotations

import logging

from aiohttp import web

from dashboards.responses import error
from tariq.adapters.outages import OutageLog, dependency_down

log = logging.getLogger(__name__)
_outages = OutageLog(log, "web")


def dependency_unavailable(exc: Exception) -> web.Response | None:
    """The 503 for an error that says a dependency is down, or None for any other error."""
    dependency = dependency_down(exc)
    if dependency is None:
        return None
    _outages.failed(dependency, exc)
    response = error(503, f"{dependency} unavailable; retry shortly")
    response.headers["Retry-After"] = "1"
    return response


def served(status: int) -> None:
    """A request was answered without a server error: whatever was down is back."""
    if status < 500:
        _outages.recovered()
