"""The web intake of events (`POST /api/events`): decode each posted item, publish the
good ones to the input topic, and keep the bad ones as dead letters, counted under the
`http` scope and mirrored to the live summary like the stream's rejections.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

import asyncpg
import orjson

from tariq.adapters.db import store
from tariq.adapters.kafka import EventProducer
from tariq.adapters.live import LiveMirror
from tariq.domain.events import (
    AnyEvent,
    InvalidEvent,
    decode_event,
    event_from_object,
    partition_key,
)
from tariq.domain.records import DeadLetter

HTTP_SCOPE: Final = "http"


class UnreadableBody(ValueError):
    """The body is neither a JSON array nor JSON Lines; it was kept as one dead letter."""


@dataclass(frozen=True, slots=True)
class IntakeOutcome:
    accepted: int
    rejected: list[dict[str, Any]]  # {"index", "error"} per rejected item, in order


def split_body(body: bytes) -> list[tuple[Any, bytes]]:
    """The items of a posted body: a JSON array, or JSON Lines (blank lines skipped).

    Each item is (parsed value or None, raw bytes), so that an item that is not even JSON
    is still kept, raw, as a dead letter.
    """
    stripped = body.strip()
    if stripped.startswith(b"["):
        parsed = orjson.loads(stripped)
        if not isinstance(parsed, list):
            raise ValueError("expected a JSON array")
        return [(item, orjson.dumps(item)) for item in parsed]
    return [(None, line) for line in stripped.splitlines() if line.strip()]


class Intake:
    def __init__(self, pool: asyncpg.Pool, live: LiveMirror, producer: EventProducer) -> None:
        self.pool = pool
        self.live = live
        self.producer = producer

    async def take(
        self, body: bytes, screen: Callable[[AnyEvent], str | None] | None = None
    ) -> IntakeOutcome:
        """Publish the body's valid events; dead-letter the others. Raises UnreadableBody
        (after keeping the body as a dead letter) when it cannot be split into items.
        `screen(event)` says why the poster may not post a valid event (it is then rejected
        like an invalid one), or None when it may."""
        try:
            items = split_body(body)
        except ValueError as exc:  # orjson.JSONDecodeError is a ValueError
            await self.keep_rejected([DeadLetter(_ref(), HTTP_SCOPE, f"not JSON: {exc}", body)])
            raise UnreadableBody(str(exc)) from exc

        to_send: list[tuple[bytes | None, bytes]] = []
        rejected: list[dict[str, Any]] = []
        dead: list[DeadLetter] = []
        request_ref = _ref()
        for index, (parsed, raw) in enumerate(items):
            try:
                event = decode_event(raw) if parsed is None else event_from_object(parsed)
                if screen is not None and (refusal := screen(event)) is not None:
                    raise InvalidEvent(refusal)
            except InvalidEvent as exc:
                rejected.append({"index": index, "error": str(exc)})
                dead.append(DeadLetter(f"{request_ref}:{index}", HTTP_SCOPE, str(exc), raw))
                continue
            to_send.append((partition_key(event).encode(), raw))
        await self.producer.send_many(to_send)
        await self.keep_rejected(dead)
        return IntakeOutcome(len(to_send), rejected)

    async def keep_rejected(self, dead: Sequence[DeadLetter]) -> None:
        """Rejected input is kept as dead letters and counted, like the stream's."""
        if not dead:
            return
        async with self.pool.acquire() as conn, conn.transaction():
            await store.lock_scopes(conn, [HTTP_SCOPE])
            new = await store.insert_dead_letters(conn, dead)
            totals = await store.update_scopes(
                conn, {HTTP_SCOPE: store.ScopeChange(rejected=len(new))}, {}
            )
        await self.live.publish_batch(totals, [])


def _ref() -> str:
    return f"http:{uuid.uuid4()}"
