"""The worker's Prometheus metrics (docs/integration.md lists them).

Each worker keeps its own registry. It reaches a scrape two ways: the worker serves it on
`TARIQ_WORKER_METRICS_PORT` when that is set (`GET /metrics`), and it writes the same text to
Redis every few seconds, from where every web server's `GET /metrics` serves all live
workers' metrics with a `worker` label. Labels hold only bounded values (event types,
source kinds, outcomes, partitions): never an id and never personal data.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import os
import socket
import time
from collections.abc import Iterable, Sequence
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    start_http_server,
)

from tariq.adapters.live import LiveMirror
from tariq.domain.events import EVENT_TYPES
from tariq.domain.records import Accepted, DeadLetter, InputRecord

log = logging.getLogger(__name__)

REGISTRY = CollectorRegistry(auto_describe=True)
PUSH_EVERY_S = 5.0
WORKER_ID = f"{socket.gethostname().replace(':', '-')}-{os.getpid()}"

EVENTS = Counter(
    "tariq_worker_events",
    "Input events by outcome (processed, duplicate, rejected), contract type and source kind "
    "(http: POST /api/events; topic: produced onto the topic, replays included; derived: "
    "translated from an iata.message)",
    ["outcome", "type", "source"],
    registry=REGISTRY,
)
BATCH_SIZE = Histogram(
    "tariq_worker_batch_size",
    "Input records per batch",
    buckets=(1, 5, 10, 50, 100, 250, 500, 1000, 2000, 5000),
    registry=REGISTRY,
)
BATCH_SECONDS = Histogram(
    "tariq_worker_batch_seconds",
    "Time to process one batch: decode, one transaction, publish to the live mirror",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
    registry=REGISTRY,
)
END_TO_END = Histogram(
    "tariq_worker_end_to_end_seconds",
    "From the Kafka message's timestamp (append time) to after its change was published to "
    "the live feed channel",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
    registry=REGISTRY,
)
LAG = Gauge(
    "tariq_worker_consumer_lag",
    "Messages behind the partition's high watermark, per input partition this worker reads",
    ["partition"],
    registry=REGISTRY,
)
PAUSED = Gauge(
    "tariq_worker_paused_partitions",
    "Input partitions this worker has paused because they ran ahead in event time of the "
    "earliest lagging partition (event-time alignment, TARIQ_ALIGN_DRIFT_S)",
    registry=REGISTRY,
)
ROUND_SECONDS = Histogram(
    "tariq_reconciler_round_seconds",
    "Duration of a reconciler round (only the leader runs rounds)",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
    registry=REGISTRY,
)
MARKS = Counter(
    "tariq_reconciler_marks",
    "Change markers taken by reconciler rounds",
    registry=REGISTRY,
)
LAST_ROUND_MARKS = Gauge(
    "tariq_reconciler_last_round_marks",
    "Markers the last round took (the round's share of the pending marks)",
    registry=REGISTRY,
)
DELIVERIES = Counter(
    "tariq_webhook_deliveries",
    "Webhook delivery attempts by outcome (delivered: a 2xx; failed: retried later)",
    ["outcome"],
    registry=REGISTRY,
)
DELIVERY_ATTEMPT = Histogram(
    "tariq_webhook_delivery_attempt",
    "Which attempt a delivery attempt was (1 = first try; more = retries)",
    buckets=(1, 2, 3, 5, 8, 13, 21, 50),
    registry=REGISTRY,
)


def source_kind(record: InputRecord) -> str:
    if record.parent_event_id is not None:
        return "derived"
    return "http" if record.via == "http" else "topic"


def _type(name: str) -> str:
    return name if name in EVENT_TYPES else "other"


def observe_batch(
    records: Sequence[InputRecord],
    fresh: Iterable[Accepted],
    duplicates: Iterable[Accepted],
    dead: Sequence[DeadLetter],
    started: float,
) -> None:
    """One committed and published batch (`started`: `time.perf_counter()` at its start)."""
    BATCH_SECONDS.observe(time.perf_counter() - started)
    BATCH_SIZE.observe(len(records))
    # Counted per label set first: a labelled child's lookup and lock cost more than the
    # event's own fold, so one `inc` per label set and batch, not one per event.
    counts: collections.Counter[tuple[str, str, str]] = collections.Counter()
    for outcome, items in (("processed", fresh), ("duplicate", duplicates)):
        counts.update((outcome, item.event.type, source_kind(item.record)) for item in items)
    if dead:
        by_ref = {r.source_ref: r for r in records}
        for letter in dead:
            record = by_ref.get(letter.source_ref)
            counts["rejected", "invalid", source_kind(record) if record else "topic"] += 1
    for (outcome, event_type, source), n in counts.items():
        EVENTS.labels(outcome, _type(event_type), source).inc(n)
    now_ms = time.time() * 1000
    for record in records:
        if record.timestamp_ms is not None:
            END_TO_END.observe(max(0.0, now_ms - record.timestamp_ms) / 1000)


def observe_lag(consumer: Any, next_offsets: dict[Any, int]) -> None:
    """Per partition: the high watermark the last fetch saw minus the next offset to read."""
    for tp, position in next_offsets.items():
        high = consumer.highwater(tp)
        if high is not None:
            LAG.labels(str(tp.partition)).set(max(0, high - position))


def observe_paused(partitions: int) -> None:
    PAUSED.set(partitions)


def observe_round(marks: int, seconds: float) -> None:
    ROUND_SECONDS.observe(seconds)
    MARKS.inc(marks)
    LAST_ROUND_MARKS.set(marks)


def observe_delivery(delivered: bool, attempt: int) -> None:
    DELIVERIES.labels("delivered" if delivered else "failed").inc()
    DELIVERY_ATTEMPT.observe(attempt)


def exposition() -> bytes:
    return generate_latest(REGISTRY)


def serve(port: int | None) -> None:
    """Serve this worker's /metrics on `port` (a thread of prometheus_client), if set."""
    if not port:
        return
    try:
        start_http_server(port, registry=REGISTRY)
    except OSError as exc:  # e.g. a second worker on this host: its metrics still reach Redis
        log.warning("cannot serve worker metrics on port %d: %s", port, exc)
        return
    log.info("worker metrics on port %d", port)


async def push_forever(live: LiveMirror, stop: asyncio.Event) -> None:
    """Copy this worker's metrics into Redis for the web servers' aggregated /metrics."""
    while not stop.is_set():
        try:
            await live.put_worker_metrics(WORKER_ID, exposition(), ttl_s=int(PUSH_EVERY_S * 4))
        except Exception:  # Redis away: the next push tries again
            log.warning("could not push worker metrics to Redis", exc_info=True)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=PUSH_EVERY_S)
