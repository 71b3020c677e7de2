"""The sorting plan: areas share lanes, loads balance, same input same plan."""

from __future__ import annotations

import random

import pytest

from tagging.lanes import Hotel, plan_lanes


def _hotels(seed: int, areas: int, per_area: int) -> tuple[list[Hotel], dict[str, int]]:
    rng = random.Random(seed)
    hotels = []
    bags = {}
    for a in range(areas):
        lat, lon = 21.42 + rng.uniform(-0.05, 0.05), 39.83 + rng.uniform(-0.05, 0.05)
        for h in range(per_area):
            hotel_id = f"H{a:02d}{h:02d}"
            hotels.append(
                Hotel(
                    hotel_id,
                    lat + rng.uniform(-0.01, 0.01),
                    lon + rng.uniform(-0.01, 0.01),
                    f"A{a:02d}",
                )
            )
            bags[hotel_id] = rng.randrange(50, 900)
    return hotels, bags


def test_areas_share_a_lane_and_loads_balance() -> None:
    hotels, bags = _hotels(1, areas=60, per_area=5)
    plan = plan_lanes(hotels, bags, lanes=24)
    for area in {h.area for h in hotels}:
        assert len({plan.lane_for(h.hotel_id) for h in hotels if h.area == area}) == 1
    assert len(plan.lanes) == 24
    assert sum(lane.expected_bags for lane in plan.lanes) == sum(bags.values())
    heaviest_area = max(
        sum(bags[h.hotel_id] for h in hotels if h.area == area) for area in {h.area for h in hotels}
    )
    mean = sum(bags.values()) / 24
    # Greedy heaviest-first is within one area's load of the mean.
    assert max(lane.expected_bags for lane in plan.lanes) <= mean + heaviest_area
    assert plan.imbalance < 1.3


def test_plan_is_deterministic_whatever_the_input_order() -> None:
    hotels, bags = _hotels(2, areas=30, per_area=4)
    plan = plan_lanes(hotels, bags)
    again = plan_lanes(list(reversed(hotels)), dict(reversed(list(bags.items()))))
    assert plan.lane_of_hotel == again.lane_of_hotel


def test_few_big_areas_are_split_to_use_idle_lanes() -> None:
    hotels, bags = _hotels(3, areas=3, per_area=20)
    plan = plan_lanes(hotels, bags, lanes=24)
    used = [lane for lane in plan.lanes if lane.hotel_ids]
    assert len(used) > 3
    split_hotel = next(h for h in hotels if "split from" in plan.explain(h.hotel_id))
    assert f"area {split_hotel.area}" in plan.explain(split_hotel.hotel_id)


def test_explanations_and_missort_check() -> None:
    hotels = [
        Hotel("h1", 21.41, 39.82, "Aziziyah"),
        Hotel("h2", 21.42, 39.83, "Aziziyah"),
        Hotel("h3", 21.43, 39.81, "Misfalah"),
    ]
    plan = plan_lanes(hotels, {"h1": 100, "h2": 50, "h3": 400}, lanes=2)
    assert plan.lane_for("h3") == 1 and plan.lane_for("h1") == plan.lane_for("h2") == 2
    assert "area Aziziyah" in plan.explain("h1") and "lane 2" in plan.explain("h1")
    assert not plan.is_missort("h1", "h2")
    assert plan.is_missort("h1", "h3")
    assert plan.hotels_on_lane(2) == ("h1", "h2")
    with pytest.raises(KeyError, match="not in the sorting plan"):
        plan.lane_for("h9")


def test_bad_inputs() -> None:
    with pytest.raises(ValueError, match="twice"):
        plan_lanes([Hotel("h", 0, 0, "a"), Hotel("h", 0, 0, "a")], {})
    with pytest.raises(ValueError, match="not in the list"):
        plan_lanes([Hotel("h", 0, 0, "a")], {"x": 1})
