"""Live feeds over websockets (contract section 4): each sends a snapshot, then the changes
the hub (dashboards/hub.py) fans out. The token is checked by the `authenticate` middleware
(`?token=…`, since browsers cannot set headers on a websocket); the role here, by `allow`.
Message shapes: tariq/domain/feed.py and docs/feeds.md.
"""

from __future__ import annotations

from functools import wraps

import msgspec
from aiohttp import web

from dashboards import triage_api
from dashboards.hub import FeedClient, bus_passengers
from dashboards.keys import HUB, POOL, PRINCIPAL
from dashboards.notices_api import for_hotel
from dashboards.responses import error
from dashboards.security import Handler, allow, same_origin
from tariq.adapters.db import airports, reads
from tariq.adapters.db.outbox import fetch_notices
from tariq.domain import feed
from tariq.domain.tokens import may_read_bus

SNAPSHOT_ALERTS = 10_000
SNAPSHOT_BAGS = 100_000
SNAPSHOT_NOTICES = 200


def guarded(handler: Handler) -> Handler:
    """A feed opened from a page of this origin (or by a non-browser client: no `Origin`),
    403 otherwise; at most the hub's `per_token` connections per token, 429 for one more
    (before the upgrade, so the client sees why). Inside `allow`, which verified the token."""

    @wraps(handler)
    async def checked(request: web.Request) -> web.StreamResponse:
        if not same_origin(request):
            return error(403, "a live feed opens only from this server's own pages (Origin)")
        hub = request.app[HUB]
        with hub.slot(request[PRINCIPAL].token_id) as admitted:
            if not admitted:
                return error(
                    429,
                    f"this token has {hub.per_token} live connections open already "
                    "(TARIQ_WS_PER_TOKEN); close one first",
                )
            return await handler(request)

    return checked


@allow("operator", message="the live feed needs an operator token")
@guarded
async def live_feed(request: web.Request) -> web.StreamResponse:
    """`/ws/live?token=…` (operator): a snapshot, then every change."""
    hub = request.app[HUB]
    async with request.app[POOL].acquire() as conn:
        vehicles = await reads.vehicles(conn)
        _, alerts = await reads.alerts(
            conn, status="open", types=[], filters={}, limit=SNAPSHOT_ALERTS, offset=0
        )
        alerts = await triage_api.annotate(conn, alerts)
        by_airport = await airports.bags_by_airport(conn)
    ws = web.WebSocketResponse(heartbeat=20)
    await ws.prepare(request)
    summary = hub.summary()
    # Counted now from PostgreSQL: right as the page opens, not only from what it sees next.
    summary.bags_by_airport = by_airport
    snapshot = feed.LiveSnapshot(
        summary=summary,
        vehicles=msgspec.convert(vehicles, list[feed.Vehicle]),
        alerts=msgspec.convert(alerts, list[feed.Alert]),
    )
    await hub.serve(request, FeedClient(ws, None), feed.encode(snapshot))
    return ws


@allow("hotel", message="the hotel feed needs a hotel token")
@guarded
async def hotel_feed(request: web.Request) -> web.StreamResponse:
    """`/ws/hotel?token=…` (hotel): only that hotel's bags, alerts and notices."""
    hotel_id = request[PRINCIPAL].hotel_id
    if hotel_id is None:
        return error(403, "the hotel feed needs a hotel token")
    pool = request.app[POOL]
    async with pool.acquire() as conn:
        listing = await reads.hotel_bags(conn, hotel_id, SNAPSHOT_BAGS, 0)
    async with pool.acquire() as conn:
        _, alerts = await reads.alerts(
            conn,
            status="open",
            types=[],
            filters={"hotel_id": hotel_id},
            limit=SNAPSHOT_ALERTS,
            offset=0,
        )
    async with pool.acquire() as conn:
        trucks = await reads.hotel_trucks(conn, hotel_id)
        truck_ids = [t["vehicle_id"] for t in trucks]
        alerts += await reads.open_vehicle_alerts(conn, truck_ids)
    _, notices = await fetch_notices(pool, hotel_id, SNAPSHOT_NOTICES)
    ws = web.WebSocketResponse(heartbeat=20)
    await ws.prepare(request)
    snapshot = feed.HotelSnapshot(
        hotel_id=hotel_id,
        bags=msgspec.convert(listing["bags"] + listing["not_ours"], list[feed.HotelBag]),
        notices=msgspec.convert(for_hotel(notices), list[feed.NoticeRecord]),
        alerts=msgspec.convert(alerts, list[feed.Alert]),
        trucks=msgspec.convert(trucks, list[feed.Vehicle]),
    )
    # The hotel also follows these trucks (and those of its later en-route notices).
    client = FeedClient(ws, hotel_id, trucks=set(truck_ids))
    await request.app[HUB].serve(request, client, feed.encode(snapshot))
    return ws


@allow("operator", "device", message="the bus feed needs an operator or device token")
@guarded
async def bus_feed(request: web.Request) -> web.StreamResponse:
    """`/ws/bus/{vehicle_id}?token=…` (operator, or a device token bound to that vehicle):
    the in-bus screen — the next stop, its ETA, and the bag status of the pilgrims on board."""
    vehicle_id = request.match_info["vehicle_id"]
    if not may_read_bus(request[PRINCIPAL], vehicle_id):
        return error(403, f"the feed of bus {vehicle_id} needs a device token bound to it")
    pool = request.app[POOL]
    async with pool.acquire() as conn:
        row = await reads.vehicle(conn, vehicle_id)
    if row is None:
        return error(404, f"no vehicle {vehicle_id}")
    vehicle = msgspec.convert(row, feed.Vehicle)
    passengers = await bus_passengers(pool, vehicle_id)
    ws = web.WebSocketResponse(heartbeat=20)
    await ws.prepare(request)
    client = FeedClient(
        ws,
        None,
        vehicle_id=vehicle_id,
        vehicle=vehicle,
        pilgrims={p.pilgrim_id for p in passengers},
        pool=pool,
    )
    snapshot = feed.BusSnapshot(vehicle=vehicle, passengers=passengers)
    await request.app[HUB].serve(request, client, feed.encode(snapshot))
    return ws
