"""The event producer on a real broker: the batched path (`send_many` from BATCHED_FROM
messages on) puts every message where aiokafka's per-message `send` would, in order, and
records in the spool where each one really is."""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from tariq.adapters.db import migrate
from tariq.adapters.embedded import start_broker
from tariq.adapters.kafka import BATCHED_FROM, EventProducer, bootstrap_servers, ensure_topics
from tariq.config import Settings


@pytest.fixture(scope="module")
def kafka_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    broker = start_broker(Path(tmp_path_factory.mktemp("broker")))
    try:
        yield broker.url
    finally:
        broker.stop()


async def _read_all(
    settings: Settings, expected: int
) -> dict[tuple[int, int], tuple[bytes, bytes]]:
    """Every message of the topic: (partition, offset) -> (key, value)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers(settings.kafka_url or ""),
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        partitions = [TopicPartition(settings.events_topic, p) for p in range(settings.partitions)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        found: dict[tuple[int, int], tuple[bytes, bytes]] = {}
        while len(found) < expected:
            batch = await consumer.getmany(timeout_ms=1000)
            for tp, messages in batch.items():
                for m in messages:
                    found[(tp.partition, m.offset)] = (m.key, m.value)
        return found
    finally:
        await consumer.stop()


async def _topic_and_spool(kafka_url: str, database_url: str) -> tuple[Settings, asyncpg.Pool]:
    """A fresh topic, and a migrated database for the spool."""
    settings = Settings(
        kafka_url=kafka_url,
        redis_url="redis://unused",
        database_url=database_url,
        namespace=f"prod{uuid.uuid4().hex[:8]}",
    )
    await ensure_topics(settings)
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    assert pool is not None
    await migrate(pool)
    return settings, pool


def test_batched_send_places_messages_like_send_and_spools_their_offsets(
    kafka_url: str, database_url: str
) -> None:
    async def scenario() -> None:
        settings, pool = await _topic_and_spool(kafka_url, database_url)
        # Many keys, each several times: about 1.6 MB a partition, more than one batch holds.
        pad = "x" * 10_000
        many = [
            (f"BAG{k % 37:04d}".encode(), f'{{"event_id": "e{k}", "pad": "{pad}"}}'.encode())
            for k in range(BATCHED_FROM * 10)
        ]
        few = [(b"BAG0001", b'{"event_id": "single"}')]
        producer = EventProducer(settings, spool=pool)
        await producer.start()
        try:
            await producer.send_many(many)
            await producer.send_many(few)  # below BATCHED_FROM: one `send` per message
        finally:
            await producer.stop()
        messages = await _read_all(settings, len(many) + len(few))
        assert sorted(messages.values()) == sorted(many + few)

        # Each key in one partition, the one `send` chose for the single message's key,
        # and in the order sent.
        by_key: dict[bytes, list[tuple[int, int, bytes]]] = defaultdict(list)
        for (partition, offset), (key, value) in messages.items():
            by_key[key].append((partition, offset, value))
        for key, placed in by_key.items():
            assert len({p for p, _, _ in placed}) == 1, key
            sent = [v for k, v in many + few if k == key]
            assert [v for _, _, v in sorted(placed)] == sent
        single = next(p for (p, _), (k, v) in messages.items() if v == few[0][1])
        assert {p for p, _, _ in by_key[b"BAG0001"]} == {single}

        # The spool says where each copy is.
        rows = await pool.fetch("SELECT value, source_ref FROM accepted_spool ORDER BY id")
        await pool.close()
        assert len(rows) == len(many) + len(few)
        for row in rows:
            _, _topic, partition, offset = row["source_ref"].rsplit(":", 3)
            assert messages[(int(partition), int(offset))][1] == row["value"].encode()

    asyncio.run(scenario())


def test_shared_sends_place_every_concurrent_post_and_spool_where_each_went(
    kafka_url: str, database_url: str
) -> None:
    """The web intake's producer (`shared=True`): many concurrent single-message calls go
    out in groups, each message where the per-message `send` would put it, in each key's
    order, and the spool records each copy's place."""

    async def scenario() -> None:
        settings, pool = await _topic_and_spool(kafka_url, database_url)
        posts = [
            [(f"BAG{k % 11:04d}".encode(), f'{{"event_id": "s{k}"}}'.encode())] for k in range(300)
        ]
        producer = EventProducer(settings, spool=pool, shared=True)
        await producer.start()
        try:
            await asyncio.gather(*(producer.send_many(post) for post in posts))
        finally:
            await producer.stop()
        sent = [message for post in posts for message in post]
        messages = await _read_all(settings, len(sent))
        assert sorted(messages.values()) == sorted(sent)
        by_key: dict[bytes, list[tuple[int, int, bytes]]] = defaultdict(list)
        for (partition, offset), (key, value) in messages.items():
            by_key[key].append((partition, offset, value))
        for key, placed in by_key.items():
            assert len({p for p, _, _ in placed}) == 1, key
            # Concurrent calls of one key were made in this order and grouped in it.
            assert [v for _, _, v in sorted(placed)] == [v for k, v in sent if k == key]
        rows = await pool.fetch("SELECT value, source_ref FROM accepted_spool ORDER BY id")
        await pool.close()
        assert len(rows) == len(sent)
        for row in rows:
            _, _topic, partition, offset = row["source_ref"].rsplit(":", 3)
            assert messages[(int(partition), int(offset))][1] == row["value"].encode()

    asyncio.run(scenario())
