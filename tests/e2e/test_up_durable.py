"""Nothing acknowledged is lost across a restart of `tariq up`: events answered 202 and not
yet processed when `tariq up` is stopped with Ctrl-C, or killed with `kill -9` of its whole
process group, are processed by the next `tariq up` on the same TARIQ_DATA_DIR."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import aiohttp
import pytest

from tests.e2e.conftest import ARTIFACTS
from tests.e2e.test_replay_exact import check_bags, settle
from tests.e2e.test_up_supervise import up_env
from tests.support.infra import Isolated
from tests.support.scenario import bag_scenario
from tests.support.service import Api
from tests.support.up import RunningUp, consuming_pid, post_lines, wait_health

pytestmark = pytest.mark.e2e


async def test_accepted_events_survive_ctrl_c_and_kill_9_of_tariq_up(
    space: Isolated, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    up = RunningUp(up_env(space), tmp_path / "data", ARTIFACTS / "logs" / request.node.name)
    scenario = bag_scenario(600, seed=33)
    third = len(scenario.lines) // 3
    try:
        # 1. Accepted, then Ctrl-C at once: some are not processed yet when it stops.
        up.start()
        token = await up.wait_up()
        async with aiohttp.ClientSession() as session:
            await post_lines(Api(session, up.base_url, token), scenario.lines[:third])
        up.stop()
        assert up.proc is not None and up.proc.returncode == 0, up.output()

        # 2. A new `tariq up` processes them; then, with the worker frozen (so none of
        # them can be processed), more are accepted and the whole group gets kill -9.
        up.start()
        token = await up.wait_up()
        async with aiohttp.ClientSession() as session:
            api = Api(session, up.base_url, token)
            await settle(api, third)
            worker_pid = consuming_pid(await wait_health(up, "a worker", 60, consuming_pid))
            assert worker_pid is not None
            os.kill(worker_pid, signal.SIGSTOP)
            await post_lines(api, scenario.lines[third:])
            counted = (await api.summary())["events"]
            assert sum(counted.values()) < len(scenario.lines), "the frozen worker processed"
        up.kill_group()

        # 3. The next `tariq up` on the same data directory has every one of them.
        up.start()
        token = await up.wait_up()
        async with aiohttp.ClientSession() as session:
            api = Api(session, up.base_url, token)
            summary = await settle(api, len(scenario.lines))
            assert summary["events"] == {
                "processed": scenario.unique_events,
                "duplicates": scenario.duplicates,
                "rejected": scenario.malformed,
            }
            assert await check_bags(api, scenario.expected) == []
        assert "re-publishing" in up.output()
    finally:
        up.stop()
