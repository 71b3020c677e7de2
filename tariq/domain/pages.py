"""What the pilgrim, in-bus and handheld pages show, shaped from stored rows (pure).

The pages word each stage themselves, in the reader's language (web/src/i18n/); this module
decides which facts they get: for a pilgrim only their own bags, the given name at most, and
never a passport number or another pilgrim's anything.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import orjson

from tariq.domain.events import STAGES, rfc3339
from tariq.domain.languages import direction, given_name, language_for

STALLED = "stalled"


def stop_eta(plan: str | None, hotel_id: str | None) -> datetime | None:
    """The ETA at `hotel_id` in a vehicle's trip plan (`[{hotel_id, eta}]` as JSON text)."""
    if not plan or hotel_id is None:
        return None
    for stop in orjson.loads(plan):
        if stop.get("hotel_id") == hotel_id and stop.get("eta"):
            return datetime.fromisoformat(stop["eta"])
    return None


def hotel_eta(
    plan: str | None, next_stop: str | None, next_stop_eta: datetime | None, hotel_id: str | None
) -> datetime | None:
    """A vehicle's ETA at `hotel_id`: its trip plan's, else its next stop's when that is it."""
    eta = stop_eta(plan, hotel_id)
    if eta is None and hotel_id is not None and next_stop == hotel_id:
        return next_stop_eta
    return eta


def minutes_until(eta: datetime | None, clock: datetime | None) -> int | None:
    """Whole minutes from the service clock (event time) to `eta`, at least 0."""
    if eta is None or clock is None:
        return None
    return max(0, round((eta - clock).total_seconds() / 60))


def place(location: str | None, hotel_name: str | None) -> dict[str, str] | None:
    """Where a bag is: a hotel (by name) or an airport (by IATA code)."""
    if not location:
        return None
    if hotel_name:
        return {"kind": "hotel", "name": hotel_name}
    return {"kind": "airport", "code": location}


def pilgrim_view(pilgrim_id: str, raw: Mapping[str, Any], clock: datetime | None) -> dict[str, Any]:
    """`GET /p/{link}/data`: the pilgrim's given name, language and bags."""
    person = raw.get("person") or {}
    lang = language_for(person.get("nationality"))
    bags = []
    for b in raw.get("bags", ()):
        eta = None
        if b.get("vehicle_id"):
            eta = hotel_eta(
                b.get("plan"), b.get("next_stop"), b.get("next_stop_eta"), b.get("hotel_id")
            )
        bags.append(
            {
                "tag": b["tag"],
                "stage": b["stage"],
                "where": place(b.get("location"), b.get("location_hotel_name")),
                "hotel": b.get("hotel_name") or b.get("hotel_id"),
                "updated_at": rfc3339(b.get("updated_at")),
                "on_truck": bool(b.get("vehicle_id")),
                "eta": rfc3339(eta),
                "eta_minutes": minutes_until(eta, clock),
                "eta_uncertain": b.get("vehicle_status") == STALLED,
                "attention": bool(b.get("attention")),
            }
        )
    return {
        "given_name": given_name(person.get("name")),
        "lang": lang,
        "dir": direction(lang),
        "hotel": person.get("hotel_name") or person.get("hotel_id"),
        "bags": bags,
        "clock": rfc3339(clock),
    }


def bus_view(raw: Mapping[str, Any], clock: datetime | None) -> dict[str, Any]:
    """`GET /bus/{vehicle_id}/data`: the next stop, its ETA (uncertain while stalled), and
    the bags of the pilgrims on board, with the languages they read (no names: the screen
    is in a public place)."""
    vehicle = raw["vehicle"]
    passengers: dict[str, dict[str, Any]] = {}
    for row in raw.get("rows", ()):
        entry = passengers.setdefault(
            row["pilgrim_id"],
            {
                "pilgrim_id": row["pilgrim_id"],
                "lang": language_for(row.get("nationality")),
                "hotel": row.get("hotel_name") or row.get("hotel_id"),
                "bags": [],
            },
        )
        if row.get("tag"):
            entry["bags"].append(
                {
                    "tag": row["tag"],
                    "stage": STAGES[row["stage_rank"]],
                    "where": place(row.get("location"), row.get("location_hotel_name")),
                }
            )
    langs = _languages([p["lang"] for p in passengers.values()])
    eta = vehicle.get("eta")
    return {
        "vehicle_id": vehicle["vehicle_id"],
        "status": vehicle.get("status") or "idle",
        "next_stop": vehicle.get("next_stop_name") or vehicle.get("next_stop"),
        "eta": rfc3339(eta),
        "eta_minutes": minutes_until(eta, clock),
        "eta_uncertain": vehicle.get("status") == STALLED,
        "languages": langs,
        "passengers": list(passengers.values()),
        "clock": rfc3339(clock),
    }


def _languages(langs: Sequence[str]) -> list[str]:
    """The passengers' languages, most read first (ties by code), English always among them."""
    counts: dict[str, int] = {}
    for lang in langs:
        counts[lang] = counts.get(lang, 0) + 1
    ordered = sorted(counts, key=lambda lang: (-counts[lang], lang))
    return ordered if "en" in ordered else [*ordered, "en"]


def scan_view(raw: Mapping[str, Any]) -> dict[str, Any]:
    """`GET /api/scan/{tag}` for a handheld: the route label and open alerts, nothing more
    (no pilgrim name, no history)."""
    bag = raw.get("bag")
    label = None
    if bag is not None:
        label = {
            "tag": bag["tag"],
            "pilgrim_id": bag.get("pilgrim_id"),
            "flight_id": bag.get("flight_id"),
            "airport": bag.get("airport"),
            "hotel_id": bag.get("hotel_id"),
            "hotel": bag.get("hotel_name") or bag.get("hotel_id"),
            "stage": bag["stage"],
            "location": bag.get("location"),
            # The hotel lane the bag was last sorted to (a `sorted` scan's hotel_id).
            "sorted_for": bag.get("hotel_scan_hotel"),
        }
    alerts = [
        {
            "type": a["type"],
            "raised_at": rfc3339(a.get("raised_at")),
            "pilgrim_id": a.get("pilgrim_id"),
            "flight_id": a.get("flight_id"),
            "hotel_id": a.get("hotel_id"),
        }
        for a in raw.get("alerts", ())
    ]
    return {"known": bag is not None, "label": label, "alerts": alerts}
