"""Regression tests for the input findings of issue 11, through the real stack (worker and
web as processes, real broker, PostgreSQL, Redis): each bad input is a dead letter with a
reason, nothing answers 5xx, the worker keeps running, passport numbers are never stored."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import asyncpg
import orjson
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from tariq.adapters.kafka import bootstrap_servers, ensure_topics
from tariq.config import load_settings
from tests.support.infra import Isolated
from tests.support.service import Api, RunningService, wait_until

pytestmark = pytest.mark.e2e

AT = "2026-05-18T04:10:00Z"
FLIGHT = "SV5123-2026-05-18"


def ev(event_id: str, kind: str, **fields: Any) -> dict[str, Any]:
    return {"event_id": event_id, "type": kind, "occurred_at": AT, **fields}


def coded(n: int, **extra: Any) -> dict[str, Any]:
    return ev(f"c{n}", "bag.coded", tag=f"0065{n:06d}", pilgrim_id=f"P{n}",
              flight_id=FLIGHT, hotel_id="MAK-1", **extra)  # fmt: skip


def body(*items: Any) -> bytes:
    return orjson.dumps(list(items))


async def counted(api: Api, total: int) -> dict[str, int]:
    async def done() -> bool:
        e = (await api.summary())["events"]
        return bool(e["processed"] + e["rejected"] + e["duplicates"] >= total)

    await wait_until(done, timeout=120, what=f"{total} inputs to be counted")
    return dict((await api.summary())["events"])


async def still_running(api: Api, service: RunningService, n: int) -> None:
    """The worker and web still serve: a fresh valid event is processed."""
    before = (await api.summary())["events"]["processed"]
    status, answer = await api.post("/api/events", body(coded(n)))
    assert status == 202 and answer["accepted"] == 1

    async def processed() -> bool:
        return bool((await api.summary())["events"]["processed"] > before)

    await wait_until(processed, timeout=60, what="a valid event after the bad ones")
    assert all(w.poll() is None for w in service.workers) and service.web is not None
    assert service.web.poll() is None


@pytest.fixture
async def db(space: Isolated) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(space.database_url)
    yield conn
    await conn.close()


async def test_nul_in_flight_id_over_http_is_dead_lettered_and_nothing_stops(
    api: Api, service: RunningService
) -> None:
    bad = ev("x1", "flight.departed", flight_id="ZZ\u0000X")
    status, answer = await api.post("/api/events", body(bad))
    assert status == 202
    assert answer["accepted"] == 0
    assert answer["rejected"] == [
        {"index": 0, "error": "control character in `$.flight_id` (U+0000-U+001F, U+007F)"}
    ]
    status, dead = await api.get("/api/dead-letters")
    assert dead["total"] == 1 and "control character" in dead["items"][0]["reason"]
    await still_running(api, service, 1)


async def test_nul_in_source_never_breaks_the_bag_history(
    api: Api, service: RunningService, space: Isolated, monkeypatch: pytest.MonkeyPatch
) -> None:
    tag = "0065000007"
    status, _ = await api.post("/api/events", body(coded(7)))
    assert status == 202
    scan = ev("s7", "bag.scanned", tag=tag, checkpoint="accepted", location="CGK")
    status, answer = await api.post("/api/events", body({**scan, "source": "hh\u0000x"}))
    assert status == 202 and answer["rejected"][0]["index"] == 0
    # The same straight onto the topic, and a NUL in an unknown field (jsonb refuses it).
    for key, value in space.env.items():
        monkeypatch.setenv(key, value)
    settings = load_settings()
    await ensure_topics(settings)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers(space.env["TARIQ_KAFKA_URL"]))
    await producer.start()
    try:
        for value in (
            orjson.dumps({**scan, "event_id": "s8", "source": "hh\u0000x"}),
            orjson.dumps({**scan, "event_id": "s9", "note": "a\u0000b"}),
            b"[" * 1000 + b"]" * 1000,
            orjson.dumps({**scan, "event_id": "s10"}),
        ):
            await producer.send_and_wait(settings.events_topic, value, key=tag.encode())
    finally:
        await producer.stop()
    events = await counted(api, 6)
    assert (events["processed"], events["rejected"]) == (2, 4)
    status, bag = await api.get(f"/api/bags/{tag}")
    assert status == 200
    assert [h["event_id"] for h in bag["history"]] == ["s10"]
    await still_running(api, service, 2)


async def test_an_item_nested_300_deep_is_rejected_cleanly(api: Api) -> None:
    deep = b"[" * 300 + b"1" + b"]" * 300  # built as text: encoders refuse this depth too
    deep_field = orjson.dumps(coded(2))[:-1] + b',"x":' + deep + b"}"
    posted = b"[" + b",".join([orjson.dumps(coded(1)), deep, deep_field]) + b"]"
    status, answer = await api.post("/api/events", posted)
    assert status == 202
    assert answer["accepted"] == 1
    assert [r["index"] for r in answer["rejected"]] == [1, 2]
    assert all("deeper than 32" in r["error"] for r in answer["rejected"])
    # Deeper than any parser's own limit: still one item among others.
    status, answer = await api.post(
        "/api/events", b"[" + orjson.dumps(coded(3)) + b"," + b"[" * 5000 + b"]" * 5000 + b"]"
    )
    assert status == 202 and answer["accepted"] == 1 and answer["rejected"][0]["index"] == 1


async def test_a_2mb_item_beside_a_valid_one_the_valid_published_once(api: Api) -> None:
    big = coded(2, pad="p" * 2_000_000)
    posted = body(coded(1), big)
    status, answer = await api.post("/api/events", posted)
    assert status == 202
    assert answer["accepted"] == 1
    assert answer["rejected"][0]["index"] == 1 and "too large" in answer["rejected"][0]["error"]
    # The client's retry of the same body: no second effect.
    status, again = await api.post("/api/events", posted)
    assert status == 202 and again["accepted"] == 1
    events = await counted(api, 4)
    assert events == {"processed": 1, "duplicates": 1, "rejected": 2}
    status, dead = await api.get("/api/dead-letters?limit=10")
    big_raw = orjson.dumps(big)
    for item in dead["items"]:
        assert item["truncated"] is True and item["length"] == len(big_raw)
        assert item["sha256"] == hashlib.sha256(big_raw).hexdigest()
        assert len(item["raw"].encode()) <= 64 * 1024


async def test_bodies_over_10_mib_or_10000_events_are_413_and_nothing_is_taken(
    api: Api, service: RunningService
) -> None:
    headers = {"Authorization": f"Bearer {api.token}"}
    huge = body(coded(1), coded(2, pad="p" * (11 * 1024 * 1024)))
    status, answer = await api.post("/api/events", huge)
    assert status == 413, answer

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: streamed and cut off
        yield b"["
        for _ in range(12):
            yield b'"' + b"x" * (1024 * 1024) + b'",'
        yield b"1]"

    async with (
        aiohttp.ClientSession() as session,
        session.post(service.base_url + "/api/events", data=chunks(), headers=headers) as response,
    ):
        assert response.status == 413
    many = body(*(coded(i) for i in range(10_001)))
    assert len(many) < 10 * 1024 * 1024
    status, answer = await api.post("/api/events", many)
    assert status == 413
    _, dead = await api.get("/api/dead-letters")
    assert dead["total"] == 0
    assert (await api.summary())["events"] == {"processed": 0, "duplicates": 0, "rejected": 0}


async def test_a_body_of_junk_lines_is_one_dead_letter_and_a_small_answer(api: Api) -> None:
    junk = b"this is not json at all\n" * 9000  # ~200 KB
    async with api.session.post(
        api.base_url + "/api/events", data=junk, headers={"Authorization": f"Bearer {api.token}"}
    ) as response:
        assert response.status == 400
        assert len(await response.read()) < 1000
    _, dead = await api.get("/api/dead-letters")
    assert dead["total"] == 1 and dead["items"][0]["length"] == len(junk)
    # Many bad items in a valid array: all dead letters, the answer lists the first 100.
    status, answer = await api.post("/api/events", body(*([{"type": "nope"}] * 500)))
    assert status == 202 and answer["rejected_total"] == 500 and len(answer["rejected"]) == 100


async def test_passport_numbers_are_never_stored_or_shown(
    api: Api, db: asyncpg.Connection, service: RunningService, space: Isolated
) -> None:
    passport = "A9988776"
    good = ev("r1", "pilgrim.registered", pilgrim_id="P1", group_id="G1", flight_id=FLIGHT,
              hotel_id="MAK-1", nationality="ID", name="Siti", passport_no=passport)  # fmt: skip
    bad = {**good, "event_id": "r2", "nationality": "I"}  # invalid, with the passport
    status, answer = await api.post("/api/events", body(good, bad))
    assert status == 202 and answer["accepted"] == 1
    junk = b'not json "passport_no": "' + passport.encode() + b'"'
    status, _ = await api.post("/api/events", junk)
    assert status == 400
    await counted(api, 3)
    stored = []
    for table in ("journal", "dead_letters", "pilgrims"):
        rows = await db.fetch(f"SELECT * FROM {table}")
        stored += [bytes(v) if isinstance(v, bytes) else str(v) for r in rows for v in r.values()]
    assert stored and not any(
        (passport.encode() if isinstance(v, bytes) else passport) in v for v in stored
    )
    for path in ("/api/dead-letters", "/api/pilgrims/P1", "/api/summary"):
        status, shown = await api.get(path)
        assert status == 200 and passport not in orjson.dumps(shown).decode()
    status, found = await api.get(f"/api/pilgrims?passport_no={passport.lower()}")
    assert status == 200 and found == {"pilgrim_ids": ["P1"]}
    status, found = await api.get("/api/pilgrims?passport_no=Z0000000")
    assert status == 200 and found == {"pilgrim_ids": []}
    device = service.token("device")
    status, _ = await api.get(f"/api/pilgrims?passport_no={passport}", token=device)
    assert status == 403
    # The HTTP intake forwarded the registration with the keyed hash, not the number.
    consumer = AIOKafkaConsumer(
        f"{space.namespace}.events",
        bootstrap_servers=bootstrap_servers(space.env["TARIQ_KAFKA_URL"]),
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        messages = await consumer.getmany(timeout_ms=5000)
    finally:
        await consumer.stop()
    values = [m.value for batch in messages.values() for m in batch]
    assert any(b'"r1"' in v for v in values if v)
    assert not any(passport.encode() in v for v in values if v)


async def test_limit_and_offset_are_strict_whole_numbers(api: Api) -> None:
    bad = ["offset=9223372036854775808", "limit=1e3", "limit=0", "limit=100001", "offset=-1",
           "limit=+5", "limit=1_000", "limit=%205", "offset=%D9%A1"]  # fmt: skip
    for path in ("/api/alerts", "/api/dead-letters", "/api/hotels/MAK-1/bags", "/api/bags"):
        for query in bad:
            status, answer = await api.get(f"{path}?{query}")
            assert status == 400, (path, query, answer)
        status, answer = await api.get(f"{path}?limit=100000&offset=0")
        assert status == 200, answer
