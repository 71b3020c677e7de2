"""The in-bus screen feed: next stop, ETA and the bags of the pilgrims on board."""

from __future__ import annotations

from typing import Any

import aiohttp
import orjson
import pytest

from tests.e2e.test_replay_exact import settle
from tests.support.service import Api, RunningService

pytestmark = pytest.mark.e2e


def event(event_id: str, event_type: str, minute: int, **fields: Any) -> dict[str, Any]:
    return {"event_id": event_id, "type": event_type,
            "occurred_at": f"2025-05-20T07:{minute:02d}:00Z", **fields}  # fmt: skip


async def receive_kind(ws: aiohttp.ClientWebSocketResponse, kind: str) -> dict[str, Any]:
    while True:
        message = await ws.receive_json(timeout=30)
        if message["kind"] == kind:
            return dict(message)


async def test_bus_screen_shows_passengers_bags_and_its_own_moves(
    api: Api, service: RunningService
) -> None:
    setup = [
        event("h", "hotel.registered", 0, hotel_id="MAK-B1", name="B1", city="makkah",
              lat=21.4245, lon=39.8290),
        event("r", "pilgrim.registered", 0, pilgrim_id="PB1", group_id="G1", flight_id="SV1",
              hotel_id="MAK-B1", nationality="ID", name="Siti", passport_no="X1234567"),
        event("c", "bag.coded", 1, tag="0065900001", pilgrim_id="PB1", flight_id="SV1",
              hotel_id="MAK-B1"),
        event("bb", "pilgrim.bus_boarded", 2, pilgrim_id="PB1", vehicle_id="BUS-9"),
        event("f0", "vehicle.position", 3, vehicle_id="BUS-9", kind="bus", lat=21.679,
              lon=39.157),
    ]  # fmt: skip
    assert (await api.post("/api/events", orjson.dumps(setup)))[0] == 202
    await settle(api, len(setup))
    base = service.base_url.replace("http", "ws")
    # The screen's token is bound to its bus (contract v1.1 section 7).
    device = service.token("device", vehicle="BUS-9")
    async with aiohttp.ClientSession() as session:
        hotel = service.token("hotel", hotel="MAK-B1")
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await session.ws_connect(f"{base}/ws/bus/BUS-9?token={hotel}")
        assert refused.value.status == 403

        async with session.ws_connect(f"{base}/ws/bus/BUS-9?token={device}") as ws:
            snapshot = await ws.receive_json(timeout=10)
            assert snapshot["kind"] == "snapshot"
            assert snapshot["vehicle"]["vehicle_id"] == "BUS-9"
            assert snapshot["passengers"] == [
                {"pilgrim_id": "PB1", "hotel_id": "MAK-B1",
                 "bags": [{"tag": "0065900001", "stage": "coded", "location": None}]}
            ]  # fmt: skip
            assert b"X1234567" not in orjson.dumps(snapshot) and "Siti" not in str(snapshot)

            scan = event("s", "bag.scanned", 4, tag="0065900001", checkpoint="accepted",
                         location="CGK")  # fmt: skip
            await api.post("/api/events", orjson.dumps([scan]))
            bags = await receive_kind(ws, "bags")
            assert bags["bags"][0]["tag"] == "0065900001"
            assert bags["bags"][0]["stage"] == "accepted"

            # Leaving the airport: the screen sees its bus move and start its trip.
            fix = event("f1", "vehicle.position", 5, vehicle_id="BUS-9", kind="bus", lat=21.60,
                        lon=39.40)  # fmt: skip
            await api.post("/api/events", orjson.dumps([fix]))
            moved = await receive_kind(ws, "vehicle")
            assert moved["vehicle"]["vehicle_id"] == "BUS-9"
            while moved["vehicle"].get("status") != "on_trip":
                moved = await receive_kind(ws, "vehicle")
            assert moved["vehicle"]["next_stop"] == "MAK-B1"
            assert moved["vehicle"]["eta"]
