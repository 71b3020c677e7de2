"""The stream's service layer: one batch of input messages in, exact effects out.

Per batch: decode (bad input → dead letters), translate IATA messages into derived
events (republished under their own keys), then one PostgreSQL transaction journals the
events (the unique `event_id` makes duplicates and redeliveries change nothing), folds
the new bag events into bag state, and updates the counters; after commit the live
mirror in Redis is updated and the changes are announced.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
import orjson

from stream import metrics as stream_metrics
from tagging.iata import IataParseError, translate
from tariq.adapters.db import staging, states, store
from tariq.adapters.db.outbox import enqueue_notices
from tariq.adapters.live import LiveMirror
from tariq.adapters.outages import REDIS, OutageLog, dependency_down, retry_while_down
from tariq.config import pii_key_setting
from tariq.domain import feed
from tariq.domain.entities import VehicleState
from tariq.domain.events import (
    BagScanned,
    IataMessage,
    InvalidEvent,
    VehiclePosition,
    event_from_object,
    partition_key,
    rfc3339,
)
from tariq.domain.notices import Notice, bags_delivered, notice_as_dict
from tariq.domain.records import (
    Accepted,
    DeadLetter,
    InputRecord,
    child_event_id,
    decode_batch,
    fold,
    seal_registrations,
    touched_entities,
)
from tariq.domain.watermark import PartitionProgress

log = logging.getLogger(__name__)
RETRIES = 5

# Publishes derived events: (key, value, parent_event_id) triples.
Republish = Callable[[Sequence[tuple[str, bytes, str]]], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class BatchOutcome:
    processed: int
    duplicates: int
    rejected: int
    bags_changed: int


def translate_iata(
    accepted: Sequence[Accepted],
) -> tuple[list[tuple[str, bytes, str]], list[DeadLetter]]:
    """The contract events each `iata.message` means, or a dead letter with the reason."""
    derived: list[tuple[str, bytes, str]] = []
    dead: list[DeadLetter] = []
    for item in accepted:
        event = item.event
        if not isinstance(event, IataMessage):
            continue
        occurred_at = rfc3339(event.occurred_at) or ""
        try:
            payloads = translate(event.text, occurred_at=occurred_at)
            children = []
            for index, payload in enumerate(payloads):
                body = {**payload, "event_id": child_event_id(event.event_id, index)}
                body.setdefault("occurred_at", occurred_at)
                if event.source:
                    body["source"] = event.source
                child = event_from_object(body)
                children.append((partition_key(child), orjson.dumps(body), event.event_id))
        except (IataParseError, InvalidEvent) as exc:
            log.info(
                "unparseable IATA message dead-lettered", extra={"event_ids": [event.event_id]}
            )
            reason = f"unparseable IATA message: {exc}"
        except Exception as exc:  # a message the parser did not foresee must not stop us
            log.warning("IATA translation failed at %s: %s", item.record.source_ref, type(exc))
            reason = f"unparseable IATA message: {type(exc).__name__}"
        else:
            derived.extend(children)
            continue
        dead.append(
            DeadLetter.of(item.record.source_ref, item.record.scope, reason, item.record.value)
        )
    return derived, dead


# What a record's content can make PostgreSQL or our own code refuse: the batch is
# bisected to find the records responsible (dead-lettered), and the rest goes on.
# Transient failures (connection, deadlock, serialization) are not in this list.
POISON: tuple[type[BaseException], ...] = (
    asyncpg.DataError,
    asyncpg.IntegrityConstraintViolationError,
    UnicodeError,
    RecursionError,
    OverflowError,
    ValueError,
    TypeError,
)


@dataclass(frozen=True, slots=True)
class _Turn:
    """A batch's place among the batches in flight: `ahead` is set once the batch handed
    over before it locked its entities, `locked` once this one did (or gave up);
    `ahead_counted` once the batch before locked its counter rows, `counted` once this one
    did (or gave up)."""

    ahead: asyncio.Event | None
    locked: asyncio.Event
    ahead_counted: asyncio.Event | None
    counted: asyncio.Event

    def give_up(self) -> None:
        """The batches after this one go on without waiting for it."""
        self.locked.set()
        self.counted.set()


class BatchProcessor:
    def __init__(
        self,
        pool: asyncpg.Pool,
        live: LiveMirror,
        republish: Republish,
        outages: OutageLog | None = None,
    ) -> None:
        self.pool = pool
        self.live = live
        self.republish = republish
        self._pii_key: bytes | None = None
        self.outages = outages or OutageLog(log, "ingest")
        # Set when a batch committed but Redis could not be told: the worker re-syncs the
        # mirror from PostgreSQL once Redis answers (stream/app.py).
        self.mirror_stale = False
        # Set once the batch handed over last has locked its entities, its counter rows.
        self._last_locked: asyncio.Event | None = None
        self._last_counted: asyncio.Event | None = None

    async def process(
        self,
        records: Sequence[InputRecord],
        progress: Mapping[str, PartitionProgress] | None = None,
    ) -> BatchOutcome:
        """Process a batch; input that PostgreSQL (or the decoding) refuses never stops
        the worker: the batch is split in halves until the records responsible are alone,
        and those are dead-lettered with the reason and their source offset.

        `progress` says, per scope, where the batch leaves its input partition (the
        consumer's lag after it); it is recorded with the counters, for the reconciler's
        judge clock (tariq/domain/watermark.py). Split, it goes with the second half.

        Batches in flight lock their entities in the order they were handed over: a later
        batch that locked a bag first would commit its later scans before the earlier
        batch's coding, and the reconciler would see, for a moment, a bag scanned and not
        coded (an `unknown_tag` raised and resolved again: 934 of them on the day bench
        when batches varied in size). They also lock their partitions' counter rows in that
        order, so they commit in it: a later batch committing first would move a
        partition's clock past events still uncommitted in the earlier one, and the judge
        clock with it (a bag's loaded scan unseen at its flight's departure would make a
        `left_behind` raised and resolved again)."""
        turn = _Turn(self._last_locked, asyncio.Event(), self._last_counted, asyncio.Event())
        self._last_locked, self._last_counted = turn.locked, turn.counted
        try:
            return await self._isolating(records, progress or {}, turn)
        finally:
            turn.give_up()

    async def _isolating(
        self,
        records: Sequence[InputRecord],
        progress: Mapping[str, PartitionProgress],
        turn: _Turn | None = None,
    ) -> BatchOutcome:
        try:
            return await self._retried(records, progress, turn)
        except POISON as exc:
            if len(records) == 1:
                return await self._reject(records[0], exc)
            log.warning(
                "batch of %d refused (%s); isolating the records responsible",
                len(records),
                type(exc).__name__,
            )
        if turn is not None:
            turn.give_up()  # its halves go in their own time: the batch went wrong
        middle = len(records) // 2
        first = await self._isolating(records[:middle], {})
        second = await self._isolating(records[middle:], progress)
        return BatchOutcome(
            first.processed + second.processed,
            first.duplicates + second.duplicates,
            first.rejected + second.rejected,
            first.bags_changed + second.bags_changed,
        )

    async def _reject(self, record: InputRecord, exc: BaseException) -> BatchOutcome:
        """Dead-letter one record that could not be processed, and count it."""
        reason = f"refused while processing: {type(exc).__name__}: {exc}"
        log.warning("dead-lettered %s: %s", record.source_ref, type(exc).__name__)
        dead = DeadLetter.of(record.source_ref, record.scope, reason, record.value)
        async with self.pool.acquire() as conn, conn.transaction():
            await store.lock_scopes(conn, [record.scope])
            new = await store.insert_dead_letters(conn, [dead])
            totals = await store.update_scopes(
                conn, {record.scope: store.ScopeChange(rejected=len(new))}, {}
            )
        await self._mirror(self.live.publish_batch(totals, []))
        return BatchOutcome(0, 0, len(new), 0)

    async def _retried(
        self,
        records: Sequence[InputRecord],
        progress: Mapping[str, PartitionProgress],
        turn: _Turn | None = None,
    ) -> BatchOutcome:
        """While PostgreSQL or the broker is down, the batch waits and is run again (nothing
        is committed, its offsets neither); run again after a commit, it changes nothing (the
        journal). A transaction PostgreSQL aborted (a deadlock between batches in flight, a
        serialization failure, a lock table full of other batches' entity locks: "out of
        shared memory") rolled back whole, so it is run again."""
        for attempt in range(1, RETRIES + 1):
            try:
                return await retry_while_down(
                    lambda: self._process(records, progress, turn), self.outages
                )
            except (
                asyncpg.DeadlockDetectedError,
                asyncpg.SerializationError,
                asyncpg.OutOfMemoryError,
            ) as exc:
                if attempt == RETRIES:
                    raise
                log.warning("batch aborted (%s); retrying (%d/%d)", exc, attempt, RETRIES)
                await asyncio.sleep(0.05 * attempt)
        raise AssertionError("unreachable")

    async def _mirror(self, publish: Awaitable[None]) -> None:
        """Tell Redis; if it is down, PostgreSQL has the batch and the mirror is re-synced
        from it when Redis is back, so the batch goes on."""
        try:
            await publish
        except Exception as exc:
            if dependency_down(exc, plain=REDIS) is None:
                raise
            self.mirror_stale = True
            self.outages.failed(REDIS, exc)

    async def _process(
        self,
        records: Sequence[InputRecord],
        progress: Mapping[str, PartitionProgress],
        turn: _Turn | None = None,
    ) -> BatchOutcome:
        started = time.perf_counter()
        decoded = decode_batch(records)
        derived, iata_dead = translate_iata(decoded.accepted)
        if derived:
            # Before the parents are journaled: if we crash in between, the redelivered
            # parents publish the same derived ids again, which the journal drops.
            await self.republish(derived)
        dead = decoded.dead + iata_dead
        dead_refs = {d.source_ref for d in iata_dead}
        accepted = [a for a in decoded.accepted if a.record.source_ref not in dead_refs]

        # Duplicates inside the batch: the first copy is the event, the rest duplicates.
        first: dict[str, Accepted] = {}
        repeats: list[Accepted] = []
        for item in accepted:
            if item.event.event_id in first:
                repeats.append(item)
            else:
                first[item.event.event_id] = item
        unique = list(first.values())
        # The batch's partitions, and those the consumer reports a lag for (tariq/domain/
        # watermark.py), whose counters rows it updates too.
        scopes = {r.scope for r in records} | set(progress)
        pii_key = await self.pii_key()
        if turn is not None and turn.ahead is not None:
            # Before this batch holds anything in PostgreSQL, so the batch ahead never
            # waits for it there while it waits here.
            await turn.ahead.wait()

        async with self.pool.acquire() as conn, conn.transaction():
            await staging.prepare(conn)
            journaled_before = await store.insert_journal(conn, unique)
            fresh = [a for a in unique if a.event.event_id not in journaled_before]
            seen_before = [a for a in unique if a.event.event_id in journaled_before]
            true_duplicates = await store.record_duplicates(conn, seen_before + repeats)
            new_dead = await store.insert_dead_letters(conn, dead)

            touched = touched_entities(a.event for a in fresh)
            await store.lock_entities(
                conn, [f"{kind}:{key}" for kind, keys in touched.items() for key in keys]
            )
            if turn is not None:
                turn.locked.set()
            loaded = {
                kind: await states.load(conn, TABLES[kind], sorted(keys))
                for kind, keys in touched.items()
            }
            stored = {kind: set(found) for kind, found in loaded.items()}  # fold adds to it
            folded = fold(loaded, fresh)
            seal_registrations(pii_key, folded.changed["pilgrim"], fresh)
            for kind, changed in folded.changed.items():
                await states.save(conn, TABLES[kind], list(changed.values()), stored[kind])
            await states.insert_fixes(
                conn,
                [
                    (e.vehicle_id, e.occurred_at, e.event_id, e.lat, e.lon)
                    for e in (a.event for a in fresh)
                    if isinstance(e, VehiclePosition)
                ],
            )
            await states.mark_dirty(conn, folded.dirty)
            notices = await enqueue_notices(conn, delivery_notices(fresh, folded.changed["bag"]))
            # The feeds show each changed bag with its pilgrim's group.
            groups = await states.pilgrim_groups(
                conn, sorted({b.pilgrim_id for b in folded.changed["bag"].values() if b.pilgrim_id})
            )

            changes = scope_changes(scopes, progress, fresh, true_duplicates, new_dead)
            # Last, and held only until commit: the counter rows of the batch's partitions,
            # so their versions grow in commit order while batches otherwise overlap; after
            # the batch ahead locked them (so after it commits), for the clocks' sake
            # (`process`). Nothing the batch ahead still needs is held here.
            if turn is not None and turn.ahead_counted is not None:
                await turn.ahead_counted.wait()
            await store.lock_scopes(conn, sorted(scopes))
            if turn is not None:
                turn.counted.set()
            totals = await store.update_scopes(conn, changes, folded.stage_delta)
            await store.update_flight_stages(conn, folded.flight_stage_delta)

        bags = folded.changed["bag"]
        vehicles = folded.changed["vehicle"]
        await self._mirror(
            self.live.publish_batch(
                totals,
                [_bag_change(bag, groups.get(bag.pilgrim_id or "")) for bag in bags.values()],
                [vehicle_view(v) for v in vehicles.values()],
            )
        )
        if notices:
            await self._mirror(self.live.publish_notices([notice_as_dict(n) for n in notices]))
        stream_metrics.observe_batch(records, fresh, true_duplicates, new_dead, started)
        processed = sum(c.processed for c in changes.values())
        return BatchOutcome(processed, len(true_duplicates), len(new_dead), len(bags))

    async def pii_key(self) -> bytes:
        """The key of passport hashes, resolved once per process (in its own transaction,
        so that a rolled-back batch never leaves a key that was not kept)."""
        if self._pii_key is None:
            async with self.pool.acquire() as conn:
                self._pii_key = await store.pii_key(conn, pii_key_setting())
        return self._pii_key


def scope_changes(
    scopes: set[str],
    progress: Mapping[str, PartitionProgress],
    fresh: Sequence[Accepted],
    duplicates: Sequence[Accepted],
    dead: Sequence[DeadLetter],
) -> dict[str, store.ScopeChange]:
    """What a batch adds to each partition's counters (derived events are not input)."""
    changes = {s: store.ScopeChange(progress=progress.get(s)) for s in scopes}
    for a in fresh:
        change = changes[a.record.scope]
        if a.record.parent_event_id is None:
            change.processed += 1
        if change.clock is None or a.event.occurred_at > change.clock:
            change.clock = a.event.occurred_at
        if change.first is None or a.event.occurred_at < change.first:
            change.first = a.event.occurred_at
    for a in duplicates:
        if a.record.parent_event_id is None:
            changes[a.record.scope].duplicates += 1
    for d in dead:
        changes[d.scope].rejected += 1
    return changes


def delivery_notices(fresh: Sequence[Accepted], bags: dict[str, Any]) -> list[Notice]:
    """One `bags_delivered` notice per hotel for the delivery scans new in this batch."""
    by_hotel: dict[str, list[BagScanned]] = defaultdict(list)
    for item in fresh:
        event = item.event
        if isinstance(event, BagScanned) and event.checkpoint == "delivered":
            by_hotel[event.location].append(event)
    notices = []
    for hotel, scans in sorted(by_hotel.items()):
        trucks = {bags[s.tag].truck_vehicle_id for s in scans if s.tag in bags}
        notices.append(
            bags_delivered(
                hotel_id=hotel,
                tags=[s.tag for s in scans],
                event_ids=[s.event_id for s in scans],
                occurred_at=max(s.occurred_at for s in scans),
                vehicle_id=trucks.pop() if len(trucks) == 1 else None,
            )
        )
    return notices


TABLES = {
    "bag": states.BAGS,
    "flight": states.FLIGHTS,
    "pilgrim": states.PILGRIMS,
    "hotel": states.HOTELS,
    "vehicle": states.VEHICLES,
}


def vehicle_view(vehicle: VehicleState) -> feed.Position:
    """A vehicle's position as the live feed shows it (docs/feeds.md); its status comes
    from the reconciler's judgement, sent separately (`vehicle_status`)."""
    return feed.Position(
        vehicle_id=vehicle.vehicle_id,
        kind=vehicle.kind,
        lat=vehicle.lat,
        lon=vehicle.lon,
        speed_kmh=vehicle.speed_kmh,
        heading=vehicle.heading,
        at=vehicle.at,
    )


def _bag_change(state: Any, group_id: str | None) -> feed.Bag:
    return feed.Bag(
        tag=state.tag,
        stage=state.stage,
        location=state.location,
        hotel_id=state.hotel_id,
        flight_id=state.flight_id,
        pilgrim_id=state.pilgrim_id,
        group_id=group_id,
        updated_at=state.updated_at,
    )
