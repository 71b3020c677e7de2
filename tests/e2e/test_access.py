"""Roles and tokens (contract section 3)."""

from __future__ import annotations

import orjson
import pytest

from tests.e2e.test_replay_exact import settle
from tests.support.service import Api, RunningService

pytestmark = pytest.mark.e2e


def coded(tag: str, hotel: str) -> dict[str, str]:
    return {
        "event_id": f"code-{tag}",
        "type": "bag.coded",
        "occurred_at": "2026-05-18T04:00:00Z",
        "tag": tag,
        "pilgrim_id": f"P-{tag}",
        "flight_id": "SV1",
        "hotel_id": hotel,
    }


async def test_tokens_and_roles(api: Api, service: RunningService) -> None:
    device = service.token("device")
    hotel_a = service.token("hotel", hotel="MAK-A")
    status, _ = await api.post(
        "/api/events",
        orjson.dumps([coded("0065100001", "MAK-A"), coded("0065100002", "MAK-B")]),
        token=device,
    )
    assert status == 202
    await settle(api, 2)

    # No token, or a token that is not ours: 401.
    assert (await api.get("/api/bags/0065100001", token=""))[0] == 401
    assert (await api.get("/api/bags/0065100001", token="tq_forged"))[0] == 401
    assert (await api.post("/api/events", b"[]", token=""))[0] == 401
    # A hotel sees its own bag, and nothing of another hotel's.
    status, bag = await api.get("/api/bags/0065100001", token=hotel_a)
    assert (status, bag["hotel_id"]) == (200, "MAK-A")
    assert (await api.get("/api/bags/0065100002", token=hotel_a))[0] in (403, 404)
    # Wrong role: 403.
    assert (await api.get("/api/summary", token=hotel_a))[0] == 403
    assert (await api.get("/api/dead-letters", token=hotel_a))[0] == 403
    assert (await api.get("/api/bags/0065100001", token=device))[0] == 403
    assert (await api.post("/api/events", b"[]", token=hotel_a))[0] == 403
    # The operator sees everything; an unknown bag is 404.
    assert (await api.get("/api/bags/0065100002"))[0] == 200
    assert (await api.get("/api/bags/0065999999"))[0] == 404


async def test_posted_bad_input_is_rejected_kept_and_counted(api: Api) -> None:
    body = (
        b'{"event_id":"x1","type":"flight.departed","occurred_at":"2026-05-18T04:00:00Z",'
        b'"flight_id":"SV1"}\nnot json\n\n{"event_id":"x2","type":"nope",'
        b'"occurred_at":"2026-05-18T04:00:00Z"}\n'
    )
    status, result = await api.post("/api/events", body)
    assert status == 202
    assert result["accepted"] == 1
    assert [r["index"] for r in result["rejected"]] == [1, 2]
    summary = await settle(api, 3)
    assert summary["events"]["rejected"] == 2
    status, dead = await api.get("/api/dead-letters?limit=1")
    assert (status, dead["total"], len(dead["items"]), dead["limit"]) == (200, 2, 1, 1)
    assert (await api.get("/api/dead-letters?limit=0"))[0] == 400
    assert (await api.get("/api/dead-letters?limit=100001"))[0] == 400
    status, result = await api.post("/api/events", b'[{"broken": ')
    assert status == 400
    assert (await api.post("/api/events", b"  "))[0] == 400
