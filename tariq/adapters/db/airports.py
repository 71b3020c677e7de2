"""Which arrival airport a bag, an alert or a vehicle belongs to, in SQL (one definition).

- a bag: its flight's destination (`JED`/`MED`);
- an alert: its flight's destination when it names a flight (every alert about a coded bag
  does), else the arrival airport nearest its vehicle's latest position;
- bags per stage per airport: the operators' "flow by airport", straight from PostgreSQL.
"""

from __future__ import annotations

from typing import Any, Final

import asyncpg

from routing.geo import AIRPORTS
from tariq.domain.events import STAGES


def _nearest_airport(lat: str, lon: str) -> str:
    """A SQL expression: the code of the airport nearest (lat, lon), null without a position.
    Distances in degrees with longitude scaled by cos(latitude): enough to tell airports
    hundreds of kilometres apart."""
    distances = {
        code: f"(({lat} - {a_lat!r})^2 + (({lon} - {a_lon!r}) * cos(radians({a_lat!r})))^2)"
        for code, (a_lat, a_lon) in AIRPORTS.items()
    }
    least = f"least({', '.join(distances.values())})"
    cases = " ".join(f"WHEN {d} THEN '{code}'" for code, d in distances.items())
    return f"CASE WHEN {lat} IS NULL OR {lon} IS NULL THEN NULL ELSE CASE {least} {cases} END END"


# Alerts `a`, with their flight `f` and vehicle `v` joined (ALERTS_FROM).
ALERT_AIRPORT: Final = f"coalesce(f.destination, {_nearest_airport('v.lat', 'v.lon')})"
ALERTS_FROM: Final = (
    "alerts a LEFT JOIN flights f ON f.flight_id = a.flight_id"
    " LEFT JOIN vehicles v ON v.vehicle_id = a.vehicle_id"
)


async def alert_airports(conn: asyncpg.Connection, alert_ids: list[str]) -> dict[str, str | None]:
    """alert_id -> its airport (see the module's docstring)."""
    if not alert_ids:
        return {}
    rows = await conn.fetch(
        f"SELECT a.alert_id, {ALERT_AIRPORT} AS airport FROM {ALERTS_FROM}"
        " WHERE a.alert_id = ANY($1::text[])",
        alert_ids,
    )
    return {r["alert_id"]: r["airport"] for r in rows}


async def with_airports(
    conn: asyncpg.Connection, alerts: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The alert rows, each with its `airport`."""
    found = await alert_airports(conn, [a["alert_id"] for a in alerts])
    return [{**a, "airport": found.get(a["alert_id"])} for a in alerts]


async def bags_by_airport(conn: asyncpg.Connection) -> dict[str, dict[str, int]]:
    """Bags per stage for each arrival airport (every airport and stage present, zeros
    included); bags whose flight is not scheduled (or has no destination) are not counted."""
    # From the counts the stream keeps per flight and stage (a few thousand rows), not from
    # the bags (a season's 534k rows: 0.4 s a call, and the summary is polled).
    rows = await conn.fetch(
        "SELECT f.destination AS airport, c.stage_rank, sum(c.bags) AS n"
        " FROM flight_stage_counts c JOIN flights f ON f.flight_id = c.flight_id"
        " WHERE f.destination IS NOT NULL GROUP BY 1, 2"
    )
    result = {code: dict.fromkeys(STAGES, 0) for code in AIRPORTS}
    for r in rows:
        stages = result.setdefault(r["airport"], dict.fromkeys(STAGES, 0))
        stages[STAGES[r["stage_rank"]]] = int(r["n"])
    return result
