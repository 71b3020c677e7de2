"""`tariq up`: the whole service on this machine, stopped cleanly by Ctrl-C."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path
from types import FrameType
from typing import Any

from tariq.commands import (
    DEMO_FILE,
    DEMO_SECONDS,
    child_env,
    spawn,
    stop_process,
    wait_healthy,
)
from tariq.config import Settings


async def prepare_service(settings: Settings) -> str:
    """Topics and schema in place, and an operator token to print."""
    from tariq.auth import create_token
    from tariq.db import create_pool, migrate
    from tariq.kafka import ensure_topics

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
    from tariq.local import start_local_services

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


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def run_up(settings: Settings, *, demo: bool, demo_speed: float | None, port: int | None) -> int:
    if port:
        settings = replace(settings, http_port=port)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    services: Any = None
    children: list[subprocess.Popen[bytes]] = []
    try:
        settings, services = start_missing_services(settings, settings.data_dir)
        token = asyncio.run(prepare_service(settings))
        env = child_env(settings)
        children.append(spawn(["worker"], env))
        web = spawn(["web"], env)
        children.append(web)
        base = f"http://{settings.http_host}:{settings.http_port}"
        wait_healthy(f"{base}/health", 90, web)
        print()
        print(f"  Tariq is up. Dashboard: {base}/#token={token}")
        print(f"  Operator token: {token}")
        print(f"  Data: {settings.data_dir} · Kafka: {settings.kafka_url}")
        print("  Other commands (tariq replay, tariq token create) find these services")
        print(f"  through TARIQ_DATA_DIR={settings.data_dir}.")
        print("  Press Ctrl-C to stop.")
        print(flush=True)
        if demo:
            children.append(_start_demo(env, demo_speed))
        while True:
            for child in children:
                code = child.poll()
                if code is not None and not (demo and child is children[-1] and code == 0):
                    print(f"tariq up: a process exited ({child.args!r}, status {code})")
                    return 1
            time.sleep(0.5)
    except KeyboardInterrupt:
        print("\nstopping …", flush=True)
        return 0
    except RuntimeError as exc:
        print(f"tariq up: {exc}", file=sys.stderr)
        return 1
    finally:
        for child in reversed(children):
            stop_process(child)
        if services is not None:
            services.stop()


def _start_demo(env: dict[str, str], speed: float | None) -> subprocess.Popen[bytes]:
    from tariq.replay import event_time_span

    if speed is None:
        speed = max(event_time_span(DEMO_FILE) / DEMO_SECONDS, 1.0)
    print(f"replaying the demo ({DEMO_FILE.name}) at {speed:,.0f}× event time", flush=True)
    return spawn(["replay", str(DEMO_FILE), "--speed", str(speed), "--quiet"], env)
