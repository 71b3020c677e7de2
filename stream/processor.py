"""The stream's service layer: one batch of input messages in, exact effects out.

Per batch: decode (bad input → dead letters), translate IATA messages into derived
events (republished under their own keys), then one PostgreSQL transaction journals the
events (the unique `event_id` makes duplicates and redeliveries change nothing), folds
the new bag events into bag state, and updates the counters; after commit the live
mirror in Redis is updated and the changes are announced.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
import orjson

from stream.ingest import (
    Accepted,
    DeadLetter,
    InputRecord,
    apply_bag_events,
    bag_events,
    child_event_id,
    decode_batch,
)
from tagging.iata import IataParseError, translate
from tariq.db import store
from tariq.events import IataMessage, InvalidEvent, event_from_object, partition_key
from tariq.live import LiveMirror

log = logging.getLogger(__name__)

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
        occurred_at = event.occurred_at.isoformat().replace("+00:00", "Z")
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
            dead.append(
                DeadLetter(
                    item.record.source_ref,
                    item.record.scope,
                    f"unparseable IATA message: {exc}",
                    item.record.value,
                )
            )
            continue
        derived.extend(children)
    return derived, dead


class BatchProcessor:
    def __init__(self, pool: asyncpg.Pool, live: LiveMirror, republish: Republish) -> None:
        self.pool = pool
        self.live = live
        self.republish = republish

    async def process(self, records: Sequence[InputRecord]) -> BatchOutcome:
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
        touched_tags = sorted({e.tag for e in bag_events(unique)})
        scopes = {r.scope for r in records}

        async with self.pool.acquire() as conn, conn.transaction():
            await store.lock_scopes(conn, sorted(scopes))
            await store.lock_tags(conn, touched_tags)
            new_ids = await store.insert_journal(conn, unique)
            fresh = [a for a in unique if a.event.event_id in new_ids]
            seen_before = [a for a in unique if a.event.event_id not in new_ids]
            true_duplicates = await store.record_duplicates(conn, seen_before + repeats)
            new_dead = await store.insert_dead_letters(conn, dead)

            fresh_bag_events = bag_events(fresh)
            changed_tags = sorted({e.tag for e in fresh_bag_events})
            states = await store.load_bags(conn, changed_tags)
            stage_delta_by_scope: dict[str, dict[str, int]] = defaultdict(dict)
            by_scope: dict[str, list[Accepted]] = defaultdict(list)
            for a in fresh:
                by_scope[a.record.scope].append(a)
            # Stage counts are kept per scope; a bag's moves are charged to the scope of
            # the event that moved it, and only the sum over scopes is ever shown.
            for scope, items in by_scope.items():
                scope_states = {
                    t: states[t] for t in {e.tag for e in bag_events(items)} if t in states
                }
                delta = apply_bag_events(scope_states, bag_events(items))
                states.update(scope_states)
                stage_delta_by_scope[scope] = dict(delta)
            await store.save_bags(conn, [states[t] for t in changed_tags])

            changes: dict[str, store.ScopeChange] = {s: store.ScopeChange() for s in scopes}
            for a in fresh:
                change = changes[a.record.scope]
                if a.record.parent_event_id is None:
                    change.processed += 1
                if change.clock is None or a.event.occurred_at > change.clock:
                    change.clock = a.event.occurred_at
            for a in true_duplicates:
                if a.record.parent_event_id is None:
                    changes[a.record.scope].duplicates += 1
            for d in new_dead:
                changes[d.scope].rejected += 1
            totals = await store.update_scopes(conn, changes, stage_delta_by_scope)

        await self.live.publish_batch(totals, [_bag_change(states[t]) for t in changed_tags])
        processed = sum(c.processed for c in changes.values())
        return BatchOutcome(processed, len(true_duplicates), len(new_dead), len(changed_tags))


def _bag_change(state: Any) -> dict[str, Any]:
    return {
        "tag": state.tag,
        "stage": state.stage,
        "location": state.location,
        "hotel_id": state.hotel_id,
        "flight_id": state.flight_id,
        "updated_at": state.updated_at.isoformat().replace("+00:00", "Z")
        if state.updated_at
        else None,
    }
