"""The per-hotel forecast (tariq/domain/forecast.py) from the stored state and the road
network: when the hotel's last expected bag should arrive."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from routing.eta import Destination, EtaPlanner
from routing.geo import AIRPORTS
from tariq.adapters.db import forecast as stored
from tariq.adapters.db.links import service_clock
from tariq.domain.forecast import DriveTime, Forecast, hotel_forecast


def drive_times(planner: EtaPlanner, hotel_id: str, place: dict[str, Any] | None) -> DriveTime:
    """(airport, departure) -> the road drive from the airport to the hotel, with the
    season's congestion at that time (routing.eta); None without a route or position."""
    memo: dict[tuple[str, datetime], timedelta | None] = {}

    def drive(airport: str, at: datetime) -> timedelta | None:
        if place is None or airport not in AIRPORTS:
            return None
        key = (airport, at)
        if key not in memo:
            lat, lon = AIRPORTS[airport]
            stops = planner.plan(lat, lon, at, [Destination(hotel_id, place["lat"], place["lon"])])
            memo[key] = stops[0].eta - at if stops else None
        return memo[key]

    return drive


async def forecast_of(conn: asyncpg.Connection, planner: EtaPlanner, hotel_id: str) -> Forecast:
    """The hotel's forecast now (the service clock, in event time)."""
    groups = await stored.bag_groups(conn, hotel_id)
    trucks = sorted({g.vehicle_id for g in groups if g.vehicle_id})
    etas = await stored.truck_etas(conn, hotel_id, trucks)
    place = await stored.hotel_place(conn, hotel_id)
    now = await service_clock(conn)
    drive = drive_times(planner, hotel_id, place)
    # Route timing is CPU work: off the event loop.
    return await asyncio.get_running_loop().run_in_executor(
        None, hotel_forecast, hotel_id, groups, now, etas, drive
    )
