"""TARIQ_WORKER_ROLES: one worker only ingests, another only reconciles (the judging on a
core of its own). A simulated day through them: every bag exact and exactly the alerts
that must be open, judged by the reconciling worker alone."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tariq.config import load_settings
from tariq.services.replay import replay
from tests.support.infra import Isolated
from tests.support.service import Api, RunningService
from tests.support.simulated import caught_up, check_against_truth, simulate

pytestmark = pytest.mark.e2e


@pytest.mark.workers("ingest", "reconcile")
async def test_an_ingesting_and_a_reconciling_worker_leave_state_and_alerts_exact(
    api: Api,
    service: RunningService,
    space: Isolated,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    events_file, truth_file = simulate(tmp_path / "day", pilgrims=400, seed=7)
    truth = json.loads(truth_file.read_text())
    assert truth["alerts"], "the scenario should raise alerts"
    lines = sum(1 for line in events_file.read_bytes().splitlines() if line.strip())
    for key, value in space.env.items():
        monkeypatch.setenv(key, value)
    await replay(load_settings(), events_file, progress=False)
    await caught_up(api, lines, timeout=300)

    # The input partitions are all the ingesting worker's; the reconciling one reads none.
    status, health = await api.get("/health")
    assert status == 200, health
    partitions = sorted(p for w in health["workers"] for p in w["partitions"])
    assert partitions == [0, 1, 2, 3]
    assert sorted(len(w["partitions"]) for w in health["workers"]) == [0, 4]

    check = check_against_truth(truth_file, service.base_url, api.token, service.env)
    assert check.returncode == 0, check.stdout[-3000:] + check.stderr[-2000:]
    assert "precision 1.0000, recall 1.0000" in check.stdout
