"""URL table of the web application."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from dashboards import api, feeds

STATIC = Path(__file__).parent / "static"


async def index(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "index.html")


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/", index)
    app.router.add_get("/health", api.health)
    app.router.add_post("/api/events", api.post_events)
    app.router.add_get("/api/bags", api.list_bags)
    app.router.add_get("/api/bags/{tag}", api.get_bag)
    app.router.add_get("/api/summary", api.get_summary)
    app.router.add_get("/api/dead-letters", api.get_dead_letters)
    app.router.add_get("/api/pilgrims", api.find_pilgrims)
    app.router.add_get("/api/pilgrims/{pilgrim_id}", api.get_pilgrim)
    app.router.add_get("/api/flights/{flight_id}", api.get_flight)
    app.router.add_get("/api/hotels/{hotel_id}/bags", api.get_hotel_bags)
    app.router.add_get("/api/alerts", api.get_alerts)
    app.router.add_get("/api/trucks/plan", api.get_truck_plan)
    app.router.add_get("/ws/live", feeds.live_feed)
    app.router.add_get("/ws/hotel", feeds.hotel_feed)
    app.router.add_get("/ws/bus/{vehicle_id}", feeds.bus_feed)
    app.router.add_static("/static/", STATIC)

    from dashboards.notices_api import setup_notice_routes
    from dashboards.pages import setup_page_routes

    setup_notice_routes(app)
    setup_page_routes(app)
