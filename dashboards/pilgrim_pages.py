"""The pilgrim's page `/p/{link}`, the in-bus screen `/bus/{vehicle_id}`, the handheld
counter `/scan` (contract section 7) and the coding hall's label printing `/labels`, with the
small JSON each of them reads.

The pages are static files built from `web/`; each fetches its data from the same origin.
The pilgrim's page needs no token: its link is the secret (192 random bits, stored hashed,
revocable), and it is rate-limited per client address.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from aiohttp import web

from dashboards.keys import POOL, PRINCIPAL
from dashboards.responses import dumps, error, json_response
from dashboards.security import allow
from tagging.labels import CAPTIONS, Label, LabelError, render_svg
from tagging.tags import TagError, parse_tag
from tariq.adapters.db import links
from tariq.domain.links import is_link
from tariq.domain.pages import bus_view, pilgrim_view, scan_view
from tariq.domain.ratelimit import RateLimiter
from tariq.domain.tokens import may_read_bus
from tariq.services.pages import help_phone, page_rate_per_minute, pilgrim_page_url

STATIC = Path(__file__).parent / "static"
PAGE_LIMITER = web.AppKey("page_limiter", RateLimiter)
TAG_DIGITS = 10

# The security headers (no Referer either: the pilgrim's link is in its URL) come from the
# one middleware in dashboards/headers.py; a page is always fetched fresh.
PAGE_HEADERS = {"Cache-Control": "no-cache"}


def _page(name: str) -> web.FileResponse:
    response = web.FileResponse(STATIC / name)
    response.headers.update(PAGE_HEADERS)
    return response


def _not_found_page() -> web.Response:
    # Same answer for a link that never existed, a malformed one and a revoked one.
    return web.Response(
        status=404, text="Not found\n", content_type="text/plain", headers=PAGE_HEADERS
    )


def _limited(request: web.Request) -> web.Response | None:
    """429 once a client address has used up its requests for the minute."""
    address = request.remote or "unknown"
    if request.app[PAGE_LIMITER].allow(address, time.monotonic()):
        return None
    response = error(429, "too many requests; try again in a minute")
    response.headers["Retry-After"] = "60"
    return response


async def _pilgrim_of(request: web.Request) -> str | None:
    link = request.match_info["link"]
    if not is_link(link):
        return None
    return await links.pilgrim_of_link(request.app[POOL], link)


async def pilgrim_page(request: web.Request) -> web.StreamResponse:
    """`GET /p/{link}`: the page (404 for an unknown or revoked link)."""
    if (limited := _limited(request)) is not None:
        return limited
    if await _pilgrim_of(request) is None:
        return _not_found_page()
    response = _page("pilgrim.html")
    response.headers["X-Robots-Tag"] = "noindex"
    return response


async def pilgrim_data(request: web.Request) -> web.StreamResponse:
    """`GET /p/{link}/data`: that pilgrim's bags (JSON); an `ETag` spares a polling phone
    the body when nothing changed."""
    if (limited := _limited(request)) is not None:
        return limited
    pilgrim_id = await _pilgrim_of(request)
    if pilgrim_id is None:
        return error(404, "no such page")
    pool = request.app[POOL]
    raw = await links.pilgrim_page(pool, pilgrim_id)
    view = pilgrim_view(pilgrim_id, raw, await links.service_clock(pool))
    view["help_phone"] = help_phone()
    body = dumps(view)
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    # nosniff, no-referrer and the rest come from the one middleware (dashboards/headers.py).
    headers = {"ETag": etag, "Cache-Control": "private, no-cache"}
    if request.headers.get("If-None-Match") == etag:
        return web.Response(status=304, headers=headers)
    return web.Response(body=body, content_type="application/json", headers=headers)


def _origin(request: web.Request) -> str:
    return f"{request.scheme}://{request.host}"


@allow("operator")
async def get_pilgrim_link(request: web.Request) -> web.Response:
    """`GET /api/pilgrims/{id}/link` (operator): a new link to the pilgrim's page. Only its
    hash is kept, so each call issues another; all stay valid until revoked."""
    pilgrim_id = request.match_info["pilgrim_id"]
    link = await links.create_link(request.app[POOL], pilgrim_id)
    if link is None:
        return error(404, f"no pilgrim {pilgrim_id}")
    response = json_response(
        {"pilgrim_id": pilgrim_id, "url": pilgrim_page_url(_origin(request), link)}
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@allow("operator")
async def delete_pilgrim_link(request: web.Request) -> web.Response:
    """`DELETE /api/pilgrims/{id}/link` (operator): revoke all the pilgrim's links at once."""
    pilgrim_id = request.match_info["pilgrim_id"]
    revoked = await links.revoke_links(request.app[POOL], pilgrim_id)
    return json_response({"pilgrim_id": pilgrim_id, "revoked": revoked})


async def bus_page(request: web.Request) -> web.StreamResponse:
    return _page("bus.html")


@allow("operator", "device")
async def bus_data(request: web.Request) -> web.StreamResponse:
    """`GET /bus/{vehicle_id}/data` (bearer token, checked by the `authenticate`
    middleware): the screen's content; 404 for an unknown bus."""
    vehicle_id = request.match_info["vehicle_id"]
    if not may_read_bus(request[PRINCIPAL], vehicle_id):
        return error(403, "this screen needs an operator token or this bus's device token")
    pool = request.app[POOL]
    raw = await links.bus_screen(pool, vehicle_id)
    if raw is None:
        return error(404, f"no vehicle {vehicle_id}")
    return json_response(bus_view(raw, await links.service_clock(pool)))


async def scan_page(request: web.Request) -> web.StreamResponse:
    return _page("scan.html")


@allow("device", "operator")
async def get_scan(request: web.Request) -> web.Response:
    """`GET /api/scan/{tag}` (device, operator): what the handheld counter shows."""
    tag = request.match_info["tag"]
    if len(tag) != TAG_DIGITS or not (tag.isascii() and tag.isdigit()):
        return error(400, "a tag is 10 digits")
    found = await links.scan_view(request.app[POOL], tag)
    if found is None:
        return error(404, f"no bag with tag {tag}")
    # Any device may look up any tag: a counter handles every pilgrim's bags.
    return json_response(scan_view(found))


async def labels_page(request: web.Request) -> web.StreamResponse:
    return _page("label.html")


@allow("operator", "device")
async def get_pilgrim_labels(request: web.Request) -> web.Response:
    """`GET /api/pilgrims/{id}/labels?lang=en|ar` (operator, device): each of the pilgrim's
    bags' label as SVG, for the coding hall's printer. The name is printed for operators only
    (contract section 1: names are shown only to operators)."""
    pilgrim_id = request.match_info["pilgrim_id"]
    lang = request.query.get("lang", "en")
    if lang not in CAPTIONS:
        return error(400, f"lang must be one of {', '.join(CAPTIONS)}")
    rows = await links.pilgrim_labels(request.app[POOL], pilgrim_id)
    if not rows:
        return error(404, f"no bags coded for pilgrim {pilgrim_id}")
    with_name = request[PRINCIPAL].role == "operator"
    printed = []
    for row in rows:
        try:
            label = label_of(row, with_name=with_name)
        except (LabelError, TagError) as exc:
            printed.append({"tag": row["tag"], "error": str(exc)})
            continue
        printed.append({"tag": row["tag"], "svg": render_svg(label, lang)})
    return json_response({"pilgrim_id": pilgrim_id, "labels": printed})


def label_of(row: Mapping[str, Any], *, with_name: bool) -> Label:
    """A label from a bag's stored facts (no lane: the sort plan is not stored per bag)."""
    return Label(
        parse_tag(row["tag"]),
        row["pilgrim_id"],
        row["flight_id"] or "",
        row["airport"] or "",
        row["hotel_id"] or "",
        None,
        row["name"] if with_name else None,
    )


def setup_pilgrim_routes(app: web.Application) -> None:
    """Register the pilgrim's page, the in-bus screen and the handheld counter."""
    app[PAGE_LIMITER] = RateLimiter(per_minute=page_rate_per_minute())
    app.router.add_get("/p/{link}", pilgrim_page)
    app.router.add_get("/p/{link}/data", pilgrim_data)
    app.router.add_get("/api/pilgrims/{pilgrim_id}/link", get_pilgrim_link)
    app.router.add_delete("/api/pilgrims/{pilgrim_id}/link", delete_pilgrim_link)
    app.router.add_get("/bus/{vehicle_id}", bus_page)
    app.router.add_get("/bus/{vehicle_id}/data", bus_data)
    app.router.add_get("/scan", scan_page)
    app.router.add_get("/api/scan/{tag}", get_scan)
    app.router.add_get("/labels", labels_page)
    app.router.add_get("/api/pilgrims/{pilgrim_id}/labels", get_pilgrim_labels)
