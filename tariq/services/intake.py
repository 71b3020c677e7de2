"""The web intake of events (`POST /api/events`): split the body into items, decode each
by the contract's rules, keep the bad ones as dead letters (counted under the `http`
scope and mirrored to the live summary like the stream's rejections), and only then
publish the good ones to the input topic.

Limits (contract v1.1 section 3): a body is at most 10 MiB (the handler reads it with a
bounded reader) and 10,000 events, else 413 and nothing is taken. A body that is neither
a JSON array nor JSON Lines of objects is one dead letter and a 400. Each item keeps its
exact bytes: what is published is what was posted, except that a registration's passport
number is replaced by its keyed hash (`seal_passport`), so the topic never carries it.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

import asyncpg
import orjson

from tariq.adapters.db import store
from tariq.adapters.kafka import EventProducer
from tariq.adapters.live import LiveMirror
from tariq.domain.events import AnyEvent, InvalidEvent, decode_event, partition_key
from tariq.domain.records import DeadLetter, seal_passport

HTTP_SCOPE: Final = "http"
MAX_BODY_BYTES: Final = 10 * 1024 * 1024
MAX_EVENTS: Final = 10_000
# The answer lists the first rejections only (with their total), so it stays small.
MAX_REJECTED_LISTED: Final = 100
MAX_ERROR_CHARS: Final = 300

# Bodies up to this size are tried as a one-item array first (`_one_item`).
ONE_ITEM_MAX_BYTES: Final = 16 * 1024

# A JSON string, or one of the characters that delimit the items of an array.
_ARRAY_TOKEN: Final = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{},]', re.DOTALL)


class UnreadableBody(ValueError):
    """The body is neither a JSON array nor JSON Lines; it was kept as one dead letter."""


class TooManyEvents(ValueError):
    """More than MAX_EVENTS items: nothing was taken."""


@dataclass(frozen=True, slots=True)
class IntakeOutcome:
    accepted: int
    rejected: list[dict[str, Any]]  # {"index", "error"}, the first MAX_REJECTED_LISTED
    rejected_total: int


def split_array(body: bytes) -> list[bytes]:
    """The raw bytes of each item of a JSON array, found by a scan of its strings and
    brackets (no recursive parse: a deeply nested item is just an item); raises
    ValueError when the body is not one well-bracketed array."""
    items: list[bytes] = []
    depth = 0
    start = 0
    end = -1
    for match in _ARRAY_TOKEN.finditer(body):
        token = match.group()
        if token[:1] == b'"':
            if depth == 0:
                raise ValueError("text outside the array")
            continue
        if token in (b"[", b"{"):
            depth += 1
            if depth == 1:
                if token != b"[" or body[: match.start()].strip():
                    raise ValueError("expected a JSON array")
                start = match.end()
        elif token in (b"]", b"}"):
            depth -= 1
            if depth < 0:
                raise ValueError("unbalanced brackets")
            if depth == 0:
                end = match.start()
                break
        elif depth == 1:  # a comma between items
            items.append(body[start : match.start()])
            start = match.end()
            if len(items) > MAX_EVENTS:
                raise TooManyEvents(f"more than {MAX_EVENTS} events")
    if end < 0 or depth != 0:
        raise ValueError("unterminated JSON array")
    if body[end + 1 :].strip():
        raise ValueError("text after the array")
    last = body[start:end]
    if last.strip() or items:
        items.append(last)
    if any(not item.strip() for item in items):
        raise ValueError("an empty item in the array")
    return [item.strip() for item in items]


def _one_item(array: bytes) -> list[bytes] | None:
    """The single item of a valid one-item JSON array, or None: a device's POST holds one
    event, and orjson's parse in C costs a tenth of `split_array`'s scan in Python. A big
    body is left to the scan (a second full parse would be waste)."""
    if len(array) > ONE_ITEM_MAX_BYTES:
        return None
    try:
        parsed = orjson.loads(array)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(parsed, list) or len(parsed) != 1:
        return None
    return [array[1:-1].strip()]


def split_body(body: bytes) -> list[bytes]:
    """The raw items of a posted body: a JSON array, or JSON Lines of objects (blank lines
    skipped). Raises ValueError when it is neither, TooManyEvents past the limit."""
    stripped = body.strip()
    if stripped.startswith(b"["):
        items = _one_item(stripped) or split_array(stripped)
    elif stripped.startswith(b"{"):
        items = [line.strip() for line in stripped.splitlines() if line.strip()]
    else:
        raise ValueError("expected a JSON array or JSON Lines of objects")
    if len(items) > MAX_EVENTS:
        raise TooManyEvents(f"{len(items)} events (at most {MAX_EVENTS})")
    return items


class Intake:
    def __init__(
        self, pool: asyncpg.Pool, live: LiveMirror, producer: EventProducer, pii_key: bytes
    ) -> None:
        self.pool = pool
        self.live = live
        self.producer = producer
        self.pii_key = pii_key

    async def take(
        self, body: bytes, screen: Callable[[AnyEvent], str | None] | None = None
    ) -> IntakeOutcome:
        """Dead-letter the body's bad items, then publish its valid events. Raises
        TooManyEvents (nothing taken), or UnreadableBody after keeping the body as one
        dead letter when it cannot be split into items. `screen(event)` says why the poster
        may not post a valid event (it is then rejected like an invalid one), or None."""
        try:
            items = split_body(body)
        except TooManyEvents:
            raise
        except ValueError as exc:
            await self.keep_rejected([DeadLetter.of(_ref(), HTTP_SCOPE, f"not JSON: {exc}", body)])
            raise UnreadableBody(str(exc)) from exc

        to_send: list[tuple[bytes | None, bytes]] = []
        rejected: list[dict[str, Any]] = []
        dead: list[DeadLetter] = []
        request_ref = ""  # named on the first rejected item: most requests have none
        for index, raw in enumerate(items):
            try:
                event = decode_event(raw)
                if screen is not None and (refusal := screen(event)) is not None:
                    raise InvalidEvent(refusal)
                # A passport number goes onto the topic only as its keyed hash.
                raw = seal_passport(raw, event, self.pii_key)
            except InvalidEvent as exc:
                reason = str(exc)
                request_ref = request_ref or _ref()
                dead.append(DeadLetter.of(f"{request_ref}:{index}", HTTP_SCOPE, reason, raw))
                if len(rejected) < MAX_REJECTED_LISTED:
                    rejected.append({"index": index, "error": dead[-1].reason[:MAX_ERROR_CHARS]})
                continue
            to_send.append((partition_key(event).encode(), raw))
        # Dead letters first: once anything is published, the request must not fail.
        await self.keep_rejected(dead)
        await self.producer.send_many(to_send)
        return IntakeOutcome(len(to_send), rejected, len(dead))

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
