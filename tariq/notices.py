"""Hotel notices (contract section 5): signed webhooks delivered from a PostgreSQL outbox.

The pure part (the `Notice` type, stable `notice_id`, canonical body, signature, retry
schedule) does no I/O. The outbox part (`enqueue_notices`, `set_webhook`, `fetch_notices`)
and the delivery loop (`deliver_once`, `deliver_forever`) talk to PostgreSQL and to the
hotels' servers.

Delivery is at least once: a notice leaves the outbox only after the hotel answered 2xx, and
its `notice_id` and body bytes are the same on every attempt, so the hotel drops repeats.
A deliverer works on one hotel's queue at a time under a lease (claimed with
`FOR UPDATE SKIP LOCKED`), sending that hotel's notices in the order they were enqueued and
stopping at the first failure, so several deliverers can run at once without sending the
same notice twice in a round, and a crashed deliverer's hotels are picked up once its lease
expires.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import random
import time
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, Literal, TypeAlias

import aiohttp
import asyncpg
import orjson

log = logging.getLogger(__name__)

NoticeKind = Literal["bags_en_route", "bags_delivered"]
NOTICE_KINDS: Final[tuple[NoticeKind, ...]] = ("bags_en_route", "bags_delivered")
SIGNATURE_HEADER: Final = "X-Tariq-Signature"
NOTICE_ID_HEADER: Final = "X-Tariq-Notice-Id"
_SIGNATURE_PREFIX: Final = "sha256="
# Sorted keys and `Z` times: the same notice always encodes to the same bytes.
_BODY_OPTIONS: Final = orjson.OPT_SORT_KEYS | orjson.OPT_UTC_Z
_ERROR_CHARS: Final = 500

Executor: TypeAlias = asyncpg.Connection | asyncpg.Pool


# --- the pure part ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Notice:
    """One notice to one hotel. `occurred_at` is the event time of what caused it (the truck
    leaving the airport, or the delivery scan); `eta` only for `bags_en_route`."""

    notice_id: str
    hotel_id: str
    kind: NoticeKind
    vehicle_id: str | None
    tags: tuple[str, ...]
    eta: datetime | None
    occurred_at: datetime

    def __post_init__(self) -> None:
        if self.kind not in NOTICE_KINDS:
            raise ValueError(f"kind must be one of {', '.join(NOTICE_KINDS)}, not {self.kind!r}")
        for name in ("eta", "occurred_at"):
            moment = getattr(self, name)
            if moment is not None and moment.utcoffset() is None:
                raise ValueError(f"{name} must carry a UTC offset")


def notice_id(
    kind: NoticeKind,
    hotel_id: str,
    vehicle_id: str | None,
    causes: Iterable[str],
    tags: Iterable[str],
) -> str:
    """A stable id from what caused the notice: the same kind, hotel, vehicle, causes (a trip
    id, or the ids of the triggering events) and tags give the same id, in any order and
    however often the events are processed. ETA and times are left out on purpose: they do
    not make a notice a different one."""
    identity = orjson.dumps(
        [kind, hotel_id, vehicle_id or "", sorted(set(causes)), sorted(set(tags))]
    )
    return "ntc_" + hashlib.sha256(identity).hexdigest()[:32]


def bags_en_route(
    *,
    hotel_id: str,
    vehicle_id: str,
    trip_id: str,
    tags: Iterable[str],
    eta: datetime | None,
    occurred_at: datetime,
) -> Notice:
    """The truck `vehicle_id` left the arrival airport on trip `trip_id` with these bags."""
    sorted_tags = tuple(sorted(set(tags)))
    return Notice(
        notice_id("bags_en_route", hotel_id, vehicle_id, [trip_id], sorted_tags),
        hotel_id,
        "bags_en_route",
        vehicle_id,
        sorted_tags,
        eta,
        occurred_at,
    )


def bags_delivered(
    *,
    hotel_id: str,
    tags: Iterable[str],
    event_ids: Iterable[str],
    occurred_at: datetime,
    vehicle_id: str | None = None,
) -> Notice:
    """These bags were delivered to the hotel; `event_ids` are the `delivered` scans' ids."""
    sorted_tags = tuple(sorted(set(tags)))
    return Notice(
        notice_id("bags_delivered", hotel_id, vehicle_id, event_ids, sorted_tags),
        hotel_id,
        "bags_delivered",
        vehicle_id,
        sorted_tags,
        None,
        occurred_at,
    )


def notice_as_dict(notice: Notice) -> dict[str, Any]:
    return {
        "notice_id": notice.notice_id,
        "hotel_id": notice.hotel_id,
        "kind": notice.kind,
        "vehicle_id": notice.vehicle_id,
        "tags": list(notice.tags),
        "eta": notice.eta,
        "occurred_at": notice.occurred_at,
    }


def encode_body(notice: Notice) -> bytes:
    """The exact bytes POSTed (and signed): compact JSON with sorted keys."""
    return orjson.dumps(notice_as_dict(notice), option=_BODY_OPTIONS)


def sign(body: bytes, secret: str) -> str:
    """The `X-Tariq-Signature` value: `sha256=<hex HMAC-SHA256 of body keyed by secret>`."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return _SIGNATURE_PREFIX + digest


def verify(body: bytes, secret: str, header: str | None) -> bool:
    """Whether `header` is the signature of `body` with `secret` (constant-time compare)."""
    if not header:
        return False
    expected = sign(body, secret).encode()
    return hmac.compare_digest(expected, header.strip().encode("utf-8", "replace"))


@dataclass(frozen=True, slots=True)
class RetrySchedule:
    """Exponential backoff with jitter and a cap: after the n-th failed attempt the next
    comes `min(cap, first * factor**(n-1))` later, less up to `jitter` of that at random, so
    that hotels' retries after an outage spread out instead of arriving together."""

    first_s: float = 1.0
    factor: float = 2.0
    cap_s: float = 300.0
    jitter: float = 0.2

    def __post_init__(self) -> None:
        if self.first_s <= 0 or self.cap_s < self.first_s:
            raise ValueError("need 0 < first_s <= cap_s")
        if self.factor < 1:
            raise ValueError("factor must be at least 1")
        if not 0 <= self.jitter < 1:
            raise ValueError("jitter must be in [0, 1)")

    def delay(self, failures: int, rand: float) -> float:
        """Seconds to wait after `failures` failed attempts (>= 1); `rand` in [0, 1)."""
        if failures < 1:
            raise ValueError("failures must be at least 1")
        # The exponent is bounded so that a long outage never overflows a float.
        base = min(self.cap_s, self.first_s * self.factor ** min(failures - 1, 64))
        return base * (1.0 - self.jitter * rand)


DEFAULT_SCHEDULE: Final = RetrySchedule()
# For tests and local runs: retries within tens of milliseconds.
FAST_SCHEDULE: Final = RetrySchedule(first_s=0.01, factor=2.0, cap_s=0.05, jitter=0.0)


# --- the outbox -------------------------------------------------------------------------------


async def enqueue_notices(conn: asyncpg.Connection, notices: Sequence[Notice]) -> list[Notice]:
    """Add notices to the outbox in the caller's transaction; a notice whose `notice_id` is
    already there (re-processed events) is ignored. Returns the notices that are new."""
    unique: dict[str, Notice] = {}
    for notice in notices:
        unique.setdefault(notice.notice_id, notice)
    if not unique:
        return []
    batch = list(unique.values())
    rows = await conn.fetch(
        """
        INSERT INTO notice_outbox (notice_id, hotel_id, kind, body)
        SELECT n.notice_id, n.hotel_id, n.kind, n.body
        FROM unnest($1::text[], $2::text[], $3::text[], $4::bytea[])
             WITH ORDINALITY AS n (notice_id, hotel_id, kind, body, position)
        ORDER BY n.position
        ON CONFLICT (notice_id) DO NOTHING
        RETURNING notice_id
        """,
        [n.notice_id for n in batch],
        [n.hotel_id for n in batch],
        [n.kind for n in batch],
        [encode_body(n) for n in batch],
    )
    new = {row["notice_id"] for row in rows}
    return [n for n in batch if n.notice_id in new]


async def set_webhook(pool: Executor, hotel_id: str, url: str, secret: str) -> None:
    """Where the hotel's notices go from now on. Its pending notices are due at once, so a
    fixed URL gets the backlog without waiting out the backoff earned by the old one."""
    async with _connection(pool) as conn, conn.transaction():
        await conn.execute(
            """
            INSERT INTO hotel_webhooks (hotel_id, url, secret) VALUES ($1, $2, $3)
            ON CONFLICT (hotel_id)
            DO UPDATE SET url = EXCLUDED.url, secret = EXCLUDED.secret, updated_at = now()
            """,
            hotel_id,
            url,
            secret,
        )
        await conn.execute(
            "UPDATE notice_outbox SET next_attempt_at = now()"
            " WHERE hotel_id = $1 AND delivered_at IS NULL AND next_attempt_at > now()",
            hotel_id,
        )


async def fetch_notices(
    pool: Executor, hotel_id: str, limit: int, offset: int = 0
) -> tuple[int, list[dict[str, Any]]]:
    """(total, a page of the hotel's notices, newest first), each the notice body with its
    delivery state: `status` (`pending`/`delivered`), `attempts`, `created_at`,
    `delivered_at`, `last_error`."""
    async with _connection(pool) as conn:
        total = await conn.fetchval(
            "SELECT count(*) FROM notice_outbox WHERE hotel_id = $1", hotel_id
        )
        rows = await conn.fetch(
            "SELECT body, attempts, created_at, delivered_at, last_error FROM notice_outbox"
            " WHERE hotel_id = $1 ORDER BY seq DESC LIMIT $2 OFFSET $3",
            hotel_id,
            limit,
            offset,
        )
    items = []
    for row in rows:
        item = orjson.loads(row["body"])
        item.update(
            status="pending" if row["delivered_at"] is None else "delivered",
            attempts=row["attempts"],
            created_at=row["created_at"],
            delivered_at=row["delivered_at"],
            last_error=row["last_error"],
        )
        items.append(item)
    return int(total), items


@asynccontextmanager
async def _connection(executor: Executor) -> AsyncIterator[asyncpg.Connection]:
    """A connection from a pool (acquired, then released), or the connection given."""
    if isinstance(executor, asyncpg.Pool):
        async with executor.acquire() as conn:
            yield conn
    else:
        yield executor


# --- delivery ---------------------------------------------------------------------------------


@dataclass(slots=True)
class Delivery:
    """How a deliverer works: see `deliver_once`."""

    schedule: RetrySchedule = DEFAULT_SCHEDULE
    concurrency: int = 16  # hotels served at once
    batch: int = 100  # notices of one hotel per claim
    timeout_s: float = 10.0  # per POST
    lease_s: float = 60.0  # how long a claim on a hotel's queue lasts
    rng: random.Random = field(default_factory=random.Random)

    def __post_init__(self) -> None:
        if self.concurrency < 1 or self.batch < 1:
            raise ValueError("concurrency and batch must be at least 1")
        if self.lease_s <= self.timeout_s:
            raise ValueError("lease_s must exceed timeout_s, or a claim could lapse mid-POST")


@dataclass(frozen=True, slots=True)
class _Claim:
    hotel_id: str
    url: str
    secret: str
    leased_until: datetime


@dataclass(slots=True)
class RoundResult:
    attempted: int = 0
    delivered: int = 0


_CLAIM = """
WITH due AS (
    SELECT w.hotel_id, head.next_attempt_at
    FROM hotel_webhooks AS w
    CROSS JOIN LATERAL (
        SELECT o.next_attempt_at FROM notice_outbox AS o
        WHERE o.hotel_id = w.hotel_id AND o.delivered_at IS NULL
        ORDER BY o.seq LIMIT 1
    ) AS head
    WHERE (w.leased_until IS NULL OR w.leased_until <= now())
      AND head.next_attempt_at <= now()
    ORDER BY head.next_attempt_at
    LIMIT $1
    FOR UPDATE OF w SKIP LOCKED
)
UPDATE hotel_webhooks AS w SET leased_until = now() + make_interval(secs => $2)
FROM due
WHERE w.hotel_id = due.hotel_id
RETURNING w.hotel_id, w.url, w.secret, w.leased_until
"""


async def deliver_once(
    pool: asyncpg.Pool,
    session: aiohttp.ClientSession | None = None,
    delivery: Delivery | None = None,
) -> int:
    """One round: claim up to `concurrency` hotels whose oldest pending notice is due, POST
    their notices in order (stopping at a hotel's first failure), record the outcomes.
    Returns how many notices were delivered (answered 2xx)."""
    result = await _deliver_round(pool, session, delivery or Delivery())
    return result.delivered


async def deliver_forever(
    pool: asyncpg.Pool,
    *,
    stop: asyncio.Event,
    schedule: RetrySchedule = DEFAULT_SCHEDULE,
    concurrency: int = 16,
    poll_s: float = 0.5,
    timeout_s: float = 10.0,
    lease_s: float = 60.0,
) -> None:
    """Deliver until `stop` is set: rounds back to back while there is work, otherwise a
    round every `poll_s`. A database or network failure is logged and retried, never fatal."""
    delivery = Delivery(schedule, concurrency, timeout_s=timeout_s, lease_s=lease_s)
    async with aiohttp.ClientSession() as session:
        while not stop.is_set():
            try:
                result = await _deliver_round(pool, session, delivery)
            except Exception:
                # The loop outlives database outages: the outbox keeps the notices meanwhile.
                log.exception("notice delivery round failed; retrying")
                result = RoundResult()
            if result.attempted == 0:
                with suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), poll_s)


async def _deliver_round(
    pool: asyncpg.Pool, session: aiohttp.ClientSession | None, delivery: Delivery
) -> RoundResult:
    claims = [
        _Claim(row["hotel_id"], row["url"], row["secret"], row["leased_until"])
        for row in await pool.fetch(_CLAIM, delivery.concurrency, delivery.lease_s)
    ]
    if not claims:
        return RoundResult()
    if session is None:
        async with aiohttp.ClientSession() as own:
            results = await _serve_all(pool, own, delivery, claims)
    else:
        results = await _serve_all(pool, session, delivery, claims)
    total = RoundResult()
    for result in results:
        total.attempted += result.attempted
        total.delivered += result.delivered
    return total


async def _serve_all(
    pool: asyncpg.Pool,
    session: aiohttp.ClientSession,
    delivery: Delivery,
    claims: list[_Claim],
) -> list[RoundResult]:
    outcomes = await asyncio.gather(
        *(_serve_hotel(pool, session, delivery, c) for c in claims), return_exceptions=True
    )
    results = []
    for claim, outcome in zip(claims, outcomes, strict=True):
        # One hotel's failure (a database error mid-way) must not stop the others' round;
        # its lease lapses and its notices are tried again.
        if isinstance(outcome, BaseException):
            if not isinstance(outcome, Exception):
                raise outcome
            log.error("delivering notices to hotel %s failed", claim.hotel_id, exc_info=outcome)
            continue
        results.append(outcome)
    return results


async def _serve_hotel(
    pool: asyncpg.Pool, session: aiohttp.ClientSession, delivery: Delivery, claim: _Claim
) -> RoundResult:
    result = RoundResult()
    started = time.monotonic()
    try:
        rows = await pool.fetch(
            "SELECT notice_id, body, attempts FROM notice_outbox"
            " WHERE hotel_id = $1 AND delivered_at IS NULL ORDER BY seq LIMIT $2",
            claim.hotel_id,
            delivery.batch,
        )
        for row in rows:
            # Never start a POST that could outlive the lease: another deliverer may then
            # claim this hotel, and the order and single sending would be lost.
            if time.monotonic() - started + delivery.timeout_s >= delivery.lease_s:
                break
            result.attempted += 1
            failure = await _post(session, claim, row["notice_id"], row["body"], delivery)
            if failure is None:
                await pool.execute(
                    "UPDATE notice_outbox SET delivered_at = now(), attempts = attempts + 1,"
                    " last_error = NULL WHERE notice_id = $1",
                    row["notice_id"],
                )
                result.delivered += 1
                continue
            wait_s = delivery.schedule.delay(row["attempts"] + 1, delivery.rng.random())
            await pool.execute(
                "UPDATE notice_outbox SET attempts = attempts + 1, last_error = $2,"
                " next_attempt_at = now() + make_interval(secs => $3) WHERE notice_id = $1",
                row["notice_id"],
                failure[:_ERROR_CHARS],
                wait_s,
            )
            # Later notices wait behind this one: the hotel gets them in order.
            break
    finally:
        # Only our own lease is released: if it lapsed, another deliverer owns the hotel.
        await pool.execute(
            "UPDATE hotel_webhooks SET leased_until = NULL"
            " WHERE hotel_id = $1 AND leased_until = $2",
            claim.hotel_id,
            claim.leased_until,
        )
    return result


async def _post(
    session: aiohttp.ClientSession,
    claim: _Claim,
    notice_id: str,
    body: bytes,
    delivery: Delivery,
) -> str | None:
    """POST one notice; None when the hotel answered 2xx, otherwise why it failed."""
    headers = {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: sign(body, claim.secret),
        NOTICE_ID_HEADER: notice_id,
        "User-Agent": "tariq-notices/1",
    }
    try:
        async with session.post(
            claim.url,
            data=body,
            headers=headers,
            timeout=aiohttp.ClientTimeout(total=delivery.timeout_s),
            # A redirect is not a 2xx: following it could send the hotel's notices elsewhere.
            allow_redirects=False,
        ) as response:
            if 200 <= response.status < 300:
                return None
            return f"HTTP {response.status}"
    except TimeoutError:
        return f"no answer within {delivery.timeout_s:g} s"
    except (aiohttp.ClientError, OSError, ValueError) as exc:
        return f"{type(exc).__name__}: {exc}"
