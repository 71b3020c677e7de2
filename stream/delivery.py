"""Hotel notice delivery (contract section 5): the worker's loop over the outbox.

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
import logging
import random
import time
from contextlib import suppress
from dataclasses import dataclass, field

import aiohttp
import asyncpg

from stream import metrics as stream_metrics
from tariq.adapters import webhooks
from tariq.adapters.db import outbox
from tariq.adapters.outages import OutageLog, dependency_down
from tariq.domain.notices import DEFAULT_SCHEDULE, RetrySchedule

log = logging.getLogger(__name__)


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


@dataclass(slots=True)
class RoundResult:
    attempted: int = 0
    delivered: int = 0


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
    outages = OutageLog(log, "notice delivery")
    async with aiohttp.ClientSession() as session:
        while not stop.is_set():
            try:
                result = await _deliver_round(pool, session, delivery)
                outages.recovered()
            except Exception as exc:
                # The loop outlives database outages: the outbox keeps the notices meanwhile.
                if (dependency := dependency_down(exc)) is None:
                    log.exception("notice delivery round failed; retrying")
                else:
                    outages.failed(dependency, exc)  # logged once, not per round
                result = RoundResult()
            if result.attempted == 0:
                with suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), poll_s)


async def _deliver_round(
    pool: asyncpg.Pool, session: aiohttp.ClientSession | None, delivery: Delivery
) -> RoundResult:
    claims = await outbox.claim_hotels(pool, delivery.concurrency, delivery.lease_s)
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
    claims: list[outbox.Claim],
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
    pool: asyncpg.Pool, session: aiohttp.ClientSession, delivery: Delivery, claim: outbox.Claim
) -> RoundResult:
    result = RoundResult()
    started = time.monotonic()
    try:
        for row in await outbox.pending_notices(pool, claim.hotel_id, delivery.batch):
            # Never start a POST that could outlive the lease: another deliverer may then
            # claim this hotel, and the order and single sending would be lost.
            if time.monotonic() - started + delivery.timeout_s >= delivery.lease_s:
                break
            result.attempted += 1
            failure = await webhooks.post_notice(
                session, claim.url, claim.secret, row["notice_id"], row["body"], delivery.timeout_s
            )
            stream_metrics.observe_delivery(failure is None, row["attempts"] + 1)
            if failure is None:
                await outbox.mark_delivered(pool, row["notice_id"])
                result.delivered += 1
                continue
            wait_s = delivery.schedule.delay(row["attempts"] + 1, delivery.rng.random())
            await outbox.mark_failed(pool, row["notice_id"], failure, wait_s)
            # Later notices wait behind this one: the hotel gets them in order.
            break
    finally:
        await outbox.release_claim(pool, claim)
    return result
