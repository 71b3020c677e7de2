"""Hotel notice endpoints: where a hotel's webhooks go, and the hotel's notices so far.

A webhook URL must be http(s) and its host must resolve only to addresses the rules allow
(tariq/domain/addresses.py; 400 otherwise); delivery checks again when it connects. A hotel
reading its notices sees only GENERIC_DELIVERY_ERROR, never why a delivery failed (the far
side's answer or a connection error would make the webhook a port scanner); operators see it.
"""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web
from yarl import URL

from dashboards.api import page
from dashboards.keys import POOL, PRINCIPAL, SETTINGS
from dashboards.responses import error, json_response
from dashboards.security import allow, may_see_hotel
from tariq.adapters import webhooks
from tariq.adapters.db import outbox
from tariq.domain.tokens import Principal

MAX_URL_CHARS = 2_048
MAX_SECRET_CHARS = 1_024
GENERIC_DELIVERY_ERROR = "delivery failed"


def for_hotel(notices: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Notices as a hotel may see them: a failed delivery says only GENERIC_DELIVERY_ERROR."""
    return [
        {**n, "last_error": GENERIC_DELIVERY_ERROR} if n.get("last_error") else n for n in notices
    ]


def as_seen_by(principal: Principal, notices: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return notices if principal.role == "operator" else for_hotel(notices)


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
    if problem is None:
        problem = await webhooks.webhook_problem(body["url"], request.app[SETTINGS].webhook_allow)
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
        {
            "hotel_id": hotel_id,
            "total": total,
            "limit": limit,
            "offset": offset,
            "notices": as_seen_by(request[PRINCIPAL], items),
        }
    )


def setup_notice_routes(app: web.Application) -> None:
    app.router.add_put("/api/hotels/{hotel_id}/webhook", put_webhook)
    app.router.add_get("/api/hotels/{hotel_id}/notices", get_notices)
