"""Producing events to the input topic (aiokafka), shared by the web tier and replay."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
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


Messages = Sequence[tuple[bytes | None, bytes]]


@dataclass(slots=True)
class _Waiting:
    items: Messages
    done: asyncio.Future[None]


class SharedSends:
    """Group commit for many small concurrent `send_many` calls (the web intake's POSTs):
    the calls that arrive while one group is being sent go out together as the next group,
    in the order they came, through one call of `send`. Under the embedded broker that is
    one spool INSERT, one produce and one spool UPDATE for the whole group instead of for
    every POST. Each caller returns once its own messages are sent, or gets an error; when
    a group fails, its callers are sent one by one, so one caller's bad message (too big
    for a batch, say) fails only that caller."""

    def __init__(self, send: Callable[[Messages], Awaitable[None]]) -> None:
        self._send = send
        self._waiting: list[_Waiting] = []
        self._flushing: asyncio.Task[None] | None = None

    async def send_many(self, items: Messages) -> None:
        if not items:
            return
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append(_Waiting(items, done))
        if self._flushing is None or self._flushing.done():
            self._flushing = asyncio.create_task(self._flush())
        # Shielded: a caller that goes away must not cancel the others' group.
        await asyncio.shield(done)

    async def drain(self) -> None:
        """Wait until every call made so far is settled."""
        while self._flushing is not None and not self._flushing.done():
            await asyncio.shield(self._flushing)

    async def _flush(self) -> None:
        while self._waiting:
            group, self._waiting = self._waiting, []
            try:
                await self._send_group(group)
            except BaseException:
                # Cancelled while sending: nobody is left hanging, this group or the next.
                group, self._waiting = group + self._waiting, []
                for waiting in group:
                    if not waiting.done.done():
                        waiting.done.cancel()
                raise

    async def _send_group(self, group: list[_Waiting]) -> None:
        try:
            await self._send([item for waiting in group for item in waiting.items])
        except Exception as exc:
            if len(group) == 1:
                _settle(group[0].done, exc)
                return
            # Sent again one by one; what the group call did place is a duplicate by
            # event_id, which the workers count once.
            for waiting in group:
                try:
                    await self._send(waiting.items)
                except Exception as own:
                    _settle(waiting.done, own)
                else:
                    _settle(waiting.done, None)
            return
        for waiting in group:
            _settle(waiting.done, None)


def _settle(done: asyncio.Future[None], error: Exception | None) -> None:
    if done.done():
        return
    if error is None:
        done.set_result(None)
    else:
        done.set_exception(error)


class EventProducer:
    """Sends events (already-encoded JSON) keyed so that a bag's events share a partition.

    With `spool` (a PostgreSQL pool), each batch is first kept in the accepted-events spool
    (migration 008), for a broker that forgets messages when it restarts (README
    "Reliability"): `send_many` returns only once both have it. With `shared`, concurrent
    `send_many` calls are sent together (`SharedSends`)."""

    def __init__(
        self,
        settings: Settings,
        *,
        linger_ms: int = 1,
        via: str | None = None,
        spool: asyncpg.Pool | None = None,
        shared: bool = False,
    ) -> None:
        kafka_url, _, _ = settings.require_urls()
        self.topic = settings.events_topic
        self.spool = spool
        self._shared = SharedSends(self._send_now) if shared else None
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
        if self._shared is not None:
            await self._shared.drain()
        await self._producer.stop()

    async def send_many(self, items: Messages) -> None:
        """Send and wait until the broker (and the spool, if any) has every message."""
        if self._shared is not None:
            await self._shared.send_many(items)
        else:
            await self._send_now(items)

    async def _send_now(self, items: Messages) -> None:
        ids = await spool.keep(self.spool, items) if self.spool is not None else []
        if not items:
            return
        # A shared group is already a batch: built here, it need not linger for more.
        if len(items) >= BATCHED_FROM or self._shared is not None:
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
            if self._shared is not None:
                # A shared group goes out at once: its callers wait on it, and the next
                # group gathers meanwhile (the producer's linger would only add to both).
                batch.close()
            future = await self._producer.send_batch(batch, self.topic, partition=partition)
            sent.append((future, partition, members))
        placed = [(0, 0)] * len(items)
        for future, partition, members in sent:
            base = (await future).offset
            for relative, index in enumerate(members):
                placed[index] = (partition, base + relative)
        return placed
