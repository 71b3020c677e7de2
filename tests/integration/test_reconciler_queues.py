"""The reconciler's queues and history tables against real PostgreSQL: what `take_marks`
and `take_stale` hand out, and what the history writes replace (tariq/adapters/db)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tariq.adapters.db import create_pool, history, migrate
from tariq.adapters.db.reconciler import take_marks
from tariq.domain.history import BagHistory, StageStep

pytestmark = pytest.mark.integration

T0 = datetime(2026, 5, 18, 4, 0, tzinfo=UTC)


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[Any]:
    pool = await create_pool(database_url)
    await migrate(pool)
    # Migrations 010 and 011 queue the bags that exist; this database has none.
    await pool.execute("TRUNCATE dirty, history_stale")
    try:
        yield pool
    finally:
        await pool.close()


async def mark(conn: Any, *keys: str) -> None:
    await conn.execute("INSERT INTO dirty (kind, key) SELECT 'bag', unnest($1::text[])", list(keys))


async def test_take_marks_hands_out_the_oldest_committed_markers_once(pool: Any) -> None:
    async with pool.acquire() as writer:
        pending = writer.transaction()
        await pending.start()
        await mark(writer, "uncommitted")  # the oldest id, not committed yet
        await mark(pool, "a", "b", "c", "d")
        async with pool.acquire() as conn:
            taken, marks = await take_marks(conn, 3)
            assert (taken, sorted(marks)) == (3, [("bag", k) for k in "abc"])
            await pending.commit()
            # What a batch commits later is taken later; nothing is taken twice.
            taken, marks = await take_marks(conn, 10)
            assert (taken, sorted(marks)) == (2, [("bag", "d"), ("bag", "uncommitted")])
            assert await take_marks(conn, 10) == (0, [])


async def test_take_marks_names_each_entity_once_however_often_it_was_marked(pool: Any) -> None:
    # Every batch that touched a bag marked it; a round judges it once.
    await mark(pool, "a", "b")
    await mark(pool, "a")
    await pool.execute("INSERT INTO dirty (kind, key) VALUES ('pilgrim', 'a')")
    async with pool.acquire() as conn:
        taken, marks = await take_marks(conn, 10)
        assert taken == 4
        assert sorted(marks) == [("bag", "a"), ("bag", "b"), ("pilgrim", "a")]
        assert await take_marks(conn, 10) == (0, [])


async def test_take_stale_skips_the_bags_another_round_holds(pool: Any) -> None:
    tags = [f"00650000{n:02d}" for n in range(6)]
    await history.mark_stale(pool, tags)
    async with pool.acquire() as first, pool.acquire() as second:
        held = first.transaction()
        await held.start()
        taken = await history.take_stale(first, 2)
        assert len(taken) == 2
        others = await history.take_stale(second, 10)  # not waiting for the first round
        assert sorted(taken + others) == tags
        await held.rollback()  # that round failed: its bags are stale again
        assert await history.take_stale(second, 10) == taken


async def journal(pool: Any, rows: list[tuple[str, str, str | None, str]]) -> None:
    await pool.executemany(
        "INSERT INTO journal (event_id, type, occurred_at, tag, payload)"
        " VALUES ($1, $2, $3, $4, $5)",
        [(event_id, type_, T0, tag, payload) for event_id, type_, tag, payload in rows],
    )


async def test_bag_events_reads_the_coded_and_scanned_events_of_these_bags(pool: Any) -> None:
    await journal(
        pool,
        [
            ("c1", "bag.coded", "T1", "coded T1"),
            ("s1", "bag.scanned", "T1", "scanned T1"),
            ("c2", "bag.coded", "T2", "coded T2"),
            ("x1", "bag.delivered", "T1", "another type"),
            ("p1", "pilgrim.registered", None, "no tag"),
        ],
    )
    async with pool.acquire() as conn:
        found = await history.bag_events(conn, ["T1", "T3"])
        assert sorted(found) == [("T1", "coded T1"), ("T1", "scanned T1")]
        assert await history.bag_events(conn, []) == []


def steps(tag: str, *stages: str) -> BagHistory:
    hours = [T0 + timedelta(hours=n) for n in range(len(stages) + 1)]
    made = tuple(
        StageStep(stage, hours[n], hours[n + 1] if n + 1 < len(stages) else None)
        for n, stage in enumerate(stages)
    )
    return BagHistory(tag, (), made)


async def test_saving_histories_replaces_only_those_bags_rows(pool: Any) -> None:
    async with pool.acquire() as conn:
        await history.save_bag_histories(
            conn, ["T1", "T2"], [steps("T1", "coded", "loaded"), steps("T2", "coded")]
        )
        await history.save_bag_histories(conn, ["T1"], [steps("T1", "coded", "loaded", "sorted")])
        rows = await conn.fetch("SELECT tag, stage FROM bag_steps ORDER BY tag, since")
    assert [(r["tag"], r["stage"]) for r in rows] == [
        ("T1", "coded"),
        ("T1", "loaded"),
        ("T1", "sorted"),
        ("T2", "coded"),
    ]


async def test_saving_histories_rewrites_only_the_rows_that_changed(pool: Any) -> None:
    """A history computed again keeps the rows it shares with the stored one where they are
    (same ctid) and replaces the others: a step whose end changed, a span that ended."""
    from zoneinfo import ZoneInfo

    from tariq.domain.alerts import Alert
    from tariq.domain.history import AlertSpan

    late = Alert("unknown_tag", "T1", tag="T1", flight_id="SV1")
    open_span = AlertSpan(late, T0, None)
    ended_span = AlertSpan(late, T0, T0 + timedelta(hours=2))
    before = steps("T1", "coded", "loaded")
    after = steps("T1", "coded", "loaded", "sorted")

    async def rows(conn: Any) -> list[tuple[Any, ...]]:
        found = await conn.fetch(
            "SELECT 'step' AS t, ctid, stage AS what, since AS at, until AS till FROM bag_steps"
            " UNION ALL SELECT 'span', ctid, type, began_at, ended_at FROM alert_spans"
            " ORDER BY 1, 4"
        )
        return [tuple(r) for r in found]

    async with pool.acquire() as conn:
        await history.save_bag_histories(
            conn, ["T1"], [BagHistory("T1", (open_span,), before.steps)]
        )
        first = await rows(conn)
        # The same history, its times in another zone: nothing is written.
        riyadh = ZoneInfo("Asia/Riyadh")
        again = tuple(StageStep(s.stage, s.since.astimezone(riyadh), s.until) for s in before.steps)
        await history.save_bag_histories(conn, ["T1"], [BagHistory("T1", (open_span,), again)])
        assert await rows(conn) == first
        await history.save_bag_histories(
            conn, ["T1"], [BagHistory("T1", (ended_span,), after.steps)]
        )
        second = await rows(conn)
    assert [(r[0], r[2], r[4]) for r in second] == [
        ("span", "unknown_tag", T0 + timedelta(hours=2)),
        ("step", "coded", T0 + timedelta(hours=1)),
        ("step", "loaded", T0 + timedelta(hours=2)),
        ("step", "sorted", None),
    ]
    kept = {r[:2] for r in first} & {r[:2] for r in second}
    # The coded step is unchanged and stays; the loaded step ended and the span ended.
    assert kept == {first[1][:2]}
    assert first[1][2] == "coded"
