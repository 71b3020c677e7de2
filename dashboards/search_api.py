"""Operator search (issue 13): `GET /api/search?q=` and `GET /api/groups/{group_id}`.

`q` (1 to 64 characters, no control characters) is matched case-insensitively as a prefix
of tags (spaces ignored: `0065 500 001`), pilgrim ids, group ids, flight ids (`sv5001` finds
`SV5001-2026-05-18`), hotel ids and names, and vehicle ids. The answer is
`{q, results: [{kind, id, label}]}`, at most 10 per kind, exact matches first.
"""

from __future__ import annotations

import re
from typing import Final

from aiohttp import web

from dashboards.keys import POOL
from dashboards.responses import error, json_response
from dashboards.security import allow
from tariq.adapters.db import search

MAX_QUERY: Final = 64
GROUP_LIMIT: Final = 1_000
_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f]")


@allow("operator")
async def get_search(request: web.Request) -> web.Response:
    q = request.query.get("q", "")
    if not q.strip() or len(q) > MAX_QUERY or _CONTROL.search(q):
        return error(400, f"q must be 1 to {MAX_QUERY} characters, no control characters")
    async with request.app[POOL].acquire() as conn:
        results = await search.search(conn, q)
    return json_response({"q": q, "results": results})


@allow("operator")
async def get_group(request: web.Request) -> web.Response:
    group_id = request.match_info["group_id"]
    async with request.app[POOL].acquire() as conn:
        pilgrims = await search.group_members(conn, group_id, GROUP_LIMIT)
    if not pilgrims:
        return error(404, f"no group {group_id}")
    return json_response({"group_id": group_id, "pilgrims": pilgrims})


def setup_search_routes(app: web.Application) -> None:
    app.router.add_get("/api/search", get_search)
    app.router.add_get("/api/groups/{group_id}", get_group)
