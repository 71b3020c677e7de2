"""The reconciler: judges alerts for what changed, in event time, one round at a time.

Workers commit facts together with "dirty" markers. One reconciler at a time (the worker
holding a PostgreSQL advisory lock; another takes over when it dies) runs rounds: in one
REPEATABLE READ transaction it takes the committed markers, adds the entities whose
time-based deadline the judge clock has passed since the last round (the latest event
time processed, held back to a low watermark while input partitions lag:
tariq/domain/watermark.py), judges them with
the pure rules of tariq/domain/alerts.py and tariq/domain/vehicles.py, and writes the
alerts that were raised or resolved.
Markers are committed atomically with their facts and a round reads after taking them, so
no change is missed; a failed round rolls back and leaves its markers for the next one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

import asyncpg

from routing.eta import Destination, EtaPlanner, PlannedStop
from stream import metrics as stream_metrics
from tariq.adapters.db import airports, history, states, trips
from tariq.adapters.db import reconciler as db
from tariq.adapters.db.outbox import enqueue_notices
from tariq.adapters.live import LiveMirror
from tariq.adapters.outages import OutageLog, dependency_down
from tariq.config import AlertThresholds
from tariq.domain.alerts import (
    BAG_FIELDS_JUDGED,
    FIXES_BEFORE,
    FLIGHT_FIELDS_JUDGED,
    PILGRIM_FIELDS_JUDGED,
    Alert,
    Fix,
    alert_changes,
    carried_by,
    fixes_from,
    judge_bags,
)
from tariq.domain.bags import BagState
from tariq.domain.entities import FlightState, PilgrimState
from tariq.domain.events import BagCoded, BagScanned, InvalidEvent, decode_journaled
from tariq.domain.history import bag_history
from tariq.domain.notices import Notice, notice_as_dict
from tariq.domain.triage import severity
from tariq.domain.vehicles import VehiclesRound, judge_vehicles
from tariq.domain.watermark import judge_clock

log = logging.getLogger(__name__)

MARKS_PER_ROUND: Final = 100_000
# Bags whose replay history one pass recomputes (about 0.3 ms each) after a round that
# took fewer marks than HISTORY_WHEN_MARKS_BELOW (at 2,000 events/s a round takes ~400).
HISTORY_PER_ROUND: Final = 200
HISTORY_WHEN_MARKS_BELOW: Final = 1_000
MAX_PAUSE_S: Final = 2.0
# A trip's plan (stop order, ETAs) is made again from the vehicle's position this often.
REPLAN_EVERY: Final = timedelta(minutes=5)
KINDS: Final = ("bag", "flight", "pilgrim", "vehicle")
# A round loads only what the bag rules read (about half of a bag row's columns).
JUDGED_BAGS: Final = states.projection(states.BAGS, BAG_FIELDS_JUDGED)
JUDGED_FLIGHTS: Final = states.projection(states.FLIGHTS, FLIGHT_FIELDS_JUDGED)
JUDGED_PILGRIMS: Final = states.projection(states.PILGRIMS, PILGRIM_FIELDS_JUDGED)


@dataclass(frozen=True, slots=True)
class RoundResult:
    marks: int
    judged_bags: int
    judged_vehicles: int
    raised: int
    resolved: int


@dataclass(frozen=True, slots=True)
class Judged:
    """What a round wrote, for the live feed."""

    tags: list[str]
    vehicle_ids: list[str]
    raised: list[dict[str, Any]]
    resolved: list[dict[str, Any]]
    vehicle_status: list[dict[str, Any]]
    notices: list[Notice]


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
        "airport": row.get("airport"),
        "severity": severity(row["type"], row["raised_at"], row["raised_at"]),
    }


class Reconciler:
    def __init__(self, pool: asyncpg.Pool, live: LiveMirror, thresholds: AlertThresholds) -> None:
        self.pool = pool
        self.live = live
        self.thresholds = thresholds
        self._planner: EtaPlanner | None = None
        # Every registered hotel's place (for the stall rule), and the version read.
        self._hotel_places: list[tuple[float, float]] = []
        self._hotels_version: str | None = None
        self.outages = OutageLog(log, "reconciler")

    # ---- leading ----------------------------------------------------------------------

    async def run(self, stop: asyncio.Event, every_s: float = 0.2) -> None:
        """Take the leader lock when free, then run a round every `every_s` until stopped.

        Spacing rounds lets markers accumulate: under load one round judges a bag once for
        many of its events, and the rounds leave PostgreSQL to the ingesting workers.
        """
        while not stop.is_set():
            try:
                async with self.pool.acquire() as leader:
                    if not await db.try_lead(leader):
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(stop.wait(), timeout=1.0)
                        continue
                    log.info("this worker is the reconciler")
                    self._hotels_version = None  # read the hotels afresh
                    try:
                        await self._lead(stop, every_s)
                    finally:
                        await db.stop_leading(leader)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if (dependency := dependency_down(exc)) is None:
                    log.exception("reconciler round failed; retrying")
                else:
                    self.outages.failed(dependency, exc)  # logged once, not per round
                await asyncio.sleep(1.0)

    async def _lead(self, stop: asyncio.Event, every_s: float) -> None:
        while not stop.is_set():
            started = asyncio.get_running_loop().time()
            result = await self.round()
            stream_metrics.observe_round(result.marks, asyncio.get_running_loop().time() - started)
            self.outages.recovered()
            histories = 0
            if result.marks < HISTORY_WHEN_MARKS_BELOW:
                # Judging comes first: the replay's history (a secondary view) is computed
                # when rounds are light, so a backlog of input is never slowed by it.
                histories = await self.history_round()
            idle_with_backlog = result.marks == 0 and histories == HISTORY_PER_ROUND
            if result.marks < MARKS_PER_ROUND and not idle_with_backlog:
                # A round that took long is followed by a pause as long (at most half the
                # worker's time, which it shares with ingest): meanwhile marks accumulate,
                # and the next round judges each entity once for all of its new events.
                took = asyncio.get_running_loop().time() - started
                pause = max(every_s - took, min(took, MAX_PAUSE_S))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=max(pause, 0))

    # ---- a round: load, judge, save in one transaction; then publish -------------------

    async def round(self) -> RoundResult:
        async with self.pool.acquire() as conn, conn.transaction(isolation="repeatable_read"):
            taken, marks = await db.take_marks(conn, MARKS_PER_ROUND)
            previous, last_round = await db.round_state(conn)
            # Deadline rules wait for input that lags (a low watermark; never goes back).
            scopes = await db.scope_clocks(conn)
            th = self.thresholds
            clock = judge_clock(scopes, previous, th.lag_stale_s, timedelta(seconds=th.lateness_s))
            round_no = last_round + 1
            wanted: dict[str, set[str]] = {kind: set() for kind in KINDS}
            for kind, key in marks:
                if kind in wanted:
                    wanted[kind].add(key)
            if await self._hotels_changed(conn):
                # Hotels decide where a parked vehicle may wait: judge the parked again.
                wanted["vehicle"].update(await db.parked_vehicles(conn))
            if clock is not None and (previous is None or clock > previous):
                await self._add_due(conn, wanted, previous, clock)
            if not any(wanted.values()):
                if clock != previous:
                    await db.save_clock(conn, clock)
                return RoundResult(taken, 0, 0, 0, 0)
            judged = await self._judge(conn, wanted, clock)
            # Each alert on the feed names its airport, so the operators' filter works live.
            found = await airports.alert_airports(
                conn, [r["alert_id"] for r in judged.raised + judged.resolved]
            )
            for row in judged.raised + judged.resolved:
                row["airport"] = found.get(row["alert_id"])
            await db.save_round(conn, clock, round_no)
            counts = await db.open_alert_counts(conn)
        await self._publish(judged, counts, round_no)
        return RoundResult(
            taken,
            len(judged.tags),
            len(judged.vehicle_ids),
            len(judged.raised),
            len(judged.resolved),
        )

    async def _hotels_changed(self, conn: asyncpg.Connection) -> bool:
        """Reload the registered hotels' places when they changed (and on the first round
        this worker leads); True when they did."""
        version = await db.hotels_version(conn)
        if version == self._hotels_version:
            return False
        self._hotel_places = await db.hotel_places(conn)
        self._hotels_version = version
        return True

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
        wanted["flight"].update(await db.due_flights(conn, previous, clock, missing))
        wanted["flight"].update(await db.due_departures(conn, previous, clock))
        wanted["pilgrim"].update(await db.due_pilgrims(conn, previous, clock, overdue))
        wanted["vehicle"].update(await db.due_vehicles(conn, previous, clock))

    async def _judge(
        self, conn: asyncpg.Connection, wanted: dict[str, set[str]], clock: datetime | None
    ) -> Judged:
        """Judge the wanted entities and write the alerts, judgements and notices."""
        tags, desired = await self._judge_bags(conn, wanted, clock)
        vehicle_ids = sorted(wanted["vehicle"])
        vehicles = await self._judge_vehicles(conn, vehicle_ids, clock)
        desired.update((alert.key, alert) for alert in vehicles.alerts)
        await db.save_vehicle_judgements(conn, vehicles.judgements)
        notices = await enqueue_notices(conn, vehicles.notices) if vehicles.notices else []
        await trips.save_told(conn, vehicles.told)
        raised, resolved = await self._write(conn, tags, vehicle_ids, desired, clock)
        return Judged(tags, vehicle_ids, raised, resolved, vehicles.views, notices)

    async def _judge_bags(
        self, conn: asyncpg.Connection, wanted: dict[str, set[str]], clock: datetime | None
    ) -> tuple[list[str], dict[tuple[str, str], Alert]]:
        """Load the wanted bags (and those of the wanted flights and pilgrims) and judge
        them; returns their tags and the alerts that hold."""
        tags = set(wanted["bag"])
        if wanted["flight"] or wanted["pilgrim"]:
            tags.update(await db.bags_of(conn, wanted["flight"], wanted["pilgrim"]))
        bags = await states.load(conn, JUDGED_BAGS, sorted(tags))
        flight_ids = sorted({b.flight_id for b in bags.values() if b.flight_id})
        pilgrim_ids = sorted({b.pilgrim_id for b in bags.values() if b.pilgrim_id})
        flights = await states.load(conn, JUDGED_FLIGHTS, flight_ids)
        pilgrims = await states.load(conn, JUDGED_PILGRIMS, pilgrim_ids)
        desired = judge_bags(bags.values(), flights, pilgrims, clock, self.thresholds)
        # Their replay histories are recomputed later, once each (`history_round`).
        await history.mark_stale(conn, sorted(bags))
        return sorted(bags), desired

    async def history_round(self, limit: int = HISTORY_PER_ROUND) -> int:
        """Recompute the replay history of up to `limit` bags marked stale; returns how
        many. In its own transaction: a bag judged again meanwhile is marked again."""
        async with self.pool.acquire() as conn, conn.transaction():
            tags = await history.take_stale(conn, limit)
            if not tags:
                return 0
            bags = await states.load(conn, states.BAGS, tags)
            flights = await states.load(
                conn, states.FLIGHTS, sorted({b.flight_id for b in bags.values() if b.flight_id})
            )
            pilgrims = await states.load(
                conn,
                states.PILGRIMS,
                sorted({b.pilgrim_id for b in bags.values() if b.pilgrim_id}),
            )
            await self._save_histories(conn, tags, flights, pilgrims)
        return len(tags)

    async def _save_histories(
        self,
        conn: asyncpg.Connection,
        tags: Sequence[str],
        flights: dict[str, FlightState],
        pilgrims: dict[str, PilgrimState],
    ) -> None:
        """The judged bags' alert spans and stage steps in event time, from their journaled
        events (tariq/domain/history.py), for the operators' replay."""
        events: dict[str, list[BagCoded | BagScanned]] = {tag: [] for tag in tags}
        for tag, payload in await history.bag_events(conn, tags):
            try:
                event = decode_journaled(payload)
            except InvalidEvent:  # journaled as valid; a later rule must not stop rounds
                continue
            if isinstance(event, BagCoded | BagScanned):
                events[tag].append(event)
        histories = [
            bag_history(tag, evs, flights, pilgrims, self.thresholds) for tag, evs in events.items()
        ]
        await history.save_bag_histories(conn, tags, histories)

    async def _judge_vehicles(
        self, conn: asyncpg.Connection, ids: Sequence[str], clock: datetime | None
    ) -> VehiclesRound:
        """Load the vehicles' loads, recent fixes, positions, previous judgements and
        destinations; judge them (tariq/domain/vehicles.py). Every vehicle is judged from
        its fixes (the stall rule is geographic), whatever it carries."""
        if not ids:
            return VehiclesRound([], [], [], [])
        pilgrims, bags = await db.vehicle_loads(conn, ids)
        aboard: dict[str, tuple[list[PilgrimState], list[BagState]]] = {v: ([], []) for v in ids}
        for p in pilgrims.values():
            if p.bus_vehicle_id in aboard:
                aboard[p.bus_vehicle_id][0].append(p)
        for b in bags.values():
            if b.truck_vehicle_id in aboard:
                aboard[b.truck_vehicle_id][1].append(b)
        loads = {v: carried_by(v, *aboard[v]) for v in ids}
        fixes: dict[str, list[Fix]] = {v: [] for v in ids}
        earliest = {
            v: t
            for v in ids
            if (t := fixes_from(clock, loads[v].since, self.thresholds)) is not None
        }
        for v, fix in await db.fixes_from(conn, earliest, FIXES_BEFORE):
            fixes[v].append(fix)
        previous = await db.vehicle_judgements(conn, ids)
        positions = await states.load(conn, states.VEHICLES, ids)
        hotel_ids = sorted({h for c in loads.values() for h in c.hotels})
        hotels = await states.load(conn, states.HOTELS, hotel_ids)
        told = await trips.told_etas(conn, [v for v, c in loads.items() if c.tags_by_hotel])
        return judge_vehicles(
            ids,
            loads,
            fixes,
            previous,
            positions,
            hotels,
            clock,
            self.thresholds,
            self._plan,
            REPLAN_EVERY,
            told,
            stall_hotels=self._hotel_places,
        )

    async def _write(
        self,
        conn: asyncpg.Connection,
        tags: Sequence[str],
        vehicle_ids: Sequence[str],
        desired: dict[tuple[str, str], Alert],
        clock: datetime | None,
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Raise what should be open and is not; resolve what is open and should not be."""
        open_now = await db.open_alerts_of(conn, [*tags, *vehicle_ids])
        to_resolve, to_raise = alert_changes(open_now, desired, set(tags), set(vehicle_ids))
        now = clock or datetime.now().astimezone()
        resolved = await db.resolve_alerts(conn, to_resolve, now)
        raised = await db.raise_alerts(conn, to_raise, now)
        return raised, resolved

    async def _publish(self, judged: Judged, counts: dict[str, int], round_no: int) -> None:
        """The round's changes to the live feed (after the transaction committed)."""
        changes = [alert_view(r) for r in judged.raised + judged.resolved]
        await self.live.publish_alerts(changes, counts, round_no, judged.vehicle_status)
        if judged.notices:
            await self.live.publish_notices([notice_as_dict(n) for n in judged.notices])

    # ---- the ETA planner (its road network loads on first use) ---------------------------

    def planner(self) -> EtaPlanner:
        if self._planner is None:
            self._planner = EtaPlanner()
        return self._planner

    def _plan(
        self, lat: float, lon: float, at: datetime, destinations: Sequence[Destination]
    ) -> list[PlannedStop]:
        return self.planner().plan(lat, lon, at, destinations)
