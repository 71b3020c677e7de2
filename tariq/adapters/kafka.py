"""Producing events to the input topic (aiokafka), shared by the web tier and replay."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Sequence
from urllib.parse import urlparse

import asyncpg
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from tariq.adapters.db import spool
from tariq.config import Settings

# Set by `tariq up` for its children when its embedded broker keeps nothing across a restart
# (Tansu): offsets then start at 0 again, so where a message was (`source_ref`, which makes
# redeliveries change nothing) also names the broker's run. Unset on real Kafka.
BROKER_EPOCH_ENV = "TARIQ_BROKER_EPOCH"


def source_topic(topic: str) -> str:
    """The topic as a message's `source_ref` names it (with the broker's run, if set)."""
    epoch = os.environ.get(BROKER_EPOCH_ENV, "")
    return f"{topic}~{epoch}" if epoch else topic


def bootstrap_servers(kafka_url: str) -> list[str]:
    """`kafka://h1:9092;h2:9092` (Faust's form) or `h1:9092,h2:9092` → ['h1:9092', ...]."""
    servers = []
    for part in kafka_url.replace(";", ",").split(","):
        part = part.strip()
        if not part:
            continue
        if "://" in part:
            parsed = urlparse(part)
            part = f"{parsed.hostname}:{parsed.port or 9092}"
        servers.append(part)
    return servers


async def ensure_topics(settings: Settings) -> None:
    """Create the input topic with the configured partitions if it does not exist."""
    kafka_url, _, _ = settings.require_urls()
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers(kafka_url))
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        if settings.events_topic not in existing:
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(
                    [
                        NewTopic(
                            settings.events_topic,
                            num_partitions=settings.partitions,
                            replication_factor=settings.replication_factor,
                        )
                    ]
                )
    finally:
        await admin.close()


class EventProducer:
    """Sends events (already-encoded JSON) keyed so that a bag's events share a partition.

    With `spool` (a PostgreSQL pool), each batch is first kept in the accepted-events spool
    (migration 008), for a broker that forgets messages when it restarts (README
    "Reliability"): `send_many` returns only once both have it."""

    def __init__(
        self,
        settings: Settings,
        *,
        linger_ms: int = 1,
        via: str | None = None,
        spool: asyncpg.Pool | None = None,
    ) -> None:
        kafka_url, _, _ = settings.require_urls()
        self.topic = settings.events_topic
        self.spool = spool
        # `via`: a `tariq-via` header on every message (the web intake's "http"), so the
        # workers' metrics can tell HTTP input from producers writing onto the topic.
        self._headers = [("tariq-via", via.encode())] if via else None
        self._producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap_servers(kafka_url),
            linger_ms=linger_ms,
            max_batch_size=1024 * 1024,
            compression_type=None,
        )

    async def start(self) -> None:
        await self._producer.start()

    async def stop(self) -> None:
        await self._producer.stop()

    async def send_many(self, items: Sequence[tuple[bytes | None, bytes]]) -> None:
        """Send and wait until the broker (and the spool, if any) has every message."""
        ids = await spool.keep(self.spool, items) if self.spool is not None else []
        futures = [
            await self._producer.send(self.topic, value=value, key=key, headers=self._headers)
            for key, value in items
        ]
        if not futures:
            return
        placed = await asyncio.gather(*futures)
        if self.spool is not None:
            topic = source_topic(self.topic)
            refs = [f"kafka:{topic}:{m.partition}:{m.offset}" for m in placed]
            await spool.placed(self.spool, ids, refs)
