"""`tariq up`: the whole service on this machine, stopped cleanly by Ctrl-C."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from dataclasses import replace
from types import FrameType
from typing import Any

from tariq.config import Settings
from tariq.services.launch import (
    DEMO_FILE,
    DEMO_SECONDS,
    child_env,
    prepare_service,
    spawn,
    start_missing_services,
    stop_process,
    wait_healthy,
)


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
    from tariq.services.replay import event_time_span

    if speed is None:
        speed = max(event_time_span(DEMO_FILE) / DEMO_SECONDS, 1.0)
    print(f"replaying the demo ({DEMO_FILE.name}) at {speed:,.0f}× event time", flush=True)
    return spawn(["replay", str(DEMO_FILE), "--speed", str(speed), "--quiet"], env)
