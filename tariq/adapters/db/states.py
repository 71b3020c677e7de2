"""Loading and saving the stream's entity states (stream/bags.py, stream/entities.py).

Column names are the dataclass field names, so one generic load and one generic batched
upsert serve every entity; the SQL types are listed once here.
"""

from __future__ import annotations

import dataclasses
import operator
from collections.abc import Container, Sequence
from datetime import datetime
from typing import Any, Final

import asyncpg

from tariq.adapters.db import staging
from tariq.domain.bags import BagState
from tariq.domain.entities import FlightState, HotelState, PilgrimState, VehicleState

_SQL_TYPES: Final = {
    "str": "text",
    "datetime": "timestamptz",
    "int": "smallint",
    "float": "double precision",
    "bool": "boolean",
    "list[str]": "text[]",
}


@dataclasses.dataclass(frozen=True)
class Table:
    name: str
    key: str
    state: type
    columns: tuple[tuple[str, str], ...]  # (column, SQL type) for the stored fields


def _table(name: str, key: str, state: type, skip: tuple[str, ...] = ()) -> Table:
    hints = {f.name: f.type for f in dataclasses.fields(state)}
    columns = []
    for column, hint in hints.items():
        if column in skip:
            continue
        columns.append((column, _SQL_TYPES[str(hint).replace(" | None", "")]))
    names = [c for c, _ in columns]
    if names[0] != key or names != list(hints)[: len(names)]:
        # load() builds states positionally from the row.
        raise TypeError(f"{state.__name__}: the key must lead, and skipped fields trail")
    staging.register(name, names)
    return Table(name, key, state, tuple(columns))


BAGS: Final = _table("bags", "tag", BagState)
FLIGHTS: Final = _table("flights", "flight_id", FlightState)
PILGRIMS: Final = _table("pilgrims", "pilgrim_id", PilgrimState, skip=("boardings", "checkins"))
HOTELS: Final = _table("hotels", "hotel_id", HotelState)
VEHICLES: Final = _table("vehicles", "vehicle_id", VehicleState)


@dataclasses.dataclass(frozen=True)
class Projection:
    """Some of a table's stored fields: states loaded with these only (the others keep
    their defaults), for a reader that needs no more (the reconciler's rules)."""

    table: Table
    lead: tuple[str, ...]  # the leading fields that are all loaded: the key first
    rest: tuple[str, ...]  # the other fields loaded, passed by name


def projection(table: Table, fields: Sequence[str]) -> Projection:
    """The key and these stored fields of `table`, split as `load` reads them."""
    names = [c for c, _ in table.columns]
    unknown = set(fields) - set(names)
    if unknown:
        raise ValueError(f"{table.name} stores no {sorted(unknown)}")
    wanted = {table.key, *fields}
    lead = 0
    while lead < len(names) and names[lead] in wanted:
        lead += 1
    return Projection(
        table,
        tuple(names[:lead]),
        tuple(n for n in names[lead:] if n in wanted),
    )


async def load(
    conn: asyncpg.Connection, table: Table | Projection, keys: Sequence[str]
) -> dict[str, Any]:
    """The states of these keys that exist, by key: whole, or only a projection's fields."""
    if not keys:
        return {}
    if isinstance(table, Projection):
        lead, rest, table = table.lead, table.rest, table.table
    else:
        lead, rest = tuple(c for c, _ in table.columns), ()
    names = ", ".join(f"t.{c}" for c in (*lead, *rest))
    # A join, not `key = ANY($1)`: while a table grows faster than its statistics, the
    # planner may scan it and compare each row with every key (we measured 58 ms a batch).
    rows = await conn.fetch(
        f"SELECT {names} FROM unnest($1::text[]) AS k(key)"
        f" JOIN {table.name} t ON t.{table.key} = k.key",
        list(keys),
    )
    # The leading columns are the state's leading fields, in order, the key first:
    # positional construction costs a third of building a dict of each row.
    make = table.state
    if rest:
        n = len(lead)
        states = {row[0]: make(*row[:n], **dict(zip(rest, row[n:], strict=True))) for row in rows}
    else:
        states = {row[0]: make(*row) for row in rows}
    if table is PILGRIMS and states:
        await _load_pilgrim_sets(conn, states)
    return states


async def save(
    conn: asyncpg.Connection, table: Table, states: Sequence[Any], stored: Container[str]
) -> None:
    """Write whole states (the fold already merged them); `stored`: the keys that were
    loaded, i.e. that have a row.

    The others are new, and are COPYed straight into the table: the batch holds their
    advisory locks (store.lock_entities) and found no row under them, and only a holder of
    the lock writes states, so none can have appeared since. The stored ones are staged by
    COPY and upserted in one statement (a lookup by key per row, whatever the planner's
    statistics say)."""
    if not states:
        return
    names = [c for c, _ in table.columns]
    row_of = operator.attrgetter(*names)
    key_of = operator.attrgetter(table.key)
    new = [s for s in states if key_of(s) not in stored]
    if new:
        await conn.copy_records_to_table(table.name, records=map(row_of, new), columns=names)
    if len(new) < len(states):
        old = (s for s in states if key_of(s) in stored)
        stage = await staging.copy(conn, table.name, map(row_of, old))
        columns = ", ".join(names)
        updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in names if c != table.key)
        # No ORDER BY: the batch holds the entities' advisory locks.
        await conn.execute(
            f"INSERT INTO {table.name} ({columns}) SELECT {columns} FROM {stage}"
            f" ON CONFLICT ({table.key}) DO UPDATE SET {updates}"
        )
    if table is PILGRIMS:
        await _save_pilgrim_sets(conn, states)


async def _load_pilgrim_sets(conn: asyncpg.Connection, states: dict[str, Any]) -> None:
    keys = list(states)
    for row in await conn.fetch(
        "SELECT b.pilgrim_id, b.flight_id, b.boarded_at FROM unnest($1::text[]) AS k(key)"
        " JOIN boardings b ON b.pilgrim_id = k.key",
        keys,
    ):
        states[row["pilgrim_id"]].boardings[row["flight_id"]] = row["boarded_at"]
    for row in await conn.fetch(
        "SELECT c.pilgrim_id, c.hotel_id, c.at FROM unnest($1::text[]) AS k(key)"
        " JOIN checkins c ON c.pilgrim_id = k.key",
        keys,
    ):
        states[row["pilgrim_id"]].checkins[row["hotel_id"]] = row["at"]


async def _save_pilgrim_sets(conn: asyncpg.Connection, states: Sequence[Any]) -> None:
    boardings = [(p.pilgrim_id, f, at) for p in states for f, at in p.boardings.items()]
    checkins = [(p.pilgrim_id, h, at) for p in states for h, at in p.checkins.items()]
    if boardings:
        await conn.execute(
            "INSERT INTO boardings (pilgrim_id, flight_id, boarded_at)"
            " SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[])"
            " ON CONFLICT (pilgrim_id, flight_id) DO UPDATE"
            " SET boarded_at = LEAST(boardings.boarded_at, EXCLUDED.boarded_at)",
            *map(list, zip(*boardings, strict=True)),
        )
    if checkins:
        await conn.execute(
            "INSERT INTO checkins (pilgrim_id, hotel_id, at)"
            " SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[])"
            " ON CONFLICT (pilgrim_id, hotel_id) DO UPDATE"
            " SET at = LEAST(checkins.at, EXCLUDED.at)",
            *map(list, zip(*checkins, strict=True)),
        )


async def insert_fixes(
    conn: asyncpg.Connection, fixes: Sequence[tuple[str, datetime, str, float, float]]
) -> None:
    if fixes:
        stage = await staging.copy(conn, "vehicle_fixes", fixes)
        await conn.execute(
            "INSERT INTO vehicle_fixes (vehicle_id, at, event_id, lat, lon)"
            f" SELECT vehicle_id, at, event_id, lat, lon FROM {stage} ON CONFLICT DO NOTHING"
        )


async def mark_dirty(conn: asyncpg.Connection, marks: set[tuple[str, str]]) -> None:
    # Straight into the queue: plain rows, nothing to merge, so no stage to copy them from.
    if marks:
        await conn.copy_records_to_table("dirty", records=sorted(marks), columns=["kind", "key"])


async def pilgrim_groups(conn: asyncpg.Connection, pilgrim_ids: Sequence[str]) -> dict[str, str]:
    if not pilgrim_ids:
        return {}
    rows = await conn.fetch(
        "SELECT p.pilgrim_id, p.group_id FROM unnest($1::text[]) k(key)"
        " JOIN pilgrims p ON p.pilgrim_id = k.key WHERE p.group_id IS NOT NULL",
        list(pilgrim_ids),
    )
    return {r["pilgrim_id"]: r["group_id"] for r in rows}
