"""URL table of the web application."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from dashboards import api, exports, feeds, metrics, openapi

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
    app.router.add_get("/api/replay", api.get_replay)
    app.router.add_get("/metrics", metrics.metrics)
    app.router.add_get("/openapi.json", openapi.get_openapi)
    app.router.add_get("/docs", openapi.docs_page)
    app.router.add_get("/api/export/bags.csv", exports.bags_csv)
    app.router.add_get("/api/export/alerts.csv", exports.alerts_csv)
    app.router.add_get("/api/export/notices.csv", exports.notices_csv)
    app.router.add_get("/api/vehicles/{vehicle_id}/track", exports.track)
    app.router.add_get("/api/vehicles/{vehicle_id}/track.geojson", exports.track_geojson)
    app.router.add_get("/ws/live", feeds.live_feed)
    app.router.add_get("/ws/hotel", feeds.hotel_feed)
    app.router.add_get("/ws/bus/{vehicle_id}", feeds.bus_feed)
    app.router.add_static("/static/", STATIC)

    from dashboards.hotel_api import setup_hotel_routes
    from dashboards.notices_api import setup_notice_routes
    from dashboards.pages import setup_page_routes
    from dashboards.pilgrim_pages import setup_pilgrim_routes
    from dashboards.search_api import setup_search_routes
    from dashboards.triage_api import setup_triage_routes
    from dashboards.ui_config import setup_ui_config_routes

    setup_hotel_routes(app)
    setup_search_routes(app)
    setup_triage_routes(app)
    setup_ui_config_routes(app)
    setup_notice_routes(app)
    setup_page_routes(app)
    setup_pilgrim_routes(app)
