"""Typed keys of the web application's shared resources."""

from __future__ import annotations

import asyncpg
from aiohttp import web

from dashboards.hub import FeedHub
from routing.eta import EtaPlanner
from tariq.adapters.db.tokens import TokenVerifier
from tariq.adapters.kafka import EventProducer
from tariq.adapters.live import LiveMirror
from tariq.config import Settings
from tariq.domain.tokens import Principal
from tariq.services.readiness import ReadinessProbe

SETTINGS = web.AppKey("settings", Settings)
POOL = web.AppKey("pool", asyncpg.Pool)
LIVE = web.AppKey("live", LiveMirror)
PRODUCER = web.AppKey("producer", EventProducer)
VERIFIER = web.AppKey("verifier", TokenVerifier)
HUB = web.AppKey("hub", FeedHub)
PRINCIPAL = web.RequestKey("principal", Principal)
PLANNER: web.AppKey[EtaPlanner] = web.AppKey("planner")
PII_KEY: web.AppKey[bytes] = web.AppKey("pii_key")
READINESS = web.AppKey("readiness", ReadinessProbe)
