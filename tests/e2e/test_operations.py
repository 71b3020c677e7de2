"""Running Tariq in production: /metrics move with a replay (web and workers), exports
match the API's lists for the same filters, a vehicle's track, and the web server's logs
are JSON lines with an access log and no token."""

from __future__ import annotations

import csv
import io
import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tariq.config import load_settings
from tariq.domain.events import InvalidEvent, decode_event
from tariq.services.replay import replay
from tests.e2e.test_replay_exact import settle
from tests.support.infra import Isolated
from tests.support.service import Api, RunningService, free_port, wait_until

pytestmark = pytest.mark.e2e

DEMO = Path(__file__).resolve().parents[2] / "simulators" / "data" / "demo.jsonl"
EXCERPT = (
    "tariq_events_total",
    "tariq_alerts_open",
    "tariq_worker_events_total",
    "tariq_worker_batch_size_count",
    "tariq_worker_batch_seconds_sum",
    "tariq_worker_end_to_end_seconds_count",
    "tariq_worker_end_to_end_seconds_sum",
    "tariq_worker_consumer_lag",
    "tariq_reconciler_pending",
    "tariq_reconciler_round_seconds_count",
    "tariq_http_requests_total",
    "tariq_health_up",
)


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of a Prometheus exposition, parsed by the official parser."""
    found: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def total(
    found: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float:
    wanted = set(labels.items())
    return sum(v for (n, ls), v in found.items() if n == name and wanted <= set(ls))


async def scrape(api: Api) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    async with api.session.get(api.base_url + "/metrics") as response:
        assert response.status == 200
        assert response.content_type == "text/plain"
        return samples(await response.text())


async def get_csv(
    api: Api, path: str, token: str | None = None
) -> tuple[int, list[dict[str, str]]]:
    headers = {"Authorization": f"Bearer {token or api.token}"}
    async with api.session.get(api.base_url + path, headers=headers) as response:
        body = await response.text()
        if response.status != 200:
            return response.status, []
        assert response.content_type == "text/csv"
        return 200, list(csv.DictReader(io.StringIO(body)))


def as_cells(rows: list[dict[str, Any]], columns: list[str]) -> list[dict[str, str]]:
    def cell(value: Any) -> str:
        if value is None:
            return ""
        if isinstance(value, list):
            return " ".join(value)
        return str(value)

    return [{c: cell(row.get(c)) for c in columns} for row in rows]


def demo_events() -> list[dict[str, Any]]:
    """The demo's contract events, once each (its injected malformed lines left out)."""
    unique: dict[str, dict[str, Any]] = {}
    for line in DEMO.read_bytes().splitlines():
        try:
            decode_event(line)
        except InvalidEvent:
            continue
        event = orjson.loads(line)
        unique.setdefault(event["event_id"], event)
    return list(unique.values())


async def test_metrics_move_and_exports_match_lists_after_a_replay(
    api: Api, service: RunningService, space: Isolated, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = await scrape(api)
    assert total(before, "tariq_events_total", outcome="processed") == 0

    for key, value in space.env.items():
        monkeypatch.setenv(key, value)
    lines = sum(1 for line in DEMO.read_bytes().splitlines() if line.strip())
    assert await replay(load_settings(), DEMO, progress=False) == lines
    summary = await settle(api, lines)

    # The workers' registries reach the web server's /metrics through Redis.
    async def workers_counted() -> bool:
        found = await scrape(api)
        processed = total(found, "tariq_worker_events_total", outcome="processed", source="topic")
        return processed >= summary["events"]["processed"]

    await wait_until(workers_counted, timeout=60, what="worker metrics to count the replay")
    after = await scrape(api)
    print("\n/metrics after the demo replay (excerpt):")
    for (name, labels), value in sorted(after.items(), key=lambda kv: kv[0][0]):
        if name.startswith(EXCERPT) and value:
            print(f"  {name}{dict(labels)} {value}")
    events = summary["events"]
    assert total(after, "tariq_events_total", outcome="processed") == events["processed"]
    assert total(after, "tariq_events_total", outcome="duplicates") == events["duplicates"]
    assert total(after, "tariq_events_total", outcome="rejected") == events["rejected"]
    assert total(after, "tariq_worker_events_total", outcome="rejected") == events["rejected"]
    assert total(after, "tariq_worker_events_total", type="vehicle.position") > 0
    assert total(after, "tariq_worker_batch_size_count") > 0
    lags = [dict(labels) for name, labels in after if name == "tariq_worker_consumer_lag"]
    assert lags and all(labels["partition"].isdigit() for labels in lags)
    assert total(after, "tariq_worker_end_to_end_seconds_count") >= events["processed"]
    assert total(after, "tariq_http_requests_total", route="/api/summary", status="200") > 0
    assert total(after, "tariq_health_up", part="database") == 1
    # Labels are bounded: no tag, pilgrim id or passport number ever becomes a label.
    for name, labels in after:
        for value in dict(labels).values():
            assert not value.isdigit() or len(value) < 10, (name, labels)

    await check_http_source(api)
    await check_exports(api, service)
    await check_track(api)


async def check_http_source(api: Api) -> None:
    """Events posted over HTTP are counted at the intake and as `source="http"` by workers."""
    posted = [
        {"event_id": "http-1", "type": "pilgrim.arrived", "occurred_at": "2025-05-21T10:00:00Z",
         "pilgrim_id": "P0000000", "airport": "JED"},
        {"event_id": "http-2", "type": "no.such.type", "occurred_at": "2025-05-21T10:00:00Z"},
    ]  # fmt: skip
    status, body = await api.post("/api/events", orjson.dumps(posted))
    assert status == 202 and body["accepted"] == 1

    async def counted() -> bool:
        found = await scrape(api)
        return total(found, "tariq_worker_events_total", source="http", outcome="processed") >= 1

    await wait_until(counted, timeout=60, what="the worker to count an HTTP event")
    found = await scrape(api)
    assert total(found, "tariq_intake_events_total", outcome="accepted") == 1
    assert total(found, "tariq_intake_events_total", outcome="rejected") == 1
    assert total(found, "tariq_http_requests_total", route="/api/events", status="202") == 1


async def check_exports(api: Api, service: RunningService) -> None:
    bag_columns = ["tag", "pilgrim_id", "flight_id", "hotel_id", "stage", "location", "updated_at"]
    status, listed = await api.get("/api/bags?hotel_id=MAK-0001&limit=100000")
    assert status == 200 and listed["total"] > 0
    status, exported = await get_csv(api, "/api/export/bags.csv?hotel_id=MAK-0001")
    assert status == 200
    assert exported == as_cells(listed["bags"], bag_columns)
    print("bags.csv sample:", *[",".join(r.values()) for r in exported[:3]], sep="\n  ")

    alert_columns = ["alert_id", "type", "status", "raised_at", "resolved_at", "tag",
                     "pilgrim_id", "flight_id", "hotel_id", "vehicle_id"]  # fmt: skip

    async def alerts_match() -> bool:
        _, listed = await api.get("/api/alerts?status=open&limit=100000")
        _, exported = await get_csv(api, "/api/export/alerts.csv?status=open")
        return bool(listed["alerts"]) and exported == as_cells(listed["alerts"], alert_columns)

    # The reconciler may still be judging: the two must agree once it is quiet.
    await wait_until(alerts_match, timeout=60, what="alerts.csv to match /api/alerts")

    _, notices = await api.get("/api/hotels/MAK-0001/notices?limit=100000")
    _, exported_notices = await get_csv(api, "/api/export/notices.csv?hotel_id=MAK-0001")
    columns = ["notice_id", "hotel_id", "kind", "vehicle_id", "tags", "status"]
    assert [{c: r[c] for c in columns} for r in exported_notices] == as_cells(
        notices["notices"], columns
    )

    hotel = service.token("hotel", hotel="MAK-0001")
    status, own = await get_csv(api, "/api/export/bags.csv", token=hotel)
    assert status == 200 and own == exported
    status, _ = await get_csv(api, "/api/export/bags.csv?hotel_id=MAK-0002", token=hotel)
    assert status == 403
    status, own_alerts = await get_csv(api, "/api/export/alerts.csv", token=hotel)
    assert status == 200 and {r["hotel_id"] for r in own_alerts} <= {"MAK-0001"}


async def check_track(api: Api) -> None:
    fixes = [e for e in demo_events() if e.get("type") == "vehicle.position"]
    by_vehicle = Counter(e["vehicle_id"] for e in fixes)
    vehicle, count = by_vehicle.most_common(1)[0]
    status, track = await api.get(f"/api/vehicles/{vehicle}/track")
    assert status == 200 and track["vehicle_id"] == vehicle
    assert len(track["fixes"]) == count
    times = [f["at"] for f in track["fixes"]]
    assert times == sorted(times)
    middle = times[len(times) // 2]
    status, later = await api.get(f"/api/vehicles/{vehicle}/track?from={middle}")
    assert status == 200 and len(later["fixes"]) == len([t for t in times if t >= middle])
    status, geo = await api.get(f"/api/vehicles/{vehicle}/track.geojson")
    assert status == 200 and geo["type"] == "FeatureCollection"
    points = [f for f in geo["features"] if f["geometry"]["type"] == "Point"]
    assert len(points) == count
    status, _ = await api.get("/api/vehicles/no-such-vehicle/track")
    assert status == 404
    status, _ = await api.get(f"/api/vehicles/{vehicle}/track?from=yesterday")
    assert status == 400


async def test_web_logs_are_json_lines_with_an_access_log_and_no_token(
    space: Isolated, tmp_path: Path
) -> None:
    port = free_port()
    env = {**os.environ, **space.env, "TARIQ_HTTP_PORT": str(port)}
    env.pop("TARIQ_LOG_FORMAT", None)
    stderr_path = tmp_path / "web.stderr"
    with stderr_path.open("wb") as stderr:
        web = subprocess.Popen(
            [sys.executable, "-m", "tariq.cli", "web"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            async with aiohttp.ClientSession() as session:

                async def listening() -> bool:
                    try:
                        async with session.get(base + "/health") as r:
                            return r.status in (200, 503)
                    except aiohttp.ClientError:
                        return False

                await wait_until(listening, timeout=60, what="tariq web to listen")
                secret = "not-a-real-token-but-secret"
                headers = {"Authorization": f"Bearer {secret}", "X-Request-Id": "req-42"}
                async with session.get(base + "/api/summary", headers=headers) as r:
                    assert r.status == 401 and r.headers["X-Request-Id"] == "req-42"
                async with session.get(base + f"/ws/live?token={secret}") as r:
                    assert r.status in (400, 401)
        finally:
            web.send_signal(signal.SIGTERM)
            web.wait(20)
    lines = stderr_path.read_text().splitlines()
    entries = [orjson.loads(line) for line in lines]  # every line parses
    assert all({"time", "level", "logger", "message"} <= e.keys() for e in entries)
    access = [e for e in entries if e["logger"] == "tariq.access"]
    summary = [e for e in access if e.get("path") == "/api/summary"]
    assert summary and summary[0]["status"] == 401 and summary[0]["request_id"] == "req-42"
    assert any(e.get("route") == "/ws/live" for e in access)
    assert "not-a-real-token" not in stderr_path.read_text()
