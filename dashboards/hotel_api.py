"""A hotel's own word about bags (docs/contract-extensions.md):

- `POST /api/hotels/{hotel_id}/bags/{tag}/confirm`: the hotel received its own bag;
- `POST /api/hotels/{hotel_id}/bags/{tag}/report-wrong`: a bag that is not the hotel's is
  there. The answer names the hotel it belongs to when the scans put it at (or on the lane
  of) the reporting hotel; otherwise the report waits for the operators;
- `GET /api/hotels/{hotel_id}/forecast`: when the hotel's last expected bag should arrive
  (tariq/domain/forecast.py).

Both take an optional JSON body `{"note": "…"}` (at most 500 characters, no control
characters), are kept in PostgreSQL (`hotel_receipts`) and are idempotent (again: the
latest time and note win). Hotel tokens act for their own hotel only; operators for any.
"""

from __future__ import annotations

import re
from typing import Final

import orjson
from aiohttp import web

from dashboards.api import planner_of
from dashboards.keys import POOL, PRINCIPAL
from dashboards.responses import error, json_response
from dashboards.security import allow, bearer_token, may_see_hotel
from tariq.adapters.db import receipts
from tariq.domain.tokens import hash_token
from tariq.services.forecast import forecast_of

TAG: Final = re.compile(r"[0-9]{10}")
NOTE_MAX: Final = 500
_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f]")


async def _note(request: web.Request) -> str | web.Response | None:
    """The optional note of the body, or a 400 response."""
    body = await request.read()
    if not body.strip():
        return None
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return error(400, 'the body must be empty or a JSON object {"note": "…"}')
    if not isinstance(data, dict) or set(data) - {"note"}:
        return error(400, 'the body must be empty or a JSON object {"note": "…"}')
    note = data.get("note")
    if note is None:
        return None
    if not isinstance(note, str) or len(note) > NOTE_MAX or _CONTROL.search(note):
        return error(
            400, f"note must be text of at most {NOTE_MAX} characters, no control characters"
        )
    return note


def _who(request: web.Request) -> str | None:
    """The token that acted, as the prefix of its hash (the `tokens` table's key)."""
    token = bearer_token(request)
    return hash_token(token)[:16] if token else None


async def _checked(request: web.Request) -> tuple[str, str] | web.Response:
    hotel_id, tag = request.match_info["hotel_id"], request.match_info["tag"]
    if not may_see_hotel(request[PRINCIPAL], hotel_id):
        return error(403, "a hotel token acts only for its own hotel")
    if not TAG.fullmatch(tag):
        return error(400, "a tag is 10 digits")
    return hotel_id, tag


@allow("hotel", "operator")
async def confirm_bag(request: web.Request) -> web.Response:
    checked = await _checked(request)
    if isinstance(checked, web.Response):
        return checked
    hotel_id, tag = checked
    note = await _note(request)
    if isinstance(note, web.Response):
        return note
    async with request.app[POOL].acquire() as conn:
        bag = await receipts.bag_hotels(conn, tag)
        # Not the hotel's bag (or unknown): nothing to confirm, and nothing learnt about it.
        if bag is None or bag["hotel_id"] != hotel_id:
            return error(404, f"no bag {tag} for hotel {hotel_id}")
        at = await receipts.record(conn, hotel_id, tag, "confirmed", _who(request), note)
    return json_response({"hotel_id": hotel_id, "tag": tag, "confirmed_at": at})


@allow("hotel", "operator")
async def report_wrong_bag(request: web.Request) -> web.Response:
    checked = await _checked(request)
    if isinstance(checked, web.Response):
        return checked
    hotel_id, tag = checked
    note = await _note(request)
    if isinstance(note, web.Response):
        return note
    async with request.app[POOL].acquire() as conn:
        bag = await receipts.bag_hotels(conn, tag)
        if bag is not None and bag["hotel_id"] == hotel_id:
            return error(409, f"bag {tag} is coded for {hotel_id}: confirm it instead")
        at = await receipts.record(conn, hotel_id, tag, "reported_wrong", _who(request), note)
    # The right hotel only when the scans already put the bag here: a hotel cannot look up
    # any tag's hotel by reporting it.
    held_here = bag is not None and bag["hotel_scan_hotel"] == hotel_id
    return json_response(
        {
            "hotel_id": hotel_id,
            "tag": tag,
            "reported_wrong_at": at,
            "known": bag is not None,
            "belongs_to": bag["hotel_id"] if bag is not None and held_here else None,
        },
        status=202,
    )


@allow("hotel", "operator")
async def get_forecast(request: web.Request) -> web.Response:
    """When the hotel's last expected bag should arrive, and how many are still to come."""
    hotel_id = request.match_info["hotel_id"]
    if not may_see_hotel(request[PRINCIPAL], hotel_id):
        return error(403, "a hotel token sees only its own hotel")
    planner = await planner_of(request.app)
    async with request.app[POOL].acquire() as conn:
        forecast = await forecast_of(conn, planner, hotel_id)
    return json_response(forecast.as_json())


def setup_hotel_routes(app: web.Application) -> None:
    app.router.add_get("/api/hotels/{hotel_id}/forecast", get_forecast)
    app.router.add_post("/api/hotels/{hotel_id}/bags/{tag}/confirm", confirm_bag)
    app.router.add_post("/api/hotels/{hotel_id}/bags/{tag}/report-wrong", report_wrong_bag)
