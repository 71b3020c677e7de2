"""Decoding a batch of input messages (stream/ingest.py)."""

from __future__ import annotations

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
