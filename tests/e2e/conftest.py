"""Fixtures: real infrastructure for the session, and the service as processes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest

from tests.support.infra import Infra, Isolated, isolated, start_infra
from tests.support.service import Api, RunningService

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"


@pytest.fixture(scope="session")
def infra(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Infra]:
    running = start_infra(tmp_path_factory.mktemp("infra"))
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def space(infra: Infra, request: pytest.FixtureRequest) -> Iterator[Isolated]:
    label = request.node.name.split("[")[0].removeprefix("test_")[:12].replace("_", "")
    yield from isolated(infra, label)


@pytest.fixture
def service(space: Isolated, request: pytest.FixtureRequest) -> Iterator[RunningService]:
    """The service: one worker, or with `@pytest.mark.workers("ingest", "reconcile")` one
    worker per TARIQ_WORKER_ROLES value given; and the web server."""
    running = RunningService(space.env, ARTIFACTS / "logs" / request.node.name)
    marker = request.node.get_closest_marker("workers")
    for roles in marker.args if marker else (None,):
        running.start_worker(roles=roles)
    running.start_web()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
async def api(service: RunningService) -> AsyncIterator[Api]:
    token = service.token("operator")
    async with aiohttp.ClientSession() as session:
        yield Api(session, service.base_url, token)
