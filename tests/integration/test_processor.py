"""The batch processor against real PostgreSQL and Redis: batches in flight together."""

from __future__ import annotations

import asyncio
import uuid

import orjson
import pytest

from stream.ingest import BatchProcessor
from tariq.adapters.db import create_pool, migrate, staging, store
from tariq.adapters.live import LiveMirror
from tariq.domain.events import STAGES
from tariq.domain.records import Accepted, InputRecord, decode_batch

pytestmark = pytest.mark.integration


def scan(n: int) -> bytes:
    return orjson.dumps(
        {
            "event_id": f"e{n:05d}",
            "type": "bag.scanned",
            "occurred_at": f"2026-05-18T04:{n % 60:02d}:00Z",
            "tag": f"0065{n:06d}",
            "checkpoint": "accepted",
            "location": "CGK",
        }
    )


async def nothing(_: object) -> None:
    return None


async def test_batches_in_flight_with_shared_duplicates_in_opposite_orders(
    database_url: str, redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    pool = await create_pool(database_url, max_size=4)
    await migrate(pool)
    live = LiveMirror.from_url(redis_url, f"it-{uuid.uuid4().hex[:8]}:")
    processor = BatchProcessor(pool, live, nothing)
    try:
        offset = 0
        for round_no in range(15):
            base = round_no * 1000
            shared = [scan(base + i) for i in range(200)]  # in both batches
            first = shared + [scan(base + 500 + i) for i in range(300)]
            second = list(reversed(shared)) + [scan(base + 800 + i) for i in range(100)]
            batches = []
            for partition, values in ((0, first), (1, second)):
                records = [InputRecord(v, "t", partition, offset + k) for k, v in enumerate(values)]
                offset += len(values)
                batches.append(records)
            await asyncio.gather(*(processor.process(b) for b in batches))
        totals = await pool.fetchrow(
            "SELECT sum(processed) AS processed, sum(duplicates) AS duplicates FROM counters"
        )
        # Per round: 200 shared + 300 + 100 events; 200 second copies are duplicates.
        assert (totals["processed"], totals["duplicates"]) == (15 * 600, 15 * 200)
        assert await pool.fetchval("SELECT count(*) FROM bags") == 15 * 600
        # Rows go in in a fixed order, so the two never deadlock (no batch had to be re-run).
        assert "batch aborted" not in caplog.text
    finally:
        await live.close()
        await pool.close()


async def test_flow_by_airport_kept_per_flight_equals_counting_the_bags(
    database_url: str, redis_url: str
) -> None:
    """The airports' flow is summed from the per-flight counts the batches keep; after the
    demo (bags coded before and after their flights, re-scans, duplicates), in batches two
    at a time, it equals grouping every bag by its flight's destination and stage."""
    from pathlib import Path

    from tariq.adapters.db import airports

    lines = Path("simulators/data/demo.jsonl").read_bytes().splitlines()
    pool = await create_pool(database_url, max_size=4)
    await migrate(pool)
    live = LiveMirror.from_url(redis_url, f"it-{uuid.uuid4().hex[:8]}:")
    processor = BatchProcessor(pool, live, nothing)
    try:
        records = [InputRecord(v, "t", k % 2, k // 2) for k, v in enumerate(lines)]
        for start in range(0, len(records), 1000):
            chunk = records[start : start + 1000]
            await asyncio.gather(*(processor.process(chunk[p::2]) for p in (0, 1)))
        async with pool.acquire() as conn:
            kept = await airports.bags_by_airport(conn)
            rows = await conn.fetch(
                "SELECT f.destination AS airport, b.stage_rank, count(*) AS n"
                " FROM bags b JOIN flights f ON f.flight_id = b.flight_id"
                " WHERE f.destination IS NOT NULL GROUP BY 1, 2"
            )
        counted = {(r["airport"], STAGES[r["stage_rank"]]): r["n"] for r in rows}
        assert sum(counted.values()) > 0
        assert {
            (airport, stage): n for airport, by in kept.items() for stage, n in by.items() if n
        } == counted
    finally:
        await live.close()
        await pool.close()


async def test_batches_in_flight_lock_a_bag_in_the_order_they_were_handed_over(
    database_url: str, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A large batch holding a bag's coding, then a one-event batch holding its next scan:
    the small one must not lock (and commit) the bag first, or the reconciler would see
    the bag scanned and not coded and raise an `unknown_tag` to resolve it again."""
    from tariq.adapters.db import store

    tag = "0065999999"
    coded = {
        "event_id": "coded",
        "type": "bag.coded",
        "occurred_at": "2026-05-18T03:00:00Z",
        "tag": tag,
        "pilgrim_id": "P1",
        "flight_id": "GA-980-2026-05-18",
        "hotel_id": "H1",
    }
    later_scan = {
        "event_id": "later",
        "type": "bag.scanned",
        "occurred_at": "2026-05-18T05:00:00Z",
        "tag": tag,
        "checkpoint": "loaded",
        "location": "CGK",
    }
    large = [orjson.dumps(coded), *(scan(n) for n in range(3000))]
    small = [orjson.dumps(later_scan)]
    locked: list[str] = []
    lock_entities = store.lock_entities

    async def recording(conn: object, keys: list[str]) -> None:
        if f"bag:{tag}" in keys:
            locked.append("large" if len(keys) > 1 else "small")
        await lock_entities(conn, keys)  # type: ignore[arg-type]

    monkeypatch.setattr(store, "lock_entities", recording)
    pool = await create_pool(database_url, max_size=4)
    await migrate(pool)
    live = LiveMirror.from_url(redis_url, f"it-{uuid.uuid4().hex[:8]}:")
    processor = BatchProcessor(pool, live, nothing)
    try:
        await asyncio.gather(
            processor.process([InputRecord(v, "t", 0, k) for k, v in enumerate(large)]),
            processor.process([InputRecord(small[0], "t", 0, len(large))]),
        )
        assert locked == ["large", "small"]
        bag = await pool.fetchrow("SELECT coded_at, stage_rank FROM bags WHERE tag = $1", tag)
        assert bag["coded_at"] is not None
        assert STAGES[bag["stage_rank"]] == "loaded"
    finally:
        await live.close()
        await pool.close()


async def test_batches_in_flight_commit_a_partitions_clock_in_the_order_they_were_handed_over(
    database_url: str, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A large batch, then a one-event batch of the same partition later in event time and
    with other entities: the small one must not commit first, or the partition's clock (and
    the reconciler's judge clock with it) would pass the large batch's events while they are
    uncommitted: a bag's loaded scan unseen at its flight's departure, a `left_behind`
    raised and resolved again."""
    from tariq.adapters.db import store

    run = uuid.uuid4().hex[:8]
    large = [orjson.dumps({**orjson.loads(scan(n)), "event_id": f"{run}-{n}"}) for n in range(3000)]
    small = orjson.dumps(
        {
            "event_id": f"{run}-much-later",
            "type": "flight.departed",
            "occurred_at": "2026-05-18T09:00:00Z",
            "flight_id": "SV-1-2026-05-18",
        }
    )
    clocks_seen: list[int] = []
    lock_scopes = store.lock_scopes

    async def recording(conn: object, scopes: list[str]) -> None:
        await lock_scopes(conn, scopes)  # type: ignore[arg-type]
        # What this batch sees committed once it holds the partition's counters row.
        clocks_seen.append(await conn.fetchval("SELECT count(*) FROM journal"))  # type: ignore[attr-defined]

    monkeypatch.setattr(store, "lock_scopes", recording)
    pool = await create_pool(database_url, max_size=4)
    await migrate(pool)
    live = LiveMirror.from_url(redis_url, f"it-{uuid.uuid4().hex[:8]}:")
    processor = BatchProcessor(pool, live, nothing)
    before = await pool.fetchval("SELECT count(*) FROM journal")
    try:
        await asyncio.gather(
            processor.process([InputRecord(v, "t", 1, k) for k, v in enumerate(large)]),
            processor.process([InputRecord(small, "t", 1, len(large))]),
        )
        # The large batch took the row first (seeing its own events only), and the small
        # one found it committed.
        assert [n - before for n in clocks_seen] == [len(large), len(large) + 1]
    finally:
        await live.close()
        await pool.close()


async def test_journal_skips_events_another_transaction_journals_meanwhile(
    database_url: str,
) -> None:
    """The journal's COPY meets a copy of one of its events that a transaction still open
    journaled: it waits for that transaction, then goes in the slow way, skipping it."""
    pool = await create_pool(database_url, max_size=4)
    await migrate(pool)

    def accepted(numbers: list[int], partition: int) -> list[Accepted]:
        records = [InputRecord(scan(n), "t", partition, k) for k, n in enumerate(numbers)]
        return decode_batch(records).accepted

    already = accepted([0], 0)
    first = accepted([1, 2], 0)
    second = accepted([0, 2, 3], 1)  # 0 journaled before, 2 in `first`, still open
    try:
        async with pool.acquire() as conn, conn.transaction():
            assert await store.insert_journal(conn, already) == set()
        async with pool.acquire() as one, pool.acquire() as two:
            opened = one.transaction()
            await opened.start()
            assert await store.insert_journal(one, first) == set()
            async with two.transaction():
                await staging.prepare(two)
                racing = asyncio.create_task(store.insert_journal(two, second))
                # The second waits on the first's row for event 2, until it commits.
                while (
                    await pool.fetchval(
                        "SELECT count(*) FROM pg_locks WHERE NOT granted AND pid = $1",
                        two.get_server_pid(),
                    )
                    == 0
                ):
                    await asyncio.sleep(0.01)
                assert not racing.done()
                await opened.commit()
                skipped = await racing
        ids = [a.event.event_id for a in second]
        assert skipped == {ids[0], ids[1]}
        rows = await pool.fetch(
            "SELECT event_id, source_ref FROM journal WHERE event_id = ANY($1::text[])", ids
        )
        sources = {r["event_id"]: r["source_ref"] for r in rows}
        # Each event once, as its first copy journaled it.
        assert sources == {
            ids[0]: already[0].record.source_ref,
            ids[1]: first[1].record.source_ref,
            ids[2]: second[2].record.source_ref,
        }
    finally:
        await pool.close()
