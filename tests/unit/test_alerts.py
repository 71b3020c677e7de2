"""The alert rules (stream/alerts.py) as pure functions over event sequences."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulators.oracle import Thresholds
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


# Far from both airports and from the hotels below: a vehicle parked here may stall.
ROADSIDE = (21.50, 39.40)
HOTEL_1 = (21.4230, 39.8270)


def hotel(hotel_id: str = "H1", minutes: float = 0, place: tuple[float, float] = HOTEL_1):
    return ev(
        f"hotel-{hotel_id}-{minutes}",
        "hotel.registered",
        minutes,
        hotel_id=hotel_id,
        name="Hotel",
        city="makkah",
        lat=place[0],
        lon=place[1],
    )


def parked_at(
    place: tuple[float, float], start: float, minutes: int, vehicle: str = "BUS-1"
) -> list[AnyEvent]:
    """A fix a minute for `minutes` minutes, all within a few metres of `place`."""
    return [
        position(f"{vehicle}-p{i}", start + i, place[0], place[1] + 0.00002 * (i % 2), vehicle)
        for i in range(minutes + 1)
    ]


def test_vehicle_stalled_after_twenty_minutes_within_fifty_metres_away_from_stops() -> None:
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
    parked = parked_at(ROADSIDE, 15, 20)
    events = [hotel(), register, bus, *moving, *parked]
    assert open_alerts(*events[:-1]) == set()  # 19 min parked
    assert open_alerts(*events) == {"vehicle_stalled"}  # 20 min parked: "or more"
    # Moving again resolves it.
    assert open_alerts(*events, position("go", 36, 21.45, 39.60)) == set()
    # What it carries does not matter: the pilgrim checking in elsewhere changes nothing.
    checkin = ev("in", "pilgrim.hotel_arrived", 36, pilgrim_id="P1", hotel_id="H1")
    assert open_alerts(*events, checkin) == {"vehicle_stalled"}


def test_a_truck_parked_at_its_final_hotel_with_an_undelivered_bag_is_not_stalled() -> None:
    events = [
        hotel(),
        coded(0),
        scan("truck", "truck_loaded", 10, "JED", vehicle_id="TRK-1"),
        *(position(f"m{i}", 11 + i, 21.60 - 0.02 * i, 39.50, "TRK-1") for i in range(5)),
        # 100 m from the hotel, for an hour; the bag was never scanned `delivered`.
        *parked_at((HOTEL_1[0] + 0.0009, HOTEL_1[1]), 20, 60, "TRK-1"),
    ]
    assert open_alerts(*events) == set()
    # The same truck an hour in the same place with no hotel registered there stalls.
    assert open_alerts(*events[1:]) == {"vehicle_stalled"}


def test_a_truck_that_breaks_down_empty_after_leaving_the_airport_is_stalled() -> None:
    events = [
        hotel(),
        coded(0),
        scan("truck", "truck_loaded", 10, "JED", vehicle_id="TRK-1"),
        *(position(f"m{i}", 11 + i, 21.60 - 0.02 * i, 39.50, "TRK-1") for i in range(5)),
        scan("deliv", "delivered", 30, "H1"),  # empty now
        *(position(f"b{i}", 40 + i, 21.50 + 0.02 * i, 39.45, "TRK-1") for i in range(5)),
        *parked_at(ROADSIDE, 45, 25, "TRK-1"),
    ]
    assert open_alerts(*events) == {"vehicle_stalled"}


def test_a_bus_waiting_at_the_airport_is_not_stalled() -> None:
    bus = ev("bus", "pilgrim.bus_boarded", 10, pilgrim_id="P1", vehicle_id="BUS-1")
    jed = (21.679, 39.157)
    assert open_alerts(bus, *parked_at(jed, 10, 40)) == set()
    # 900 m from the reference point is still "at the airport"; 1.2 km is not.
    assert open_alerts(*parked_at((jed[0] + 0.0081, jed[1]), 10, 40)) == set()
    assert open_alerts(*parked_at((jed[0] + 0.0108, jed[1]), 10, 40)) == {"vehicle_stalled"}


def test_fewer_than_two_fixes_is_never_stalled() -> None:
    assert open_alerts(position("one", 0, *ROADSIDE), tick(120)) == set()
    two = [position("one", 0, *ROADSIDE), position("two", 1, *ROADSIDE)]
    assert open_alerts(*two, tick(19)) == set()
    assert open_alerts(*two, tick(20)) == {"vehicle_stalled"}  # 20 min past the first


def test_a_hotel_registered_late_resolves_the_stall_and_thresholds_are_configurable() -> None:
    near = (HOTEL_1[0] + 0.0036, HOTEL_1[1])  # about 400 m from the hotel
    events = [hotel(), *parked_at(near, 0, 30)]
    assert open_alerts(*events) == {"vehicle_stalled"}
    assert open_alerts(*events, hotel("H2", 31, near)) == set()
    wider = AlertThresholds(stall_hotel_m=500.0)
    assert {k for k, _ in reconcile(events, wider).alerts} == set()
    assert not oracle_judge(events, Thresholds(stall_hotel_m=500.0)).alerts
    tighter_airport = AlertThresholds(stall_airport_m=100.0)
    at_jed = parked_at((21.679 + 0.0081, 39.157), 0, 30)
    assert {k for k, _ in reconcile(at_jed, tighter_airport).alerts} == {"vehicle_stalled"}


def test_stall_thresholds_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from tariq.config import load_settings

    monkeypatch.setenv("TARIQ_STALL_AIRPORT_M", "1500")
    monkeypatch.setenv("TARIQ_STALL_HOTEL_M", "250.5")
    th = load_settings().thresholds
    assert (th.stall_airport_m, th.stall_hotel_m) == (1500.0, 250.5)
    assert (AlertThresholds().stall_airport_m, AlertThresholds().stall_hotel_m) == (1000, 300)


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
    if data.draw(st.booleans()):
        events.append(hotel("H1", data.draw(st.integers(0, 2000))))
    # A bus, loaded or not, moving or parked by the road, near the hotel or at the airport;
    # and a truck (TRK-1 of the bags) parked somewhere too.
    for vehicle in ("BUS-1", "TRK-1"):
        place = data.draw(
            st.sampled_from([ROADSIDE, (HOTEL_1[0] + 0.0009, HOTEL_1[1]), (21.679, 39.157)])
        )
        moving = data.draw(st.booleans())
        start = data.draw(st.integers(600, 1500))
        for i in range(data.draw(st.integers(0, 30))):
            lat = place[0] - (0.01 * i if moving else 0)
            events.append(position(f"{vehicle}-{i}", start + i, lat, place[1], vehicle))
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


# ---- the reconciler loads only the fields the bag rules read ----------------------------


@settings(max_examples=200)
@given(st.data())
def test_the_bag_rules_read_only_the_fields_the_reconciler_loads(data: st.DataObject) -> None:
    from tariq.domain.alerts import (
        BAG_FIELDS_JUDGED,
        FLIGHT_FIELDS_JUDGED,
        PILGRIM_FIELDS_JUDGED,
        judge_bag,
    )
    from tariq.domain.bags import BagState
    from tariq.domain.entities import FlightState, PilgrimState

    states = reconcile(scenario_events(data), TH).states
    clock = data.draw(st.none() | st.integers(0, 2500).map(lambda m: T0 + timedelta(minutes=m)))
    for bag in states["bag"].values():
        flight = states["flight"].get(bag.flight_id or "")
        pilgrim = states["pilgrim"].get(bag.pilgrim_id or "")
        # What states.load gives for a projection: these fields, the others their defaults.
        lean_bag = BagState(bag.tag, **{f: getattr(bag, f) for f in BAG_FIELDS_JUDGED})
        lean_flight = flight and FlightState(
            flight.flight_id, **{f: getattr(flight, f) for f in FLIGHT_FIELDS_JUDGED}
        )
        lean_pilgrim = pilgrim and PilgrimState(
            pilgrim.pilgrim_id,
            boardings=dict(pilgrim.boardings),
            checkins=dict(pilgrim.checkins),
            **{f: getattr(pilgrim, f) for f in PILGRIM_FIELDS_JUDGED},
        )
        assert judge_bag(lean_bag, lean_flight, lean_pilgrim, clock, TH) == judge_bag(
            bag, flight, pilgrim, clock, TH
        )


def test_a_projection_loads_the_leading_fields_by_position_and_the_rest_by_name() -> None:
    from tariq.adapters.db import states
    from tariq.domain.alerts import BAG_FIELDS_JUDGED, PILGRIM_FIELDS_JUDGED

    bags = states.projection(states.BAGS, BAG_FIELDS_JUDGED)
    assert bags.lead == ("tag", "pilgrim_id", "flight_id", "hotel_id", "coded_at")
    assert set(bags.rest) == set(BAG_FIELDS_JUDGED) - set(bags.lead)
    assert states.projection(states.PILGRIMS, PILGRIM_FIELDS_JUDGED).lead == ("pilgrim_id",)
    with pytest.raises(ValueError, match="stores no"):
        states.projection(states.FLIGHTS, ["boardings"])
