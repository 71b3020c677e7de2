"""`GET /api/replay?at=` through the real stack: the vehicles, stage counters and open alerts
as they were at an event time (a misdelivery that a later scan corrected, a truck that
stalled and moved on), whatever order the events arrived in; a bad `at` is a 400 and a
hotel token a 403."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import quote

import pytest

from tests.e2e.test_truth_pages import STALL_AT, A, B, at, coded, fix, post, processed, scan, world
from tests.support.service import Api, RunningService, wait_until

pytestmark = pytest.mark.e2e
TAG = "0065600101"


async def replay_at(api: Api, minute: float) -> dict[str, Any]:
    status, body = await api.get(f"/api/replay?at={quote(at(minute))}")
    assert status == 200, body
    return body


def alert_keys(body: dict[str, Any]) -> set[tuple[str, str]]:
    return {(a["type"], a["tag"] or a["vehicle_id"]) for a in body["alerts"]}


async def test_replay_shows_the_state_and_open_alerts_at_an_event_time(
    api: Api, service: RunningService
) -> None:
    events = [
        *world(),
        coded(TAG, A),
        scan(TAG, "sorted", "JED", 10, hotel_id=A),
        # The correction is sent before the wrong delivery it corrects (out of order).
        scan(TAG, "delivered", A, 40),
        scan(TAG, "delivered", B, 20),
        *[fix("TRK-R1", n, 5 * n, *STALL_AT) for n in range(7)],  # minutes 0 to 30
        fix("TRK-R1", 7, 35, 21.60, 39.60),  # moves on
    ]
    await post(api, events)
    await processed(api, len(events))

    async def judged() -> bool:
        body = await replay_at(api, 45)
        return body["bags_by_stage"]["delivered"] == 1 and bool(body["vehicles"])

    await wait_until(judged, timeout=60, what="the bag's history to be written")

    early = await replay_at(api, 15)
    assert datetime.fromisoformat(early["first"]) == datetime.fromisoformat(at(0))
    assert datetime.fromisoformat(early["clock"]) == datetime.fromisoformat(at(40))
    assert alert_keys(early) == set()
    assert early["bags_by_stage"]["sorted"] == 1
    assert early["bags_by_airport"]["JED"]["sorted"] == 1
    [truck] = early["vehicles"]
    assert (truck["vehicle_id"], truck["status"]) == ("TRK-R1", None)

    middle = await replay_at(api, 30)
    assert alert_keys(middle) == {("misdelivered", TAG), ("vehicle_stalled", "TRK-R1")}
    began = {a["type"]: datetime.fromisoformat(a["began_at"]) for a in middle["alerts"]}
    assert began["misdelivered"] == datetime.fromisoformat(at(20))
    assert began["vehicle_stalled"] == datetime.fromisoformat(at(20))  # first fix + 20 min
    assert middle["alerts_open_by_type"]["misdelivered"] == 1
    assert middle["bags_by_stage"]["delivered"] == 1
    [truck] = middle["vehicles"]
    assert (truck["lat"], truck["lon"], truck["status"]) == (*STALL_AT, "stalled")
    assert {a["airport"] for a in middle["alerts"]} == {"JED"}

    late = await replay_at(api, 45)
    assert alert_keys(late) == set()
    [truck] = late["vehicles"]
    assert (truck["lat"], truck["lon"], truck["status"]) == (21.60, 39.60, None)

    # Before anything happened: nothing existed.
    empty = await replay_at(api, -10)
    assert empty["vehicles"] == [] and sum(empty["bags_by_stage"].values()) == 0


@pytest.mark.parametrize(
    "query",
    [
        "",
        "?at=",
        "?at=yesterday",
        "?at=2026-05-18T05:00:00",  # no offset: ambiguous in event time
        "?at=2026-13-18T05:00:00Z",
    ],
)
async def test_replay_refuses_a_bad_time(api: Api, query: str) -> None:
    status, body = await api.get(f"/api/replay{query}")
    assert status == 400 and "RFC 3339" in body["error"], (query, body)


async def test_replay_is_for_operators_only(api: Api, service: RunningService) -> None:
    hotel = service.token("hotel", hotel=A)
    status, body = await api.get(f"/api/replay?at={quote(at(0))}", token=hotel)
    assert status == 403, body
    status, _ = await api.get(f"/api/replay?at={quote(at(0))}", token="")
    assert status == 401
