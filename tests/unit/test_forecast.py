"""The per-hotel forecast (tariq/domain/forecast.py): bag by bag, without I/O."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tariq.domain.forecast import (
    LOAD,
    OFFLOAD,
    SORT,
    BagGroup,
    departure,
    hotel_forecast,
)
from tariq.domain.pages import hotel_eta

NOW = datetime(2026, 5, 18, 12, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)
JED_DRIVE = 70 * MIN
MED_DRIVE = 30 * MIN


def drive(airport: str, at: datetime) -> timedelta | None:
    """JED 70 min, MED 30 min; 10 min more from 16:00 (so the departure time matters)."""
    base = {"JED": JED_DRIVE, "MED": MED_DRIVE}.get(airport)
    if base is None:
        return None
    return base + (10 * MIN if at.hour >= 16 else timedelta(0))


def forecast(*groups: BagGroup, trucks: dict[str, datetime] | None = None, now=NOW):
    return hotel_forecast("MAK-0001", groups, now, trucks or {}, drive)


def test_all_delivered_is_done_with_no_time() -> None:
    f = forecast(BagGroup("delivered", 5, "JED", delivered_here=True))
    assert (f.expected, f.delivered, f.remaining) == (5, 5, 0)
    assert f.last_expected_at is None and f.basis is None and f.complete


def test_bags_on_a_truck_take_the_trucks_eta() -> None:
    eta = NOW + 35 * MIN
    f = forecast(
        BagGroup("truck_loaded", 40, "JED", stage_at=NOW - 20 * MIN, vehicle_id="T1"),
        BagGroup("claimed", 3, "JED", delivered_here=True),
        trucks={"T1": eta},
    )
    assert (f.remaining, f.on_truck, f.waiting) == (40, 40, 0)
    assert f.last_expected_at == eta and f.basis == "truck"


def test_a_truck_eta_already_past_means_any_moment_now() -> None:
    f = forecast(
        BagGroup("truck_loaded", 2, "JED", stage_at=NOW - 90 * MIN, vehicle_id="T1"),
        trucks={"T1": NOW - 15 * MIN},
    )
    assert f.last_expected_at == NOW


def test_a_truck_without_an_eta_drives_from_its_loading() -> None:
    loaded = NOW - 10 * MIN
    f = forecast(BagGroup("truck_loaded", 2, "MED", stage_at=loaded, vehicle_id="T9"))
    assert f.last_expected_at == NOW + MED_DRIVE and f.basis == "estimate"


def test_sorted_bags_wait_for_a_truck_then_drive() -> None:
    sorted_at = NOW - 5 * MIN
    f = forecast(BagGroup("sorted", 12, "JED", stage_at=sorted_at))
    assert f.waiting == 12
    assert f.last_expected_at == sorted_at + LOAD + JED_DRIVE


def test_a_step_overdue_happens_no_earlier_than_now() -> None:
    # Offloaded two hours ago and still not sorted: sorting is "now", then load and drive.
    f = forecast(BagGroup("offloaded", 1, "JED", stage_at=NOW - 120 * MIN))
    assert f.last_expected_at == NOW + LOAD + JED_DRIVE


def test_bags_in_the_air_count_from_the_flights_arrival() -> None:
    arrival = NOW + 3 * 60 * MIN  # 15:00: departure 16:50, in the slower hours
    group = BagGroup("loaded", 30, "JED", arrival=arrival, stage_at=NOW - 5 * 60 * MIN)
    leaves = arrival + OFFLOAD + SORT + LOAD
    assert departure(group, NOW) == leaves
    f = forecast(group)
    assert f.last_expected_at == leaves + JED_DRIVE + 10 * MIN
    assert f.basis == "estimate"


def test_the_last_bag_is_the_latest_of_all() -> None:
    truck_eta = NOW + 50 * MIN
    sorted_at = NOW - 1 * MIN
    f = forecast(
        BagGroup("truck_loaded", 10, "JED", stage_at=NOW - 30 * MIN, vehicle_id="T1"),
        BagGroup("sorted", 4, "MED", stage_at=sorted_at),
        BagGroup("delivered", 6, "JED", delivered_here=True),
        trucks={"T1": truck_eta},
    )
    # Sorted at MED: 11:59 + 25 + 30 = 12:54, after the truck's 12:50.
    assert f.last_expected_at == sorted_at + LOAD + MED_DRIVE and f.basis == "estimate"
    assert (f.expected, f.delivered, f.remaining, f.on_truck, f.waiting) == (20, 6, 14, 10, 4)


def test_misrouted_and_unknown_bags_have_no_forecast() -> None:
    f = forecast(
        BagGroup("delivered", 2, "JED", stage_at=NOW, held_elsewhere=True),
        BagGroup("coded", 3, "JED"),  # its flight has no arrival time yet
        BagGroup("sorted", 1, "XXX", stage_at=NOW),  # no road from that airport
        BagGroup("sorted", 4, "JED", stage_at=NOW),
    )
    assert (f.remaining, f.misrouted, f.without_forecast, f.waiting) == (10, 2, 6, 4)
    assert not f.complete
    assert f.last_expected_at == NOW + LOAD + JED_DRIVE


def test_without_a_clock_the_times_are_the_model_alone() -> None:
    sorted_at = NOW - 3 * 60 * MIN
    f = forecast(BagGroup("sorted", 1, "JED", stage_at=sorted_at), now=None)
    assert f.last_expected_at == sorted_at + LOAD + JED_DRIVE
    assert f.as_json()["as_of"] is None


def test_the_json_answer() -> None:
    f = forecast(
        BagGroup("sorted", 1, "JED", stage_at=NOW),
        BagGroup("claimed", 1, "JED", delivered_here=True),
    )
    body = f.as_json()
    assert body["last_expected_at"] == "2026-05-18T13:35:00Z"
    assert body["remaining"] == 1 and body["complete"] is True
    assert body["model"] == {"offload_min": 40, "sort_min": 45, "load_min": 25}


def test_a_vehicles_eta_at_a_hotel() -> None:
    plan = '[{"hotel_id": "H1", "eta": "2026-05-18T12:20:00+00:00"}]'
    assert hotel_eta(plan, "H1", None, "H1") == NOW + 20 * MIN
    # Not in the plan: the next stop's ETA when the next stop is this hotel.
    assert hotel_eta(None, "H2", NOW + 5 * MIN, "H2") == NOW + 5 * MIN
    assert hotel_eta(plan, "H1", NOW, "H3") is None
