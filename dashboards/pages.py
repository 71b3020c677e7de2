"""Page and asset routes: the operator map, the hotel page and the geography they draw.

The pages are static files built from `web/` into `dashboards/static/build/` (committed, so
no node at run time). The geography comes from the project's own road network and places,
served as GeoJSON built once per process; registered hotels come from the event journal.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import networkx as nx
import orjson
from aiohttp import web

from dashboards.keys import POOL
from dashboards.security import allow
from routing.geo import AIRPORTS, CITIES
from routing.geofence import Fence, default_fences
from routing.network import shipped_network
from tariq.adapters.db import reads

STATIC = Path(__file__).parent / "static"
NETWORK_GEOJSON = web.AppKey("network_geojson", bytes)
_NETWORK_LOCK = web.AppKey("network_geojson_lock", asyncio.Lock)

# The pages' Content-Security-Policy and other security headers: dashboards/headers.py,
# on every response.


def network_geojson(graph: nx.DiGraph, fences: Iterable[Fence]) -> dict[str, Any]:
    """The roads (one MultiLineString per road class), named places, the cities' and
    airports' label points and fences, as GeoJSON.

    Roads are two directed edges per street: each undirected street is drawn once.
    """
    lines: dict[str, list[list[list[float]]]] = {}
    seen: set[tuple[str, str]] = set()
    for u, v, data in graph.edges(data=True):
        key = (u, v) if u <= v else (v, u)
        if key in seen:
            continue
        seen.add(key)
        a, b = graph.nodes[u], graph.nodes[v]
        segment = [
            [round(a["lon"], 6), round(a["lat"], 6)],
            [round(b["lon"], 6), round(b["lat"], 6)],
        ]
        lines.setdefault(str(data.get("road_class", "road")), []).append(segment)
    features: list[dict[str, Any]] = [
        {
            "type": "Feature",
            "properties": {"layer": "road", "road_class": road_class},
            "geometry": {"type": "MultiLineString", "coordinates": segments},
        }
        for road_class, segments in sorted(lines.items())
    ]
    for node, data in graph.nodes(data=True):
        if "place" in data:
            features.append(
                {
                    "type": "Feature",
                    "properties": {"layer": "place", "id": node, "place": data["place"]},
                    "geometry": {"type": "Point", "coordinates": [data["lon"], data["lat"]]},
                }
            )
    # Where the map writes the names of the cities and airports (the page words them).
    for kind, table in (("city", CITIES), ("airport", AIRPORTS)):
        for place_id, (lat, lon) in table.items():
            features.append(
                {
                    "type": "Feature",
                    "properties": {"layer": "label", "kind": kind, "id": place_id},
                    "geometry": {"type": "Point", "coordinates": [lon, lat]},
                }
            )
    for fence in fences:
        ring = [[round(x, 6), round(y, 6)] for x, y in fence.polygon.exterior.coords]
        features.append(
            {
                "type": "Feature",
                "properties": {
                    "layer": "fence",
                    "id": fence.id,
                    "kind": fence.kind,
                    "name": fence.name,
                    "centre": [fence.lon, fence.lat],
                },
                "geometry": {"type": "Polygon", "coordinates": [ring]},
            }
        )
    return {"type": "FeatureCollection", "features": features}


def hotels_geojson(hotels: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Registered hotels (the payloads of `hotel.registered`) as GeoJSON points."""
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {
                    "layer": "hotel",
                    "hotel_id": h["hotel_id"],
                    "name": h.get("name"),
                    "city": h.get("city"),
                },
                "geometry": {"type": "Point", "coordinates": [h["lon"], h["lat"]]},
            }
            for h in hotels
            if isinstance(h.get("lat"), int | float) and isinstance(h.get("lon"), int | float)
        ],
    }


def _build_network() -> bytes:
    graph = shipped_network()
    return orjson.dumps(network_geojson(graph, default_fences(graph)))


def _page(name: str) -> web.FileResponse:
    response = web.FileResponse(STATIC / name)
    response.headers["Cache-Control"] = "no-cache"
    return response


async def operator_page(request: web.Request) -> web.FileResponse:
    return _page("index.html")


async def hotel_page(request: web.Request) -> web.FileResponse:
    return _page("hotel.html")


async def get_network(request: web.Request) -> web.Response:
    """`GET /geo/network.geojson`: geography only, so no token is needed."""
    app = request.app
    async with app[_NETWORK_LOCK]:
        if NETWORK_GEOJSON not in app:
            # Built once per process, off the event loop (the graph load is CPU work).
            loop = asyncio.get_running_loop()
            app[NETWORK_GEOJSON] = await loop.run_in_executor(None, _build_network)
    return web.Response(
        body=app[NETWORK_GEOJSON],
        content_type="application/geo+json",
        headers={"Cache-Control": "public, max-age=3600"},
    )


@allow("operator")
async def get_hotels(request: web.Request) -> web.Response:
    """`GET /geo/hotels.geojson` (operator, bearer token): where the registered hotels are."""
    async with request.app[POOL].acquire() as conn:
        hotels = await reads.registered_hotels(conn)
    return web.Response(
        body=orjson.dumps(hotels_geojson(hotels)), content_type="application/geo+json"
    )


def setup_page_routes(app: web.Application) -> None:
    """Register the hotel page and the geography; `/` and `/static/` are in routes.py."""
    app[_NETWORK_LOCK] = asyncio.Lock()
    app.router.add_get("/hotel", hotel_page)
    app.router.add_get("/operator", operator_page)
    app.router.add_get("/geo/network.geojson", get_network)
    app.router.add_get("/geo/hotels.geojson", get_hotels)
