"""The worker process (`tariq worker`): a Faust app that owns the worker's lifecycle and
runs three loops over shared adapters.

- Ingest: by default (`TARIQ_INGEST=direct`) an aiokafka consumer in batches
  (stream/consumer.py) feeds stream/ingest.py; offsets are committed in order after each
  batch's PostgreSQL transaction, so delivery is at-least-once and the journal's unique
  `event_id` makes it exact. `TARIQ_INGEST=faust` uses a plain Faust agent instead (slower,
  kept to compare with).
- The reconciler (stream/reconciler.py), one leader at a time.
- Hotel notice delivery (stream/delivery.py).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

import faust
from faust.transport.drivers import aiokafka as faust_aiokafka

from stream import metrics as stream_metrics
from stream.consumer import PARENT_HEADER, IngestConsumer, to_record
from stream.delivery import deliver_forever
from stream.ingest import BatchProcessor
from stream.reconciler import Reconciler
from tariq.adapters.db import create_pool, migrate, store
from tariq.adapters.live import LiveMirror
from tariq.config import Settings

log = logging.getLogger(__name__)


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


def create_app(settings: Settings) -> faust.App:
    kafka_url, redis_url, database_url = settings.require_urls()
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

    @app.task
    async def connect() -> None:
        pool = await create_pool(database_url, max_size=4)
        await migrate(pool)
        live = LiveMirror.from_url(redis_url, settings.redis_prefix)
        # Redis may have been restarted empty: mirror what the database holds.
        async with pool.acquire() as conn:
            totals = await store.all_scope_totals(conn)
        await live.publish_batch(totals, [])
        state["processor"] = BatchProcessor(pool, live, republish)
        ready.set()
        log.info("tariq worker connected to PostgreSQL and Redis")
        # Every worker runs these loops; PostgreSQL locks make one reconciler leader at a
        # time, and deliverers share the outbox without sending a notice twice at once.
        # Each loop has its own pool, so none can starve the others of connections.
        reconciler_pool = await create_pool(database_url, min_size=2, max_size=2)
        notices_pool = await create_pool(database_url, min_size=1, max_size=4)
        stream_metrics.serve(settings.worker_metrics_port)
        await asyncio.gather(
            stream_metrics.push_forever(live, stopping),
            Reconciler(reconciler_pool, live, settings.thresholds).run(stopping),
            deliver_forever(notices_pool, stop=stopping, concurrency=4),
        )

    if settings.ingest == "faust":

        @app.agent(topic, concurrency=settings.concurrency)
        async def ingest(stream: Any) -> None:
            """The plain Faust agent (kept to compare with; see stream/consumer.py)."""
            await ready.wait()
            processor: BatchProcessor = state["processor"]
            async for events in stream.take_events(settings.batch_size, settings.batch_within_s):
                await processor.process([to_record(e.message) for e in events])

    else:

        @app.task
        async def ingest_directly() -> None:
            await ready.wait()
            await IngestConsumer(settings, state["processor"].process).run()

    return app
