"""The reconciler: judges alerts for what changed, in event time, one round at a time.

Workers commit facts together with "dirty" markers. One reconciler at a time (the worker
holding a PostgreSQL advisory lock; another takes over when it dies) runs rounds: in one
REPEATABLE READ transaction it takes the committed markers, adds the entities whose
time-based deadline the service clock has passed since the last round, judges them with
the pure rules of stream/alerts.py, and writes the alerts that were raised or resolved.
Markers are committed atomically with their facts and a round reads after taking them, so
no change is missed; a failed round rolls back and leaves its markers for the next one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

import asyncpg
import orjson

from routing.eta import Destination, EtaPlanner
from tariq.adapters.db import states
from tariq.adapters.db.outbox import enqueue_notices
from tariq.adapters.live import LiveMirror
from tariq.config import AlertThresholds
from tariq.domain.alerts import Alert, Carried, Fix, carried_by, judge_bag, judge_vehicle
from tariq.domain.notices import Notice, bags_en_route, notice_as_dict

log = logging.getLogger(__name__)

LEADER_LOCK: Final = 7_262_022
MARKS_PER_ROUND: Final = 100_000
# How far back a vehicle's fixes are read to judge a stall.
FIX_HORIZON: Final = timedelta(hours=6)
# A trip's plan (stop order, ETAs) is made again from the vehicle's position this often.
REPLAN_EVERY: Final = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class RoundResult:
    marks: int
    judged_bags: int
    judged_vehicles: int
    raised: int
    resolved: int


def alert_view(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "alert_id": row["alert_id"],
        "type": row["type"],
        "status": row["status"],
        "raised_at": row["raised_at"],
        "resolved_at": row["resolved_at"],
        "tag": row["tag"],
        "pilgrim_id": row["pilgrim_id"],
        "flight_id": row["flight_id"],
        "hotel_id": row["hotel_id"],
        "vehicle_id": row["vehicle_id"],
    }


class Reconciler:
    def __init__(self, pool: asyncpg.Pool, live: LiveMirror, thresholds: AlertThresholds) -> None:
        self.pool = pool
        self.live = live
        self.thresholds = thresholds
        self._planner: EtaPlanner | None = None

    async def run(self, stop: asyncio.Event, every_s: float = 0.2) -> None:
        """Take the leader lock when free, then run a round every `every_s` until stopped.

        Spacing rounds lets markers accumulate: under load one round judges a bag once for
        many of its events, and the rounds leave PostgreSQL to the ingesting workers.
        """
        while not stop.is_set():
            try:
                async with self.pool.acquire() as leader:
                    if not await leader.fetchval("SELECT pg_try_advisory_lock($1)", LEADER_LOCK):
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(stop.wait(), timeout=1.0)
                        continue
                    log.info("this worker is the reconciler")
                    try:
                        while not stop.is_set():
                            started = asyncio.get_running_loop().time()
                            result = await self.round()
                            if result.marks < MARKS_PER_ROUND:
                                pause = every_s - (asyncio.get_running_loop().time() - started)
                                with contextlib.suppress(TimeoutError):
                                    await asyncio.wait_for(stop.wait(), timeout=max(pause, 0))
                    finally:
                        await leader.execute("SELECT pg_advisory_unlock($1)", LEADER_LOCK)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("reconciler round failed; retrying")
                await asyncio.sleep(1.0)

    async def round(self) -> RoundResult:
        th = self.thresholds
        async with self.pool.acquire() as conn, conn.transaction(isolation="repeatable_read"):
            marks = await conn.fetch(
                "DELETE FROM dirty WHERE id IN (SELECT id FROM dirty ORDER BY id LIMIT $1)"
                " RETURNING kind, key",
                MARKS_PER_ROUND,
            )
            clock: datetime | None = await conn.fetchval("SELECT max(clock) FROM counters")
            state = await conn.fetchrow("SELECT clock, round FROM reconciler_state")
            previous: datetime | None = state["clock"]
            round_no = state["round"] + 1
            wanted: dict[str, set[str]] = {
                "bag": set(),
                "flight": set(),
                "pilgrim": set(),
                "vehicle": set(),
            }
            for mark in marks:
                if mark["kind"] in wanted:
                    wanted[mark["kind"]].add(mark["key"])
            if clock is not None and (previous is None or clock > previous):
                await self._add_due(conn, wanted, previous, clock)
            if not any(wanted.values()):
                if clock != previous:
                    await conn.execute("UPDATE reconciler_state SET clock = $1", clock)
                return RoundResult(len(marks), 0, 0, 0, 0)

            tags = set(wanted["bag"])
            if wanted["flight"] or wanted["pilgrim"]:
                rows = await conn.fetch(
                    "SELECT b.tag FROM unnest($1::text[]) k(key) JOIN bags b ON b.flight_id = k.key"
                    " UNION SELECT b.tag FROM unnest($2::text[]) k(key)"
                    " JOIN bags b ON b.pilgrim_id = k.key",
                    list(wanted["flight"]),
                    list(wanted["pilgrim"]),
                )
                tags.update(r["tag"] for r in rows)
            desired: dict[tuple[str, str], Alert] = {}
            bags = await states.load(conn, states.BAGS, sorted(tags))
            flights = await states.load(
                conn,
                states.FLIGHTS,
                sorted({b.flight_id for b in bags.values() if b.flight_id}),
            )
            pilgrims = await states.load(
                conn,
                states.PILGRIMS,
                sorted({b.pilgrim_id for b in bags.values() if b.pilgrim_id}),
            )
            for bag in bags.values():
                judgement = judge_bag(
                    bag,
                    flights.get(bag.flight_id or ""),
                    pilgrims.get(bag.pilgrim_id or ""),
                    clock,
                    th,
                )
                for alert in judgement.open:
                    desired[alert.key] = alert
            vehicle_status, notices = await self._judge_vehicles(
                conn, sorted(wanted["vehicle"]), clock, desired
            )
            raised, resolved = await self._write(
                conn, sorted(bags), sorted(wanted["vehicle"]), desired, clock
            )
            await conn.execute(
                "UPDATE reconciler_state SET clock = $1, round = $2", clock, round_no
            )
            counts = {
                r["type"]: r["n"]
                for r in await conn.fetch(
                    "SELECT type, count(*) AS n FROM alerts WHERE status = 'open' GROUP BY type"
                )
            }
        changes = [alert_view(dict(r)) for r in raised + resolved]
        await self.live.publish_alerts(changes, counts, round_no, vehicle_status)
        if notices:
            await self.live.publish_notices([notice_as_dict(n) for n in notices])
        return RoundResult(
            len(marks), len(bags), len(wanted["vehicle"]), len(raised), len(resolved)
        )

    async def _add_due(
        self,
        conn: asyncpg.Connection,
        wanted: dict[str, set[str]],
        previous: datetime | None,
        clock: datetime,
    ) -> None:
        """Entities whose time-based condition may have begun to hold in (previous, clock]."""
        th = self.thresholds
        missing = timedelta(seconds=th.missing_after_arrival_s)
        overdue = timedelta(seconds=th.delivery_overdue_after_checkin_s)
        # (previous, clock] in event time; with no previous round, everything up to clock.
        queries = (
            ("flight", "SELECT flight_id AS id FROM flights WHERE arrived_at", missing),
            ("pilgrim", "SELECT DISTINCT pilgrim_id AS id FROM checkins WHERE at", overdue),
            (
                "vehicle",
                "SELECT vehicle_id AS id FROM vehicle_judgements WHERE stall_due_at",
                timedelta(0),
            ),
        )
        for kind, query, delay in queries:
            if previous is None:
                rows = await conn.fetch(f"{query} <= $1", clock - delay)
            else:
                rows = await conn.fetch(
                    f"{query} >= $1 AND {query.rsplit(' ', 1)[1]} <= $2",
                    previous - delay,
                    clock - delay,
                )
            wanted[kind].update(r["id"] for r in rows)

    async def _judge_vehicles(
        self,
        conn: asyncpg.Connection,
        vehicle_ids: Sequence[str],
        clock: datetime | None,
        desired: dict[tuple[str, str], Alert],
    ) -> tuple[list[dict[str, Any]], list[Notice]]:
        """Judge the vehicles; returns the changed vehicle views and new notices."""
        if not vehicle_ids:
            return [], []
        ids = list(vehicle_ids)
        pilgrim_rows = await conn.fetch(
            "SELECT p.pilgrim_id FROM unnest($1::text[]) k(key)"
            " JOIN pilgrims p ON p.bus_vehicle_id = k.key",
            ids,
        )
        bag_rows = await conn.fetch(
            "SELECT b.tag FROM unnest($1::text[]) k(key) JOIN bags b ON b.truck_vehicle_id = k.key",
            ids,
        )
        pilgrims = await states.load(conn, states.PILGRIMS, [r["pilgrim_id"] for r in pilgrim_rows])
        bags = await states.load(conn, states.BAGS, [r["tag"] for r in bag_rows])
        carried: dict[str, Carried] = {
            v: carried_by(v, pilgrims.values(), bags.values()) for v in ids
        }
        fixes: dict[str, list[Fix]] = {v: [] for v in ids}
        loaded_ids = [v for v, c in carried.items() if c.since is not None]
        if loaded_ids:
            earliest = min(c.since for c in carried.values() if c.since is not None) - FIX_HORIZON
            for r in await conn.fetch(
                "SELECT f.vehicle_id, f.at, f.event_id, f.lat, f.lon FROM unnest($1::text[]) k(key)"
                " JOIN vehicle_fixes f ON f.vehicle_id = k.key WHERE f.at >= $2",
                loaded_ids,
                earliest,
            ):
                fixes[r["vehicle_id"]].append(Fix(r["at"], r["event_id"], r["lat"], r["lon"]))
        previous = {
            r["vehicle_id"]: dict(r)
            for r in await conn.fetch(
                "SELECT j.vehicle_id, j.status, j.trip_since, j.plan, j.planned_at, j.next_stop,"
                " j.eta"
                " FROM unnest($1::text[]) k(key)"
                " JOIN vehicle_judgements j ON j.vehicle_id = k.key",
                ids,
            )
        }
        positions = await states.load(conn, states.VEHICLES, ids)
        hotel_ids = sorted({h for c in carried.values() for h in c.hotels})
        hotels = await states.load(conn, states.HOTELS, hotel_ids)
        rows: list[tuple[Any, ...]] = []
        views: list[dict[str, Any]] = []
        notices: list[Notice] = []
        for v in ids:
            load = carried[v]
            status, judgement = judge_vehicle(v, fixes[v], load.since, clock, self.thresholds)
            for alert in judgement.open:
                desired[alert.key] = alert
            before = previous.get(v, {})
            plan_text: str | None = None
            planned_at: datetime | None = None
            next_stop: str | None = None
            eta: datetime | None = None
            position = positions.get(v)
            if status != "idle" and position is not None and position.at is not None:
                new_trip = before.get("trip_since") != load.since
                last_plan = before.get("planned_at")
                stale = last_plan is None or position.at - last_plan >= REPLAN_EVERY
                if new_trip or not before.get("plan") or stale:
                    # From where the vehicle is now: the ETA follows its progress.
                    planned_at = position.at
                    stops = self.planner().plan(
                        position.lat or 0.0,
                        position.lon or 0.0,
                        position.at,
                        [
                            Destination(h, hotels[h].lat, hotels[h].lon)
                            for h in sorted(load.hotels)
                            if h in hotels and hotels[h].lat is not None
                        ],
                    )
                    plan = [{"hotel_id": s.hotel_id, "eta": s.eta.isoformat()} for s in stops]
                    plan_text = orjson.dumps(plan).decode()
                    if new_trip and load.tags_by_hotel:
                        trip_id = f"{v}@{load.since.isoformat() if load.since else ''}"
                        etas = {s.hotel_id: s.eta for s in stops}
                        notices.extend(
                            bags_en_route(
                                hotel_id=hotel,
                                vehicle_id=v,
                                trip_id=trip_id,
                                tags=tags,
                                eta=etas.get(hotel),
                                occurred_at=position.at,
                            )
                            for hotel, tags in sorted(load.tags_by_hotel.items())
                        )
                else:
                    plan_text, planned_at = before["plan"], last_plan
                for stop in orjson.loads(plan_text or "[]"):
                    if stop["hotel_id"] in load.hotels:
                        next_stop = stop["hotel_id"]
                        eta = datetime.fromisoformat(stop["eta"])
                        break
            rows.append(
                (v, status, judgement.next_due, load.since, plan_text, planned_at, next_stop, eta)
            )
            if (before.get("status", "idle"), before.get("next_stop"), before.get("eta")) != (
                status,
                next_stop,
                eta,
            ):
                views.append(
                    {"vehicle_id": v, "status": status, "next_stop": next_stop, "eta": eta}
                )
        await conn.execute(
            "INSERT INTO vehicle_judgements"
            " (vehicle_id, status, stall_due_at, trip_since, plan, planned_at, next_stop, eta)"
            " SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::timestamptz[],"
            " $5::text[], $6::timestamptz[], $7::text[], $8::timestamptz[])"
            " ON CONFLICT (vehicle_id) DO UPDATE SET status = EXCLUDED.status,"
            " stall_due_at = EXCLUDED.stall_due_at, trip_since = EXCLUDED.trip_since,"
            " plan = EXCLUDED.plan, planned_at = EXCLUDED.planned_at,"
            " next_stop = EXCLUDED.next_stop, eta = EXCLUDED.eta",
            *map(list, zip(*rows, strict=True)),
        )
        new_notices = await enqueue_notices(conn, notices) if notices else []
        return views, new_notices

    def planner(self) -> EtaPlanner:
        if self._planner is None:
            self._planner = EtaPlanner()
        return self._planner

    async def _write(
        self,
        conn: asyncpg.Connection,
        tags: Sequence[str],
        vehicle_ids: Sequence[str],
        desired: dict[tuple[str, str], Alert],
        clock: datetime | None,
    ) -> tuple[list[asyncpg.Record], list[asyncpg.Record]]:
        """Raise what should be open and is not; resolve what is open and should not be."""
        subjects = [*tags, *vehicle_ids]
        current = await conn.fetch(
            "SELECT a.alert_id, a.type, a.subject FROM unnest($1::text[]) k(key)"
            " JOIN alerts a ON a.subject = k.key WHERE a.status = 'open'",
            subjects,
        )
        judged_bags, judged_vehicles = set(tags), set(vehicle_ids)
        open_keys = {(r["type"], r["subject"]): r["alert_id"] for r in current}
        to_resolve = [
            alert_id
            for (kind, subject), alert_id in open_keys.items()
            if (kind, subject) not in desired
            and (
                subject in judged_vehicles if kind == "vehicle_stalled" else subject in judged_bags
            )
        ]
        to_raise = [a for key, a in desired.items() if key not in open_keys]
        now = clock or datetime.now().astimezone()
        resolved = (
            await conn.fetch(
                "UPDATE alerts SET status = 'resolved', resolved_at = $2"
                " FROM unnest($1::text[]) k(key) WHERE alert_id = k.key RETURNING alerts.*",
                to_resolve,
                now,
            )
            if to_resolve
            else []
        )
        raised = (
            await conn.fetch(
                "INSERT INTO alerts (alert_id, type, subject, status, raised_at, tag, pilgrim_id,"
                " flight_id, hotel_id, vehicle_id)"
                " SELECT u.alert_id, u.type, u.subject, 'open', $9, u.tag, u.pilgrim_id,"
                " u.flight_id, u.hotel_id, u.vehicle_id"
                " FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],"
                " $6::text[], $7::text[], $8::text[]) AS u(alert_id, type, subject, tag,"
                " pilgrim_id, flight_id, hotel_id, vehicle_id)"
                " RETURNING *".replace("$11", "$9"),
                [uuid.uuid4().hex for _ in to_raise],
                [a.type for a in to_raise],
                [a.subject for a in to_raise],
                [a.tag for a in to_raise],
                [a.pilgrim_id for a in to_raise],
                [a.flight_id for a in to_raise],
                [a.hotel_id for a in to_raise],
                [a.vehicle_id for a in to_raise],
                now,
            )
            if to_raise
            else []
        )
        return list(raised), list(resolved)
