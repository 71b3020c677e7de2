"""The worker process (`tariq worker`): a Faust app that owns the worker's lifecycle and
runs three loops over shared adapters.

- Ingest: by default (`TARIQ_INGEST=direct`) an aiokafka consumer in batches
  (stream/consumer.py) feeds stream/ingest.py; offsets are committed in order after each
  batch's PostgreSQL transaction, so delivery is at-least-once and the journal's unique
  `event_id` makes it exact. `TARIQ_INGEST=faust` uses a plain Faust agent instead (slower,
  kept to compare with).
- The reconciler (stream/reconciler.py), one leader at a time.
- Hotel notice delivery (stream/delivery.py).

`TARIQ_WORKER_ROLES` (`ingest`, `reconcile`; both by default) leaves out the input consumer
or the reconciler: a worker that only reconciles runs the judging on a core of its own
while others ingest.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import faust
from faust.transport.drivers import aiokafka as faust_aiokafka

from stream import metrics as stream_metrics
from stream.consumer import PARENT_HEADER, IngestConsumer, to_record
from stream.delivery import deliver_forever
from stream.ingest import BatchProcessor
from stream.reconciler import Reconciler
from tariq.adapters.db import create_pool, migrate, spool, store
from tariq.adapters.db.reconciler import scope_clocks
from tariq.adapters.live import LiveMirror
from tariq.adapters.outages import REDIS, OutageLog, dependency_down, retry_while_down
from tariq.config import Settings
from tariq.domain.events import rfc3339
from tariq.domain.watermark import ScopeClock

log = logging.getLogger(__name__)
HEARTBEAT_EVERY_S = 1.0
HEARTBEAT_TTL_S = 3.0
PRUNE_SPOOL_EVERY = 10  # heartbeats


def tune_consumer_fetch_wait(wait_ms: int) -> None:
    """Faust hard-codes the consumer's fetch wait to 1.5 s, which puts ~1 s of latency on
    every hop; set ours instead (the consumer reads it when it starts)."""
    thread_cls = faust_aiokafka.AIOKafkaConsumerThread
    original = getattr(thread_cls, "_tariq_original_create", thread_cls._create_worker_consumer)

    def create_worker_consumer(self: Any, transport: Any) -> Any:
        consumer = original(self, transport)
        consumer._fetch_max_wait_ms = wait_ms
        return consumer

    thread_cls._tariq_original_create = original  # type: ignore[attr-defined]
    thread_cls._create_worker_consumer = create_worker_consumer  # type: ignore[method-assign]


class Upkeep:
    """Every second: re-sync the Redis mirror from PostgreSQL when Redis lost it (a restart
    of a memory-only Redis) or missed a batch (an outage), and publish this worker's
    heartbeat (its partitions and lag, for /health); every ten, drop the processed events
    from the accepted-events spool."""

    def __init__(
        self, settings: Settings, app: faust.App, state: dict[str, Any], outages: OutageLog
    ) -> None:
        self.settings = settings
        self.app = app
        self.state = state
        self.outages = outages
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}"

    async def run(self, pool: Any, live: LiveMirror, processor: BatchProcessor) -> None:
        beats = 0
        try:
            while True:
                resyncing = False
                beats += 1
                try:
                    if beats % PRUNE_SPOOL_EVERY == 0:
                        async with pool.acquire() as conn:
                            await spool.prune(conn)
                    if processor.mirror_stale or not await live.mirror_synced():
                        resyncing, processor.mirror_stale = True, False
                        async with pool.acquire() as conn:
                            totals = await store.all_scope_totals(conn)
                        await live.resync(totals)
                        log.info("the Redis mirror is in sync with PostgreSQL")
                    beat = await self.heartbeat()
                    await live.publish_heartbeat(self.worker_id, beat, HEARTBEAT_TTL_S)
                    self.outages.recovered(REDIS)
                except Exception as exc:
                    processor.mirror_stale = processor.mirror_stale or resyncing
                    dependency = dependency_down(exc, plain=REDIS)
                    if dependency is None:
                        log.exception("mirror upkeep failed; retrying")
                    else:
                        self.outages.failed(dependency, exc)
                await asyncio.sleep(HEARTBEAT_EVERY_S)
        finally:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(live.remove_heartbeat(self.worker_id), timeout=1.0)

    async def heartbeat(self) -> dict[str, Any]:
        consumer: IngestConsumer | None = self.state.get("consumer")
        if consumer is not None:
            status = await consumer.status()
        else:  # TARIQ_INGEST=faust: the app's own assignment, lag unknown
            assigned = self.app.consumer.assignment() if self.app.consumer else set()
            topic = self.settings.events_topic
            parts = sorted(tp.partition for tp in assigned if tp.topic == topic)
            status = {"partitions": parts, "lag_by_partition": {}, "lag": None}
        return {
            "worker_id": self.worker_id,
            "at": rfc3339(datetime.now(UTC)),
            "ingest": self.settings.ingest,
            **status,
            "down": self.outages.down,
        }


def partition_clocks(pool: Any) -> Callable[[], Awaitable[list[ScopeClock]]]:
    """Every input partition's clock and lag, for the consumer's event-time alignment."""

    async def clocks() -> list[ScopeClock]:
        async with pool.acquire() as conn:
            return await scope_clocks(conn)

    return clocks


def create_app(settings: Settings) -> faust.App:
    kafka_url, redis_url, database_url = settings.require_urls()
    if settings.ingest == "faust":
        # Only then does Faust's own consumer read the input. Otherwise it reads nothing,
        # and a short fetch wait only makes its thread poll the broker 100 times a second.
        tune_consumer_fetch_wait(settings.fetch_wait_ms)
    worker_dir = settings.data_dir / "worker"
    worker_dir.mkdir(parents=True, exist_ok=True)
    app = faust.App(
        settings.consumer_group,
        broker=kafka_url,
        store="memory://",
        datadir=str(worker_dir),
        web_enabled=False,
        topic_partitions=settings.partitions,
        topic_replication_factor=settings.replication_factor,
        broker_session_timeout=10,
        broker_heartbeat_interval=2,
        broker_commit_every=settings.batch_size,
        broker_commit_interval=1.0,
        producer_linger_ms=1,
        consumer_auto_offset_reset="earliest",
        stream_buffer_maxsize=max(4096, settings.batch_size * 2),
    )
    topic = app.topic(
        settings.events_topic,
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
        partitions=settings.partitions,
    )
    state: dict[str, Any] = {}
    ready = asyncio.Event()
    # Faust cancels the app's tasks when the worker stops; the loops end on cancellation.
    stopping = asyncio.Event()

    async def republish(derived: Sequence[tuple[str, bytes, str]]) -> None:
        futures = [
            await topic.send(
                key=key.encode(), value=value, headers={PARENT_HEADER: parent.encode()}
            )
            for key, value, parent in derived
        ]
        await asyncio.gather(*futures)

    outages = OutageLog(log, "worker")

    async def open_pool(**sizes: int) -> Any:
        return await retry_while_down(lambda: create_pool(database_url, **sizes), outages)

    @app.task
    async def connect() -> None:
        pool = await open_pool(max_size=4)
        await retry_while_down(lambda: migrate(pool), outages)
        live = LiveMirror.from_url(redis_url, settings.redis_prefix)
        processor = BatchProcessor(pool, live, republish, outages)
        state["processor"] = processor
        ready.set()
        log.info("tariq worker connected to PostgreSQL")
        # Every worker runs these loops; PostgreSQL locks make one reconciler leader at a
        # time, and deliverers share the outbox without sending a notice twice at once.
        # Each loop has its own pool, so none can starve the others of connections.
        reconciler_pool = await open_pool(min_size=2, max_size=2)
        notices_pool = await open_pool(min_size=1, max_size=4)
        stream_metrics.serve(settings.worker_metrics_port)
        loops = [
            stream_metrics.push_forever(live, stopping),
            deliver_forever(notices_pool, stop=stopping, concurrency=4),
            Upkeep(settings, app, state, outages).run(pool, live, processor),
        ]
        if "reconcile" in settings.roles:
            loops.append(Reconciler(reconciler_pool, live, settings.thresholds).run(stopping))
        await asyncio.gather(*loops)

    # A worker without the "ingest" role (TARIQ_WORKER_ROLES) reads no input.
    if "ingest" in settings.roles and settings.ingest == "faust":

        @app.agent(topic, concurrency=settings.concurrency)
        async def ingest(stream: Any) -> None:
            """The plain Faust agent (kept to compare with; see stream/consumer.py)."""
            await ready.wait()
            processor: BatchProcessor = state["processor"]
            async for events in stream.take_events(settings.batch_size, settings.batch_within_s):
                await processor.process([to_record(e.message) for e in events])

    elif "ingest" in settings.roles:

        @app.task
        async def ingest_directly() -> None:
            await ready.wait()
            processor: BatchProcessor = state["processor"]
            clocks = partition_clocks(processor.pool)
            consumer = IngestConsumer(settings, processor.process, outages, clocks)
            state["consumer"] = consumer
            await consumer.run()

    return app
