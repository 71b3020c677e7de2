"""Forgiving search for operators: case-insensitive prefix matches on tags (spaces ignored),
pilgrims, groups, flights, hotels (id or name) and vehicles. Every lookup is a prefix match
on `upper(column)` served by a `text_pattern_ops` index (migration 007)."""

from __future__ import annotations

import re
from typing import Any, Final

import asyncpg

from tariq.domain.events import STAGES

PER_KIND: Final = 10
_SPACES: Final = re.compile(r"\s+")


def _prefix(text: str) -> str:
    """A LIKE pattern matching what starts with `text` (its wildcards escaped)."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped.upper() + "%"


async def search(
    conn: asyncpg.Connection, query: str, per_kind: int = PER_KIND
) -> list[dict[str, Any]]:
    """Results `{kind, id, label}`, by kind (bag, pilgrim, group, flight, hotel, vehicle),
    exact matches first, then in id order. Spaces are ignored (a tag typed in groups), but an
    id that holds spaces is found as typed too."""
    compact = _SPACES.sub("", query)
    name = _SPACES.sub(" ", query.strip())
    if not compact:
        return []
    id_like, name_like, exact = _prefix(compact), _prefix(name), compact.upper()
    results: list[dict[str, Any]] = []
    if compact.isdigit():
        rows = await conn.fetch(
            "SELECT tag, stage_rank, hotel_id, location FROM bags WHERE tag LIKE $1 ESCAPE '\\'"
            " ORDER BY tag LIMIT $2",
            id_like,
            per_kind,
        )
        results += [
            {
                "kind": "bag",
                "id": r["tag"],
                "label": _join(STAGES[r["stage_rank"]], r["location"], r["hotel_id"]),
            }
            for r in rows
        ]
    rows = await conn.fetch(
        "SELECT pilgrim_id, group_id, flight_id, hotel_id FROM pilgrims"
        " WHERE upper(pilgrim_id) LIKE $1 ESCAPE '\\' OR upper(pilgrim_id) LIKE $4 ESCAPE '\\'"
        " ORDER BY upper(pilgrim_id) = $2 DESC, pilgrim_id LIMIT $3",
        id_like,
        exact,
        per_kind,
        name_like,
    )
    results += [
        {
            "kind": "pilgrim",
            "id": r["pilgrim_id"],
            "label": _join(r["group_id"], r["flight_id"], r["hotel_id"]),
        }
        for r in rows
    ]
    rows = await conn.fetch(
        "SELECT group_id, count(*) AS n, min(flight_id) AS flight_id, min(hotel_id) AS hotel_id"
        " FROM pilgrims"
        " WHERE upper(group_id) LIKE $1 ESCAPE '\\' OR upper(group_id) LIKE $4 ESCAPE '\\'"
        " GROUP BY group_id ORDER BY upper(group_id) = $2 DESC, group_id LIMIT $3",
        id_like,
        exact,
        per_kind,
        name_like,
    )
    results += [
        {
            "kind": "group",
            "id": r["group_id"],
            "label": _join(f"{r['n']}", r["flight_id"], r["hotel_id"]),
            "pilgrims": r["n"],
        }
        for r in rows
    ]
    results += await _places(conn, id_like, name_like, exact, per_kind)
    return results


async def _places(
    conn: asyncpg.Connection, id_like: str, name_like: str, exact: str, per_kind: int
) -> list[dict[str, Any]]:
    """Flights, hotels (by id or name) and vehicles."""
    flights = await conn.fetch(
        "SELECT flight_id, origin, destination FROM flights"
        " WHERE upper(flight_id) LIKE $1 ESCAPE '\\'"
        " ORDER BY upper(flight_id) = $2 DESC, flight_id LIMIT $3",
        id_like,
        exact,
        per_kind,
    )
    hotels = await conn.fetch(
        "SELECT hotel_id, name, city FROM hotels"
        " WHERE upper(hotel_id) LIKE $1 ESCAPE '\\' OR upper(name) LIKE $2 ESCAPE '\\'"
        " ORDER BY upper(hotel_id) = $3 DESC, hotel_id LIMIT $4",
        id_like,
        name_like,
        exact,
        per_kind,
    )
    vehicles = await conn.fetch(
        "SELECT v.vehicle_id, v.kind, coalesce(j.status, 'idle') AS status"
        " FROM vehicles v LEFT JOIN vehicle_judgements j USING (vehicle_id)"
        " WHERE upper(v.vehicle_id) LIKE $1 ESCAPE '\\'"
        " ORDER BY upper(v.vehicle_id) = $2 DESC, v.vehicle_id LIMIT $3",
        id_like,
        exact,
        per_kind,
    )
    return [
        *(
            {"kind": "flight", "id": r["flight_id"], "label": _join(r["origin"], r["destination"])}
            for r in flights
        ),
        *(
            {"kind": "hotel", "id": r["hotel_id"], "label": _join(r["name"], r["city"])}
            for r in hotels
        ),
        *(
            {"kind": "vehicle", "id": r["vehicle_id"], "label": _join(r["kind"], r["status"])}
            for r in vehicles
        ),
    ]


def _join(*parts: str | None) -> str:
    return " · ".join(p for p in parts if p)


async def group_members(
    conn: asyncpg.Connection, group_id: str, limit: int
) -> list[dict[str, Any]]:
    """The pilgrims of a group (ids, flight, hotel; no names), in id order."""
    rows = await conn.fetch(
        "SELECT pilgrim_id, flight_id, hotel_id FROM pilgrims WHERE group_id = $1"
        " ORDER BY pilgrim_id LIMIT $2",
        group_id,
        limit,
    )
    return [dict(r) for r in rows]
