"""`GET /ui-config.json` (no token: nothing in it is secret): what the pages need to know
about this installation — the time zone they show times in (`TARIQ_TIMEZONE`)."""

from __future__ import annotations

from aiohttp import web

from dashboards.keys import SETTINGS
from dashboards.responses import json_response


async def ui_config(request: web.Request) -> web.Response:
    return json_response({"timezone": request.app[SETTINGS].timezone})


def setup_ui_config_routes(app: web.Application) -> None:
    app.router.add_get("/ui-config.json", ui_config)
