"""The feed hub: one Redis subscription per web process, fanned out to every client.

Each client has a bounded queue drained by its own task: a slow client fills only its own
queue and is then disconnected (it reconnects and gets a fresh snapshot), so it never slows
the service or other clients. Messages on the channel are decoded once, with one msgspec
decoder, into `tariq.domain.feed.Change` values and dispatched by type.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import msgspec
from aiohttp import WSCloseCode, WSMsgType, web

from tariq.adapters.db import airports, reads
from tariq.adapters.live import LiveMirror, aggregate_summary
from tariq.domain import feed

log = logging.getLogger(__name__)

CLIENT_QUEUE = 2_000
# Stages whose scan location is a hotel (docs/contract-extensions.md: "not ours").
HELD_STAGES = frozenset({"delivered", "claimed"})


@dataclass(eq=False)
class FeedClient:
    ws: web.WebSocketResponse
    hotel_id: str | None  # None: an operator (or a bus screen), who is not limited to a hotel
    queue: asyncio.Queue[bytes] = field(default_factory=lambda: asyncio.Queue(CLIENT_QUEUE))
    dropped: bool = False
    # A bus screen: only this vehicle and the bags of the pilgrims on board.
    vehicle_id: str | None = None
    vehicle: feed.Vehicle | None = None  # as last sent, to merge positions and statuses into
    pilgrims: set[str] = field(default_factory=set)
    pool: asyncpg.Pool | None = None
    # A hotel: the trucks carrying its bags, whose statuses and stall alerts it follows.
    trucks: set[str] = field(default_factory=set)

    @property
    def operator(self) -> bool:
        return self.hotel_id is None and self.vehicle_id is None


async def bus_passengers(pool: asyncpg.Pool, vehicle_id: str) -> list[feed.Passenger]:
    async with pool.acquire() as conn:
        rows = await reads.bus_passengers(conn, vehicle_id)
    return msgspec.convert(rows, list[feed.Passenger])


# Bags per airport are counted in PostgreSQL at most this often (seconds) while bags change.
AIRPORT_TOTALS_EVERY = 1.0


class FeedHub:
    def __init__(
        self, live: LiveMirror, pool: asyncpg.Pool | None = None, per_token: int = 20
    ) -> None:
        self.live = live
        self.pool = pool
        self.bags_by_airport: dict[str, dict[str, int]] = {}
        self._airports_stale = asyncio.Event()
        self._airports_task: asyncio.Task[None] | None = None
        self.clients: set[FeedClient] = set()
        # Open feed connections per token (its public id), capped at `per_token`.
        self.per_token = per_token
        self.open_by_token: dict[str, int] = {}
        self.scopes: dict[str, feed.Scope] = {}
        self.alert_counts: dict[str, int] = {}
        self._alert_round = -1
        self._task: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()
        self._closing: set[asyncio.Task[Any]] = set()

    @contextlib.contextmanager
    def slot(self, token_id: str) -> Iterator[bool]:
        """One of the token's `per_token` connections, held for the block: yields False (and
        holds nothing) when the token has them all open already."""
        held = self.open_by_token.get(token_id, 0)
        if held >= self.per_token:
            yield False
            return
        self.open_by_token[token_id] = held + 1
        try:
            yield True
        finally:
            left = self.open_by_token[token_id] - 1
            if left:
                self.open_by_token[token_id] = left
            else:
                del self.open_by_token[token_id]

    async def start(self) -> None:
        self._task = asyncio.create_task(self._listen(), name="feed-hub")
        await asyncio.wait_for(self._subscribed.wait(), timeout=10)
        # Read the mirror after subscribing, so no change falls between the two.
        for scope in await self.live.scopes():
            self._merge_scope(scope)
        self.alert_counts = await self.live.alert_counts()
        if self.pool is not None:
            self._airports_stale.set()
            self._airports_task = asyncio.create_task(self._count_airports(), name="airports")

    async def stop(self) -> None:
        for task in (self._task, self._airports_task):
            if task:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        for client in list(self.clients):
            await client.ws.close(code=WSCloseCode.GOING_AWAY, message=b"server stopping")

    def summary(self) -> feed.Figures:
        figures = aggregate_summary(self.scopes.values(), self.alert_counts)
        figures.bags_by_airport = self.bags_by_airport
        return figures

    def _summary_message(self) -> bytes:
        figures = self.summary()
        return feed.encode(
            feed.Summary(
                figures.bags_by_stage,
                figures.events,
                figures.alerts_open_by_type,
                figures.clock,
                figures.bags_by_airport,
            )
        )

    async def _count_airports(self) -> None:
        """Bags per stage per airport, from PostgreSQL, again after bags changed (at most
        every AIRPORT_TOTALS_EVERY seconds); each new count goes out in a summary."""
        assert self.pool is not None
        while True:
            await self._airports_stale.wait()
            self._airports_stale.clear()
            try:
                async with self.pool.acquire() as conn:
                    counted = await airports.bags_by_airport(conn)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("counting bags by airport failed; trying again")
                self._airports_stale.set()
            else:
                if counted != self.bags_by_airport:
                    self.bags_by_airport = counted
                    self._broadcast_operators(self._summary_message())
            await asyncio.sleep(AIRPORT_TOTALS_EVERY)

    async def _listen(self) -> None:
        while True:
            pubsub = self.live.client.pubsub()
            try:
                await pubsub.subscribe(self.live.channel)
                self._subscribed.set()
                async for message in pubsub.listen():
                    if message.get("type") != "message":
                        continue
                    try:
                        change = feed.decode_change(message["data"])
                    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                        log.error("ignoring a change not in the feed's shapes: %s", exc)
                        continue
                    self._dispatch(change)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("live feed subscription failed; resubscribing")
                await asyncio.sleep(1)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()

    def _merge_scope(self, scope: feed.Scope) -> bool:
        current = self.scopes.get(scope.scope)
        if current is not None and current.version >= scope.version:
            return False
        self.scopes[scope.scope] = scope
        return True

    def _dispatch(self, change: feed.Change) -> None:
        match change:
            case feed.Scope():
                if self._merge_scope(change):
                    self._broadcast_operators(self._summary_message())
                    self._airports_stale.set()
            case feed.Bags():
                self._on_bags(change)
            case feed.Vehicles():
                self._broadcast_operators(feed.encode(change))
                self._on_bus_vehicles({p.vehicle_id: p for p in change.vehicles})
            case feed.VehicleStatuses():
                self._broadcast_operators(feed.encode(change))
                self._on_bus_vehicles({s.vehicle_id: s for s in change.vehicles})
                for client in list(self.clients):
                    theirs = [s for s in change.vehicles if s.vehicle_id in client.trucks]
                    if client.hotel_id is not None and theirs:
                        self._offer(client, feed.encode(feed.VehicleStatuses(theirs)))
            case feed.Alerts():
                self._broadcast_operators(feed.encode(change))
                for client in list(self.clients):
                    if client.hotel_id is None:
                        continue
                    mine = [
                        a
                        for a in change.alerts
                        if a.hotel_id == client.hotel_id or a.vehicle_id in client.trucks
                    ]
                    if mine:
                        self._offer(client, feed.encode(feed.Alerts(mine)))
            case feed.AlertCounts():
                if change.round > self._alert_round:
                    self._alert_round = change.round
                    self.alert_counts = dict(change.open)
                    self._broadcast_operators(self._summary_message())
            case feed.AlertTriage():
                self._broadcast_operators(feed.encode(change))
            case feed.NoticeMessage():
                payload = feed.encode(change)
                for client in list(self.clients):
                    if client.hotel_id == change.notice.hotel_id:
                        if change.notice.vehicle_id and change.notice.kind == "bags_en_route":
                            client.trucks.add(change.notice.vehicle_id)
                        self._offer(client, payload)

    def _on_bags(self, change: feed.Bags) -> None:
        bags = change.bags
        self._broadcast_operators(feed.encode(change))
        for client in list(self.clients):
            if client.pilgrims:
                on_board = [b for b in bags if b.pilgrim_id in client.pilgrims]
                if on_board:
                    self._offer(client, feed.encode(feed.Bags(on_board)))
        by_hotel: dict[str, list[feed.Bag]] = {}
        for bag in bags:
            if bag.hotel_id:
                by_hotel.setdefault(bag.hotel_id, []).append(bag)
            # Another hotel's bag delivered here: this hotel sees it as "not ours".
            if bag.location and bag.location != bag.hotel_id and bag.stage in HELD_STAGES:
                # (without the other hotel's pilgrim, group or flight)
                foreign = msgspec.structs.replace(
                    bag, pilgrim_id=None, group_id=None, flight_id=None
                )
                by_hotel.setdefault(bag.location, []).append(foreign)
        for client in list(self.clients):
            if client.hotel_id is not None and client.hotel_id in by_hotel:
                self._offer(client, feed.encode(feed.Bags(by_hotel[client.hotel_id])))

    def _on_bus_vehicles(self, changed: dict[str, feed.Position] | dict[str, feed.Status]) -> None:
        """A bus screen gets its vehicle whole, the position or status merged in; a new
        status (a trip begun or ended) also refreshes its passengers."""
        for client in list(self.clients):
            if client.vehicle_id is None or client.vehicle_id not in changed:
                continue
            update = changed[client.vehicle_id]
            vehicle = client.vehicle or feed.Vehicle(client.vehicle_id)
            if isinstance(update, feed.Position):
                client.vehicle = feed.merge_position(vehicle, update)
            else:
                client.vehicle = feed.merge_status(vehicle, update)
            self._offer(client, feed.encode(feed.VehicleUpdate(client.vehicle)))
            if isinstance(update, feed.Status):
                self._refresh_passengers(client)

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
        pool, vehicle_id = client.pool, client.vehicle_id
        if pool is None or vehicle_id is None:
            return

        async def refresh() -> None:
            passengers = await bus_passengers(pool, vehicle_id)
            client.pilgrims = {p.pilgrim_id for p in passengers}
            self._offer(client, feed.encode(feed.Passengers(passengers)))

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
