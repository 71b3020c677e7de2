"""Exports for operators: bags, alerts and notices as CSV (streamed), a vehicle's track as
JSON (contract v1.1) and GeoJSON. Filters are the list endpoints'; a hotel token gets only
its own hotel's rows. Cells that a spreadsheet would run as a formula are defused."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any

from aiohttp import web

from dashboards.api import BAG_FILTERS, alert_query
from dashboards.keys import POOL, PRINCIPAL
from dashboards.responses import error, json_response
from dashboards.security import allow
from tariq.adapters.db import exports
from tariq.domain.events import rfc3339

BAG_COLUMNS = ("tag", "pilgrim_id", "flight_id", "hotel_id", "stage", "location", "updated_at")
ALERT_COLUMNS = (
    "alert_id",
    "type",
    "status",
    "raised_at",
    "resolved_at",
    "tag",
    "pilgrim_id",
    "flight_id",
    "hotel_id",
    "vehicle_id",
)
NOTICE_COLUMNS = (
    "notice_id",
    "hotel_id",
    "kind",
    "vehicle_id",
    "tags",
    "eta",
    "status",
    "attempts",
    "created_at",
    "delivered_at",
)
ROWS_PER_WRITE = 500
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def cell(value: Any) -> str:
    """A CSV cell: times in RFC 3339, lists space-separated, text that starts like a
    formula prefixed with `'` (CSV injection)."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return rfc3339(value) or ""
    if isinstance(value, bool | int | float):
        return str(value)
    if isinstance(value, list | tuple):
        value = " ".join(str(v) for v in value)
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


async def stream_csv(
    request: web.Request,
    name: str,
    columns: Sequence[str],
    rows: AsyncIterator[dict[str, Any]],
) -> web.StreamResponse:
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": f'attachment; filename="{name}"',
        }
    )
    await response.prepare(request)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(columns)
    count = 0
    async for row in rows:
        writer.writerow([cell(row.get(c)) for c in columns])
        count += 1
        if count % ROWS_PER_WRITE == 0:
            await response.write(buffer.getvalue().encode())
            buffer.seek(0)
            buffer.truncate()
    await response.write(buffer.getvalue().encode())
    await response.write_eof()
    return response


def own_hotel(request: web.Request, asked: str | None) -> tuple[str | None, web.Response | None]:
    """The hotel whose rows the caller may export: any (or `asked`) for an operator, its own
    for a hotel token (403 when it asks for another)."""
    principal = request[PRINCIPAL]
    if principal.role == "operator":
        return asked, None
    if principal.hotel_id is None or (asked and asked != principal.hotel_id):
        return None, error(403, "a hotel token exports only its own hotel's rows")
    return principal.hotel_id, None


@allow("operator", "hotel")
async def bags_csv(request: web.Request) -> web.StreamResponse:
    filters = {k: request.query[k] for k in BAG_FILTERS if request.query.get(k)}
    hotel, refused = own_hotel(request, filters.get("hotel_id"))
    if refused is not None:
        return refused
    if hotel:
        filters["hotel_id"] = hotel
    async with request.app[POOL].acquire() as conn, conn.transaction():
        return await stream_csv(request, "bags.csv", BAG_COLUMNS, exports.bags(conn, filters))


@allow("operator", "hotel")
async def alerts_csv(request: web.Request) -> web.StreamResponse:
    status, types, filters = alert_query(request)
    hotel, refused = own_hotel(request, filters.get("hotel_id"))
    if refused is not None:
        return refused
    if hotel:
        filters["hotel_id"] = hotel
    async with request.app[POOL].acquire() as conn, conn.transaction():
        rows = exports.alerts(conn, status=status, types=types, filters=filters)
        return await stream_csv(request, "alerts.csv", ALERT_COLUMNS, rows)


@allow("operator", "hotel")
async def notices_csv(request: web.Request) -> web.StreamResponse:
    hotel, refused = own_hotel(request, request.query.get("hotel_id") or None)
    if refused is not None:
        return refused
    async with request.app[POOL].acquire() as conn, conn.transaction():
        rows = exports.notices(conn, hotel)
        return await stream_csv(request, "notices.csv", NOTICE_COLUMNS, rows)


def _instant(request: web.Request, name: str) -> datetime | None:
    text = request.query.get(name)
    if not text:
        return None
    try:
        instant = datetime.fromisoformat(text)
    except ValueError:
        instant = None
    if instant is None or instant.tzinfo is None:
        raise web.HTTPBadRequest(
            text=f'{{"error": "{name} must be an RFC 3339 time with an offset"}}',
            content_type="application/json",
        )
    return instant


async def _fixes(request: web.Request) -> tuple[str, list[dict[str, Any]] | None]:
    vehicle_id = request.match_info["vehicle_id"]
    start, end = _instant(request, "from"), _instant(request, "to")
    async with request.app[POOL].acquire() as conn:
        if not await exports.vehicle_known(conn, vehicle_id):
            return vehicle_id, None
        async with conn.transaction():
            rows = [r async for r in exports.track(conn, vehicle_id, start, end)]
    fixes = []
    for r in rows:
        fix: dict[str, Any] = {"lat": r["lat"], "lon": r["lon"], "at": r["at"]}
        if r["speed_kmh"] is not None:
            fix["speed_kmh"] = r["speed_kmh"]
        fixes.append(fix)
    return vehicle_id, fixes


@allow("operator")
async def track(request: web.Request) -> web.Response:
    """Contract v1.1: `{vehicle_id, fixes: [{lat, lon, at, speed_kmh?}]}` in event time."""
    vehicle_id, fixes = await _fixes(request)
    if fixes is None:
        return error(404, f"no vehicle {vehicle_id}")
    return json_response({"vehicle_id": vehicle_id, "fixes": fixes})


@allow("operator")
async def track_geojson(request: web.Request) -> web.Response:
    """The track as a GeoJSON FeatureCollection: one Point per fix (`at`, `speed_kmh`) and,
    with two fixes or more, the LineString through them in time order."""
    vehicle_id, fixes = await _fixes(request)
    if fixes is None:
        return error(404, f"no vehicle {vehicle_id}")
    features: list[dict[str, Any]] = []
    if len(fixes) >= 2:
        features.append(
            {
                "type": "Feature",
                "geometry": {
                    "type": "LineString",
                    "coordinates": [[f["lon"], f["lat"]] for f in fixes],
                },
                "properties": {
                    "vehicle_id": vehicle_id,
                    "from": fixes[0]["at"],
                    "to": fixes[-1]["at"],
                },
            }
        )
    for f in fixes:
        properties = {k: v for k, v in f.items() if k not in ("lat", "lon")}
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [f["lon"], f["lat"]]},
                "properties": {"vehicle_id": vehicle_id, **properties},
            }
        )
    return web.Response(
        body=json_response({"type": "FeatureCollection", "features": features}).body,
        content_type="application/geo+json",
    )
