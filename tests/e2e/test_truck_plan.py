"""Operators' truck plan: the bags sorted at the airport, assigned to trucks with stops."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from tests.e2e.test_replay_exact import settle
from tests.support.service import Api

pytestmark = pytest.mark.e2e


def event(event_id: str, event_type: str, **fields: Any) -> dict[str, Any]:
    return {"event_id": event_id, "type": event_type, "occurred_at": "2025-05-20T07:00:00Z",
            **fields}  # fmt: skip


async def test_sorted_bags_are_planned_onto_trucks_within_capacity(api: Api) -> None:
    events = [
        event("h1", "hotel.registered", hotel_id="MAK-T1", name="T1", city="makkah",
              lat=21.4245, lon=39.8290),
        event("h2", "hotel.registered", hotel_id="MAK-T2", name="T2", city="makkah",
              lat=21.4150, lon=39.8150),
    ]  # fmt: skip
    hotel_of = {f"006570000{i}": ("MAK-T1", "MAK-T2", "MAK-UNMAPPED")[i % 3] for i in range(7)}
    for tag, hotel in hotel_of.items():
        events.append(event(f"c{tag}", "bag.coded", tag=tag, pilgrim_id=f"P{tag}",
                            flight_id="SV7", hotel_id=hotel))  # fmt: skip
        events.append(event(f"s{tag}", "bag.scanned", tag=tag, checkpoint="sorted",
                            location="JED", hotel_id=hotel))  # fmt: skip
    # One bag is already on a truck: it is not waiting any more.
    events.append(event("t0", "bag.scanned", tag="0065700000", checkpoint="truck_loaded",
                        location="JED", vehicle_id="TRK-1"))  # fmt: skip
    assert (await api.post("/api/events", orjson.dumps(events)))[0] == 202
    await settle(api, len(events))

    status, plan = await api.get("/api/trucks/plan?airport=JED&capacity=2")
    assert status == 200, plan
    planned = [t for truck in plan["trucks"] for tags in truck["bags"].values() for t in tags]
    waiting_routable = {t for t, h in hotel_of.items() if h != "MAK-UNMAPPED" and t != "0065700000"}
    assert sorted(planned) == sorted(waiting_routable)  # each once, none left out
    assert all(truck["bag_count"] <= 2 for truck in plan["trucks"])
    assert all(set(truck["stops"]) == set(truck["bags"]) for truck in plan["trucks"])
    assert plan["unplanned_hotels"] == ["MAK-UNMAPPED"]
    assert (await api.get("/api/trucks/plan?airport=XXX"))[0] == 400
    assert (await api.get("/api/trucks/plan?capacity=0"))[0] == 400
