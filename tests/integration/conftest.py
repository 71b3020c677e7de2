"""Fixtures for integration tests: a fresh PostgreSQL database and a Redis namespace."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tariq.adapters.embedded import start_postgres, start_redis
from tests.support.infra import create_database, drop_database


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url = os.environ.get("TARIQ_TEST_DATABASE_URL")
    if url:
        yield url
        return
    server = start_postgres(Path(tmp_path_factory.mktemp("pg")))
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url = os.environ.get("TARIQ_TEST_REDIS_URL")
    if url:
        yield url
        return
    server = start_redis(Path(tmp_path_factory.mktemp("redis")))
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def database_url(postgres_server: str) -> Iterator[str]:
    name = f"tariq_it_{uuid.uuid4().hex[:10]}"
    url = asyncio.run(create_database(postgres_server, name))
    try:
        yield url
    finally:
        asyncio.run(drop_database(postgres_server, name))
