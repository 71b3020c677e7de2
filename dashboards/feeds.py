"""Live feeds over websockets (contract section 4).

One Redis subscription per web process fans out to every client. Each client has a
bounded queue drained by its own task: a slow client fills only its own queue and is
then disconnected (it reconnects and gets a fresh snapshot), so it never slows the
service or other clients.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import WSCloseCode, WSMsgType, web

from dashboards.keys import HUB, POOL, VERIFIER
from dashboards.responses import dumps, error
from tariq.adapters.db import reads
from tariq.adapters.db.outbox import fetch_notices
from tariq.adapters.live import LiveMirror, aggregate_summary
from tariq.domain.alerts import ALERT_TYPES
from tariq.domain.events import STAGES

log = logging.getLogger(__name__)

CLIENT_QUEUE = 2_000
SNAPSHOT_ALERTS = 10_000
SNAPSHOT_BAGS = 100_000


@dataclass(eq=False)
class FeedClient:
    ws: web.WebSocketResponse
    hotel_id: str | None  # None: an operator (or a bus screen), who is not limited to a hotel
    queue: asyncio.Queue[bytes] = field(default_factory=lambda: asyncio.Queue(CLIENT_QUEUE))
    dropped: bool = False
    # A bus screen: only this vehicle and the bags of the pilgrims on board.
    vehicle_id: str | None = None
    pilgrims: set[str] = field(default_factory=set)
    pool: Any = None

    @property
    def operator(self) -> bool:
        return self.hotel_id is None and self.vehicle_id is None


class FeedHub:
    def __init__(self, live: LiveMirror) -> None:
        self.live = live
        self.clients: set[FeedClient] = set()
        self.scopes: dict[str, dict[str, Any]] = {}
        self.alert_counts: dict[str, int] = {}
        self._alert_round = -1
        self._task: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()
        self._closing: set[asyncio.Task[Any]] = set()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._listen(), name="feed-hub")
        await asyncio.wait_for(self._subscribed.wait(), timeout=10)
        # Read the mirror after subscribing, so no change falls between the two.
        for scope in await self.live.scopes():
            self._merge_scope(scope)
        self.alert_counts = await self.live.alert_counts()

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for client in list(self.clients):
            await client.ws.close(code=WSCloseCode.GOING_AWAY, message=b"server stopping")

    def summary(self) -> dict[str, Any]:
        open_by_type = dict.fromkeys(ALERT_TYPES, 0) | self.alert_counts
        return {**aggregate_summary(self.scopes.values()), "alerts_open_by_type": open_by_type}

    async def _listen(self) -> None:
        while True:
            pubsub = self.live.client.pubsub()
            try:
                await pubsub.subscribe(self.live.channel)
                self._subscribed.set()
                async for message in pubsub.listen():
                    if message.get("type") == "message":
                        self._dispatch(orjson.loads(message["data"]))
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("live feed subscription failed; resubscribing")
                await asyncio.sleep(1)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()

    def _merge_scope(self, scope: dict[str, Any]) -> bool:
        current = self.scopes.get(scope["scope"])
        if current is not None and current["version"] >= scope["version"]:
            return False
        self.scopes[scope["scope"]] = scope
        return True

    def _dispatch(self, message: dict[str, Any]) -> None:
        kind = message.get("kind")
        if kind == "scope":
            if self._merge_scope(message):
                self._broadcast_operators(dumps({"kind": "summary", **self.summary()}))
        elif kind == "bags":
            bags = message["bags"]
            self._broadcast_operators(dumps({"kind": "bags", "bags": bags}))
            for client in list(self.clients):
                if client.pilgrims:
                    on_board = [b for b in bags if b.get("pilgrim_id") in client.pilgrims]
                    if on_board:
                        self._offer(client, dumps({"kind": "bags", "bags": on_board}))
            by_hotel: dict[str, list[dict[str, Any]]] = {}
            for bag in bags:
                if bag.get("hotel_id"):
                    by_hotel.setdefault(bag["hotel_id"], []).append(bag)
            for client in list(self.clients):
                if client.hotel_id is not None and client.hotel_id in by_hotel:
                    self._offer(client, dumps({"kind": "bags", "bags": by_hotel[client.hotel_id]}))
        elif kind == "vehicles":
            self._broadcast_operators(dumps(message))
            for client in list(self.clients):
                if client.vehicle_id is None:
                    continue
                for vehicle in message["vehicles"]:
                    if vehicle.get("vehicle_id") == client.vehicle_id:
                        self._offer(client, dumps({"kind": "vehicle", "vehicle": vehicle}))
                        if "status" in vehicle:
                            self._refresh_passengers(client)
        elif kind == "alerts":
            alerts = message["alerts"]
            self._broadcast_operators(dumps(message))
            for client in list(self.clients):
                mine = [
                    a for a in alerts if client.hotel_id and a.get("hotel_id") == client.hotel_id
                ]
                if mine:
                    self._offer(client, dumps({"kind": "alerts", "alerts": mine}))
        elif kind == "alert_counts":
            if message["round"] > self._alert_round:
                self._alert_round = message["round"]
                self.alert_counts = dict(message["open"])
                self._broadcast_operators(dumps({"kind": "summary", **self.summary()}))
        elif kind == "notice":
            notice = message["notice"]
            for client in list(self.clients):
                if client.hotel_id == notice.get("hotel_id"):
                    self._offer(client, dumps(message))

    def _broadcast_operators(self, payload: bytes) -> None:
        for client in list(self.clients):
            if client.operator:
                self._offer(client, payload)

    def _offer(self, client: FeedClient, payload: bytes) -> None:
        if client.dropped:
            return
        try:
            client.queue.put_nowait(payload)
        except asyncio.QueueFull:
            client.dropped = True
            log.warning("dropping a slow feed client (%d messages behind)", client.queue.qsize())
            closing = asyncio.create_task(
                client.ws.close(code=WSCloseCode.TRY_AGAIN_LATER, message=b"too slow; reconnect")
            )
            self._closing.add(closing)
            closing.add_done_callback(self._closing.discard)

    def _refresh_passengers(self, client: FeedClient) -> None:
        async def refresh() -> None:
            passengers = await bus_passengers(client.pool, client.vehicle_id or "")
            client.pilgrims = {p["pilgrim_id"] for p in passengers}
            self._offer(client, dumps({"kind": "passengers", "passengers": passengers}))

        task = asyncio.create_task(refresh())
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def serve(self, request: web.Request, client: FeedClient, snapshot: bytes) -> None:
        await client.ws.send_str(snapshot.decode())
        self.clients.add(client)
        sender = asyncio.create_task(self._send(client))
        try:
            async for msg in client.ws:
                if msg.type == WSMsgType.ERROR:
                    break
        finally:
            self.clients.discard(client)
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sender

    async def _send(self, client: FeedClient) -> None:
        while True:
            payload = await client.queue.get()
            try:
                await client.ws.send_str(payload.decode())
            except (ConnectionResetError, RuntimeError):
                return


async def live_feed(request: web.Request) -> web.StreamResponse:
    """`/ws/live?token=…` (operator): a snapshot, then every change."""
    principal = await request.app[VERIFIER].verify(request.query.get("token"))
    if principal is None:
        return error(401, "missing or invalid token")
    if principal.role != "operator":
        return error(403, "the live feed needs an operator token")
    hub = request.app[HUB]
    async with request.app[POOL].acquire() as conn:
        vehicles = await reads.vehicles(conn)
        _, alerts = await reads.alerts(
            conn, status="open", types=[], filters={}, limit=SNAPSHOT_ALERTS, offset=0
        )
    ws = web.WebSocketResponse(heartbeat=20)
    await ws.prepare(request)
    snapshot = dumps(
        {"kind": "snapshot", "summary": hub.summary(), "vehicles": vehicles, "alerts": alerts}
    )
    await hub.serve(request, FeedClient(ws, None), snapshot)
    return ws


async def hotel_feed(request: web.Request) -> web.StreamResponse:
    """`/ws/hotel?token=…` (hotel): only that hotel's bags."""
    principal = await request.app[VERIFIER].verify(request.query.get("token"))
    if principal is None:
        return error(401, "missing or invalid token")
    if principal.role != "hotel" or principal.hotel_id is None:
        return error(403, "the hotel feed needs a hotel token")
    async with request.app[POOL].acquire() as conn:
        listing = await reads.hotel_bags(conn, principal.hotel_id, SNAPSHOT_BAGS, 0)
    bags = listing["bags"]
    async with request.app[POOL].acquire() as conn:
        _, alerts = await reads.alerts(
            conn,
            status="open",
            types=[],
            filters={"hotel_id": principal.hotel_id},
            limit=SNAPSHOT_ALERTS,
            offset=0,
        )
    _, notices = await fetch_notices(request.app[POOL], principal.hotel_id, 200)
    ws = web.WebSocketResponse(heartbeat=20)
    await ws.prepare(request)
    snapshot = dumps(
        {
            "kind": "snapshot",
            "hotel_id": principal.hotel_id,
            "bags": bags,
            "notices": notices,
            "alerts": alerts,
        }
    )
    await request.app[HUB].serve(request, FeedClient(ws, principal.hotel_id), snapshot)
    return ws


async def bus_passengers(pool: Any, vehicle_id: str) -> list[dict[str, Any]]:
    """The pilgrims whose latest bus is this one and who have not checked in since, with
    their bags (no names: the screen is in a public place)."""
    rows = await pool.fetch(
        "SELECT p.pilgrim_id, p.hotel_id, b.tag, b.stage_rank, b.location"
        " FROM pilgrims p LEFT JOIN bags b ON b.pilgrim_id = p.pilgrim_id"
        " WHERE p.bus_vehicle_id = $1"
        " AND (p.last_checkin_at IS NULL OR p.last_checkin_at < p.bus_boarded_at)"
        " ORDER BY p.pilgrim_id, b.tag",
        vehicle_id,
    )
    passengers: dict[str, dict[str, Any]] = {}
    for r in rows:
        entry = passengers.setdefault(
            r["pilgrim_id"], {"pilgrim_id": r["pilgrim_id"], "hotel_id": r["hotel_id"], "bags": []}
        )
        if r["tag"]:
            entry["bags"].append(
                {"tag": r["tag"], "stage": STAGES[r["stage_rank"]], "location": r["location"]}
            )
    return list(passengers.values())


async def bus_feed(request: web.Request) -> web.StreamResponse:
    """`/ws/bus/{vehicle_id}?token=…` (operator or device): the in-bus screen — the next
    stop, its ETA, and the bag status of the pilgrims on board."""
    principal = await request.app[VERIFIER].verify(request.query.get("token"))
    if principal is None:
        return error(401, "missing or invalid token")
    if principal.role not in ("operator", "device"):
        return error(403, "the bus feed needs an operator or device token")
    vehicle_id = request.match_info["vehicle_id"]
    pool = request.app[POOL]
    vehicle = await pool.fetchrow(
        "SELECT v.vehicle_id, v.kind, v.lat, v.lon, v.speed_kmh, v.heading, v.at,"
        " coalesce(j.status, 'idle') AS status, j.next_stop, j.eta"
        " FROM vehicles v LEFT JOIN vehicle_judgements j USING (vehicle_id)"
        " WHERE v.vehicle_id = $1",
        vehicle_id,
    )
    if vehicle is None:
        return error(404, f"no vehicle {vehicle_id}")
    if principal.role == "device" and principal.vehicle_id not in (None, vehicle_id):
        return error(403, "this device token is bound to another vehicle")
    passengers = await bus_passengers(pool, vehicle_id)
    ws = web.WebSocketResponse(heartbeat=20)
    await ws.prepare(request)
    client = FeedClient(
        ws,
        None,
        vehicle_id=vehicle_id,
        pilgrims={p["pilgrim_id"] for p in passengers},
        pool=pool,
    )
    snapshot = dumps(
        {
            "kind": "snapshot",
            "vehicle": dict(vehicle),
            "passengers": passengers,
        }
    )
    await request.app[HUB].serve(request, client, snapshot)
    return ws
