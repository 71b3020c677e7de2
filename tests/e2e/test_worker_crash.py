"""A worker killed with SIGKILL mid-replay and restarted: no loss, no double effect."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tariq.config import load_settings
from tariq.services.replay import replay
from tests.e2e.test_replay_exact import check_bags, settle
from tests.support.infra import Isolated
from tests.support.scenario import bag_scenario
from tests.support.service import Api, RunningService, wait_until

pytestmark = pytest.mark.e2e


async def test_sigkill_during_replay_then_restart_leaves_state_exact(
    api: Api,
    service: RunningService,
    space: Isolated,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    scenario = bag_scenario(5000, seed=11)
    path = tmp_path / "replay.jsonl"
    scenario.write(path)
    for key, value in space.env.items():
        monkeypatch.setenv(key, value)
    sending = asyncio.create_task(replay(load_settings(), path, progress=False))

    async def partly_processed() -> bool:
        return bool((await api.summary())["events"]["processed"] >= scenario.unique_events // 5)

    await wait_until(partly_processed, timeout=120, what="a fifth of the replay to be processed")
    service.kill(service.workers[0])
    killed_at = (await api.summary())["events"]["processed"]
    assert killed_at < scenario.unique_events, "the worker finished before it could be killed"
    service.start_worker()
    await sending

    summary = await settle(api, len(scenario.lines))
    assert summary["events"] == {
        "processed": scenario.unique_events,
        "duplicates": scenario.duplicates,
        "rejected": scenario.malformed,
    }
    assert sum(summary["bags_by_stage"].values()) == len(scenario.expected)  # type: ignore[union-attr]
    assert await check_bags(api, scenario.expected) == []
    _status, dead = await api.get("/api/dead-letters")
    assert dead["total"] == scenario.malformed
