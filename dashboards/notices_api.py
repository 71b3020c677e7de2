"""Hotel notice endpoints: where a hotel's webhooks go, and the hotel's notices so far."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web
from yarl import URL

from dashboards.api import page
from dashboards.keys import POOL, PRINCIPAL
from dashboards.responses import error, json_response
from dashboards.security import allow, may_see_hotel
from tariq.adapters.db import outbox

MAX_URL_CHARS = 2_048
MAX_SECRET_CHARS = 1_024


def webhook_problem(body: Any) -> str | None:
    """Why a `{url, secret}` body is not acceptable, or None when it is."""
    if not isinstance(body, dict):
        return "the body must be a JSON object {url, secret}"
    url, secret = body.get("url"), body.get("secret")
    if not isinstance(url, str) or not url or len(url) > MAX_URL_CHARS:
        return f"url must be a string of 1 to {MAX_URL_CHARS} characters"
    try:
        parsed = URL(url)
    except ValueError:
        return "url is not a valid URL"
    if parsed.scheme not in ("http", "https") or not parsed.host:
        return "url must be an absolute http:// or https:// URL"
    if not isinstance(secret, str) or not secret.strip() or len(secret) > MAX_SECRET_CHARS:
        return f"secret must be a non-blank string of at most {MAX_SECRET_CHARS} characters"
    return None


@allow("operator")
async def put_webhook(request: web.Request) -> web.Response:
    hotel_id = request.match_info["hotel_id"]
    try:
        body = orjson.loads(await request.read())
    except orjson.JSONDecodeError as exc:
        return error(400, f"the body is not JSON: {exc}")
    problem = webhook_problem(body)
    if problem is not None:
        return error(400, problem)
    await outbox.set_webhook(request.app[POOL], hotel_id, body["url"], body["secret"])
    # The secret is never echoed back.
    return json_response({"hotel_id": hotel_id, "url": body["url"]})


@allow("operator", "hotel")
async def get_notices(request: web.Request) -> web.Response:
    hotel_id = request.match_info["hotel_id"]
    if not may_see_hotel(request[PRINCIPAL], hotel_id):
        return error(403, "a hotel token sees only its own hotel's notices")
    limit, offset = page(request)
    total, items = await outbox.fetch_notices(request.app[POOL], hotel_id, limit, offset)
    return json_response(
        {"hotel_id": hotel_id, "total": total, "limit": limit, "offset": offset, "notices": items}
    )


def setup_notice_routes(app: web.Application) -> None:
    app.router.add_put("/api/hotels/{hotel_id}/webhook", put_webhook)
    app.router.add_get("/api/hotels/{hotel_id}/notices", get_notices)
