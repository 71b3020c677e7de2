"""A bag's history in event time, pure: when each alert about it held and its stage at
every instant, for the operators' replay ("as of T", docs/dashboards.md).

"Open at T" means what contract section 2 says with only the events whose `occurred_at`
is at or before T, judged with the clock at T. A bag's alerts depend on its own events, on
its flight's earliest departure and arrival and on its pilgrim's earliest boardings and
check-ins; between two of those instants (and the deadlines they start) nothing changes.
So the rules of tariq/domain/alerts.py (the one source of truth) are applied at each such
instant to the facts as they were then, and the runs where an alert holds become spans
[began_at, ended_at). Deadlines are "strictly after": a deadline rule starts to hold one
microsecond (the resolution of PostgreSQL's timestamps) after its deadline.

The spans follow from the facts alone, not from the clock, so they are computed again
whenever the bag, its flight or its pilgrim changes (late events included), and are then
exact whatever order the events arrived in.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Final

from tariq.config import AlertThresholds
from tariq.domain.alerts import Alert, judge_bag
from tariq.domain.bags import BagState
from tariq.domain.entities import FlightState, PilgrimState
from tariq.domain.events import BagCoded, BagScanned

TICK: Final = timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class AlertSpan:
    """An alert's condition held from `began_at` (inclusive) until `ended_at` (exclusive;
    None: still holds). Its ids are those of the first instant."""

    alert: Alert
    began_at: datetime
    ended_at: datetime | None


@dataclass(frozen=True, slots=True)
class StageStep:
    """The bag was at `stage` from `since` (inclusive) until `until` (exclusive)."""

    stage: str
    since: datetime
    until: datetime | None


@dataclass(frozen=True, slots=True)
class BagHistory:
    tag: str
    spans: tuple[AlertSpan, ...]
    steps: tuple[StageStep, ...]


def flight_at(flight: FlightState | None, at: datetime) -> FlightState | None:
    """The flight's facts as they were at `at` (judge_bag reads its departure against the
    clock itself; an arrival after `at` had not happened)."""
    if flight is None or flight.arrived_at is None or flight.arrived_at <= at:
        return flight
    return replace(flight, arrived_at=None)


def pilgrim_at(pilgrim: PilgrimState | None, at: datetime) -> PilgrimState | None:
    """The pilgrim's boardings and check-ins as they were at `at`."""
    if pilgrim is None:
        return None
    if all(t <= at for t in pilgrim.boardings.values()) and all(
        t <= at for t in pilgrim.checkins.values()
    ):
        return pilgrim
    return replace(
        pilgrim,
        boardings={f: t for f, t in pilgrim.boardings.items() if t <= at},
        checkins={h: t for h, t in pilgrim.checkins.items() if t <= at},
    )


def _times(pilgrim: PilgrimState) -> list[datetime]:
    return [*pilgrim.boardings.values(), *pilgrim.checkins.values()]


def _instants(
    events: Iterable[BagCoded | BagScanned],
    flights: Mapping[str, FlightState],
    pilgrims: Mapping[str, PilgrimState],
    thresholds: AlertThresholds,
) -> list[datetime]:
    """Every instant at which a judgement of the bag may change."""
    found = {e.occurred_at for e in events}
    missing = timedelta(seconds=thresholds.missing_after_arrival_s)
    overdue = timedelta(seconds=thresholds.delivery_overdue_after_checkin_s)
    for flight in flights.values():
        if flight.departed_at is not None:
            found.add(flight.departed_at)
        if flight.arrived_at is not None:
            found.update((flight.arrived_at, flight.arrived_at + missing + TICK))
    for pilgrim in pilgrims.values():
        found.update(pilgrim.boardings.values())
        for checkin in pilgrim.checkins.values():
            found.update((checkin, checkin + overdue + TICK))
    return sorted(found)


def bag_history(
    tag: str,
    events: Iterable[BagCoded | BagScanned],
    flights: Mapping[str, FlightState],
    pilgrims: Mapping[str, PilgrimState],
    thresholds: AlertThresholds,
) -> BagHistory:
    """The bag's alert spans and stage steps from its events (in any order, duplicates
    allowed) and the facts of the flights and pilgrims it was coded for."""
    ordered = sorted(events, key=lambda e: (e.occurred_at, e.event_id))
    # Only the flights and pilgrims this bag was coded for matter to it.
    codings = [e for e in ordered if isinstance(e, BagCoded)]
    flights = {c.flight_id: flights[c.flight_id] for c in codings if c.flight_id in flights}
    pilgrims = {c.pilgrim_id: pilgrims[c.pilgrim_id] for c in codings if c.pilgrim_id in pilgrims}
    bag = BagState(tag)
    applied = 0
    spans: list[AlertSpan] = []
    open_now: dict[tuple[str, str], tuple[Alert, datetime]] = {}
    steps: list[StageStep] = []
    as_of: dict[tuple[str | None, int] | None, PilgrimState | None] = {}
    flights_as_of: dict[tuple[str | None, bool], FlightState | None] = {}
    for instant in _instants(ordered, flights, pilgrims, thresholds):
        while applied < len(ordered) and ordered[applied].occurred_at <= instant:
            bag.apply(ordered[applied])
            applied += 1
        if applied and (not steps or steps[-1].stage != bag.stage):
            if steps:
                steps[-1] = replace(steps[-1], until=instant)
            steps.append(StageStep(bag.stage, instant, None))
        pilgrim = pilgrims.get(bag.pilgrim_id or "")
        # A pilgrim's facts change at a few instants only: one copy per state they pass.
        seen = (
            (bag.pilgrim_id, sum(t <= instant for t in _times(pilgrim)))
            if pilgrim is not None
            else None
        )
        if seen not in as_of:
            as_of[seen] = pilgrim_at(pilgrim, instant)
        flight = flights.get(bag.flight_id or "")
        arrived = (
            flight is not None and flight.arrived_at is not None and flight.arrived_at <= instant
        )
        flight_key = (bag.flight_id, arrived)
        if flight_key not in flights_as_of:
            flights_as_of[flight_key] = flight_at(flight, instant)
        judgement = judge_bag(
            bag,
            flights_as_of[flight_key],
            as_of[seen],
            instant,
            thresholds,
        )
        holding = {a.key: a for a in judgement.open}
        for key in [k for k in open_now if k not in holding]:
            alert, began = open_now.pop(key)
            spans.append(AlertSpan(alert, began, instant))
        for key, alert in holding.items():
            open_now.setdefault(key, (alert, instant))
    spans.extend(AlertSpan(alert, began, None) for alert, began in open_now.values())
    spans.sort(key=lambda s: (s.began_at, s.alert.type))
    return BagHistory(tag, tuple(spans), tuple(steps))


def open_at(began_at: datetime, ended_at: datetime | None, at: datetime) -> bool:
    """Whether a span [began_at, ended_at) holds at `at`."""
    return began_at <= at and (ended_at is None or at < ended_at)
