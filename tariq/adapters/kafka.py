"""Producing events to the input topic (aiokafka), shared by the web tier and replay."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections import defaultdict
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlparse

import asyncpg
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from aiokafka.partitioner import DefaultPartitioner

from tariq.adapters.db import spool
from tariq.config import Settings

# Set by `tariq up` for its children when its embedded broker keeps nothing across a restart
# (Tansu): offsets then start at 0 again, so where a message was (`source_ref`, which makes
# redeliveries change nothing) also names the broker's run. Unset on real Kafka.
BROKER_EPOCH_ENV = "TARIQ_BROKER_EPOCH"


# From this many messages, `send_many` builds record batches itself (replay, benches); the
# web intake's few messages per request go through `send`, where concurrent requests share
# the producer's batches.
BATCHED_FROM = 64


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
        self._partitioner = DefaultPartitioner()
        self._producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap_servers(kafka_url),
            linger_ms=linger_ms,
            max_batch_size=1024 * 1024,
            # The events are JSON: zstd batches are about a fifth of the bytes, which the
            # broker keeps and sends to every consumer. An embedded Tansu keeps the whole
            # topic in memory: 49 MB for the first 200,000 lines of the simulated day
            # uncompressed, 20 MB with zstd (and the consumers read them no slower).
            compression_type="zstd",
            partitioner=self._partitioner,
        )

    async def start(self) -> None:
        await self._producer.start()

    async def stop(self) -> None:
        await self._producer.stop()

    async def send_many(self, items: Sequence[tuple[bytes | None, bytes]]) -> None:
        """Send and wait until the broker (and the spool, if any) has every message."""
        ids = await spool.keep(self.spool, items) if self.spool is not None else []
        if not items:
            return
        if len(items) >= BATCHED_FROM:
            placed = await self._send_batched(items)
        else:
            futures = [
                await self._producer.send(self.topic, value=value, key=key, headers=self._headers)
                for key, value in items
            ]
            placed = [(m.partition, m.offset) for m in await asyncio.gather(*futures)]
        if self.spool is not None:
            topic = source_topic(self.topic)
            refs = [f"kafka:{topic}:{partition}:{offset}" for partition, offset in placed]
            await spool.placed(self.spool, ids, refs)

    async def _send_batched(
        self, items: Sequence[tuple[bytes | None, bytes]]
    ) -> list[tuple[int, int]]:
        """Many messages as whole record batches, one or more per partition, built here:
        aiokafka's per-message `send` (a future, a partitioner call and an accumulator
        lookup each) cost the season bench's producer more CPU than the broker spent.
        Keys go to the partitions `send` would choose (the default partitioner), in order.
        Returns each message's (partition, offset)."""
        partitions = sorted(await self._producer.partitions_for(self.topic))
        by_partition: dict[int, list[int]] = defaultdict(list)
        for index, (key, _value) in enumerate(items):
            by_partition[self._partitioner(key, partitions, partitions)].append(index)
        headers = self._headers or []
        sent: list[tuple[asyncio.Future[Any], int, list[int]]] = []
        for partition, indices in by_partition.items():
            members: list[int] = []
            batch = self._producer.create_batch()
            for index in indices:
                key, value = items[index]
                if batch.append(key=key, value=value, timestamp=None, headers=headers) is None:
                    future = await self._producer.send_batch(batch, self.topic, partition=partition)
                    sent.append((future, partition, members))
                    batch, members = self._producer.create_batch(), []
                    if batch.append(key=key, value=value, timestamp=None, headers=headers) is None:
                        raise ValueError(f"a message of {len(value)} bytes exceeds a batch")
                members.append(index)
            future = await self._producer.send_batch(batch, self.topic, partition=partition)
            sent.append((future, partition, members))
        placed = [(0, 0)] * len(items)
        for future, partition, members in sent:
            base = (await future).offset
            for relative, index in enumerate(members):
                placed[index] = (partition, base + relative)
        return placed
