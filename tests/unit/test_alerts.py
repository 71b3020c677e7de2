"""The alert rules (stream/alerts.py) as pure functions over event sequences."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulators.oracle import judge as oracle_judge
from tariq.config import AlertThresholds
from tariq.domain.events import AnyEvent, event_from_object
from tariq.domain.memory import reconcile

T0 = datetime(2026, 5, 18, 0, 0, tzinfo=UTC)
TH = AlertThresholds()
TAG = "0065000001"
MAKKAH = (21.4225, 39.8262)


def at(minutes: float) -> str:
    return (T0 + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")


def ev(event_id: str, event_type: str, minutes: float, **fields: Any) -> AnyEvent:
    return event_from_object(
        {"event_id": event_id, "type": event_type, "occurred_at": at(minutes), **fields}
    )


def coded(minutes: float = 0, hotel: str = "H1", tag: str = TAG) -> AnyEvent:
    return ev(
        f"code-{tag}-{hotel}",
        "bag.coded",
        minutes,
        tag=tag,
        pilgrim_id="P1",
        flight_id="F1",
        hotel_id=hotel,
    )


def scan(
    event_id: str,
    checkpoint: str,
    minutes: float,
    location: str = "CGK",
    tag: str = TAG,
    **fields: Any,
) -> AnyEvent:
    return ev(
        event_id,
        "bag.scanned",
        minutes,
        tag=tag,
        checkpoint=checkpoint,
        location=location,
        **fields,
    )


def boarded(minutes: float = 5) -> AnyEvent:
    return ev("board", "pilgrim.boarded", minutes, pilgrim_id="P1", flight_id="F1")


def departed(minutes: float = 30) -> AnyEvent:
    return ev("dep", "flight.departed", minutes, flight_id="F1")


def arrived(minutes: float) -> AnyEvent:
    return ev("arr", "flight.arrived", minutes, flight_id="F1")


def tick(minutes: float) -> AnyEvent:
    """Any event that moves the service clock."""
    return ev(
        f"tick-{minutes}",
        "flight.scheduled",
        minutes,
        flight_id="CLOCK",
        origin="CGK",
        destination="JED",
        scheduled_departure=at(0),
        scheduled_arrival=at(1),
    )


def open_alerts(*events: AnyEvent) -> set[str]:
    return {kind for kind, _ in reconcile(events, TH).alerts}


def test_misdelivered_opens_on_a_wrong_hotel_and_resolves_on_a_later_right_one() -> None:
    wrong = scan("s1", "delivered", 600, location="H2")
    assert open_alerts(coded(), wrong) == {"misdelivered"}
    # A later re-delivery to the coded hotel resolves it, whatever order they arrive in.
    right = scan("s2", "delivered", 700, location="H1")
    assert open_alerts(right, coded(), wrong) == set()
    # A sort to the wrong lane counts too (hotel_id of a sorted scan).
    assert open_alerts(coded(), scan("s3", "sorted", 500, location="JED", hotel_id="H9")) == {
        "misdelivered"
    }


def test_left_behind_and_its_resolution_by_a_late_loading_scan() -> None:
    events = [coded(), boarded(), departed()]
    assert open_alerts(*events) == {"left_behind"}
    assert open_alerts(*events, scan("load", "loaded", 20)) == set()
    # The pilgrim did not board: no left_behind (the bag stayed with its owner).
    assert open_alerts(coded(), departed()) == set()


def test_loaded_without_pilgrim_resolves_when_the_boarding_arrives_late() -> None:
    events = [coded(), scan("load", "loaded", 20), departed()]
    assert open_alerts(*events) == {"loaded_without_pilgrim"}
    assert open_alerts(*events, boarded()) == set()


def test_missing_at_arrival_only_strictly_past_two_hours() -> None:
    base = [coded(), boarded(), scan("load", "loaded", 20), departed(), arrived(600)]
    assert open_alerts(*base, tick(720)) == set()  # exactly A + 2 h: not past
    assert open_alerts(*base, tick(721)) == {"missing_at_arrival"}
    # A late offload scan resolves it.
    assert open_alerts(*base, tick(721), scan("off", "offloaded", 610, location="JED")) == set()


def test_delivery_overdue_counts_from_check_in_at_the_coded_hotel() -> None:
    checkin = ev("in", "pilgrim.hotel_arrived", 900, pilgrim_id="P1", hotel_id="H1")
    assert open_alerts(coded(), checkin, tick(900 + 240)) == set()
    assert open_alerts(coded(), checkin, tick(900 + 241)) == {"delivery_overdue"}
    # A check-in elsewhere does not start the clock.
    elsewhere = ev("in2", "pilgrim.hotel_arrived", 900, pilgrim_id="P1", hotel_id="H7")
    assert open_alerts(coded(), elsewhere, tick(2000)) == set()
    # Delivery at the coded hotel resolves it, even reported late.
    delivered = scan("d", "delivered", 1000, location="H1")
    assert open_alerts(coded(), checkin, tick(900 + 241), delivered) == set()


def test_unknown_tag_until_the_coding_arrives() -> None:
    stray = scan("s1", "accepted", 10)
    assert open_alerts(stray) == {"unknown_tag"}
    assert open_alerts(stray, coded()) == set()


def position(event_id: str, minutes: float, lat: float, lon: float, vehicle: str = "BUS-1"):
    return ev(
        event_id, "vehicle.position", minutes, vehicle_id=vehicle, kind="bus", lat=lat, lon=lon
    )


def test_vehicle_stalled_on_a_trip_after_twenty_minutes_within_fifty_metres() -> None:
    register = ev(
        "reg",
        "pilgrim.registered",
        0,
        pilgrim_id="P1",
        group_id="G",
        flight_id="F1",
        hotel_id="H1",
        nationality="ID",
    )
    bus = ev("bus", "pilgrim.bus_boarded", 10, pilgrim_id="P1", vehicle_id="BUS-1")
    moving = [position(f"m{i}", 10 + i, 21.60 - 0.01 * i, 39.30) for i in range(5)]
    parked = [position(f"p{i}", 15 + i, 21.50, 39.40 + 0.0001 * (i % 2)) for i in range(21)]
    events = [register, bus, *moving, *parked]
    assert open_alerts(*events[:-1]) == set()  # 19 min parked
    assert open_alerts(*events) == {"vehicle_stalled"}  # 20 min parked: "or more"
    # Moving again resolves it; so does dropping the load (check-in): no longer on a trip.
    assert open_alerts(*events, position("go", 36, 21.45, 39.60)) == set()
    checkin = ev("in", "pilgrim.hotel_arrived", 36, pilgrim_id="P1", hotel_id="H1")
    assert open_alerts(*events, checkin) == set()


def test_a_parked_bus_at_the_airport_is_not_on_a_trip() -> None:
    bus = ev("bus", "pilgrim.bus_boarded", 10, pilgrim_id="P1", vehicle_id="BUS-1")
    parked = [position(f"p{i}", 10 + i, 21.679, 39.157) for i in range(40)]
    assert open_alerts(bus, *parked) == set()


# ---- any order, any duplicates: same state, same alerts, and the oracle agrees ------------


def scenario_events(data: st.DataObject) -> list[AnyEvent]:
    """A small random world: two bags of one pilgrim, a flight, a bus, a hotel check-in."""
    events: list[AnyEvent] = [
        ev(
            "reg",
            "pilgrim.registered",
            0,
            pilgrim_id="P1",
            group_id="G",
            flight_id="F1",
            hotel_id="H1",
            nationality="ID",
        ),
    ]
    for tag in ("0065000001", "0065000002"):
        if data.draw(st.booleans()):
            events.append(coded(tag=tag, hotel=data.draw(st.sampled_from(["H1", "H2"]))))
        for step, checkpoint in enumerate(
            ["accepted", "loaded", "offloaded", "sorted", "truck_loaded", "delivered"]
        ):
            if not data.draw(st.booleans()):
                continue
            minute = data.draw(st.integers(0, 1500))
            fields: dict[str, Any] = {}
            location = "CGK" if step < 2 else "JED"
            if checkpoint == "sorted":
                fields["hotel_id"] = data.draw(st.sampled_from(["H1", "H2"]))
            if checkpoint == "truck_loaded":
                fields["vehicle_id"] = "TRK-1"
            if checkpoint == "delivered":
                location = data.draw(st.sampled_from(["H1", "H2"]))
            events.append(scan(f"{tag}-{checkpoint}", checkpoint, minute, location, tag, **fields))
    if data.draw(st.booleans()):
        events.append(boarded(data.draw(st.integers(0, 100))))
    if data.draw(st.booleans()):
        events.append(departed(data.draw(st.integers(0, 200))))
    if data.draw(st.booleans()):
        events.append(arrived(data.draw(st.integers(300, 700))))
    if data.draw(st.booleans()):
        events.append(
            ev(
                "in",
                "pilgrim.hotel_arrived",
                data.draw(st.integers(700, 1000)),
                pilgrim_id="P1",
                hotel_id=data.draw(st.sampled_from(["H1", "H2"])),
            )
        )
    if data.draw(st.booleans()):
        events.append(ev("bus", "pilgrim.bus_boarded", 650, pilgrim_id="P1", vehicle_id="BUS-1"))
        moving = data.draw(st.booleans())
        for i in range(data.draw(st.integers(0, 30))):
            lat = 21.50 - (0.01 * i if moving else 0)
            events.append(position(f"fix{i}", 655 + i, lat, 39.40))
    events.append(tick(data.draw(st.integers(0, 2000))))
    return events


@settings(max_examples=300)
@given(st.data())
def test_any_permutation_with_duplicates_gives_the_same_state_and_alerts(
    data: st.DataObject,
) -> None:
    events = scenario_events(data)
    reference = reconcile(events, TH)
    shuffled = data.draw(st.permutations(events))
    doubled = shuffled + data.draw(st.lists(st.sampled_from(events), max_size=6))
    other = reconcile(doubled, TH)
    assert set(other.alerts) == set(reference.alerts)
    for kind in reference.states:
        assert other.states[kind] == reference.states[kind]


@settings(max_examples=300)
@given(st.data())
def test_the_stream_rules_agree_with_the_independent_oracle(data: st.DataObject) -> None:
    events = scenario_events(data)
    ours = reconcile(events, TH)
    truth = oracle_judge(events)
    assert {(k, s) for k, s in ours.alerts} == {a.key for a in truth.alerts}
    for tag, bag in truth.bags.items():
        state = ours.states["bag"][tag]
        assert (state.stage, state.location) == (bag.stage, bag.location)


@pytest.mark.parametrize(
    "kind",
    [
        "misdelivered",
        "left_behind",
        "loaded_without_pilgrim",
        "missing_at_arrival",
        "delivery_overdue",
        "unknown_tag",
        "vehicle_stalled",
    ],
)
def test_every_alert_type_has_a_rule(kind: str) -> None:
    from tariq.domain.alerts import ALERT_TYPES

    assert kind in ALERT_TYPES
