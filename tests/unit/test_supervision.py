"""`tariq up`'s supervisor (restart with backoff, crash loop) and the /health report."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tariq.adapters.outages import DATABASE, REDIS, dependency_down
from tariq.services.launch import CrashLoop, Supervisor, read_supervisor_state
from tariq.services.readiness import ProbeResult, health_report


def test_a_process_that_keeps_exiting_is_restarted_then_stops_everything(tmp_path: Path) -> None:
    state = tmp_path / "supervisor.json"
    supervisor = Supervisor(dict(os.environ), state, max_exits=3, max_backoff_s=0.1)
    supervisor.start("worker", ["no-such-command"])  # argparse refuses it: exit status 2
    deadline = time.monotonic() + 60
    with pytest.raises(CrashLoop, match="the worker exited 3 times within 60 s"):
        while time.monotonic() < deadline:
            supervisor.poll()
            time.sleep(0.05)
    record = read_supervisor_state(state)
    assert record is not None
    worker = record["processes"]["worker"]
    assert (worker["restarts"], worker["last_exit_status"]) == (2, 2)
    supervisor.stop_all()
    assert not state.exists()


def _probed(
    *, database: bool, redis: bool, workers: list[dict[str, Any]] | None = None
) -> ProbeResult:
    wall = datetime(2026, 5, 18, tzinfo=UTC)
    return ProbeResult(database, redis, workers or [], checked_at=100.0, checked_at_wall=wall)


def test_health_is_ok_only_with_a_consuming_worker_and_nothing_down() -> None:
    worker = {"worker_id": "h:1", "partitions": [0, 1], "lag": 3, "down": []}
    status, body = health_report(_probed(database=True, redis=True, workers=[worker]), None, 101)
    assert (status, body["status"], body["worker"]["lag"]) == (200, "ok", 3)
    assert "processes" not in body

    status, body = health_report(_probed(database=True, redis=True), {"worker": {}}, 101)
    assert (status, body["status"], body["worker"]["consuming"]) == (200, "starting", False)
    assert body["processes"] == {"worker": {}}


def test_health_names_what_is_down_and_is_503_when_the_web_cannot_serve() -> None:
    status, body = health_report(_probed(database=False, redis=True), None, 101)
    assert (status, body["status"], body["down"]) == (503, "degraded", [DATABASE])
    worker = {"worker_id": "h:1", "partitions": [0], "lag": None, "down": ["broker"]}
    status, body = health_report(_probed(database=True, redis=True, workers=[worker]), None, 101)
    assert (status, body["status"], body["down"]) == (200, "degraded", ["broker"])
    # A probe result that is too old is not trusted.
    status, body = health_report(_probed(database=True, redis=True), None, 200)
    assert (status, body["down"]) == (503, [DATABASE, REDIS])


def test_outages_are_told_from_bugs() -> None:
    import asyncpg
    import redis.exceptions

    assert dependency_down(ConnectionRefusedError()) == DATABASE
    assert dependency_down(asyncpg.CannotConnectNowError("starting up")) == DATABASE
    assert dependency_down(redis.exceptions.ConnectionError()) == REDIS
    assert dependency_down(KeyError("x")) is None
    assert dependency_down(asyncpg.UniqueViolationError("dup")) is None
