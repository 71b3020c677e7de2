"""HTTP API handlers (contract section 3): thin, over the stores and the live mirror."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import orjson
from aiohttp import web

from dashboards.keys import LIVE, PLANNER, POOL, PRINCIPAL, PRODUCER, READINESS
from dashboards.responses import error, json_response
from dashboards.security import allow, may_see_hotel
from routing.eta import EtaPlanner
from routing.geo import AIRPORTS
from tariq.adapters.db import reads, store
from tariq.domain.alerts import ALERT_TYPES
from tariq.domain.events import InvalidEvent, decode_event, event_from_object, partition_key
from tariq.domain.records import DeadLetter

MAX_LIMIT = 100_000
DEFAULT_LIMIT = 1_000
HTTP_SCOPE = "http"


def page(request: web.Request) -> tuple[int, int]:
    """`limit` (default 1,000, at most 100,000) and `offset` of a list endpoint."""
    try:
        limit = int(request.query.get("limit", DEFAULT_LIMIT))
        offset = int(request.query.get("offset", 0))
    except ValueError:
        raise web.HTTPBadRequest(
            text='{"error": "limit and offset must be whole numbers"}',
            content_type="application/json",
        ) from None
    if not 1 <= limit <= MAX_LIMIT or offset < 0:
        raise web.HTTPBadRequest(
            text=f'{{"error": "limit must be 1 to {MAX_LIMIT} and offset at least 0"}}',
            content_type="application/json",
        )
    return limit, offset


async def health(request: web.Request) -> web.Response:
    """Readiness from the background probe (tariq/services/readiness.py): no pool, no
    Redis round trip on the request path; the JSON is in README "Reliability"."""
    status, body = request.app[READINESS].report()
    return json_response(body, status=status)


def split_body(body: bytes) -> list[tuple[Any, bytes]]:
    """The items of a posted body: a JSON array, or JSON Lines (blank lines skipped).

    Each item is (parsed value or None, raw bytes), so that an item that is not even JSON
    is still kept, raw, as a dead letter.
    """
    stripped = body.strip()
    if stripped.startswith(b"["):
        parsed = orjson.loads(stripped)
        if not isinstance(parsed, list):
            raise ValueError("expected a JSON array")
        return [(item, orjson.dumps(item)) for item in parsed]
    return [(None, line) for line in stripped.splitlines() if line.strip()]


@allow("device", "operator")
async def post_events(request: web.Request) -> web.Response:
    body = await request.read()
    if not body.strip():
        return error(400, "empty body: send a JSON array of events, or JSON Lines")
    try:
        items = split_body(body)
    except (orjson.JSONDecodeError, ValueError) as exc:
        await _keep_rejected(request, [DeadLetter(_ref(), HTTP_SCOPE, f"not JSON: {exc}", body)])
        return error(400, f"the body is not a JSON array of events: {exc}")

    to_send: list[tuple[bytes | None, bytes]] = []
    rejected: list[dict[str, Any]] = []
    dead: list[DeadLetter] = []
    request_ref = _ref()
    for index, (parsed, raw) in enumerate(items):
        try:
            event = decode_event(raw) if parsed is None else event_from_object(parsed)
        except InvalidEvent as exc:
            rejected.append({"index": index, "error": str(exc)})
            dead.append(DeadLetter(f"{request_ref}:{index}", HTTP_SCOPE, str(exc), raw))
            continue
        to_send.append((partition_key(event).encode(), raw))
    await request.app[PRODUCER].send_many(to_send)
    await _keep_rejected(request, dead)
    return json_response({"accepted": len(to_send), "rejected": rejected}, status=202)


def _ref() -> str:
    return f"http:{uuid.uuid4()}"


async def _keep_rejected(request: web.Request, dead: list[DeadLetter]) -> None:
    """Rejected input is kept as dead letters and counted, like the stream's."""
    if not dead:
        return
    async with request.app[POOL].acquire() as conn, conn.transaction():
        await store.lock_scopes(conn, [HTTP_SCOPE])
        new = await store.insert_dead_letters(conn, dead)
        totals = await store.update_scopes(
            conn, {HTTP_SCOPE: store.ScopeChange(rejected=len(new))}, {}
        )
    await request.app[LIVE].publish_batch(totals, [])


@allow("operator", "hotel")
async def get_bag(request: web.Request) -> web.Response:
    tag = request.match_info["tag"]
    async with request.app[POOL].acquire() as conn:
        bag = await reads.bag(conn, tag)
    # A hotel asking for another hotel's bag learns nothing, not even that it exists.
    if bag is None or not may_see_hotel(request[PRINCIPAL], bag["hotel_id"]):
        return error(404, f"no bag with tag {tag}")
    return json_response(bag)


@allow("operator")
async def get_summary(request: web.Request) -> web.Response:
    live = request.app[LIVE]
    summary = await live.summary()
    open_by_type = dict.fromkeys(ALERT_TYPES, 0) | await live.alert_counts()
    async with request.app[POOL].acquire() as conn:
        reconciler = await reads.reconciler(conn)
    return json_response(
        {
            "bags_by_stage": summary["bags_by_stage"],
            "alerts_open_by_type": open_by_type,
            "events": summary["events"],
            "clock": summary["clock"],
            "reconciler": reconciler,
        }
    )


@allow("operator")
async def get_dead_letters(request: web.Request) -> web.Response:
    limit, offset = page(request)
    async with request.app[POOL].acquire() as conn:
        total, items = await reads.dead_letters(conn, limit, offset)
    return json_response({"total": total, "limit": limit, "offset": offset, "items": items})


@allow("operator")
async def get_pilgrim(request: web.Request) -> web.Response:
    pilgrim_id = request.match_info["pilgrim_id"]
    async with request.app[POOL].acquire() as conn:
        found = await reads.pilgrim(conn, pilgrim_id)
    if found is None:
        return error(404, f"no pilgrim {pilgrim_id}")
    return json_response(found)


@allow("operator")
async def get_flight(request: web.Request) -> web.Response:
    flight_id = request.match_info["flight_id"]
    async with request.app[POOL].acquire() as conn:
        found = await reads.flight(conn, flight_id)
    if found is None:
        return error(404, f"no flight {flight_id}")
    return json_response(found)


@allow("operator", "hotel")
async def get_hotel_bags(request: web.Request) -> web.Response:
    hotel_id = request.match_info["hotel_id"]
    if not may_see_hotel(request[PRINCIPAL], hotel_id):
        return error(403, "a hotel token sees only its own hotel")
    limit, offset = page(request)
    async with request.app[POOL].acquire() as conn:
        return json_response(await reads.hotel_bags(conn, hotel_id, limit, offset))


ALERT_FILTERS = ("tag", "pilgrim_id", "flight_id", "hotel_id", "vehicle_id")


@allow("operator")
async def get_alerts(request: web.Request) -> web.Response:
    limit, offset = page(request)
    status = request.query.get("status")
    if status not in (None, "open", "resolved"):
        return error(400, "status must be open or resolved")
    types = [t for value in request.query.getall("type", []) for t in value.split(",") if t]
    unknown = sorted(set(types) - set(ALERT_TYPES))
    if unknown:
        return error(400, f"unknown alert type {', '.join(unknown)}")
    filters = {k: request.query[k] for k in ALERT_FILTERS if request.query.get(k)}
    async with request.app[POOL].acquire() as conn:
        total, items = await reads.alerts(
            conn, status=status, types=types, filters=filters, limit=limit, offset=offset
        )
    return json_response({"total": total, "limit": limit, "offset": offset, "alerts": items})


BAG_FILTERS = ("hotel_id", "flight_id", "pilgrim_id")


@allow("operator")
async def list_bags(request: web.Request) -> web.Response:
    """Every bag, paged in tag order (beyond the contract: for audits and the checker)."""
    limit, offset = page(request)
    filters = {k: request.query[k] for k in BAG_FILTERS if request.query.get(k)}
    async with request.app[POOL].acquire() as conn:
        return json_response(await reads.bags(conn, filters, limit, offset))


@allow("operator")
async def get_truck_plan(request: web.Request) -> web.Response:
    """Trucks for the bags sorted at an airport and not yet loaded: which bags each truck
    takes, per hotel, and its stops in order (nearest neighbour + 2-opt over road times)."""
    airport = request.query.get("airport", "JED")
    if airport not in AIRPORTS:
        return error(400, "airport must be JED or MED")
    try:
        capacity = int(request.query.get("capacity", "200"))
    except ValueError:
        return error(400, "capacity must be a whole number of bags")
    if not 1 <= capacity <= 10_000:
        return error(400, "capacity must be 1 to 10,000 bags")
    async with request.app[POOL].acquire() as conn:
        waiting = await reads.bags_waiting_for_trucks(conn, airport)
    lanes: dict[str, list[str]] = {}
    for row in waiting["bags"]:
        lanes.setdefault(row["hotel_id"], []).append(row["tag"])
    hotels = waiting["hotels"]
    planner = await planner_of(request.app)
    loads = await asyncio.get_running_loop().run_in_executor(
        None, planner.truck_loads, AIRPORTS[airport], lanes, hotels, capacity
    )
    return json_response(
        {
            "airport": airport,
            "capacity": capacity,
            "bags_waiting": len(waiting["bags"]),
            "trucks": [
                {
                    "truck": load.truck_index,
                    "stops": list(load.stops),
                    "bags": {h: list(t) for h, t in load.bags.items()},
                    "bag_count": sum(len(t) for t in load.bags.values()),
                    "travel_time_s": round(load.travel_time_s),
                }
                for load in loads
            ],
            # Hotels with waiting bags but no registered position cannot be routed.
            "unplanned_hotels": sorted(h for h in lanes if h not in hotels),
        }
    )


async def planner_of(app: web.Application) -> EtaPlanner:
    """The road network and planner, loaded once per process off the event loop."""
    if PLANNER not in app:
        app[PLANNER] = await asyncio.get_running_loop().run_in_executor(None, EtaPlanner)
    return app[PLANNER]
