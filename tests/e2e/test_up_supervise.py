"""`tariq up` supervises what it started: a worker killed with SIGKILL is restarted (and
counted on /health), events posted afterwards are processed and the state is exact; a
busy port is a one-line error at once, before any embedded server starts."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from tests.e2e.conftest import ARTIFACTS
from tests.e2e.test_replay_exact import check_bags, settle
from tests.support.infra import Isolated
from tests.support.scenario import bag_scenario
from tests.support.service import Api
from tests.support.up import RunningUp, consuming_pid, post_lines, wait_health

pytestmark = pytest.mark.e2e


def up_env(space: Isolated) -> dict[str, str]:
    """The test's own database, Redis keys and namespace; the broker is `tariq up`'s own."""
    return {k: v for k, v in space.env.items() if k != "TARIQ_KAFKA_URL"}


@pytest.fixture
def up(space: Isolated, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[RunningUp]:
    running = RunningUp(up_env(space), tmp_path / "data", ARTIFACTS / "logs" / request.node.name)
    try:
        yield running
    finally:
        running.stop()


async def test_a_killed_worker_is_restarted_and_the_state_stays_exact(up: RunningUp) -> None:
    up.start()
    token = await up.wait_up()
    scenario = bag_scenario(400, seed=21)
    half = len(scenario.lines) // 2
    async with aiohttp.ClientSession() as session:
        api = Api(session, up.base_url, token)
        await post_lines(api, scenario.lines[:half])
        await settle(api, half)

        before = await wait_health(up, "a worker consuming", 60, consuming_pid)
        worker_pid = consuming_pid(before)
        assert worker_pid is not None
        os.kill(worker_pid, signal.SIGKILL)
        after = await wait_health(
            up,
            "the restarted worker consuming",
            120,
            lambda body: consuming_pid(body) not in (None, worker_pid),
        )
        assert after["processes"]["worker"]["restarts"] == 1
        assert after["processes"]["worker"]["last_exit_status"] == -signal.SIGKILL
        assert after["processes"]["web"]["restarts"] == 0

        await post_lines(api, scenario.lines[half:])
        summary = await settle(api, len(scenario.lines))
        assert summary["events"] == {
            "processed": scenario.unique_events,
            "duplicates": scenario.duplicates,
            "rejected": scenario.malformed,
        }
        assert await check_bags(api, scenario.expected) == []
    assert up.proc is not None and up.proc.poll() is None, up.output()
    assert "the worker exited with status -9; restarting it" in up.output()


def test_a_busy_port_is_a_one_line_error_before_anything_starts(
    space: Isolated, tmp_path: Path
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        data_dir = tmp_path / "data"
        env = {**os.environ, **up_env(space), "TARIQ_DATA_DIR": str(data_dir)}
        env.pop("TARIQ_DATABASE_URL")  # would start an embedded PostgreSQL if it got that far
        result = subprocess.run(
            [sys.executable, "-m", "tariq.cli", "up", "--port", str(port)],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 1
    lines = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert f"cannot listen on 127.0.0.1:{port}" in lines[0]
    assert "Traceback" not in result.stderr
    assert not (data_dir / "services.json").exists()
    assert not (data_dir / "postgres").exists()
