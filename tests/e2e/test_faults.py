"""Faults during a replay of a simulated day: the worker SIGKILLed twice (and restarted),
Redis restarted (it comes back empty), PostgreSQL restarted, the web server SIGKILLed (and
restarted). The test owns its Redis and PostgreSQL servers so that it can restart them;
while each is down, /health names it and a request that needs PostgreSQL answers 503 JSON.
The checker then finds the final state, the alerts, the dead letters and the counts
exact, and no process of the service exited by itself."""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from tariq.adapters.embedded import ServerProcess, start_postgres, start_redis
from tariq.config import load_settings
from tariq.services.replay import event_time_span, replay
from tests.e2e.conftest import ARTIFACTS
from tests.support.infra import Infra
from tests.support.service import Api, RunningService, wait_until
from tests.support.simulated import caught_up, check_against_truth, simulate

pytestmark = pytest.mark.e2e

REPLAY_SECONDS = 75.0  # the day is sent over about this long, so the faults fall inside it


class OwnServers:
    """A Redis and a PostgreSQL that the test stops and starts again on the same port."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.password = secrets.token_hex(16)
        self.redis: ServerProcess = start_redis(workdir / "redis", password=self.password)
        self.postgres: ServerProcess = start_postgres(workdir / "pg")

    def start_redis_again(self) -> None:
        port = self.redis.port
        self.redis = start_redis(self.workdir / "redis", port=port, password=self.password)

    def start_postgres_again(self) -> None:
        self.postgres = start_postgres(self.workdir / "pg", port=self.postgres.port)

    def stop(self) -> None:
        self.redis.stop()
        self.postgres.stop()


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[OwnServers]:
    own = OwnServers(tmp_path / "servers")
    try:
        yield own
    finally:
        own.stop()


async def _processed(api: Api) -> int:
    """Events processed so far, or -1 while the service cannot say (a restart in progress)."""
    try:
        status, body = await api.get("/api/summary")
    except (aiohttp.ClientError, ValueError):
        return -1
    return int(body["events"]["processed"]) if status == 200 else -1


async def _seen_down(api: Api, dependency: str) -> None:
    """Wait until /health reports the dependency down (503, status degraded)."""

    async def reported() -> bool:
        async with api.session.get(api.base_url + "/health") as response:
            body = await response.json(content_type=None)
            return response.status == 503 and dependency in body["down"]

    await wait_until(reported, timeout=30, what=f"/health to report {dependency} down")


async def test_faults_during_a_replay_leave_everything_exact(
    infra: Infra,
    servers: OwnServers,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> None:
    events_file, truth_file = simulate(tmp_path / "day", pilgrims=1200, seed=17)
    lines = sum(1 for line in events_file.read_bytes().splitlines() if line.strip())
    namespace = f"tfaults{secrets.token_hex(4)}"
    env = {
        "TARIQ_KAFKA_URL": infra.kafka_url,
        "TARIQ_REDIS_URL": servers.redis.url,
        "TARIQ_DATABASE_URL": servers.postgres.url,
        "TARIQ_NAMESPACE": namespace,
        "TARIQ_DATA_DIR": str(tmp_path / "data"),
    }
    service = RunningService(env, ARTIFACTS / "logs" / request.node.name)
    service.start_worker()
    service.start_web()
    try:
        token = service.token("operator")
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        speed = event_time_span(events_file) / REPLAY_SECONDS
        sending = asyncio.create_task(
            replay(load_settings(), events_file, speed=speed, progress=False)
        )
        async with aiohttp.ClientSession() as session:
            api = Api(session, service.base_url, token)

            async def past(share: float) -> None:
                async def reached() -> bool:
                    return await _processed(api) >= lines * share

                await wait_until(reached, timeout=180, what=f"{share:.0%} of the day processed")

            during_replay = []
            await past(0.05)
            service.kill(service.workers[-1])
            service.start_worker()
            during_replay.append(not sending.done())
            await past(0.15)
            await asyncio.to_thread(servers.redis.stop)
            await _seen_down(api, "redis")
            await asyncio.to_thread(servers.start_redis_again)  # empty: the mirror is re-synced
            during_replay.append(not sending.done())
            await past(0.25)
            await asyncio.to_thread(servers.postgres.stop)
            await _seen_down(api, "database")
            status, body = await api.get("/api/bags/0000000000")
            assert (status, body["error"]) == (503, "database unavailable; retry shortly")
            await asyncio.to_thread(servers.start_postgres_again)
            during_replay.append(not sending.done())
            await past(0.35)
            service.kill(service.workers[-1])
            service.start_worker()
            assert service.web is not None
            service.kill(service.web)
            service.start_web()
            during_replay.append(not sending.done())
            # (Faults after the last event was sent still hit a backlog being processed.)
            print(f"faults while the replay was still sending: {during_replay}")
            await sending
            await caught_up(api, lines, timeout=300)

        check = check_against_truth(truth_file, service.base_url, token, service.env)
        print(check.stdout[-3000:])
        assert check.returncode == 0, check.stdout[-3000:] + check.stderr[-2000:]
        assert "precision 1.0000, recall 1.0000" in check.stdout
        truth = json.loads(truth_file.read_text())
        assert truth["alerts"], "the scenario should raise alerts"

        # Nothing exited by itself: the two killed workers and the killed web server were
        # replaced, and the replacements still run.
        assert len(service.workers) == 3
        assert service.workers[-1].poll() is None, "the last worker exited by itself"
        assert service.web is not None and service.web.poll() is None, "the web server exited"
        worker_logs = "".join(
            p.read_text(errors="replace") for p in service.logdir.glob("*-worker.log")
        )
        assert "We experienced a crash" not in worker_logs
        assert "unreachable" in worker_logs  # the outages were seen, and logged
    finally:
        service.stop()
