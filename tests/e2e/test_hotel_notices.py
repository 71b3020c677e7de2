"""A truck's track drives hotel notices through the real stack to a hotel's server:
`bags_en_route` (with an ETA) when the loaded truck leaves the airport, `bags_delivered`
on delivery. The server fails three times, then accepts; signatures verify, and exactly
one notice per notice_id is accepted."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from aiohttp import web

from tariq.domain.notices import verify
from tests.e2e.test_replay_exact import settle
from tests.support.service import Api, RunningService, free_port, wait_until

pytestmark = pytest.mark.e2e

T0 = datetime(2025, 5, 20, 6, 0, tzinfo=UTC)
SECRET = "s3cret-of-the-hotel"
HOTELS = {"MAK-N1": (21.4245, 39.8290), "MAK-N2": (21.4190, 39.8220)}
JED = (21.679, 39.157)


@pytest.fixture(autouse=True)
def webhooks_may_reach_this_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    """The hotel's server here listens on 127.0.0.1, which webhooks may reach only when
    allowed (contract v1.1 section 3): the service is started with this in its environment."""
    monkeypatch.setenv("TARIQ_WEBHOOK_ALLOW", "127.0.0.0/8")


def at(minutes: float) -> str:
    return (T0 + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")


class HotelServer:
    """The hotels' webhook receiver: 500 three times, then 200; keeps what it accepted."""

    def __init__(self) -> None:
        self.calls = 0
        self.statuses: list[int] = []
        self.accepted: list[dict[str, Any]] = []
        self.bad_signatures = 0

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        if not verify(body, SECRET, request.headers.get("X-Tariq-Signature")):
            self.bad_signatures += 1
            return web.Response(status=401)
        self.calls += 1
        status = 500 if self.calls <= 3 else 200
        self.statuses.append(status)
        if status == 200:
            self.accepted.append(orjson.loads(body))
        return web.Response(status=status)


def events() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for hotel, (lat, lon) in HOTELS.items():
        out.append(
            {
                "event_id": f"h-{hotel}",
                "type": "hotel.registered",
                "occurred_at": at(0),
                "hotel_id": hotel,
                "name": hotel,
                "city": "makkah",
                "lat": lat,
                "lon": lon,
            }
        )
    for i, hotel in enumerate(["MAK-N1", "MAK-N1", "MAK-N2"]):
        tag = f"006580000{i}"
        out.append(
            {
                "event_id": f"c-{tag}",
                "type": "bag.coded",
                "occurred_at": at(0),
                "tag": tag,
                "pilgrim_id": f"PN{i}",
                "flight_id": "SV900",
                "hotel_id": hotel,
            }
        )
        out.append(
            {
                "event_id": f"t-{tag}",
                "type": "bag.scanned",
                "occurred_at": at(5),
                "tag": tag,
                "checkpoint": "truck_loaded",
                "location": "JED",
                "vehicle_id": "TRK-N",
            }
        )
    # The truck at the yard, then on the road towards Makkah (well over 1 km out).
    track = [JED, (JED[0] - 0.002, JED[1] + 0.002), (21.65, 39.25), (21.60, 39.40)]
    for k, (lat, lon) in enumerate(track):
        out.append(
            {
                "event_id": f"fix-{k}",
                "type": "vehicle.position",
                "occurred_at": at(6 + k),
                "vehicle_id": "TRK-N",
                "kind": "truck",
                "lat": lat,
                "lon": lon,
                "speed_kmh": 0 if k < 2 else 70,
            }
        )
    return out  # fmt: skip


def deliveries() -> list[dict[str, Any]]:
    return [
        {"event_id": f"d-{tag}", "type": "bag.scanned", "occurred_at": at(95), "tag": tag,
         "checkpoint": "delivered", "location": hotel}
        for tag, hotel in (("0065800000", "MAK-N1"), ("0065800001", "MAK-N1"),
                           ("0065800002", "MAK-N2"))
    ]  # fmt: skip


async def test_truck_track_drives_signed_notices_with_retries_exactly_once(
    api: Api, service: RunningService
) -> None:
    server = HotelServer()
    app = web.Application()
    app.router.add_post("/tariq", server.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        for hotel in HOTELS:
            status, _ = await api.put(
                f"/api/hotels/{hotel}/webhook",
                orjson.dumps({"url": f"http://127.0.0.1:{port}/tariq", "secret": SECRET}),
            )
            assert status == 200
        status, _ = await api.post("/api/events", orjson.dumps(events()))
        assert status == 202

        async def en_route_sent() -> bool:
            kinds = Counter(n["kind"] for n in server.accepted)
            return kinds["bags_en_route"] == 2

        await wait_until(en_route_sent, timeout=90, what="both bags_en_route notices")
        status, _ = await api.post("/api/events", orjson.dumps(deliveries()))
        assert status == 202

        async def delivered_sent() -> bool:
            kinds = Counter(n["kind"] for n in server.accepted)
            return kinds["bags_delivered"] == 2

        await wait_until(delivered_sent, timeout=90, what="both bags_delivered notices")
        # Re-posting the same events (a device retrying) creates no new notice.
        await api.post("/api/events", orjson.dumps(events() + deliveries()))
        await settle(api, 2 * (len(events()) + len(deliveries())))
        await asyncio.sleep(3)

        assert server.statuses[:3] == [500, 500, 500]
        assert server.bad_signatures == 0
        ids = Counter(n["notice_id"] for n in server.accepted)
        assert len(ids) == 4 and set(ids.values()) == {1}, ids
        en_route = {n["hotel_id"]: n for n in server.accepted if n["kind"] == "bags_en_route"}
        assert sorted(en_route["MAK-N1"]["tags"]) == ["0065800000", "0065800001"]
        assert en_route["MAK-N2"]["tags"] == ["0065800002"]
        assert all(n["vehicle_id"] == "TRK-N" and n["eta"] for n in en_route.values())
        # The hotel's list shows the ETA of its bags on the truck until they are delivered.
        status, listing = await api.get("/api/hotels/MAK-N2/notices")
        assert status == 200 and listing["total"] == 2
    finally:
        await runner.cleanup()
