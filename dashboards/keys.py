"""Typed keys of the web application's shared resources."""

from __future__ import annotations

from typing import TYPE_CHECKING

import asyncpg
from aiohttp import web

from routing.eta import EtaPlanner
from tariq.adapters.db.tokens import TokenVerifier
from tariq.adapters.kafka import EventProducer
from tariq.adapters.live import LiveMirror
from tariq.config import Settings
from tariq.domain.tokens import Principal
from tariq.services.readiness import ReadinessProbe

if TYPE_CHECKING:
    from dashboards.feeds import FeedHub

SETTINGS = web.AppKey("settings", Settings)
POOL = web.AppKey("pool", asyncpg.Pool)
LIVE = web.AppKey("live", LiveMirror)
PRODUCER = web.AppKey("producer", EventProducer)
VERIFIER = web.AppKey("verifier", TokenVerifier)
HUB: web.AppKey[FeedHub] = web.AppKey("hub")
PRINCIPAL = web.RequestKey("principal", Principal)
PLANNER: web.AppKey[EtaPlanner] = web.AppKey("planner")
READINESS = web.AppKey("readiness", ReadinessProbe)
