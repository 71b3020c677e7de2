"""Real infrastructure for integration and end-to-end tests.

The broker is always a fresh embedded one started for the test session: Tansu, or the
noida-db broker with TARIQ_TEST_BROKER=noida (to evaluate it, docs/reliability.md). Redis
and PostgreSQL are the machine's when TARIQ_TEST_REDIS_URL / TARIQ_TEST_DATABASE_URL name
them (CI sets them when the services run), otherwise embedded ones started like `tariq up`
does. Every test that needs isolation gets its own database and namespace (topic, group,
Redis keys).
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from tariq.adapters.embedded import ServerProcess, start_broker, start_postgres, start_redis


@dataclass
class Infra:
    kafka_url: str
    redis_url: str
    server_database_url: str  # a database on the server used to create test databases
    workdir: Path
    servers: list[ServerProcess] = field(default_factory=list)

    def stop(self) -> None:
        for server in reversed(self.servers):
            server.stop()


def start_infra(workdir: Path) -> Infra:
    workdir.mkdir(parents=True, exist_ok=True)
    servers = []
    engine = os.environ.get("TARIQ_TEST_BROKER", "tansu")
    broker = start_broker(workdir / "broker", engine=engine)
    servers.append(broker)
    redis_url = os.environ.get("TARIQ_TEST_REDIS_URL")
    if not redis_url:
        redis = start_redis(workdir / "redis")
        servers.append(redis)
        redis_url = redis.url
    database_url = os.environ.get("TARIQ_TEST_DATABASE_URL")
    if not database_url:
        postgres = start_postgres(workdir / "pg")
        servers.append(postgres)
        database_url = postgres.url
    return Infra(broker.url, redis_url, database_url, workdir, servers)


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


async def create_database(server_url: str, name: str) -> str:
    conn = await asyncpg.connect(server_url)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return with_database(server_url, name)


async def drop_database(server_url: str, name: str) -> None:
    conn = await asyncpg.connect(server_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@dataclass
class Isolated:
    """One test's own namespace and database on the shared servers."""

    env: dict[str, str]
    database_url: str
    namespace: str


def isolated(infra: Infra, label: str) -> Iterator[Isolated]:
    suffix = uuid.uuid4().hex[:10]
    namespace = f"t{label}{suffix}"
    name = f"tariq_test_{label}_{suffix}"
    database_url = asyncio.run(create_database(infra.server_database_url, name))
    data_dir = infra.workdir / namespace
    data_dir.mkdir(parents=True, exist_ok=True)
    env = {
        "TARIQ_KAFKA_URL": infra.kafka_url,
        "TARIQ_REDIS_URL": infra.redis_url,
        "TARIQ_DATABASE_URL": database_url,
        "TARIQ_NAMESPACE": namespace,
        "TARIQ_DATA_DIR": str(data_dir),
    }
    try:
        yield Isolated(env, database_url, namespace)
    finally:
        asyncio.run(drop_database(infra.server_database_url, name))
