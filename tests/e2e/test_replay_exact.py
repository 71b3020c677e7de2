"""A replay with duplicates, out-of-order scans and malformed lines, through the real
broker, worker, PostgreSQL and Redis: the API shows exactly the right state."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tariq.config import load_settings
from tariq.services.replay import replay
from tests.support.infra import Isolated
from tests.support.scenario import bag_scenario
from tests.support.service import Api, wait_until

pytestmark = pytest.mark.e2e


async def settle(api: Api, expected_inputs: int) -> dict[str, object]:
    """Wait until every input line has been accounted for, then return the summary."""

    async def all_counted() -> bool:
        events = (await api.summary())["events"]
        return events["processed"] + events["duplicates"] + events["rejected"] >= expected_inputs

    await wait_until(all_counted, timeout=120, what=f"{expected_inputs} inputs to be counted")
    return await api.summary()


async def check_bags(api: Api, expected: dict[str, tuple[str, str | None]]) -> list[str]:
    wrong: list[str] = []
    semaphore = asyncio.Semaphore(16)

    async def check(tag: str, stage: str, location: str | None) -> None:
        async with semaphore:
            status, bag = await api.get(f"/api/bags/{tag}")
        if status != 200 or (bag["stage"], bag["location"]) != (stage, location):
            wrong.append(f"{tag}: want {(stage, location)}, got {status} {bag}")

    await asyncio.gather(*(check(tag, *want) for tag, want in expected.items()))
    return wrong


async def test_replay_gives_exact_state_duplicates_change_nothing_bad_lines_dead_lettered(
    api: Api, space: Isolated, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scenario = bag_scenario(300, seed=7)
    path = tmp_path / "replay.jsonl"
    scenario.write(path)
    for key, value in space.env.items():
        monkeypatch.setenv(key, value)

    sent = await replay(load_settings(), path, progress=False)
    assert sent == len(scenario.lines)

    summary = await settle(api, len(scenario.lines))
    assert summary["events"] == {
        "processed": scenario.unique_events,
        "duplicates": scenario.duplicates,
        "rejected": scenario.malformed,
    }
    stages: dict[str, int] = {}
    for stage, _ in scenario.expected.values():
        stages[stage] = stages.get(stage, 0) + 1
    assert {k: v for k, v in summary["bags_by_stage"].items() if v} == stages  # type: ignore[union-attr]
    assert await check_bags(api, scenario.expected) == []

    status, dead = await api.get("/api/dead-letters")
    assert status == 200
    assert dead["total"] == scenario.malformed
    assert all(item["reason"] for item in dead["items"])
    reasons = {item["raw"]: item["reason"] for item in dead["items"]}
    assert "not JSON" in reasons["this is not json"]
    assert "unknown event type" in next(r for raw, r in reasons.items() if "teleported" in raw)
    assert "$.tag" in next(r for raw, r in reasons.items() if '"12345"' in raw)

    # Replaying the same file again changes no bag: every event is now a duplicate.
    await replay(load_settings(), path, progress=False)
    summary = await settle(api, 2 * len(scenario.lines))
    assert summary["events"]["processed"] == scenario.unique_events  # type: ignore[index]
    assert await check_bags(api, scenario.expected) == []
