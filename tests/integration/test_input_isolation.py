"""Hostile input through the worker's real path (BatchProcessor → PostgreSQL → Redis):
bad records are dead-lettered with their reason and offset, the rest of the batch goes on,
and the worker never raises (issue 11)."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import AsyncIterator

import asyncpg
import orjson
import pytest

from stream.ingest import BatchProcessor
from tariq.adapters.db import create_pool, migrate, reads, store
from tariq.adapters.live import LiveMirror
from tariq.domain.records import DeadLetter, InputRecord, passport_hash

pytestmark = pytest.mark.integration

AT = "2026-05-18T04:10:00Z"


def scan(n: int, **extra: object) -> bytes:
    return orjson.dumps(
        {
            "event_id": f"e{n:05d}",
            "type": "bag.scanned",
            "occurred_at": AT,
            "tag": f"0065{n:06d}",
            "checkpoint": "accepted",
            "location": "CGK",
            **extra,
        }
    )


def records(values: list[bytes], partition: int = 0) -> list[InputRecord]:
    return [InputRecord(v, "in", partition, k) for k, v in enumerate(values)]


async def nothing(_: object) -> None:
    return None


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(database_url, max_size=4)
    await migrate(pool)
    yield pool
    await pool.close()


@pytest.fixture
async def processor(pool: asyncpg.Pool, redis_url: str) -> AsyncIterator[BatchProcessor]:
    live = LiveMirror.from_url(redis_url, f"it-{uuid.uuid4().hex[:8]}:")
    yield BatchProcessor(pool, live, nothing)
    await live.close()


async def counts(pool: asyncpg.Pool) -> tuple[int, int, int]:
    row = await pool.fetchrow(
        "SELECT sum(processed) AS p, sum(rejected) AS r, sum(duplicates) AS d FROM counters"
    )
    return row["p"], row["r"], row["d"]


async def test_nul_and_deep_nesting_are_dead_lettered_and_the_rest_processed(
    pool: asyncpg.Pool, processor: BatchProcessor
) -> None:
    values = [scan(i) for i in range(10)]
    values.insert(3, scan(100, source="hh\u0000x"))  # NUL in a known field
    values.insert(6, scan(101, note="a\u0000b"))  # NUL in an unknown field (jsonb refuses)
    values.insert(8, b"[" * 1000 + b"]" * 1000)  # a RecursionError before
    values.insert(9, b'{"a":' * 1000 + b"1" + b"}" * 1000)
    values.append(b"\xff\xfe not utf-8")
    outcome = await processor.process(records(values))
    assert (outcome.processed, outcome.rejected) == (10, 5)
    assert await counts(pool) == (10, 5, 0)
    dead = await pool.fetch("SELECT source_ref, reason FROM dead_letters ORDER BY source_ref")
    reasons = {r["source_ref"]: r["reason"] for r in dead}
    assert "control character in `$.source`" in reasons["kafka:in:0:3"]
    assert "control character" in reasons["kafka:in:0:6"]
    assert "deeper than 32" in reasons["kafka:in:0:8"]
    assert "deeper than 32" in reasons["kafka:in:0:9"]
    assert "not UTF-8" in reasons["kafka:in:0:14"]
    async with pool.acquire() as conn:
        # Every journaled event can be read back as jsonb (the bag history query).
        for i in range(10):
            bag = await reads.bag(conn, f"0065{i:06d}")
            assert bag is not None and len(bag["history"]) == 1


async def test_a_record_postgresql_refuses_is_isolated_by_bisection(
    pool: asyncpg.Pool, processor: BatchProcessor
) -> None:
    # A real refusal by PostgreSQL for a record the decoder accepts: a trigger raising
    # SQLSTATE 22P05 (`unsupported Unicode escape sequence`, a DataError) for one event.
    await pool.execute(
        """
        CREATE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF NEW.event_id LIKE 'poison%' THEN
                RAISE EXCEPTION 'unsupported Unicode escape sequence' USING ERRCODE = '22P05';
            END IF;
            RETURN NEW;
        END $$;
        CREATE TRIGGER refuse_poison BEFORE INSERT ON journal
            FOR EACH ROW EXECUTE FUNCTION refuse_poison();
        """
    )
    values = [scan(i) for i in range(40)]
    for at in (5, 21, 22):
        values[at] = scan(at, event_id=f"poison{at}")
    outcome = await processor.process(records(values, partition=2))
    assert (outcome.processed, outcome.rejected) == (37, 3)
    dead = await pool.fetch("SELECT source_ref, reason FROM dead_letters ORDER BY id")
    assert sorted(r["source_ref"] for r in dead) == [
        "kafka:in:2:21",
        "kafka:in:2:22",
        "kafka:in:2:5",
    ]
    assert all("UntranslatableCharacterError" in r["reason"] for r in dead)
    assert await pool.fetchval("SELECT count(*) FROM bags") == 37
    # Redelivered (the offsets were not committed): nothing changes, nothing is counted twice.
    again = await processor.process(records(values, partition=2))
    assert (again.processed, again.rejected) == (0, 0)
    assert await counts(pool) == (37, 3, 0)


async def test_passport_number_is_kept_only_as_a_keyed_hash(
    pool: asyncpg.Pool, processor: BatchProcessor
) -> None:
    def registration(event_id: str, at: str, passport: str | None) -> bytes:
        body = {
            "event_id": event_id,
            "type": "pilgrim.registered",
            "occurred_at": at,
            "pilgrim_id": "P1",
            "group_id": "G1",
            "flight_id": "SV1-2026-05-18",
            "hotel_id": "H1",
            "nationality": "ID",
            "name": "Siti",
        }
        return orjson.dumps({**body, "passport_no": passport} if passport else body)

    later = registration("r2", "2026-05-18T05:00:00Z", "X7654321")
    earlier = registration("r1", "2026-05-18T04:00:00Z", "X1234567")
    bad = registration("r3", AT, "B0000001")[:-1] + b',"n":"\\u0000"}'
    # The later registration first: the earlier one, arriving late, must not win.
    await processor.process(records([later]))
    await processor.process([InputRecord(earlier, "in", 0, 1), InputRecord(bad, "in", 0, 2)])
    async with pool.acquire() as conn:
        key = await store.pii_key(conn, None)
        assert key == await store.pii_key(conn, None)  # generated once, kept
        found = await reads.pilgrims_by_passport(conn, passport_hash(key, "x765 4321"))
        assert found == ["P1"]
        assert await reads.pilgrims_by_passport(conn, passport_hash(key, "X1234567")) == []
    stored = []
    for table in ("journal", "pilgrims", "dead_letters"):
        stored += [
            str(v) for row in await pool.fetch(f"SELECT * FROM {table}") for v in row.values()
        ]
    everything = " ".join(stored)
    for passport in ("X7654321", "X1234567", "B0000001"):
        assert passport not in everything


async def test_a_page_of_dead_letters_stays_small(pool: asyncpg.Pool) -> None:
    big = b'{"passport_no": "Q7777777", "pad": "' + b"p" * 300_000 + b'"}'
    letters = [DeadLetter.of(f"http:x:{i}", "http", "too large", big) for i in range(3)]
    async with pool.acquire() as conn:
        assert len(await store.insert_dead_letters(conn, letters)) == 3
        _, few = await reads.dead_letters(conn, 10, 0)
        _, many = await reads.dead_letters(conn, 100_000, 0)
    assert [len(i["raw"]) for i in few] == [64 * 1024] * 3
    assert [len(i["raw"]) for i in many] == [1024] * 3  # 32 MiB / 100,000, at least 1 KiB
    for item in few + many:
        assert item["truncated"] and item["length"] == len(big)
        assert item["sha256"] == hashlib.sha256(big).hexdigest()
        assert "Q7777777" not in item["raw"]


async def test_a_batch_that_finds_the_lock_table_full_runs_again_once_there_is_room(
    pool: asyncpg.Pool, processor: BatchProcessor, caplog: pytest.LogCaptureFixture
) -> None:
    """Another transaction fills PostgreSQL's shared lock table with advisory locks: the
    batch's entity locks fail with "out of shared memory", the batch is rolled back and run
    again, and once the other transaction ends it commits, counted once."""
    filler = await pool.acquire()
    try:
        tx = filler.transaction()
        await tx.start()
        held = 0
        for step in (4096, 512, 64):  # take locks until none more fits (the limit is the
            while True:  #              server's: max_locks_per_transaction × backends)
                savepoint = filler.transaction()
                await savepoint.start()
                try:
                    await filler.execute(
                        "SELECT count(pg_advisory_xact_lock(900000000 + g))"
                        " FROM generate_series($1::bigint, $2::bigint) g",
                        held,
                        held + step - 1,
                    )
                except asyncpg.OutOfMemoryError:
                    await savepoint.rollback()
                    break
                await savepoint.commit()
                held += step
        assert held > 0
        batch = asyncio.create_task(processor.process(records([scan(n) for n in range(300)])))
        while not any("retrying" in r.getMessage() for r in caplog.records):
            assert not batch.done(), "the batch committed with the lock table full"
            await asyncio.sleep(0.01)
        await tx.rollback()  # room again
        outcome = await batch
    finally:
        await pool.release(filler)
    assert outcome.processed == 300
    assert await counts(pool) == (300, 0, 0)
