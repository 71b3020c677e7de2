"""Queries for the web tier: what the HTTP API and the feeds' snapshots show."""

from __future__ import annotations

from typing import Any

import asyncpg

from tariq.adapters.db import states
from tariq.adapters.db.airports import ALERT_AIRPORT, ALERTS_FROM
from tariq.domain.events import STAGE_RANK, STAGES
from tariq.domain.records import MAX_DEAD_LETTER_BYTES

DEAD_LETTER_PAGE_BYTES = 32 * 1024 * 1024

ALERT_COLUMNS = (
    "alert_id, type, status, raised_at, resolved_at, tag, pilgrim_id, flight_id, hotel_id,"
    " vehicle_id"
)
DELIVERED_RANK = STAGE_RANK["delivered"]
# An alert's columns (of `alerts a` in ALERTS_FROM) and its airport.
_ALERT_SELECT = ", ".join(f"a.{c.strip()}" for c in ALERT_COLUMNS.split(",")) + (
    f", {ALERT_AIRPORT} AS airport"
)


async def ping(conn: asyncpg.Connection) -> None:
    """Raises when the database does not answer (the health check)."""
    await conn.fetchval("SELECT 1")


async def bag(conn: asyncpg.Connection, tag: str) -> dict[str, Any] | None:
    state = (await states.load(conn, states.BAGS, [tag])).get(tag)
    if state is None:
        return None
    history = await conn.fetch(
        "SELECT event_id, payload::jsonb->>'checkpoint' AS checkpoint,"
        " payload::jsonb->>'location' AS location, occurred_at"
        " FROM journal WHERE tag = $1 AND type = 'bag.scanned'"
        " ORDER BY occurred_at, event_id",
        tag,
    )
    alerts = await conn.fetch(
        f"SELECT {_ALERT_SELECT} FROM {ALERTS_FROM} WHERE a.tag = $1 ORDER BY a.raised_at DESC",
        tag,
    )
    return {
        "tag": state.tag,
        "pilgrim_id": state.pilgrim_id,
        "flight_id": state.flight_id,
        "hotel_id": state.hotel_id,
        "stage": state.stage,
        "location": state.location,
        "updated_at": state.updated_at,
        "history": [dict(h) for h in history],
        "alerts": [dict(a) for a in alerts],
    }


def pilgrim_stage(p: Any) -> str:
    """Where the pilgrim is on the journey, from the furthest fact known."""
    if p.last_checkin_at is not None:
        return "checked_in"
    if p.bus_boarded_at is not None:
        return "on_bus"
    if p.arrived_at is not None:
        return "arrived"
    if p.boardings:
        return "boarded"
    return "registered" if p.registered_at is not None else "unknown"


async def pilgrim(conn: asyncpg.Connection, pilgrim_id: str) -> dict[str, Any] | None:
    state = (await states.load(conn, states.PILGRIMS, [pilgrim_id])).get(pilgrim_id)
    bags = await conn.fetch(
        "SELECT tag, stage_rank, location, hotel_id, flight_id, updated_at FROM bags"
        " WHERE pilgrim_id = $1 ORDER BY tag",
        pilgrim_id,
    )
    if state is None and not bags:
        return None
    return {
        "pilgrim_id": pilgrim_id,
        "group_id": state.group_id if state else None,
        "flight_id": state.flight_id if state else None,
        "hotel_id": state.hotel_id if state else None,
        "nationality": state.nationality if state else None,
        "name": state.name if state else None,  # operators only; never a passport number
        "stage": pilgrim_stage(state) if state else "unknown",
        "boarded_flights": sorted(state.boardings) if state else [],
        "bus_vehicle_id": state.bus_vehicle_id if state else None,
        "checked_in_at": state.last_checkin_at if state else None,
        "bags": [
            {
                "tag": b["tag"],
                "stage": STAGES[b["stage_rank"]],
                "location": b["location"],
                "hotel_id": b["hotel_id"],
                "flight_id": b["flight_id"],
                "updated_at": b["updated_at"],
            }
            for b in bags
        ],
    }


async def flight(conn: asyncpg.Connection, flight_id: str) -> dict[str, Any] | None:
    state = (await states.load(conn, states.FLIGHTS, [flight_id])).get(flight_id)
    counts = await conn.fetch(
        "SELECT stage_rank, count(*) AS n FROM bags WHERE flight_id = $1 GROUP BY stage_rank",
        flight_id,
    )
    if state is None and not counts:
        return None
    by_stage = dict.fromkeys(STAGES, 0)
    for row in counts:
        by_stage[STAGES[row["stage_rank"]]] = row["n"]
    boarded = await conn.fetchval("SELECT count(*) FROM boardings WHERE flight_id = $1", flight_id)
    loaded = await conn.fetchval(
        "SELECT count(*) FROM bags WHERE flight_id = $1 AND loaded_seen", flight_id
    )
    alerts = await conn.fetch(
        "SELECT type, count(*) AS n FROM alerts WHERE flight_id = $1 AND status = 'open'"
        " GROUP BY type",
        flight_id,
    )
    pilgrims = await flight_pilgrims(conn, flight_id)
    return {
        **pilgrims,
        "bags_reached": bags_reached(by_stage),
        "flight_id": flight_id,
        "status": state.status if state else "unknown",
        "origin": state.origin if state else None,
        "destination": state.destination if state else None,
        "scheduled_departure": state.scheduled_departure if state else None,
        "scheduled_arrival": state.scheduled_arrival if state else None,
        "departed_at": state.departed_at if state else None,
        "arrived_at": state.arrived_at if state else None,
        "bags_by_stage": by_stage,
        "bags_loaded": loaded,
        "pilgrims_boarded": boarded,
        "alerts_open": sum(r["n"] for r in alerts),
        "alerts_open_by_type": {r["type"]: r["n"] for r in alerts},
    }


_RECEIPTS = (
    " LEFT JOIN hotel_receipts rc ON rc.hotel_id = $1 AND rc.tag = b.tag"
    " AND rc.action = 'confirmed'"
    " LEFT JOIN hotel_receipts rw ON rw.hotel_id = $1 AND rw.tag = b.tag"
    " AND rw.action = 'reported_wrong'"
)


def bags_reached(by_stage: dict[str, int]) -> dict[str, int]:
    """Bags that reached each stage or a later one (every bag reached `coded`)."""
    reached: dict[str, int] = {}
    running = 0
    for stage in reversed(STAGES):
        running += by_stage.get(stage, 0)
        reached[stage] = running
    return {stage: reached[stage] for stage in STAGES}


async def flight_pilgrims(conn: asyncpg.Connection, flight_id: str) -> dict[str, int]:
    """The flight's pilgrims: registered for it, boarded it, with a bag coded on it, and the
    bags of its boarded pilgrims (what a flight's bags are to be compared with)."""
    row = await conn.fetchrow(
        "SELECT (SELECT count(*) FROM pilgrims WHERE flight_id = $1) AS registered,"
        " (SELECT count(DISTINCT pilgrim_id) FROM bags WHERE flight_id = $1) AS with_bags,"
        " (SELECT count(*) FROM bags b JOIN boardings o"
        "  ON o.pilgrim_id = b.pilgrim_id AND o.flight_id = b.flight_id"
        "  WHERE b.flight_id = $1) AS bags_of_boarded",
        flight_id,
    )
    return {
        "pilgrims_registered": int(row["registered"]),
        "pilgrims_with_bags": int(row["with_bags"]),
        "bags_of_boarded_pilgrims": int(row["bags_of_boarded"]),
    }


async def hotel_bags(
    conn: asyncpg.Connection, hotel_id: str, limit: int, offset: int
) -> dict[str, Any]:
    """The hotel's bags (paged), and the other hotels' bags sorted or delivered to it
    (`not_ours`). A bag is `delivered` for the hotel only once delivered or claimed *at* it:
    a bag misdelivered elsewhere is not, and names where it is (`held_at`)."""
    totals = await conn.fetchrow(
        "SELECT count(*) AS expected,"
        " count(*) FILTER (WHERE $1 = ANY(delivered_hotels)) AS delivered"
        " FROM bags WHERE hotel_id = $1",
        hotel_id,
    )
    rows = await conn.fetch(
        "SELECT b.tag, b.pilgrim_id, b.flight_id, b.stage_rank, b.location, b.updated_at,"
        " b.truck_vehicle_id, p.group_id, $1 = ANY(b.delivered_hotels) AS delivered,"
        " nullif(b.hotel_scan_hotel, $1) AS held_at,"
        " rc.at AS confirmed_at, rw.at AS reported_wrong_at"
        f" FROM bags b LEFT JOIN pilgrims p USING (pilgrim_id){_RECEIPTS}"
        " WHERE b.hotel_id = $1 ORDER BY b.flight_id, b.tag LIMIT $2 OFFSET $3",
        hotel_id,
        limit,
        offset,
    )
    etas = await _etas(conn, hotel_id, [r["tag"] for r in rows])
    return {
        "hotel_id": hotel_id,
        "expected": totals["expected"],
        "delivered": totals["delivered"],
        "total": totals["expected"],
        "limit": limit,
        "offset": offset,
        "bags": [
            {
                "tag": r["tag"],
                "pilgrim_id": r["pilgrim_id"],
                "group_id": r["group_id"],
                "flight_id": r["flight_id"],
                "hotel_id": hotel_id,
                "stage": STAGES[r["stage_rank"]],
                "location": r["location"],
                "vehicle_id": r["truck_vehicle_id"],
                "updated_at": r["updated_at"],
                "delivered": r["delivered"],
                "held_at": r["held_at"],
                "not_ours": False,
                "confirmed_at": r["confirmed_at"],
                "reported_wrong_at": r["reported_wrong_at"],
                **({"eta": etas[r["tag"]]} if r["tag"] in etas else {}),
            }
            for r in rows
        ],
        "not_ours": await held_for_others(conn, hotel_id, NOT_OURS_LIMIT),
    }


NOT_OURS_LIMIT = 1_000


async def held_for_others(
    conn: asyncpg.Connection, hotel_id: str, limit: int
) -> list[dict[str, Any]]:
    """Bags coded for another hotel whose latest sorted/delivered/claimed scan names this one
    (it holds them, or they are on its lane): the tag, the hotel it belongs to, where it is.
    No pilgrim or flight: that is the other hotel's business."""
    rows = await conn.fetch(
        "SELECT b.tag, b.hotel_id, b.stage_rank, b.location, b.updated_at,"
        " rw.at AS reported_wrong_at, NULL::timestamptz AS confirmed_at"
        " FROM bags b"
        " LEFT JOIN hotel_receipts rw ON rw.hotel_id = $1 AND rw.tag = b.tag"
        " AND rw.action = 'reported_wrong'"
        " WHERE b.hotel_scan_hotel = $1 AND b.hotel_id IS DISTINCT FROM $1"
        " ORDER BY b.updated_at DESC, b.tag LIMIT $2",
        hotel_id,
        limit,
    )
    return [
        {
            "tag": r["tag"],
            "pilgrim_id": None,
            "group_id": None,
            "flight_id": None,
            "hotel_id": r["hotel_id"],
            "stage": STAGES[r["stage_rank"]],
            "location": r["location"],
            "vehicle_id": None,
            "updated_at": r["updated_at"],
            "delivered": False,
            "held_at": hotel_id,
            "not_ours": True,
            "confirmed_at": None,
            "reported_wrong_at": r["reported_wrong_at"],
        }
        for r in rows
    ]


async def _etas(conn: asyncpg.Connection, hotel_id: str, tags: list[str]) -> dict[str, Any]:
    """ETA of bags on a truck en route, from the latest `bags_en_route` notice naming them."""
    if not tags:
        return {}
    rows = await conn.fetch(
        "SELECT DISTINCT ON (tag) tag, convert_from(body, 'UTF8')::jsonb->>'eta' AS eta"
        " FROM notice_outbox,"
        " jsonb_array_elements_text(convert_from(body, 'UTF8')::jsonb->'tags') AS tag"
        " WHERE hotel_id = $1 AND kind = 'bags_en_route' AND tag = ANY($2::text[])"
        " ORDER BY tag, created_at DESC",
        hotel_id,
        tags,
    )
    return {r["tag"]: r["eta"] for r in rows if r["eta"]}


async def alerts(
    conn: asyncpg.Connection,
    *,
    status: str | None,
    types: list[str],
    filters: dict[str, str],
    limit: int,
    offset: int,
    airport: str | None = None,
) -> tuple[int, list[dict[str, Any]]]:
    """A page of alerts, newest first, each with its `airport` (tariq/adapters/db/airports.py);
    `airport` filters on it."""
    where: list[str] = []
    args: list[Any] = []
    if status:
        args.append(status)
        where.append(f"a.status = ${len(args)}")
    if types:
        args.append(types)
        where.append(f"a.type = ANY(${len(args)}::text[])")
    for column, value in filters.items():
        args.append(value)
        where.append(f"a.{column} = ${len(args)}")
    if airport:
        args.append(airport)
        where.append(f"{ALERT_AIRPORT} = ${len(args)}")
    clause = f"WHERE {' AND '.join(where)}" if where else ""
    total = await conn.fetchval(f"SELECT count(*) FROM {ALERTS_FROM} {clause}", *args)
    rows = await conn.fetch(
        f"SELECT {_ALERT_SELECT} FROM {ALERTS_FROM} {clause}"
        f" ORDER BY a.raised_at DESC, a.alert_id"
        f" LIMIT ${len(args) + 1} OFFSET ${len(args) + 2}",
        *args,
        limit,
        offset,
    )
    return total, [dict(r) for r in rows]


_VEHICLE_COLUMNS = (
    "v.vehicle_id, v.kind, v.lat, v.lon, v.speed_kmh, v.heading, v.at,"
    " coalesce(j.status, 'idle') AS status, j.next_stop, j.eta"
)


async def vehicles(conn: asyncpg.Connection, limit: int = 100_000) -> list[dict[str, Any]]:
    """Every vehicle: its latest position and the reconciler's status, next stop and ETA."""
    rows = await conn.fetch(
        f"SELECT {_VEHICLE_COLUMNS}"
        " FROM vehicles v LEFT JOIN vehicle_judgements j USING (vehicle_id)"
        " ORDER BY v.vehicle_id LIMIT $1",
        limit,
    )
    return [dict(r) for r in rows]


async def vehicle(conn: asyncpg.Connection, vehicle_id: str) -> dict[str, Any] | None:
    """One vehicle as `vehicles` shows it, or None when it has sent no position yet."""
    row = await conn.fetchrow(
        f"SELECT {_VEHICLE_COLUMNS}"
        " FROM vehicles v LEFT JOIN vehicle_judgements j USING (vehicle_id)"
        " WHERE v.vehicle_id = $1",
        vehicle_id,
    )
    return dict(row) if row else None


async def hotel_trucks(conn: asyncpg.Connection, hotel_id: str) -> list[dict[str, Any]]:
    """The vehicles carrying the hotel's bags now (their latest loading on a truck, not yet
    delivered), as `vehicles` shows them: position, status, next stop and ETA."""
    rows = await conn.fetch(
        f"SELECT {_VEHICLE_COLUMNS}"
        " FROM vehicles v LEFT JOIN vehicle_judgements j USING (vehicle_id)"
        " WHERE v.vehicle_id IN (SELECT truck_vehicle_id FROM bags"
        " WHERE hotel_id = $1 AND stage_rank = $2 AND truck_vehicle_id IS NOT NULL)"
        " ORDER BY v.vehicle_id",
        hotel_id,
        STAGE_RANK["truck_loaded"],
    )
    return [dict(r) for r in rows]


async def open_vehicle_alerts(
    conn: asyncpg.Connection, vehicle_ids: list[str]
) -> list[dict[str, Any]]:
    """The open alerts about these vehicles (stalls), each with its airport."""
    if not vehicle_ids:
        return []
    rows = await conn.fetch(
        f"SELECT {_ALERT_SELECT} FROM {ALERTS_FROM}"
        " WHERE a.status = 'open' AND a.vehicle_id = ANY($1::text[])"
        " ORDER BY a.raised_at DESC",
        vehicle_ids,
    )
    return [dict(r) for r in rows]


async def bus_passengers(conn: asyncpg.Connection, vehicle_id: str) -> list[dict[str, Any]]:
    """The pilgrims whose latest bus is this one and who have not checked in since, with
    their bags (no names: the bus screen is in a public place)."""
    rows = await conn.fetch(
        "SELECT p.pilgrim_id, p.hotel_id, b.tag, b.stage_rank, b.location"
        " FROM pilgrims p LEFT JOIN bags b ON b.pilgrim_id = p.pilgrim_id"
        " WHERE p.bus_vehicle_id = $1"
        " AND (p.last_checkin_at IS NULL OR p.last_checkin_at < p.bus_boarded_at)"
        " ORDER BY p.pilgrim_id, b.tag",
        vehicle_id,
    )
    passengers: dict[str, dict[str, Any]] = {}
    for r in rows:
        entry = passengers.setdefault(
            r["pilgrim_id"], {"pilgrim_id": r["pilgrim_id"], "hotel_id": r["hotel_id"], "bags": []}
        )
        if r["tag"]:
            entry["bags"].append(
                {"tag": r["tag"], "stage": STAGES[r["stage_rank"]], "location": r["location"]}
            )
    return list(passengers.values())


async def registered_hotels(conn: asyncpg.Connection) -> list[dict[str, Any]]:
    """The hotels with a position, each as its latest registration in event time left it."""
    rows = await conn.fetch(
        "SELECT hotel_id, name, city, lat, lon FROM hotels WHERE lat IS NOT NULL ORDER BY hotel_id"
    )
    return [dict(r) for r in rows]


async def dead_letters(
    conn: asyncpg.Connection, limit: int, offset: int
) -> tuple[int, list[dict[str, Any]]]:
    total = await conn.fetchval("SELECT count(*) FROM dead_letters")
    # Each raw is kept masked and at most 64 KiB; a page shows at most DEAD_LETTER_PAGE_BYTES
    # of raw input in all (each item's share, at least 1 KiB), so even 100,000 items stay
    # small. `truncated` says the raw shown is not the whole input; `length` and `sha256`
    # describe the original.
    shown = max(1024, min(MAX_DEAD_LETTER_BYTES, DEAD_LETTER_PAGE_BYTES // limit))
    rows = await conn.fetch(
        "SELECT received_at, source_ref, reason, substring(raw FROM 1 FOR $3) AS raw, length,"
        " sha256, truncated OR octet_length(raw) > $3 AS truncated"
        " FROM dead_letters ORDER BY id LIMIT $1 OFFSET $2",
        limit,
        offset,
        shown,
    )
    items = [
        {
            "received_at": r["received_at"],
            "source": r["source_ref"],
            "reason": r["reason"],
            "raw": bytes(r["raw"]).decode("utf-8", errors="replace"),
            "length": r["length"],
            "sha256": r["sha256"],
            "truncated": r["truncated"],
        }
        for r in rows
    ]
    return total, items


async def pilgrims_by_passport(conn: asyncpg.Connection, passport_hash: str) -> list[str]:
    """Ids of the pilgrims whose registration carried the passport with this keyed hash."""
    rows = await conn.fetch(
        "SELECT pilgrim_id FROM pilgrims WHERE passport_hash = $1 ORDER BY pilgrim_id",
        passport_hash,
    )
    return [r["pilgrim_id"] for r in rows]


async def reconciler(conn: asyncpg.Connection) -> dict[str, Any]:
    """How far alert judgement has got: entities waiting, and its event-time clock."""
    row = await conn.fetchrow(
        "SELECT (SELECT count(*) FROM dirty) AS pending,"
        " (SELECT count(*) FROM history_stale) AS history_pending, clock, round"
        " FROM reconciler_state"
    )
    return {
        "pending": row["pending"],
        "history_pending": row["history_pending"],
        "clock": row["clock"],
        "rounds": row["round"],
    }


async def bags(
    conn: asyncpg.Connection, filters: dict[str, str], limit: int, offset: int
) -> dict[str, Any]:
    """Bags in tag order, optionally of one hotel, flight or pilgrim (a paged listing)."""
    where: list[str] = []
    args: list[Any] = []
    for column, value in filters.items():
        args.append(value)
        where.append(f"{column} = ${len(args)}")
    clause = f"WHERE {' AND '.join(where)}" if where else ""
    total = await conn.fetchval(f"SELECT count(*) FROM bags {clause}", *args)
    rows = await conn.fetch(
        "SELECT tag, pilgrim_id, flight_id, hotel_id, stage_rank, location, updated_at"
        f" FROM bags {clause} ORDER BY tag LIMIT ${len(args) + 1} OFFSET ${len(args) + 2}",
        *args,
        limit,
        offset,
    )
    return {
        "total": total,
        "limit": limit,
        "offset": offset,
        "bags": [
            {
                "tag": r["tag"],
                "pilgrim_id": r["pilgrim_id"],
                "flight_id": r["flight_id"],
                "hotel_id": r["hotel_id"],
                "stage": STAGES[r["stage_rank"]],
                "location": r["location"],
                "updated_at": r["updated_at"],
            }
            for r in rows
        ],
    }


async def bags_waiting_for_trucks(conn: asyncpg.Connection, airport: str) -> dict[str, Any]:
    """Bags sorted at the airport and not on a truck yet, and their hotels' positions."""
    rows = await conn.fetch(
        "SELECT tag, hotel_id FROM bags WHERE stage_rank = $1 AND location = $2"
        " AND hotel_id IS NOT NULL ORDER BY hotel_id, tag",
        STAGE_RANK["sorted"],
        airport,
    )
    hotel_ids = sorted({r["hotel_id"] for r in rows})
    hotels = await conn.fetch(
        "SELECT h.hotel_id, h.lat, h.lon FROM unnest($1::text[]) k(key)"
        " JOIN hotels h ON h.hotel_id = k.key WHERE h.lat IS NOT NULL",
        hotel_ids,
    )
    return {
        "bags": [dict(r) for r in rows],
        "hotels": {h["hotel_id"]: (h["lat"], h["lon"]) for h in hotels},
    }
