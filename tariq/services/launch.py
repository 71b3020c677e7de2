"""Running the service on this machine: settings that find a running `tariq up`, embedded
servers for what is not configured, topics/schema/token in place, and the child processes
(worker, web, replay) that `tariq up` and the benchmarks start and stop."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import replace
from pathlib import Path
from typing import Any

from tariq.config import Settings, load_settings

DEMO_FILE = Path(__file__).resolve().parents[2] / "simulators" / "data" / "demo.jsonl"
DEMO_SECONDS = 180.0


def resolved_settings() -> Settings:
    """Settings from the environment; unset URLs are taken from a running `tariq up`."""
    settings = load_settings()
    if settings.kafka_url and settings.redis_url and settings.database_url:
        return settings
    from tariq.adapters.embedded import find_running_services

    running = find_running_services(settings.data_dir) or {}
    return replace(
        settings,
        kafka_url=settings.kafka_url or running.get("kafka_url"),
        redis_url=settings.redis_url or running.get("redis_url"),
        database_url=settings.database_url or running.get("database_url"),
    )


async def prepare_service(settings: Settings) -> str:
    """Topics and schema in place, and an operator token to print."""
    from tariq.adapters.db import create_pool, migrate
    from tariq.adapters.db.tokens import create_token
    from tariq.adapters.kafka import ensure_topics

    await ensure_topics(settings)
    pool = await create_pool(settings.database_url or "", max_size=1)
    try:
        await migrate(pool)
        return await create_token(pool, "operator", None)
    finally:
        await pool.close()


def start_missing_services(settings: Settings, data_dir: Path) -> tuple[Settings, Any]:
    """Start embedded servers for the URLs not configured; returns the settings with all
    three URLs and the running services (None when all were configured)."""
    if settings.kafka_url and settings.redis_url and settings.database_url:
        return settings, None
    from tariq.adapters.embedded import start_local_services

    print(f"starting embedded infrastructure in {data_dir} …", file=sys.stderr, flush=True)
    services = start_local_services(
        data_dir,
        need_kafka=settings.kafka_url is None,
        need_redis=settings.redis_url is None,
        need_postgres=settings.database_url is None,
    )
    settings = replace(
        settings,
        kafka_url=settings.kafka_url or services.kafka_url,
        redis_url=settings.redis_url or services.redis_url,
        database_url=settings.database_url or services.database_url,
    )
    return settings, services


def child_env(settings: Settings) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "TARIQ_KAFKA_URL": settings.kafka_url or "",
            "TARIQ_REDIS_URL": settings.redis_url or "",
            "TARIQ_DATABASE_URL": settings.database_url or "",
            "TARIQ_DATA_DIR": str(settings.data_dir),
            "TARIQ_HTTP_PORT": str(settings.http_port),
        }
    )
    return env


def spawn(command: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "tariq.cli", *command], env=env)


def wait_healthy(url: str, timeout_s: float, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"the web server exited with status {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer 200 within {timeout_s:.0f} s")


def stop_process(proc: subprocess.Popen[bytes], timeout_s: float = 15) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
