"""HTTP API handlers (contract section 3): thin, over the stores and the live mirror."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import datetime
from functools import partial

import msgspec
from aiohttp import web

from dashboards import triage_api
from dashboards.keys import (
    LIVE,
    PII_KEY,
    PLANNER,
    POOL,
    PRINCIPAL,
    PRODUCER,
    READINESS,
    SETTINGS,
)
from dashboards.metrics import observe_intake
from dashboards.responses import error, json_response
from dashboards.security import allow, may_see_hotel
from routing.eta import EtaPlanner
from routing.geo import AIRPORTS
from tariq.adapters.db import airports, reads, store
from tariq.config import pii_key_setting
from tariq.domain.alerts import ALERT_TYPES
from tariq.domain.events import Instant
from tariq.domain.records import passport_hash
from tariq.domain.tokens import may_post
from tariq.services.asof import as_of
from tariq.services.intake import (
    MAX_BODY_BYTES,
    MAX_EVENTS,
    Intake,
    TooManyEvents,
    UnreadableBody,
)

MAX_LIMIT = 100_000
# Far beyond any table here, and safely inside PostgreSQL's OFFSET range.
MAX_OFFSET = 1_000_000_000
DEFAULT_LIMIT = 1_000
_DIGITS = re.compile(r"[0-9]{1,13}")


def _bad_request(message: str) -> web.HTTPBadRequest:
    return web.HTTPBadRequest(text=json.dumps({"error": message}), content_type="application/json")


def whole_number(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    """A query parameter that must be plain decimal digits within [low, high]: no sign,
    exponent, underscore, space or non-ASCII digit (so `1e3`, `+5`, `1_000` are 400s)."""
    text = request.query.get(name)
    if text is None:
        return default
    if not _DIGITS.fullmatch(text) or not low <= int(text) <= high:
        raise _bad_request(f"{name} must be a whole number from {low} to {high}")
    return int(text)


def page(request: web.Request) -> tuple[int, int]:
    """`limit` (default 1,000, 1 to 100,000) and `offset` (0 to 10^9) of a list endpoint."""
    limit = whole_number(request, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
    offset = whole_number(request, "offset", 0, 0, MAX_OFFSET)
    return limit, offset


async def health(request: web.Request) -> web.Response:
    """Readiness from the background probe (tariq/services/readiness.py): no pool, no
    Redis round trip on the request path; the JSON is in README "Reliability"."""
    status, body = request.app[READINESS].report()
    return json_response(body, status=status)


async def read_bounded(request: web.Request, limit: int) -> bytes | None:
    """The request body, or None as soon as it is known to be over `limit` bytes (by its
    Content-Length, or while streaming it): never more than `limit` + one chunk in memory."""
    if request.content_length is not None and request.content_length > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = await request.content.read(256 * 1024)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)


@allow("device", "operator")
async def post_events(request: web.Request) -> web.Response:
    too_large = f"a body is at most {MAX_BODY_BYTES} bytes and {MAX_EVENTS} events"
    body = await read_bounded(request, MAX_BODY_BYTES)
    if body is None:
        return error(413, too_large)
    if not body.strip():
        return error(400, "empty body: send a JSON array of events, or JSON Lines")
    app = request.app
    try:
        intake = Intake(app[POOL], app[LIVE], app[PRODUCER], await pii_key_of(app))
        # A device token bound to a vehicle posts only its positions (docs/security.md).
        outcome = await intake.take(body, screen=partial(may_post, request[PRINCIPAL]))
    except TooManyEvents:
        return error(413, too_large)
    except UnreadableBody as exc:
        return error(400, f"the body is not a JSON array of events, nor JSON Lines: {exc}")
    observe_intake(app, outcome.accepted, outcome.rejected_total)
    answer: dict[str, object] = {"accepted": outcome.accepted, "rejected": outcome.rejected}
    if outcome.rejected_total > len(outcome.rejected):
        # The list was cut (the first 100 only): say how many there were.
        answer["rejected_total"] = outcome.rejected_total
    return json_response(answer, status=202)


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
    summary = await request.app[LIVE].summary()
    async with request.app[POOL].acquire() as conn:
        reconciler = await reads.reconciler(conn)
        summary.bags_by_airport = await airports.bags_by_airport(conn)
    return json_response({**msgspec.to_builtins(summary), "reconciler": reconciler})


@allow("operator")
async def get_dead_letters(request: web.Request) -> web.Response:
    limit, offset = page(request)
    async with request.app[POOL].acquire() as conn:
        total, items = await reads.dead_letters(conn, limit, offset)
    return json_response({"total": total, "limit": limit, "offset": offset, "items": items})


@allow("operator")
async def find_pilgrims(request: web.Request) -> web.Response:
    """`GET /api/pilgrims?passport_no=…`: the ids of the pilgrims registered with that
    passport number, found by its keyed hash (the number itself is never stored)."""
    passport_no = request.query.get("passport_no", "")
    if not 1 <= len(passport_no) <= 64 or not passport_no.isprintable():
        return error(400, "passport_no must be 1 to 64 printable characters")
    key = await pii_key_of(request.app)
    async with request.app[POOL].acquire() as conn:
        found = await reads.pilgrims_by_passport(conn, passport_hash(key, passport_no))
    return json_response({"pilgrim_ids": found})


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


def alert_query(request: web.Request) -> tuple[str | None, list[str], dict[str, str]]:
    """The alert list's filters (`status`, `type`, and the ids in ALERT_FILTERS), for the list
    and its CSV export alike; a bad one is a 400."""
    status = request.query.get("status")
    if status not in (None, "open", "resolved"):
        raise _bad_request("status must be open or resolved")
    types = [t for value in request.query.getall("type", []) for t in value.split(",") if t]
    unknown = sorted(set(types) - set(ALERT_TYPES))
    if unknown:
        raise _bad_request(f"unknown alert type {', '.join(unknown)}")
    filters = {k: request.query[k] for k in ALERT_FILTERS if request.query.get(k)}
    return status, types, filters


@allow("operator")
async def get_alerts(request: web.Request) -> web.Response:
    limit, offset = page(request)
    status, types, filters = alert_query(request)
    airport = request.query.get("airport") or None
    if airport is not None and airport not in AIRPORTS:
        return error(400, f"airport must be one of {', '.join(AIRPORTS)}")
    async with request.app[POOL].acquire() as conn:
        total, items = await reads.alerts(
            conn,
            status=status,
            types=types,
            filters=filters,
            limit=limit,
            offset=offset,
            airport=airport,
        )
        items = await triage_api.annotate(conn, items)
    return json_response({"total": total, "limit": limit, "offset": offset, "alerts": items})


BAG_FILTERS = ("hotel_id", "flight_id", "pilgrim_id")


@allow("operator")
async def list_bags(request: web.Request) -> web.Response:
    """Every bag, paged in tag order (beyond the contract: for audits and the checker)."""
    limit, offset = page(request)
    filters = {k: request.query[k] for k in BAG_FILTERS if request.query.get(k)}
    async with request.app[POOL].acquire() as conn:
        return json_response(await reads.bags(conn, filters, limit, offset))


def event_time(request: web.Request, name: str) -> datetime:
    """A required query parameter that must be an RFC 3339 time with an offset (the
    contract's own parser of `occurred_at`); anything else is a 400."""
    text = request.query.get(name)
    try:
        return msgspec.json.decode(json.dumps(text), type=Instant)
    except (msgspec.ValidationError, msgspec.DecodeError):
        raise _bad_request(f"{name} must be an RFC 3339 time with an offset") from None


@allow("operator")
async def get_replay(request: web.Request) -> web.Response:
    """The map, counters and open alerts as they were at event time `at` (replay)."""
    at = event_time(request, "at")
    thresholds = request.app[SETTINGS].thresholds
    async with (
        request.app[POOL].acquire() as conn,
        conn.transaction(isolation="repeatable_read", readonly=True),
    ):
        return json_response(await as_of(conn, at, thresholds))


@allow("operator")
async def get_truck_plan(request: web.Request) -> web.Response:
    """Trucks for the bags sorted at an airport and not yet loaded: which bags each truck
    takes, per hotel, and its stops in order (nearest neighbour + 2-opt over road times)."""
    airport = request.query.get("airport", "JED")
    if airport not in AIRPORTS:
        return error(400, "airport must be JED or MED")
    capacity = whole_number(request, "capacity", 200, 1, 10_000)
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


async def pii_key_of(app: web.Application) -> bytes:
    """The key of passport hashes (`TARIQ_PII_KEY`, or the one kept in PostgreSQL), read
    once per process."""
    if PII_KEY not in app:
        async with app[POOL].acquire() as conn:
            app[PII_KEY] = await store.pii_key(conn, pii_key_setting())
    return app[PII_KEY]


async def planner_of(app: web.Application) -> EtaPlanner:
    """The road network and planner, loaded once per process off the event loop."""
    if PLANNER not in app:
        app[PLANNER] = await asyncio.get_running_loop().run_in_executor(None, EtaPlanner)
    return app[PLANNER]
