"""IATA Type B messages posted as `iata.message` events change bag state exactly as the
equivalent JSON events do; an unparseable one is a dead letter with the reason."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest

from simulators.season import simulated_flight_id
from tests.e2e.test_replay_exact import settle
from tests.support.service import Api, input_drained, wait_until

pytestmark = pytest.mark.e2e

FLIGHT = "SV5123-2026-05-18"


def bsm(tag: str) -> str:
    return "\n".join(
        [
            "BSM",
            ".V/1LCGK",
            ".F/SV5123/18MAY/JED/Y",
            f".N/{tag}001",
            ".S/N/05A/C/051/051//N/I",
            ".W/K/1/23",
            ".P/2AHMED/ALI",
            ".G/MR/MAK-0042/P-000123",
            "ENDBSM",
        ]
    )


def bpm_loaded(tag: str) -> str:
    return "\n".join(
        [
            "BPM",
            ".V/1LCGK",
            ".J/S/BGFUSION/CI621/18MAY/0559Z/LB9/LB9",
            ".F/SV5123/18MAY/JED",
            ".U/AKE12345SV",
            f".N/{tag}001",
            ".X//CLR///HBS302/HBSLEVEL1",
            "ENDBPM",
        ]
    )


def bpm_sorted(tag: str) -> str:
    return "\n".join(
        [
            "BPM",
            ".V/1XJED",
            ".J/S/SORTER1/CI621/18MAY/1230Z/LB9/LB9",
            ".F/SV5123/18MAY/JED",
            f".N/{tag}001",
            ".G/MR/MAK-0042/P-000123",
            "ENDBPM",
        ]
    )


def iata(event_id: str, text: str) -> dict[str, str]:
    return {
        "event_id": event_id,
        "type": "iata.message",
        "occurred_at": "2026-05-18T04:00:00Z",
        "text": text,
    }


def json_equivalents(tag: str) -> list[dict[str, object]]:
    def scan(event_id: str, at: str, **fields: object) -> dict[str, object]:
        return {
            "event_id": event_id,
            "type": "bag.scanned",
            "occurred_at": at,
            "tag": tag,
            **fields,
        }

    return [
        {
            "event_id": f"j-code-{tag}",
            "type": "bag.coded",
            "occurred_at": "2026-05-18T04:00:00Z",
            "tag": tag,
            "pilgrim_id": "P-000123",
            "flight_id": FLIGHT,
            "hotel_id": "MAK-0042",
        },
        scan(f"j-acc-{tag}", "2026-05-18T04:00:00Z", checkpoint="accepted", location="CGK"),
        scan(
            f"j-load-{tag}",
            "2026-05-18T05:59:00Z",
            checkpoint="loaded",
            location="CGK",
            uld="AKE12345SV",
        ),
        scan(
            f"j-sort-{tag}",
            "2026-05-18T12:30:00Z",
            checkpoint="sorted",
            location="JED",
            hotel_id="MAK-0042",
        ),
    ]


def comparable(bag: dict[str, object]) -> dict[str, object]:
    history = [
        {k: v for k, v in h.items() if k != "event_id"}  # type: ignore[union-attr]
        for h in bag["history"]  # type: ignore[union-attr]
    ]
    return {**{k: v for k, v in bag.items() if k not in ("tag", "history")}, "history": history}


async def test_iata_messages_change_bags_exactly_as_json_events(api: Api) -> None:
    by_iata, by_json = "0065123456", "0065654321"
    # The sort scan first: IATA messages, like JSON events, may arrive out of order.
    messages = [
        iata("iata-sort", bpm_sorted(by_iata)),
        iata("iata-bsm", bsm(by_iata)),
        iata("iata-load", bpm_loaded(by_iata)),
        iata("iata-load", bpm_loaded(by_iata)),  # a duplicate message
        iata("iata-bad", "BSM\n.V/1LCGK\n.N/12\nENDBSM"),
    ]
    status, result = await api.post("/api/events", orjson.dumps(messages))
    assert (status, result["accepted"]) == (202, 5)
    status, _ = await api.post("/api/events", orjson.dumps(json_equivalents(by_json)))
    assert status == 202
    # 5 posted messages (one duplicate, one bad) + 4 JSON events; then the events derived
    # from the IATA messages (published by the worker) processed too.
    await settle(api, 9)
    await input_drained(api)
    summary = await api.summary()
    assert summary["events"] == {"processed": 7, "duplicates": 1, "rejected": 1}

    status, from_iata = await api.get(f"/api/bags/{by_iata}")
    assert status == 200
    status, from_json = await api.get(f"/api/bags/{by_json}")
    assert status == 200
    assert from_iata["stage"] == "sorted"
    assert comparable(from_iata) == comparable(from_json)

    status, dead = await api.get("/api/dead-letters")
    assert dead["total"] == 1
    assert "unparseable IATA message" in dead["items"][0]["reason"]
    assert ".N" in dead["items"][0]["reason"]


async def test_a_bsm_coded_bag_meets_its_registered_flight(api: Api) -> None:
    """The flight registered by JSON (with the id the simulator gives it) and the flight of
    the origin hall's BSM are one flight: its reconciliation counts the BSM's bag."""
    departure = int(datetime(2026, 5, 18, 1, 30, tzinfo=UTC).timestamp())  # 08:30 at CGK
    flight_id = simulated_flight_id("SV5123", "CGK", departure)
    assert flight_id == FLIGHT
    scheduled = {
        "event_id": "j-flight",
        "type": "flight.scheduled",
        "occurred_at": "2026-05-17T00:00:00Z",
        "flight_id": flight_id,
        "origin": "CGK",
        "destination": "JED",
        "scheduled_departure": "2026-05-18T01:30:00Z",
        "scheduled_arrival": "2026-05-18T10:30:00Z",
    }
    tag = "0065123999"
    status, _ = await api.post("/api/events", orjson.dumps([scheduled, iata("m-bsm", bsm(tag))]))
    assert status == 202
    await settle(api, 2)

    async def counted() -> bool:
        status, flight = await api.get(f"/api/flights/{FLIGHT}")
        return status == 200 and flight["bags_by_stage"]["accepted"] == 1

    await wait_until(counted, timeout=60, what="the BSM's bag to count on its flight")
    status, bag = await api.get(f"/api/bags/{tag}")
    assert (status, bag["flight_id"]) == (200, flight_id)
