"""Bag scenarios for end-to-end tests, with the expected outcome worked out here,
independently of the service's own state machine."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import orjson

CHECKPOINT_ORDER = ["accepted", "loaded", "offloaded", "sorted", "truck_loaded", "delivered"]
MALFORMED = [
    b"this is not json",
    b'{"event_id": "m1", "type": "bag.teleported", "occurred_at": "2026-05-18T04:00:00Z"}',
    b'{"event_id": "m2", "type": "bag.scanned", "occurred_at": "2026-05-18T04:00:00Z",'
    b' "tag": "12345", "checkpoint": "loaded", "location": "CGK"}',
    b'{"event_id": "m3", "type": "bag.coded", "occurred_at": "yesterday", "tag": "0065999999",'
    b' "pilgrim_id": "P", "flight_id": "F", "hotel_id": "H"}',
    b'{"event_id": "m4", "type": "bag.coded", "occurred_at": "2026-05-18T04:00:00Z"}',
    b"[1, 2, 3]",
]


@dataclass
class Scenario:
    lines: list[bytes] = field(default_factory=list)
    expected: dict[str, tuple[str, str | None]] = field(default_factory=dict)  # stage, location
    unique_events: int = 0
    duplicates: int = 0
    malformed: int = 0

    def write(self, path: object) -> None:
        from pathlib import Path

        Path(str(path)).write_bytes(b"\n".join(self.lines) + b"\n")


def bag_scenario(bags: int, *, seed: int, duplicate_share: float = 0.05) -> Scenario:
    rng = random.Random(seed)
    t0 = datetime(2026, 5, 18, 2, 0, tzinfo=UTC)
    events: list[dict[str, object]] = []
    scenario = Scenario()
    for i in range(bags):
        tag = f"0065{i:06d}"
        hotel = f"MAK-{rng.randrange(20):04d}"
        start = t0 + timedelta(minutes=rng.randrange(600))
        events.append(
            {
                "event_id": f"code-{tag}",
                "type": "bag.coded",
                "occurred_at": _iso(start),
                "tag": tag,
                "pilgrim_id": f"P{i // 2:06d}",
                "flight_id": f"SV{1000 + i % 7}",
                "hotel_id": hotel,
            }
        )
        reached = rng.randrange(len(CHECKPOINT_ORDER) + 1)
        latest: tuple[datetime, str, str] | None = None
        for step, checkpoint in enumerate(CHECKPOINT_ORDER[:reached]):
            at = start + timedelta(minutes=30 * (step + 1) + rng.randrange(20))
            location = {0: "CGK", 1: "CGK"}.get(step, "JED")
            if checkpoint == "delivered":
                location = hotel
            event: dict[str, object] = {
                "event_id": f"scan-{tag}-{step}",
                "type": "bag.scanned",
                "occurred_at": _iso(at),
                "tag": tag,
                "checkpoint": checkpoint,
                "location": location,
            }
            if checkpoint == "sorted":
                event["hotel_id"] = hotel
            if checkpoint == "truck_loaded":
                event["vehicle_id"] = f"TRK-{rng.randrange(50):03d}"
            events.append(event)
            key = (at, str(event["event_id"]), location)
            if latest is None or key[:2] > latest[:2]:
                latest = key
        stage = CHECKPOINT_ORDER[reached - 1] if reached else "coded"
        scenario.expected[tag] = (stage, latest[2] if latest else None)
    rng.shuffle(events)  # arrival order is not event order
    lines = [orjson.dumps(e) for e in events]
    scenario.unique_events = len(lines)
    repeats = [rng.choice(lines) for _ in range(int(len(lines) * duplicate_share))]
    scenario.duplicates = len(repeats)
    for line in repeats + MALFORMED:
        lines.insert(rng.randrange(len(lines) + 1), line)
    scenario.malformed = len(MALFORMED)
    scenario.lines = lines
    return scenario


def _iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")
