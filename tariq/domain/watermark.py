"""The clock deadline rules are judged against (contract v1.1 section 2), pure.

The service's clock is the latest `occurred_at` processed, but it must not run ahead of
input that has been accepted and not yet processed. Each input partition (a counters
scope) records, with the batch that processed it, the latest event time it has processed
and how far its consumer was behind the partition's end after that batch. While some
partitions lag, deadline rules are judged against the earliest of their clocks (a low
watermark): events already waiting there could still prevent an alert.

- A partition with no backlog (idle, or caught up) does not hold the clock back, except
  while another partition has one: then its own clock bounds the judge clock too. The
  input is being caught up with (a replay, a worker back after an outage), and a
  partition that has read all it knew of was only faster than its producer: its end was
  as of its latest fetch. On the day bench one worker's partitions reported no lag at
  18:53 of event time while the producer was still writing them, the other worker's
  lagged at 22:13, and 949 bags whose loaded scans (18:58) were still unread were judged
  `left_behind` at 22:13, to be resolved a round later.
- A lag is trusted only while fresh: a partition whose lag was not refreshed for
  `stale_after_s` of wall time (its worker died and no other took it over yet) no longer
  holds the clock back, so a dead consumer cannot stop the deadline rules for ever.
- A lagging partition that has processed no valid event yet (no clock of its own) holds
  the clock where the previous round left it.
- While some partition lags, the clock is held back by a further `lateness` of event time
  (bounded out-of-orderness, as Flink's watermarks allow): a partition's latest event time
  says nothing of the late events still waiting in it (a scanner that uploads what it
  buffered offline, up to an hour late in the season scenario). Without it, on the season
  replay, about a thousand bags were judged `left_behind` while their late loaded scans
  waited in a backlog, to be resolved a round later. A replay's event time runs thousands
  of times faster than the wall clock, so an hour of it costs under a second of judging.
- The judge clock never goes back: alerts raised in good faith stay raised until the
  facts resolve them (a later burst of older input is judged like late events).
Once nothing lags, the judge clock is the latest event time processed, as before: nothing
is waiting, and live alerts are not delayed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True, slots=True)
class PartitionProgress:
    """Where a batch left its input partition: the next offset to process, and the end of
    the partition (its high watermark) as the consumer last saw it."""

    next_offset: int
    end: int

    @property
    def lag(self) -> int:
        return max(self.end - self.next_offset, 0)


@dataclass(frozen=True, slots=True)
class ScopeClock:
    """A counters scope as the reconciler reads it."""

    scope: str
    clock: datetime | None  # the latest occurred_at processed from it
    lag: int | None  # messages behind the partition's end after its latest batch
    lag_age_s: float | None  # wall seconds since that lag was recorded


def holds_back(scope: ScopeClock, stale_after_s: float) -> bool:
    """Whether this scope still has a backlog that deadline rules must wait for."""
    if not scope.lag or scope.lag <= 0:
        return False
    return scope.lag_age_s is not None and scope.lag_age_s <= stale_after_s


def caught_up(scope: ScopeClock, stale_after_s: float) -> bool:
    """Whether this input partition had read to its end as its consumer last knew it,
    recently (a fresh report)."""
    if scope.lag is None or scope.lag > 0:
        return False
    return scope.lag_age_s is not None and scope.lag_age_s <= stale_after_s


def judge_clock(
    scopes: Iterable[ScopeClock],
    previous: datetime | None,
    stale_after_s: float,
    lateness: timedelta = timedelta(0),
) -> datetime | None:
    """The clock for deadline rules: min(clocks of the lagging scopes, latest clock) (and,
    while some scope lags, of the caught-up ones too, and less `lateness`), never earlier
    than the previous judge clock."""
    listed = list(scopes)
    latest = max((s.clock for s in listed if s.clock is not None), default=None)
    if latest is None:
        return previous
    candidate = latest
    lagging = False
    for scope in listed:
        if holds_back(scope, stale_after_s):
            if scope.clock is None:
                return previous
            candidate = min(candidate, scope.clock)
            lagging = True
    if lagging:
        # Caught up only as far as its latest fetch knew (see above).
        for scope in listed:
            if caught_up(scope, stale_after_s) and scope.clock is not None:
                candidate = min(candidate, scope.clock)
        candidate -= lateness
    if previous is not None and previous > candidate:
        return previous
    return candidate


def ahead_of_watermark(
    scopes: Iterable[ScopeClock], own: Iterable[str], drift: timedelta, stale_after_s: float
) -> set[str]:
    """Which of this worker's scopes (`own`) to pause: those whose clock is more than
    `drift` past the earliest clock among the scopes that hold the judge clock back
    (`holds_back`). Deadline rules wait for that earliest clock anyway; reading further
    ahead only makes facts from one partition meet facts from another out of order (an
    alert raised and resolved again), so a worker that runs ahead waits, as Flink's
    watermark alignment does. The earliest scope is never paused, so it always advances;
    a dead consumer's lag goes stale and releases the others after `stale_after_s`."""
    listed = list(scopes)
    behind = [s.clock for s in listed if holds_back(s, stale_after_s) and s.clock is not None]
    if not behind:
        return set()
    limit = min(behind) + drift
    mine = set(own)
    return {s.scope for s in listed if s.scope in mine and s.clock is not None and s.clock > limit}
