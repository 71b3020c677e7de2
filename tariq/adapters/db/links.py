"""SQL of the pilgrim, in-bus and handheld pages: page links, and what each page shows."""

from __future__ import annotations

from typing import Any, TypeAlias

import asyncpg

from tariq.domain.events import STAGE_RANK, STAGES
from tariq.domain.links import hash_link, new_link

Db: TypeAlias = asyncpg.Connection | asyncpg.Pool
TRUCK_RANK = STAGE_RANK["truck_loaded"]


async def pilgrim_known(db: Db, pilgrim_id: str) -> bool:
    return bool(
        await db.fetchval(
            "SELECT EXISTS (SELECT 1 FROM pilgrims WHERE pilgrim_id = $1)"
            " OR EXISTS (SELECT 1 FROM bags WHERE pilgrim_id = $1)",
            pilgrim_id,
        )
    )


async def create_link(db: Db, pilgrim_id: str) -> str | None:
    """A new link to the pilgrim's page (None when no such pilgrim is known)."""
    if not await pilgrim_known(db, pilgrim_id):
        return None
    link = new_link()
    await db.execute(
        "INSERT INTO pilgrim_links (link_hash, pilgrim_id) VALUES ($1, $2)",
        hash_link(link),
        pilgrim_id,
    )
    return link


async def revoke_links(db: Db, pilgrim_id: str) -> int:
    """Revoke every live link of the pilgrim; returns how many there were."""
    status = await db.execute(
        "UPDATE pilgrim_links SET revoked_at = now() WHERE pilgrim_id = $1 AND revoked_at IS NULL",
        pilgrim_id,
    )
    return int(status.split()[-1])


async def pilgrim_of_link(db: Db, link: str) -> str | None:
    return await db.fetchval(
        "SELECT pilgrim_id FROM pilgrim_links WHERE link_hash = $1 AND revoked_at IS NULL",
        hash_link(link),
    )


async def service_clock(db: Db) -> Any:
    """The service's clock in event time (the reconciler's), for ETAs in minutes."""
    return await db.fetchval("SELECT clock FROM reconciler_state WHERE id = 1")


async def pilgrim_page(db: Db, pilgrim_id: str) -> dict[str, Any]:
    """The pilgrim's registration (name, nationality, hotel) and bags with what the page
    needs about each: where it is, its hotel, and the truck it is on. No passport, no
    other pilgrim."""
    person = await db.fetchrow(
        "SELECT p.name, p.nationality, p.hotel_id, h.name AS hotel_name"
        " FROM pilgrims p LEFT JOIN hotels h USING (hotel_id) WHERE p.pilgrim_id = $1",
        pilgrim_id,
    )
    bags = await db.fetch(
        "SELECT b.tag, b.stage_rank, b.location, b.updated_at, b.hotel_id,"
        " h.name AS hotel_name, lh.name AS location_hotel_name,"
        " CASE WHEN b.stage_rank = $2 THEN b.truck_vehicle_id END AS vehicle_id,"
        " j.status AS vehicle_status, j.plan, j.next_stop, j.eta AS next_stop_eta,"
        " EXISTS (SELECT 1 FROM alerts a WHERE a.tag = b.tag AND a.status = 'open')"
        " AS attention"
        " FROM bags b LEFT JOIN hotels h ON h.hotel_id = b.hotel_id"
        " LEFT JOIN hotels lh ON lh.hotel_id = b.location"
        " LEFT JOIN vehicle_judgements j"
        " ON j.vehicle_id = b.truck_vehicle_id AND b.stage_rank = $2"
        " WHERE b.pilgrim_id = $1 ORDER BY b.tag",
        pilgrim_id,
        TRUCK_RANK,
    )
    return {
        "person": dict(person) if person else None,
        "bags": [{**dict(b), "stage": STAGES[b["stage_rank"]]} for b in bags],
    }


async def bus_screen(db: Db, vehicle_id: str) -> dict[str, Any] | None:
    """The bus (None if no such vehicle), its next stop and the pilgrims on board — those
    whose latest bus is this one and who have not checked in since — with their bags."""
    vehicle = await db.fetchrow(
        "SELECT v.vehicle_id, v.kind, v.at, coalesce(j.status, 'idle') AS status,"
        " j.next_stop, h.name AS next_stop_name, j.eta"
        " FROM vehicles v LEFT JOIN vehicle_judgements j USING (vehicle_id)"
        " LEFT JOIN hotels h ON h.hotel_id = j.next_stop WHERE v.vehicle_id = $1",
        vehicle_id,
    )
    if vehicle is None:
        return None
    rows = await db.fetch(
        "SELECT p.pilgrim_id, p.nationality, p.hotel_id, ph.name AS hotel_name,"
        " b.tag, b.stage_rank, b.location, lh.name AS location_hotel_name"
        " FROM pilgrims p LEFT JOIN bags b ON b.pilgrim_id = p.pilgrim_id"
        " LEFT JOIN hotels ph ON ph.hotel_id = p.hotel_id"
        " LEFT JOIN hotels lh ON lh.hotel_id = b.location"
        " WHERE p.bus_vehicle_id = $1"
        " AND (p.last_checkin_at IS NULL OR p.last_checkin_at < p.bus_boarded_at)"
        " ORDER BY p.pilgrim_id, b.tag",
        vehicle_id,
    )
    return {"vehicle": dict(vehicle), "rows": [dict(r) for r in rows]}


async def scan_view(db: Db, tag: str) -> dict[str, Any] | None:
    """What the handheld counter shows for a tag: its route label and open alerts."""
    bag = await db.fetchrow(
        "SELECT b.tag, b.pilgrim_id, b.flight_id, b.hotel_id, h.name AS hotel_name,"
        " f.destination AS airport, b.stage_rank, b.location, b.hotel_scan_hotel"
        " FROM bags b LEFT JOIN hotels h ON h.hotel_id = b.hotel_id"
        " LEFT JOIN flights f ON f.flight_id = b.flight_id WHERE b.tag = $1",
        tag,
    )
    alerts = await db.fetch(
        "SELECT alert_id, type, raised_at, pilgrim_id, flight_id, hotel_id FROM alerts"
        " WHERE tag = $1 AND status = 'open' ORDER BY raised_at DESC",
        tag,
    )
    if bag is None and not alerts:
        return None
    return {
        "bag": {**dict(bag), "stage": STAGES[bag["stage_rank"]]} if bag else None,
        "alerts": [dict(a) for a in alerts],
    }


async def pilgrim_labels(db: Db, pilgrim_id: str) -> list[dict[str, Any]]:
    """What the coding hall prints on each of the pilgrim's bags: tag, flight, arrival
    airport, hotel, and the registered name (for operators' prints only)."""
    rows = await db.fetch(
        "SELECT b.tag, b.pilgrim_id, b.flight_id, b.hotel_id, f.destination AS airport,"
        " p.name FROM bags b LEFT JOIN flights f ON f.flight_id = b.flight_id"
        " LEFT JOIN pilgrims p ON p.pilgrim_id = b.pilgrim_id"
        " WHERE b.pilgrim_id = $1 ORDER BY b.tag",
        pilgrim_id,
    )
    return [dict(r) for r in rows]
