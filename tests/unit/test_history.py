"""A bag's history in event time (tariq/domain/history.py): at any instant T, the alert
spans that contain T are exactly the alerts the independent oracle (simulators/oracle.py)
finds from the events with occurred_at <= T judged with its clock at T; and the stage
steps give the oracle's stage at T."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from simulators.oracle import judge
from tariq.config import AlertThresholds
from tariq.domain.entities import FlightState, PilgrimState
from tariq.domain.events import (
    AnyEvent,
    BagCoded,
    BagScanned,
    FlightArrived,
    FlightDeparted,
    PilgrimBoarded,
    PilgrimHotelArrived,
    event_from_object,
)
from tariq.domain.history import TICK, bag_history, open_at

T0 = datetime(2026, 5, 18, 0, 0, tzinfo=UTC)
TAG = "0065000001"
TH = AlertThresholds()


def ev(minute: int, type_: str, n: int, **fields: Any) -> AnyEvent:
    at = (T0 + timedelta(minutes=minute)).isoformat()
    return event_from_object({"event_id": f"e{n:04d}", "type": type_, "occurred_at": at, **fields})


def history_of(events: list[AnyEvent]) -> Any:
    flight, pilgrim = FlightState("F1"), PilgrimState("P1")
    bag_events: list[BagCoded | BagScanned] = []
    for e in events:
        if isinstance(e, BagCoded | BagScanned):
            bag_events.append(e)
        elif isinstance(e, FlightDeparted | FlightArrived):
            flight.apply(e)
        elif isinstance(e, PilgrimBoarded | PilgrimHotelArrived):
            pilgrim.apply(e)
    return bag_history(TAG, bag_events, {"F1": flight}, {"P1": pilgrim}, TH)


def oracle_at(events: list[AnyEvent], at: datetime) -> tuple[set[str], str | None]:
    result = judge([e for e in events if e.occurred_at <= at], clock=at.timestamp())
    bag = result.bags.get(TAG)
    return {a.type for a in result.alerts if a.tag == TAG}, bag.stage if bag else None


def probes(events: list[AnyEvent]) -> list[datetime]:
    """Every event time and deadline, a tick either side, and a minute after."""
    found: set[datetime] = set()
    for e in events:
        t = e.occurred_at
        deadlines = [t, t + timedelta(seconds=TH.missing_after_arrival_s)]
        deadlines.append(t + timedelta(seconds=TH.delivery_overdue_after_checkin_s))
        for d in deadlines:
            found.update((d - TICK, d, d + TICK, d + timedelta(minutes=1)))
    return sorted(found)


SCAN = st.tuples(
    st.integers(0, 900),
    st.sampled_from(["accepted", "loaded", "offloaded", "sorted", "delivered", "claimed"]),
    st.sampled_from(["H1", "H2"]),
)
OTHER = st.tuples(
    st.integers(0, 900),
    # No re-coding: the oracle keeps one coding per bag (the generator never re-codes).
    st.sampled_from(["coded", "departed", "arrived", "boarded", "checkin"]),
)


def build(scans: list[tuple[int, str, str]], others: list[tuple[int, str]]) -> list[AnyEvent]:
    out: list[AnyEvent] = []
    for n, (minute, checkpoint, hotel) in enumerate(scans):
        more = {"hotel_id": hotel} if checkpoint == "sorted" else {}
        location = hotel if checkpoint in ("delivered", "claimed") else "JED"
        out.append(
            ev(minute, "bag.scanned", n, tag=TAG, checkpoint=checkpoint, location=location, **more)
        )
    for n, (minute, kind) in enumerate(others, start=500):
        if kind == "coded":
            out.append(
                ev(minute, "bag.coded", n, tag=TAG, pilgrim_id="P1", flight_id="F1", hotel_id="H1")
            )
        elif kind == "departed":
            out.append(ev(minute, "flight.departed", n, flight_id="F1"))
        elif kind == "arrived":
            out.append(ev(minute, "flight.arrived", n, flight_id="F1"))
        elif kind == "boarded":
            out.append(ev(minute, "pilgrim.boarded", n, pilgrim_id="P1", flight_id="F1"))
        else:
            out.append(ev(minute, "pilgrim.hotel_arrived", n, pilgrim_id="P1", hotel_id="H1"))
    return out


@settings(max_examples=150, deadline=None)
@given(st.lists(SCAN, max_size=6), st.lists(OTHER, min_size=1, max_size=7))
def test_spans_open_at_any_instant_are_the_oracles_alerts_as_of_then(
    scans: list[tuple[int, str, str]], others: list[tuple[int, str]]
) -> None:
    events = build(scans, others)
    history = history_of(events)
    for at in probes(events):
        want_alerts, want_stage = oracle_at(events, at)
        got = {s.alert.type for s in history.spans if open_at(s.began_at, s.ended_at, at)}
        assert got == want_alerts, at
        stages = [s.stage for s in history.steps if open_at(s.since, s.until, at)]
        if want_stage is not None:  # the oracle knows coded bags only
            assert stages == [want_stage], at


def test_a_misdelivery_corrected_later_is_a_closed_span_and_a_late_older_scan_changes_it() -> None:
    events = build(
        [(60, "delivered", "H2"), (90, "delivered", "H1")],
        [(0, "coded")],
    )
    [span] = history_of(events).spans
    assert (span.alert.type, span.began_at, span.ended_at) == (
        "misdelivered",
        T0 + timedelta(minutes=60),
        T0 + timedelta(minutes=90),
    )
    # A wrong scan at 30 min arrives late: the misdelivery began then.
    late = build([(30, "sorted", "H2")], [])
    [span] = history_of([*events, *late]).spans
    assert span.began_at == T0 + timedelta(minutes=30)


def test_a_loaded_scan_older_than_the_departure_means_left_behind_never_held() -> None:
    events = build([(10, "accepted", "H1")], [(0, "coded"), (20, "boarded"), (40, "departed")])
    [span] = history_of(events).spans
    assert (span.alert.type, span.began_at, span.ended_at) == (
        "left_behind",
        T0 + timedelta(minutes=40),
        None,
    )
    late_loaded = build([(30, "loaded", "H1")], [])
    assert history_of([*events, *late_loaded]).spans == ()


def test_deadline_rules_hold_a_tick_after_the_deadline_and_steps_follow_the_stage() -> None:
    events = build([(5, "loaded", "H1")], [(0, "coded"), (60, "arrived")])
    history = history_of(events)
    [span] = history.spans
    deadline = T0 + timedelta(minutes=60, seconds=TH.missing_after_arrival_s)
    assert (span.alert.type, span.began_at) == ("missing_at_arrival", deadline + TICK)
    assert [(s.stage, s.since) for s in history.steps] == [
        ("coded", T0),
        ("loaded", T0 + timedelta(minutes=5)),
    ]
