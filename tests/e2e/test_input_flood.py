"""100,000 random and mutated events through the real stack (issue 11 acceptance): half
posted over HTTP in bodies of 10,000, half written straight onto the input topic with
aiokafka. The worker and the web server keep running, every bad input is dead-lettered,
every good event is journaled exactly once, and processed + rejected + duplicates = sent."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import asyncpg
import orjson
import pytest
from aiokafka import AIOKafkaProducer

from tariq.adapters.kafka import bootstrap_servers, ensure_topics
from tariq.config import load_settings
from tariq.domain.events import InvalidEvent, decode_event
from tests.support.infra import Isolated
from tests.support.service import Api, RunningService, wait_until

pytestmark = pytest.mark.e2e

TOTAL = 100_000
BODY = 10_000
CHECKPOINTS = ("accepted", "loaded", "offloaded", "delivered", "claimed")
JUNK = (None, 1, -1e308, "", "x" * 70, "\u0000", "a\u001fb", "\u007f", [], {}, [[[]]], True)


def good(rng: random.Random, n: int) -> dict[str, Any]:
    """A valid event of one of a few kinds, with a unique event_id."""
    at = f"2026-05-{1 + n % 28:02d}T{n % 24:02d}:{n % 60:02d}:00Z"
    tag = f"{rng.randrange(10**10):010d}"
    kind = n % 4
    if kind == 0:
        return {"event_id": f"g{n}", "type": "bag.coded", "occurred_at": at, "tag": tag,
                "pilgrim_id": f"P{n % 5000}", "flight_id": f"SV{n % 90}-2026-05-18",
                "hotel_id": f"MAK-{n % 40}"}  # fmt: skip
    if kind == 1:
        return {"event_id": f"g{n}", "type": "bag.scanned", "occurred_at": at, "tag": tag,
                "checkpoint": CHECKPOINTS[n % len(CHECKPOINTS)], "location": "JED",
                "source": "hh-1"}  # fmt: skip
    if kind == 2:
        return {"event_id": f"g{n}", "type": "vehicle.position", "occurred_at": at,
                "vehicle_id": f"B{n % 300}", "kind": "bus", "lat": 21.5, "lon": 39.2}  # fmt: skip
    return {"event_id": f"g{n}", "type": "flight.departed", "occurred_at": at,
            "flight_id": f"SV{n % 90}-2026-05-18"}  # fmt: skip


def mutated_value(rng: random.Random, event: dict[str, Any]) -> bytes:
    """A JSON item (still one array element): a field changed, removed or added."""
    event = dict(event)
    key = rng.choice([*event, "extra"])
    action = rng.randrange(6)
    if action == 0:
        event.pop(key, None)
    elif action == 1:
        event[key] = rng.choice(JUNK)
    elif action == 2 and isinstance(event.get(key), str):
        text = event[key]
        at = rng.randrange(len(text) + 1)
        event[key] = text[:at] + rng.choice(["\u0000", "\n", "\u007f", "é", "x" * 70]) + text[at:]
    elif action == 3:
        return orjson.dumps(event)[:-1] + b',"deep":' + b"[" * 40 + b"]" * 40 + b"}"
    elif action == 4 and rng.random() < 0.05:  # over 64 KiB (a few: bodies stay < 10 MiB)
        event["pad"] = "p" * 66_000
    else:
        event["type"] = rng.choice(["bag.lost", "", "BAG.CODED", "bag.coded "])
    return orjson.dumps(event)


def mutated_bytes(rng: random.Random, data: bytes) -> bytes:
    """Any bytes at all: edits, truncation, bad UTF-8, deep nesting, junk."""
    choice = rng.randrange(6)
    if choice == 0:
        return data[: rng.randrange(len(data))]
    if choice == 1:
        return b"\xff" + data
    if choice == 2:
        return b"[" * 1000 + b"]" * 1000
    if choice == 3:
        return bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200)))
    out = bytearray(data)
    for _ in range(rng.randrange(1, 6)):
        at = rng.randrange(len(out))
        out[at] = rng.choice(b'\x00\x01\x7f"\\{}[]:,\xc3\xff a0')
    return bytes(out)


def generate(seed: int) -> tuple[list[bytes], list[bytes]]:
    """(items to post, messages for the topic): ~82% good, ~5% duplicates, ~13% bad."""
    rng = random.Random(seed)
    halves: list[list[bytes]] = [[], []]
    goods: list[bytes] = []
    for n in range(TOTAL):
        half = n % 2
        roll = rng.random()
        if roll < 0.05 and goods:
            halves[half].append(rng.choice(goods))  # an exact duplicate
        elif roll < 0.18:
            event = good(rng, n)
            if half == 0:
                halves[0].append(mutated_value(rng, event))
            else:
                halves[1].append(mutated_bytes(rng, orjson.dumps(event)))
        else:
            goods.append(orjson.dumps(good(rng, n)))
            halves[half].append(goods[-1])
    return halves[0], halves[1]


def classify(items: list[bytes]) -> tuple[list[str], int]:
    """The event_ids of the valid inputs, and the number of invalid ones."""
    ids: list[str] = []
    bad = 0
    for raw in items:
        try:
            ids.append(decode_event(raw).event_id)
        except InvalidEvent:
            bad += 1
    return ids, bad


async def test_100000_random_and_mutated_events_through_http_and_the_topic(
    api: Api, service: RunningService, space: Isolated, monkeypatch: pytest.MonkeyPatch
) -> None:
    posted, direct = generate(seed=20261130)
    valid_ids, invalid = classify(posted + direct)
    assert invalid > 5_000 and len(valid_ids) > 80_000  # the mix is what it says

    for key, value in space.env.items():
        monkeypatch.setenv(key, value)
    settings = load_settings()
    await ensure_topics(settings)
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap_servers(space.env["TARIQ_KAFKA_URL"]),
        max_request_size=2 * 1024 * 1024,
        linger_ms=5,
    )
    await producer.start()

    async def write_topic() -> None:
        rng = random.Random(7)
        for start in range(0, len(direct), 1000):
            batch = [
                await producer.send(
                    settings.events_topic, value, key=str(rng.randrange(64)).encode()
                )
                for value in direct[start : start + 1000]
            ]
            await asyncio.gather(*batch)

    async def post_bodies() -> tuple[int, int]:
        accepted = rejected = 0
        for start in range(0, len(posted), BODY):
            body = b"[" + b",".join(posted[start : start + BODY]) + b"]"
            assert len(body) <= 10 * 1024 * 1024
            status, answer = await api.post("/api/events", body)
            assert status == 202, answer
            accepted += answer["accepted"]
            rejected += answer.get("rejected_total", len(answer["rejected"]))
        return accepted, rejected

    try:
        _, (accepted, rejected) = await asyncio.gather(write_topic(), post_bodies())
    finally:
        await producer.stop()
    assert accepted + rejected == len(posted)

    async def all_counted() -> bool:
        e = (await api.summary())["events"]
        return bool(e["processed"] + e["rejected"] + e["duplicates"] >= TOTAL)

    await wait_until(all_counted, timeout=900, what=f"{TOTAL} inputs to be counted")
    events = (await api.summary())["events"]
    unique = set(valid_ids)
    assert events == {
        "processed": len(unique),
        "duplicates": len(valid_ids) - len(unique),
        "rejected": invalid,
    }
    assert events["processed"] + events["rejected"] + events["duplicates"] == TOTAL
    conn = await asyncpg.connect(space.database_url)
    try:
        journaled = [r["event_id"] for r in await conn.fetch("SELECT event_id FROM journal")]
        dead = await conn.fetchval("SELECT count(*) FROM dead_letters")
        too_big = await conn.fetchval(
            "SELECT count(*) FROM dead_letters WHERE octet_length(raw) > 65536"
        )
    finally:
        await conn.close()
    assert len(journaled) == len(unique) and set(journaled) == unique  # each exactly once
    assert dead == invalid and too_big == 0
    assert all(w.poll() is None for w in service.workers)
    assert service.web is not None and service.web.poll() is None
    status, _ = await api.get("/api/dead-letters?limit=1000")
    assert status == 200
