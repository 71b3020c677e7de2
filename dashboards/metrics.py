"""`GET /metrics` (Prometheus text format) of a web server, with every worker's metrics.

The web server's own: HTTP requests by route template and status, events accepted and
rejected at the intake, websocket clients per feed, whether the database and Redis answer.
From the live mirror (so the same on every web server): events processed, duplicates and
rejected over all workers, alerts open by type, the reconciler's pending markers and clock.
And each live worker's own registry (stream/metrics.py), which workers copy to Redis every
few seconds, with a `worker` label. Labels never hold an id or personal data.
"""

from __future__ import annotations

import itertools
import logging
import re
import secrets
from collections.abc import Iterable
from typing import Any, Final

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector

from dashboards.hub import FeedClient
from dashboards.keys import HUB, LIVE, POOL, READINESS
from tariq.adapters.db import reads

log = logging.getLogger(__name__)
access_log = logging.getLogger("tariq.access")
_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class WebMetrics:
    """One web application's own registry (an app per process, several in tests)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "tariq_http_requests",
            "HTTP requests by method, route template (not the path: no ids) and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.intake = Counter(
            "tariq_intake_events",
            "Events taken by POST /api/events: accepted (published) or rejected (dead-lettered)",
            ["outcome"],
            registry=self.registry,
        )
        self.accepted = self.intake.labels("accepted")
        self.rejected = self.intake.labels("rejected")
        # The children by label values, found once: `labels()` takes a lock, checks and
        # joins the values on every call (1.9% of the web's CPU at 2,000 POSTs/s, py-spy).
        # Bounded: routes are the app's templates, methods the known ones, statuses HTTP's.
        self._request_counts: dict[tuple[str, str, int], Any] = {}

    def count_request(self, method: str, route: str, status: int) -> None:
        key = (method, route, status)
        child = self._request_counts.get(key)
        if child is None:
            child = self.requests.labels(method, route, str(status))
            self._request_counts[key] = child
        child.inc()


# The app's metrics (kept here, not in keys.py, since keys.py must not import this module).
METRICS: web.AppKey[WebMetrics] = web.AppKey("metrics")

# A method label is one of these or `other`: the HTTP parser admits some thirty methods
# (WebDAV's, PURGE, …), each of which would be series nobody asked for.
METHODS: Final = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

# A new request id is this process's random prefix and a count: unique among the service's
# processes and restarts, without a call to the system's random source per request.
_PROCESS_TAG: Final = secrets.token_hex(4)
_request_numbers = itertools.count()


def route_of(request: web.Request) -> str:
    """The route template (`/api/bags/{tag}`), never the concrete path."""
    resource = request.match_info.route.resource
    if resource is None:
        return "unmatched"
    return resource.canonical


def request_id_of(request: web.Request) -> str:
    """The caller's `X-Request-Id` if sane, else a new one."""
    given = request.headers.get("X-Request-Id", "")
    if given and _REQUEST_ID.fullmatch(given):
        return given
    return f"{_PROCESS_TAG}{next(_request_numbers):08x}"


def observe_request(request: web.Request, status: int, seconds: float) -> None:
    """The request counter, and one access-log line with method, route, path (never the
    query string, where websocket tokens travel), status and duration."""
    metrics = request.app.get(METRICS)
    if metrics is not None:
        method = request.method if request.method in METHODS else "other"
        metrics.count_request(method, route_of(request), status)
    # Checked first: the line's fields cost more than the check at thousands a second.
    if access_log.isEnabledFor(logging.INFO):
        _log_access(request, status, seconds)


def observe_intake(app: web.Application, accepted: int, rejected: int) -> None:
    metrics = app.get(METRICS)
    if metrics is not None:
        metrics.accepted.inc(accepted)
        metrics.rejected.inc(rejected)


def _log_access(request: web.Request, status: int, seconds: float) -> None:
    access_log.info(
        "%s %s %d %.1f ms",
        request.method,
        request.path,
        status,
        seconds * 1000,
        extra={
            "access": {
                "method": request.method,
                "route": route_of(request),
                "path": request.path,
                "status": status,
                "duration_ms": round(seconds * 1000, 2),
            }
        },
    )


class _Families(Collector):
    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> Iterable[Metric]:
        return self.families


def feed_of(client: FeedClient) -> str:
    if client.vehicle_id is not None:
        return "bus"
    return "live" if client.hotel_id is None else "hotel"


async def _service_families(app: web.Application) -> list[Metric]:
    clients = GaugeMetricFamily(
        "tariq_websocket_clients", "Websocket clients of this web server per feed", labels=["feed"]
    )
    counts = {"live": 0, "hotel": 0, "bus": 0}
    for client in list(app[HUB].clients):
        counts[feed_of(client)] += 1
    for name, value in counts.items():
        clients.add_metric([name], value)
    up = GaugeMetricFamily(
        "tariq_health_up",
        "1 when this web server's database and Redis answer (what /health checks), else 0",
        labels=["part"],
    )
    families: list[Metric] = [clients, up]
    if READINESS in app:
        families.append(restart_family(app[READINESS].supervised()))
    try:
        async with app[POOL].acquire() as conn:
            reconciler = await reads.reconciler(conn)
        up.add_metric(["database"], 1)
    except Exception:
        up.add_metric(["database"], 0)
        reconciler = None
    try:
        summary = await app[LIVE].summary()
        up.add_metric(["redis"], 1)
    except Exception:
        up.add_metric(["redis"], 0)
        return families
    events = CounterMetricFamily(
        "tariq_events",
        "Input events over all workers by outcome (as GET /api/summary)",
        labels=["outcome"],
    )
    for outcome in ("processed", "duplicates", "rejected"):
        events.add_metric([outcome], getattr(summary.events, outcome))
    alerts = GaugeMetricFamily("tariq_alerts_open", "Open alerts by type", labels=["type"])
    for kind, count in sorted(summary.alerts_open_by_type.items()):
        alerts.add_metric([kind], count)
    stages = GaugeMetricFamily("tariq_bags", "Bags by stage", labels=["stage"])
    for stage, count in summary.bags_by_stage.items():
        stages.add_metric([stage], count)
    families += [events, alerts, stages]
    if reconciler is not None:
        pending = GaugeMetricFamily(
            "tariq_reconciler_pending",
            "Entities marked for judgement and not yet judged (the reconciler's lag)",
            value=reconciler["pending"],
        )
        families.append(pending)
        if reconciler["clock"] is not None:
            clock = reconciler["clock"].timestamp()
            families.append(
                GaugeMetricFamily(
                    "tariq_reconciler_clock_seconds",
                    "The service clock (event time) of the last reconciler round",
                    value=clock,
                )
            )
    return families


def restart_family(processes: dict[str, Any] | None) -> Metric:
    """Restarts by `tariq up`'s supervisor, per process (none outside `tariq up`)."""
    family = CounterMetricFamily(
        "tariq_supervisor_restarts",
        "Times tariq up restarted a process that exited",
        labels=["process"],
    )
    for name, record in sorted((processes or {}).items()):
        if isinstance(record, dict) and isinstance(record.get("restarts"), int):
            family.add_metric([name], record["restarts"])
    return family


def worker_families(expositions: dict[str, bytes]) -> list[Metric]:
    """Every worker's metrics, merged by name, each sample with a `worker` label."""
    merged: dict[str, Metric] = {}
    for worker, text in sorted(expositions.items()):
        try:
            families = list(text_string_to_metric_families(text.decode()))
        except (ValueError, UnicodeDecodeError):
            log.warning("ignoring unreadable metrics of worker %s", worker)
            continue
        for family in families:
            target = merged.setdefault(
                family.name, Metric(family.name, family.documentation, family.type)
            )
            for sample in family.samples:
                labels = {**sample.labels, "worker": worker}
                target.add_sample(sample.name, labels, sample.value, sample.timestamp)
    return list(merged.values())


async def metrics(request: web.Request) -> web.Response:
    app = request.app
    scraped = CollectorRegistry(auto_describe=False)
    families = await _service_families(app)
    try:
        families += worker_families(await app[LIVE].worker_metrics())
    except Exception:
        log.warning("could not read the workers' metrics from Redis", exc_info=True)
    scraped.register(_Families(families))
    body = generate_latest(app[METRICS].registry) + generate_latest(scraped)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})
