"""Decoding a batch of input messages (stream/ingest.py)."""

from __future__ import annotations

import collections
import logging
from typing import Any

import orjson

from tariq.domain.records import InputRecord, child_event_id, decode_batch

GOOD = orjson.dumps(
    {
        "event_id": "f1",
        "type": "flight.departed",
        "occurred_at": "2026-05-18T04:00:00Z",
        "flight_id": "SV1",
    }
)


def record(value: bytes, offset: int) -> InputRecord:
    return InputRecord(value=value, topic="tariq.domain.events", partition=2, offset=offset)


def test_bad_messages_become_dead_letters_with_their_source_and_reason() -> None:
    batch = decode_batch([record(GOOD, 0), record(b"\xff\xfe", 1), record(b"[1]", 2)])
    assert [a.event.event_id for a in batch.accepted] == ["f1"]
    assert [d.source_ref for d in batch.dead] == [
        "kafka:tariq.domain.events:2:1",
        "kafka:tariq.domain.events:2:2",
    ]
    assert all(d.reason and d.scope == "p2" for d in batch.dead)
    assert batch.dead[0].raw == b"\xff\xfe"


def test_child_event_ids_are_stable_and_short() -> None:
    assert child_event_id("iata-1", 0) == "iata-1/0"
    long_id = "x" * 64
    assert child_event_id(long_id, 3) == child_event_id(long_id, 3)
    assert child_event_id(long_id, 3) != child_event_id(long_id, 4)
    assert len(child_event_id(long_id, 3)) <= 64


def test_every_batch_reports_the_lag_of_every_assigned_partition() -> None:
    """The consumer's lag report (stream/consumer.py): a partition not in this batch (its
    records still wait in the fetch buffer) is reported from the batches already done, so its
    report stays fresh; a partition no longer assigned is not reported."""
    from types import SimpleNamespace

    from aiokafka import TopicPartition

    from stream.consumer import IngestConsumer
    from tariq.domain.watermark import PartitionProgress

    p0, p1, p2 = (TopicPartition("t", n) for n in range(3))
    ends = {p0: 500, p1: 900, p2: 40}

    class FakeConsumer:
        def assignment(self) -> set[TopicPartition]:
            return {p0, p1}

        def highwater(self, tp: TopicPartition) -> int | None:
            return ends.get(tp)

    consumer = object.__new__(IngestConsumer)
    consumer.consumer = FakeConsumer()
    consumer.done_to = {p1: 300, p2: 40}
    fetched = {p0: [SimpleNamespace(offset=k) for k in range(100, 200)]}
    assert consumer._progress(fetched) == {
        "p0": PartitionProgress(200, 500),
        "p1": PartitionProgress(300, 900),
    }


class _BufferedConsumer:
    """aiokafka's consumer as `IngestConsumer._fetch` sees it: records buffered per partition;
    `getmany` without partitions drains them in order, one partition after the other."""

    def __init__(self, buffered: dict[Any, int], paused: set[Any] | None = None) -> None:
        self.buffered = {tp: list(range(n)) for tp, n in buffered.items()}
        self._paused = paused or set()
        self.waited = 0

    def assignment(self) -> set[Any]:
        return set(self.buffered)

    def paused(self) -> set[Any]:
        return self._paused

    async def getmany(self, *partitions: Any, timeout_ms: int, max_records: int) -> dict[Any, Any]:
        if not partitions:
            self.waited += 1
        got = {}
        for tp in partitions or sorted(self.buffered):
            if tp in self._paused or not self.buffered[tp] or max_records == 0:
                continue
            got[tp], self.buffered[tp] = (
                self.buffered[tp][:max_records],
                self.buffered[tp][max_records:],
            )
            max_records -= len(got[tp])
        return got


def _fetch(buffered: dict[Any, int], batch: int, paused: set[Any] | None = None) -> dict[Any, int]:
    import asyncio
    import dataclasses

    from stream.consumer import IngestConsumer
    from tariq.config import Settings

    consumer = object.__new__(IngestConsumer)
    consumer.consumer = _BufferedConsumer(buffered, paused)
    consumer.settings = dataclasses.replace(Settings(), batch_size=batch, batch_within_s=0)
    consumer.next_batch_at = 0.0
    fetched = asyncio.run(consumer._fetch())
    return {tp.partition: len(records) for tp, records in fetched.items()}


class _TricklingConsumer(_BufferedConsumer):
    """Nothing buffered at first; the wait for records returns the first `first` of
    partition 0, while `then` more arrive on each partition (a live trickle)."""

    def __init__(self, partitions: list[Any], first: int, then: int) -> None:
        super().__init__({tp: 0 for tp in partitions})
        self.first, self.then = first, then

    async def getmany(self, *partitions: Any, timeout_ms: int, max_records: int) -> dict[Any, Any]:
        if partitions:
            return await super().getmany(*partitions, timeout_ms=0, max_records=max_records)
        self.waited += 1
        tp0 = sorted(self.buffered)[0]
        for tp in self.buffered:
            self.buffered[tp] = list(range(self.then))
        return {tp0: list(range(self.first))}


def test_a_batch_that_is_not_full_waits_its_turn_and_takes_what_arrived_meanwhile() -> None:
    """At a few thousand events a second, a batch per two or three events cost a dozen
    PostgreSQL statements each; paced, the trickle goes in bigger batches."""
    import asyncio
    import dataclasses

    from aiokafka import TopicPartition

    from stream.consumer import IngestConsumer
    from tariq.config import Settings

    p0, p1 = TopicPartition("t", 0), TopicPartition("t", 1)

    async def fetch(batch: int, within_s: float, turn_in_s: float) -> tuple[dict[int, int], bool]:
        consumer = object.__new__(IngestConsumer)
        consumer.consumer = _TricklingConsumer([p0, p1], first=3, then=40)
        consumer.settings = dataclasses.replace(
            Settings(), batch_size=batch, batch_within_s=within_s
        )
        loop = asyncio.get_running_loop()
        consumer.next_batch_at = loop.time() + turn_in_s
        fetched = await consumer._fetch()
        paced = consumer.next_batch_at >= loop.time() + within_s * 0.5
        return {tp.partition: len(records) for tp, records in fetched.items()}, paced

    # Its turn still ahead: it waits, then takes what else came.
    assert asyncio.run(fetch(5000, 0.001, 0.001)) == ({0: 43, 1: 40}, True)
    assert asyncio.run(fetch(50, 0.001, 0.001))[0] == {0: 3 + 24, 1: 23}  # at most a batch
    # After a quiet spell it goes at once, with what is buffered by then.
    assert asyncio.run(fetch(5000, 3600, -1)) == ({0: 43, 1: 40}, True)


def test_hypothesis_a_fetch_never_exceeds_the_batch_and_takes_what_is_buffered() -> None:
    from aiokafka import TopicPartition
    from hypothesis import given
    from hypothesis import strategies as st

    @given(st.lists(st.integers(0, 20_000), min_size=1, max_size=6), st.integers(1, 9000))
    def check(sizes: list[int], batch: int) -> None:
        buffered = {TopicPartition("t", n): size for n, size in enumerate(sizes)}
        got = _fetch(buffered, batch)
        assert sum(got.values()) == min(batch, sum(sizes))
        for n, count in got.items():
            assert count <= sizes[n]
        # Even: a partition gets less than another only when it had no more buffered.
        most = max(got.values(), default=0)
        for n, count in got.items():
            if count < most - len(sizes):
                assert count == sizes[n]

    check()


def test_offsets_are_committed_at_most_every_interval_and_at_once_when_idle() -> None:
    """A busy worker commits the latest offsets of its done batches once per COMMIT_EVERY_S,
    not once per batch; going idle or giving its partitions up commits at once; a batch
    still in flight is never committed."""
    import asyncio

    from aiokafka import TopicPartition

    from stream.consumer import COMMIT_EVERY_S, IngestConsumer
    from tariq.adapters.outages import OutageLog

    p0, p1 = TopicPartition("t", 0), TopicPartition("t", 1)

    class CommittingConsumer:
        def __init__(self) -> None:
            self.commits: list[dict[TopicPartition, int]] = []

        async def commit(self, offsets: dict[TopicPartition, Any]) -> None:
            self.commits.append({tp: meta.offset for tp, meta in offsets.items()})

    async def scenario() -> list[dict[TopicPartition, int]]:
        consumer = object.__new__(IngestConsumer)
        fake = CommittingConsumer()
        consumer.consumer = fake
        consumer.outages = OutageLog(logging.getLogger("test"), "test")
        consumer.done, consumer.done_to, consumer.uncommitted = {}, {}, {}
        consumer.next_commit_at = 0.0
        consumer.in_flight = collections.deque()
        loop = asyncio.get_running_loop()

        async def done_batch() -> None:
            return None

        async def finish(offsets: dict[TopicPartition, int]) -> None:
            consumer.in_flight.append((asyncio.ensure_future(done_batch()), offsets))
            await consumer._finish_oldest()
            await consumer._commit(at_once=False)

        await finish({p0: 10})  # the first commit goes at once
        await finish({p0: 20, p1: 5})
        await finish({p0: 30})
        assert fake.commits == [{p0: 10}]
        assert consumer.done == {p0: 10}  # the lag counts what is not committed
        consumer.next_commit_at = loop.time() - 0.001  # the interval has passed
        await finish({p1: 9})
        assert fake.commits[-1] == {p0: 30, p1: 9}
        assert consumer.next_commit_at >= loop.time() + COMMIT_EVERY_S * 0.5
        await finish({p0: 40})
        release = asyncio.Event()
        stuck = asyncio.ensure_future(release.wait())
        consumer.in_flight.append((stuck, {p0: 50}))
        await consumer._finish_done()  # idle: the done batches at once, not the stuck one
        await consumer._commit(at_once=True)
        assert fake.commits[-1] == {p0: 40}
        release.set()
        await consumer.drain()  # partitions revoked or the worker stopping
        assert fake.commits[-1] == {p0: 50} and consumer.uncommitted == {}
        assert consumer.done == {p0: 50, p1: 9}
        return fake.commits

    assert len(asyncio.run(scenario())) == 4
