"""Hotel truth and server-side totals through the real stack (issue 13,
docs/contract-extensions.md): a misdelivered bag is not delivered for the hotel it was
coded for, the hotel holding it sees it as "not ours" with the right hotel, hotels confirm
and report bags; `/api/summary` counts bags per airport; alerts carry their airport."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from tests.support.service import Api, RunningService, wait_until

pytestmark = pytest.mark.e2e

A, B = "MAK-TA1", "MAK-TB1"
WRONG, RIGHT, OTHER = "0065700001", "0065700002", "0065700003"


def _at(minute: int) -> str:
    return f"2026-05-18T05:{minute:02d}:00Z"


def events() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = [
        {"event_id": "ht-hA", "type": "hotel.registered", "occurred_at": _at(0), "hotel_id": A,
         "name": "A", "city": "makkah", "lat": 21.4155, "lon": 39.8275},
        {"event_id": "ht-hB", "type": "hotel.registered", "occurred_at": _at(0), "hotel_id": B,
         "name": "B", "city": "makkah", "lat": 21.4290, "lon": 39.8120},
        {"event_id": "ht-f", "type": "flight.scheduled", "occurred_at": _at(0),
         "flight_id": "SV5401-2026-05-18", "origin": "CGK", "destination": "JED",
         "scheduled_departure": "2026-05-18T01:00:00Z",
         "scheduled_arrival": "2026-05-18T04:00:00Z"},
        {"event_id": "ht-fm", "type": "flight.scheduled", "occurred_at": _at(0),
         "flight_id": "SV5402-2026-05-18", "origin": "KUL", "destination": "MED",
         "scheduled_departure": "2026-05-18T01:00:00Z",
         "scheduled_arrival": "2026-05-18T04:00:00Z"},
    ]  # fmt: skip
    coded = ((WRONG, A, "SV5401-2026-05-18"), (RIGHT, A, "SV5401-2026-05-18"),
             (OTHER, B, "SV5402-2026-05-18"))  # fmt: skip
    for n, (tag, hotel, flight) in enumerate(coded):
        out.append({"event_id": f"ht-c{n}", "type": "bag.coded", "occurred_at": _at(1),
                    "tag": tag, "pilgrim_id": f"P-HT{n}", "flight_id": flight,
                    "hotel_id": hotel})  # fmt: skip
    # WRONG (coded for A) is delivered at B; RIGHT is delivered at A.
    for tag, where in ((WRONG, B), (RIGHT, A)):
        out.append({"event_id": f"ht-d{tag}", "type": "bag.scanned", "occurred_at": _at(30),
                    "tag": tag, "checkpoint": "delivered", "location": where})  # fmt: skip
    return out


async def _post(api: Api, body: Any, path: str = "/api/events", token: str | None = None) -> Any:
    return await api.post(path, orjson.dumps(body) if body is not None else b"", token=token)


async def test_misdelivered_bags_confirm_report_and_server_totals(
    api: Api, service: RunningService
) -> None:
    status, body = await _post(api, events())
    assert status == 202 and body["rejected"] == [], body

    async def misdelivered_alert() -> bool:
        _, alerts = await api.get("/api/alerts?status=open&type=misdelivered")
        return any(a["tag"] == WRONG for a in alerts["alerts"])

    await wait_until(misdelivered_alert, timeout=60, what="the misdelivered alert")
    token_a = service.token("hotel", hotel=A)
    token_b = service.token("hotel", hotel=B)

    # A: two bags expected, one delivered (RIGHT); WRONG is not delivered and is at B.
    status, listing = await api.get(f"/api/hotels/{A}/bags", token=token_a)
    assert status == 200
    assert (listing["expected"], listing["delivered"]) == (2, 1)
    bags = {b["tag"]: b for b in listing["bags"]}
    assert bags[WRONG]["stage"] == "delivered"
    assert (bags[WRONG]["delivered"], bags[WRONG]["held_at"]) == (False, B)
    assert (bags[RIGHT]["delivered"], bags[RIGHT]["held_at"]) == (True, None)
    assert listing["not_ours"] == []

    # B holds WRONG: "not ours", with the right hotel, and nothing of A's pilgrim.
    status, listing = await api.get(f"/api/hotels/{B}/bags", token=token_b)
    assert status == 200
    [held] = listing["not_ours"]
    assert (held["tag"], held["hotel_id"], held["not_ours"]) == (WRONG, A, True)
    assert held["pilgrim_id"] is None and held["flight_id"] is None

    # B reports it (202, names A); A confirms its own RIGHT; the wrong actions are refused.
    url = f"/api/hotels/{B}/bags/{WRONG}/report-wrong"
    status, report = await _post(api, {"note": "blue cover, by the door"}, url, token_b)
    assert status == 202 and report["belongs_to"] == A and report["reported_wrong_at"]
    status, confirmed = await _post(api, None, f"/api/hotels/{A}/bags/{RIGHT}/confirm", token_a)
    assert status == 200 and confirmed["confirmed_at"]
    refused = [
        (f"/api/hotels/{B}/bags/{WRONG}/confirm", token_b, 404),  # not B's bag
        (f"/api/hotels/{A}/bags/{RIGHT}/report-wrong", token_a, 409),  # A's own bag
        (f"/api/hotels/{A}/bags/{RIGHT}/confirm", token_b, 403),  # acting for another hotel
        (f"/api/hotels/{A}/bags/12345/confirm", token_a, 400),  # not a tag
    ]
    for path, token, expected in refused:
        status, _ = await _post(api, None, path, token)
        assert status == expected, path
    status, _ = await _post(api, {"note": "x" * 501}, url, token_b)
    assert status == 400
    # A report of a bag the scans do not put at B does not reveal its hotel.
    status, blind = await _post(api, None, f"/api/hotels/{B}/bags/{RIGHT}/report-wrong", token_b)
    assert status == 202 and blind["known"] is True and blind["belongs_to"] is None

    _, listing = await api.get(f"/api/hotels/{A}/bags", token=token_a)
    assert {b["tag"]: b["confirmed_at"] is not None for b in listing["bags"]} == {
        WRONG: False,
        RIGHT: True,
    }
    _, listing = await api.get(f"/api/hotels/{B}/bags", token=token_b)
    assert listing["not_ours"][0]["reported_wrong_at"]

    # Server-side totals: bags per stage per arrival airport, from PostgreSQL.
    summary = await api.summary()
    by_airport = summary["bags_by_airport"]
    assert by_airport["JED"]["delivered"] == 2 and by_airport["JED"]["coded"] == 0
    assert by_airport["MED"]["coded"] == 1 and sum(by_airport["MED"].values()) == 1
    # Alerts carry their airport (the flight's destination); the filter uses it.
    _, jed = await api.get("/api/alerts?status=open&airport=JED")
    assert {a["tag"] for a in jed["alerts"]} == {WRONG}
    assert all(a["airport"] == "JED" for a in jed["alerts"])
    _, med = await api.get("/api/alerts?status=open&airport=MED")
    assert med["total"] == 0
    status, _ = await api.get("/api/alerts?airport=CGK")
    assert status == 400
