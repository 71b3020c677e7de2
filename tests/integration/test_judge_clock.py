"""The reconciler against real PostgreSQL: deadline rules wait for lagging partitions
(contract v1.1 section 2), and the geographic stall rule reads fixes and hotels from SQL."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
import pytest

from stream.ingest import BatchProcessor
from stream.reconciler import Reconciler
from tariq.adapters.db import create_pool, migrate
from tariq.adapters.live import LiveMirror
from tariq.config import AlertThresholds
from tariq.domain.records import InputRecord
from tariq.domain.watermark import PartitionProgress

pytestmark = pytest.mark.integration

FLIGHT = "SV5123-2026-05-18"
MISSING, OFFLOADED = "0065000001", "0065000002"
ROADSIDE = (21.50, 39.40)


def event(event_id: str, type_: str, at: str, **fields: Any) -> bytes:
    return orjson.dumps(
        {"event_id": event_id, "type": type_, "occurred_at": f"2026-05-18T{at}:00Z", **fields}
    )


def bag_events(tag: str) -> list[bytes]:
    return [
        event(f"code-{tag}", "bag.coded", "04:00", tag=tag, pilgrim_id="P1", flight_id=FLIGHT,
              hotel_id="H1"),
        event(f"load-{tag}", "bag.scanned", "05:00", tag=tag, checkpoint="loaded",
              location="CGK"),
    ]  # fmt: skip


@dataclass
class Service:
    processor: BatchProcessor
    reconciler: Reconciler
    pool: Any
    offsets: dict[int, int]

    async def batch(self, partition: int, values: Sequence[bytes], backlog: int) -> None:
        """Process `values` from `partition`, leaving `backlog` messages waiting after them."""
        start = self.offsets.get(partition, 0)
        records = [InputRecord(v, "t", partition, start + k) for k, v in enumerate(values)]
        self.offsets[partition] = start + len(values)
        end = self.offsets[partition] + backlog
        progress = {records[0].scope: PartitionProgress(self.offsets[partition], end)}
        await self.processor.process(records, progress)

    async def open_alerts(self) -> set[tuple[str, str]]:
        rows = await self.pool.fetch("SELECT type, subject FROM alerts WHERE status = 'open'")
        return {(r["type"], r["subject"]) for r in rows}

    async def judge_clock(self) -> datetime | None:
        clock: datetime | None = await self.pool.fetchval("SELECT clock FROM reconciler_state")
        return clock


async def nothing(_: object) -> None:
    return None


@pytest.fixture
async def service(database_url: str, redis_url: str) -> AsyncIterator[Service]:
    pool = await create_pool(database_url, max_size=4)
    await migrate(pool)
    live = LiveMirror.from_url(redis_url, f"it-{uuid.uuid4().hex[:8]}:")
    # No allowed lateness, so the clocks below are the partitions' own.
    thresholds = AlertThresholds(lag_stale_s=3600, lateness_s=0)
    try:
        yield Service(BatchProcessor(pool, live, nothing), Reconciler(pool, live, thresholds),
                      pool, {})  # fmt: skip
    finally:
        await live.close()
        await pool.close()


async def test_a_lagging_partition_holds_deadline_alerts_until_it_catches_up(
    service: Service,
) -> None:
    # Partition 1 (the bags) has processed the loading scans; one message still waits
    # there: the offloading of one bag.
    await service.batch(1, [*bag_events(MISSING), *bag_events(OFFLOADED)], backlog=1)
    # Partition 0 is far ahead: the flight arrived at 08:00 and the clock is at 13:00,
    # past arrival + 2 h. Without the low watermark both bags would be missing_at_arrival.
    await service.batch(
        0,
        [
            event("arr", "flight.arrived", "08:00", flight_id=FLIGHT),
            event("tick", "flight.scheduled", "13:00", flight_id="XX1-2026-05-18",
                  origin="CGK", destination="JED", scheduled_departure="2026-05-18T12:00:00Z",
                  scheduled_arrival="2026-05-18T13:00:00Z"),
        ],
        backlog=0,
    )  # fmt: skip
    await service.reconciler.round()
    assert await service.open_alerts() == set()
    clock = await service.judge_clock()
    assert clock is not None and clock.isoformat().startswith("2026-05-18T05:00")

    # Partition 1 catches up: one bag was offloaded at 09:00, the other never will be.
    offload = event("off", "bag.scanned", "09:00", tag=OFFLOADED, checkpoint="offloaded",
                    location="JED")  # fmt: skip
    await service.batch(1, [offload], backlog=0)
    await service.reconciler.round()
    assert await service.open_alerts() == {("missing_at_arrival", MISSING)}
    clock = await service.judge_clock()
    assert clock is not None and clock.isoformat().startswith("2026-05-18T13:00")
    raised_at = await service.pool.fetchval("SELECT raised_at FROM alerts")
    assert raised_at == clock  # raised at the clock it was judged against
    assert await service.pool.fetchval("SELECT count(*) FROM alerts") == 1  # none resolved


async def test_a_lag_nobody_refreshes_stops_holding_the_clock_back(service: Service) -> None:
    await service.batch(1, bag_events(MISSING), backlog=5)
    await service.batch(0, [event("arr", "flight.arrived", "08:00", flight_id=FLIGHT),
                            event("late", "flight.arrived", "11:00", flight_id="XX")],
                        backlog=0)  # fmt: skip
    await service.reconciler.round()
    assert await service.open_alerts() == set()
    # Its worker died: the lag report grows old (in wall time) and nobody refreshes it.
    await service.pool.execute(
        "UPDATE counters SET lag_at = lag_at - interval '2 hours' WHERE scope = 'p1'"
    )
    await service.reconciler.round()
    assert await service.open_alerts() == {("missing_at_arrival", MISSING)}


def fixes(vehicle: str, place: tuple[float, float], start_minute: int, n: int) -> list[bytes]:
    return [
        event(f"{vehicle}-{start_minute + k}", "vehicle.position",
              f"10:{start_minute + k:02d}", vehicle_id=vehicle, kind="truck",
              lat=place[0], lon=place[1] + 0.00002 * (k % 2))
        for k in range(n)
    ]  # fmt: skip


async def test_an_empty_vehicle_parked_by_the_road_stalls_until_a_hotel_is_registered_there(
    service: Service,
) -> None:
    # An empty truck (it carries nothing) still for 25 minutes far from airports and hotels.
    await service.batch(2, fixes("TRK-9", ROADSIDE, 0, 26), backlog=0)
    await service.reconciler.round()
    assert await service.open_alerts() == {("vehicle_stalled", "TRK-9")}
    # A bus parked for 25 minutes a hundred metres from a registered hotel is waiting there.
    hotel = event("hotel", "hotel.registered", "09:00", hotel_id="H7", name="Seven",
                  city="makkah", lat=21.43, lon=39.83)  # fmt: skip
    await service.batch(3, [hotel, *fixes("BUS-9", (21.4309, 39.83), 0, 26)], backlog=0)
    await service.reconciler.round()
    assert await service.open_alerts() == {("vehicle_stalled", "TRK-9")}
    # A hotel registered (late) where the truck stands: it was waiting at a hotel after all.
    late = event("hotel-late", "hotel.registered", "10:30", hotel_id="H8", name="Eight",
                 city="makkah", lat=ROADSIDE[0], lon=ROADSIDE[1])  # fmt: skip
    await service.batch(3, [late], backlog=0)
    await service.reconciler.round()
    assert await service.open_alerts() == set()


async def test_a_batch_committing_after_a_later_one_does_not_bring_its_lag_back(
    service: Service,
) -> None:
    """Two batches of a partition in flight may commit in either order: the later one's
    position (caught up) stands."""
    later = [InputRecord(event("b", "flight.arrived", "08:00", flight_id="F2"), "t", 4, 7)]
    earlier = [InputRecord(event("a", "flight.arrived", "07:00", flight_id="F1"), "t", 4, 3)]
    await service.processor.process(later, {"p4": PartitionProgress(8, 8)})
    await service.processor.process(earlier, {"p4": PartitionProgress(4, 6)})
    row = await service.pool.fetchrow(
        "SELECT input_end - input_offset AS lag, clock FROM counters WHERE scope = 'p4'"
    )
    assert row["lag"] == 0
    assert row["clock"].isoformat().startswith("2026-05-18T08:00")


async def test_a_batch_refreshes_the_lag_of_partitions_it_has_no_records_of(
    service: Service,
) -> None:
    first = [InputRecord(event("a", "flight.arrived", "07:00", flight_id="F1"), "t", 5, 0)]
    await service.processor.process(first, {"p5": PartitionProgress(1, 50)})
    await service.pool.execute("UPDATE counters SET lag_at = lag_at - interval '1 hour'")
    other = [InputRecord(event("b", "flight.arrived", "08:00", flight_id="F2"), "t", 6, 0)]
    await service.processor.process(
        other, {"p6": PartitionProgress(1, 1), "p5": PartitionProgress(1, 50)}
    )
    rows = await service.pool.fetch(
        "SELECT scope, input_end - input_offset AS lag, processed,"
        " now() - lag_at < interval '1 minute' AS fresh FROM counters ORDER BY scope"
    )
    assert [(r["scope"], r["lag"], r["processed"], r["fresh"]) for r in rows] == [
        ("p5", 49, 1, True),
        ("p6", 0, 1, True),
    ]
