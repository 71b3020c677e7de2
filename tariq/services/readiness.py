"""Readiness for `GET /health`: a background probe, so the request itself touches neither
the database pool nor Redis and answers at once, whatever the load.

Every second the probe checks PostgreSQL over its own single connection (never a pool
connection), pings Redis, and reads the workers' heartbeats (tariq/adapters/live.py; each
worker publishes its partitions and lag every second, with a 5 s expiry). /health reports
the last result and its age. Under `tariq up`, the supervisor's record (restarts of the
worker and the web server) is shown too. The JSON is documented in README "Reliability".
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from tariq.adapters.db.health import answers, connect_probe
from tariq.adapters.live import LiveMirror
from tariq.adapters.outages import DATABASE, REDIS, OutageLog, dependency_down
from tariq.domain.events import rfc3339
from tariq.services.launch import read_supervisor_state

log = logging.getLogger(__name__)
PROBE_TIMEOUT_S: Final = 2.0
# A result older than this is not trusted: the probe itself is stuck.
STALE_AFTER_S: Final = 10.0


@dataclass
class ProbeResult:
    database: bool | None = None  # None: not checked yet
    redis: bool | None = None
    workers: list[dict[str, Any]] = field(default_factory=list)
    checked_at: float | None = None  # monotonic
    checked_at_wall: datetime | None = None


class ReadinessProbe:
    def __init__(
        self,
        database_url: str,
        live: LiveMirror,
        *,
        supervisor_state: Path | None = None,
        every_s: float = 1.0,
    ) -> None:
        self.database_url = database_url
        self.live = live
        self.supervisor_state = supervisor_state
        self.every_s = every_s
        self.result = ProbeResult()
        self.outages = OutageLog(log, "web")
        self._conn: Any = None

    async def run(self) -> None:
        try:
            while True:
                await self.check()
                await asyncio.sleep(self.every_s)
        finally:
            if self._conn is not None:
                with contextlib.suppress(Exception):
                    await self._conn.close()

    async def check(self) -> None:
        database = await self._check_database()
        workers: list[dict[str, Any]] = []
        try:
            await asyncio.wait_for(self.live.client.ping(), PROBE_TIMEOUT_S)
            workers = await asyncio.wait_for(self.live.heartbeats(), PROBE_TIMEOUT_S)
            redis_up = True
            self.outages.recovered(REDIS)
        except Exception as exc:
            if dependency_down(exc, plain=REDIS) is None:
                log.exception("readiness: unexpected error from Redis")
            redis_up = False
            self.outages.failed(REDIS, exc)
        self.result = ProbeResult(database, redis_up, workers, time.monotonic(), datetime.now(UTC))

    async def _check_database(self) -> bool:
        try:
            if self._conn is None or self._conn.is_closed():
                self._conn = await connect_probe(self.database_url, PROBE_TIMEOUT_S)
            up = await answers(self._conn, PROBE_TIMEOUT_S)
        except Exception as exc:
            if dependency_down(exc) is None:
                log.exception("readiness: unexpected error from PostgreSQL")
            self.outages.failed(DATABASE, exc)
            if self._conn is not None:
                self._conn.terminate()
                self._conn = None
            return False
        self.outages.recovered(DATABASE)
        return up

    def report(self) -> tuple[int, dict[str, Any]]:
        """(HTTP status, body) of /health from the last probe."""
        return health_report(self.result, self.supervised(), time.monotonic())

    def supervised(self) -> dict[str, Any] | None:
        """The supervisor's record of its processes (restarts…), under `tariq up`."""
        if self.supervisor_state is None:
            return None
        record = read_supervisor_state(self.supervisor_state)
        return record.get("processes") if record else None


def health_report(
    result: ProbeResult, processes: dict[str, Any] | None, now: float
) -> tuple[int, dict[str, Any]]:
    """503 when the web server cannot serve (PostgreSQL or Redis down, or not probed yet);
    200 otherwise, `status` "ok" only when a worker is consuming and nothing is down."""
    fresh = result.checked_at is not None and now - result.checked_at < STALE_AFTER_S
    dependencies = {
        DATABASE: "up" if fresh and result.database else "down",
        REDIS: "up" if fresh and result.redis else "down",
    }
    unreachable = {name for name, state in dependencies.items() if state == "down"}
    down = set(unreachable)
    consuming = [w for w in result.workers if w.get("partitions")]
    for worker in result.workers:
        down.update(worker.get("down") or ())
    lags = [w.get("lag") for w in consuming]
    body: dict[str, Any] = {
        "status": "ok",
        "dependencies": dependencies,
        "down": sorted(down),
        "worker": {
            "consuming": bool(consuming),
            "workers": len(result.workers),
            "partitions": sorted(p for w in consuming for p in w["partitions"]),
            "lag": sum(lags) if lags and None not in lags else None,
        },
        "workers": result.workers,
        "checked_at": rfc3339(result.checked_at_wall) if result.checked_at_wall else None,
    }
    if processes is not None:
        body["processes"] = processes
    if result.checked_at is None:
        body["status"] = "starting"
        return 503, body
    if down:
        body["status"] = "degraded"
        return (503 if unreachable else 200), body
    if not consuming:
        body["status"] = "starting"
    return 200, body
