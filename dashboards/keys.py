"""Typed keys of the web application's shared resources."""

from __future__ import annotations

from typing import TYPE_CHECKING

import asyncpg
from aiohttp import web

from routing.eta import EtaPlanner
from tariq.auth import Principal, TokenVerifier
from tariq.config import Settings
from tariq.kafka import EventProducer
from tariq.live import LiveMirror

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
