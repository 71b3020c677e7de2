"""`tariq up`: the whole service on this machine, supervised, stopped cleanly by Ctrl-C.

A worker or web server that exits is restarted with backoff (tariq/services/launch.py
`Supervisor`); only Ctrl-C, SIGTERM or a crash loop stops everything. A busy HTTP port is
reported at once, before any embedded server starts."""

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
    CrashLoop,
    PortInUse,
    Supervisor,
    check_port_free,
    child_env,
    prepare_service,
    spawn,
    start_missing_services,
    stop_process,
    wait_ready,
)

READY_TIMEOUT_S = 180.0


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def run_up(settings: Settings, *, demo: bool, demo_speed: float | None, port: int | None) -> int:
    if port:
        settings = replace(settings, http_port=port)
    try:
        check_port_free(settings.http_host, settings.http_port)
    except PortInUse as exc:
        print(f"tariq up: {exc}", file=sys.stderr)
        return 1
    signal.signal(signal.SIGTERM, _raise_interrupt)
    services: Any = None
    supervisor: Supervisor | None = None
    demo_proc: subprocess.Popen[bytes] | None = None
    try:
        settings, services = start_missing_services(settings, settings.data_dir)
        # An embedded broker may have lost messages since the last run (Tansu keeps none;
        # noida-db may lose its last second on a crash): accepted events are spooled.
        embedded_broker = services is not None and services.kafka_url is not None
        token = asyncio.run(prepare_service(settings, respool=embedded_broker))
        env = child_env(settings, spool=embedded_broker)
        supervisor = Supervisor(env, settings.data_dir / "supervisor.json")
        supervisor.start("worker", ["worker"])
        supervisor.start("web", ["web"])
        base = f"http://{settings.http_host}:{settings.http_port}"
        wait_ready(f"{base}/health", READY_TIMEOUT_S, supervisor)
        _banner(settings, base, token)
        if demo:
            demo_proc = _start_demo(env, demo_speed)
        while True:
            supervisor.poll()
            if demo_proc is not None and (code := demo_proc.poll()) is not None:
                if code != 0:
                    print(f"tariq up: the demo replay exited with status {code}", flush=True)
                demo_proc = None
            time.sleep(0.2)
    except KeyboardInterrupt:
        print("\nstopping …", flush=True)
        return 0
    except (RuntimeError, CrashLoop) as exc:
        print(f"tariq up: {exc}", file=sys.stderr)
        return 1
    finally:
        if demo_proc is not None:
            stop_process(demo_proc)
        if supervisor is not None:
            supervisor.stop_all()
        if services is not None:
            services.stop()


def _banner(settings: Settings, base: str, token: str) -> None:
    print()
    print(f"  Tariq is up. Dashboard: {base}/#token={token}")
    print(f"  Operator token: {token}")
    print(f"  Data: {settings.data_dir} · Kafka: {settings.kafka_url}")
    print("  Other commands (tariq replay, tariq token create) find these services")
    print(f"  through TARIQ_DATA_DIR={settings.data_dir}.")
    print(f"  Health: {base}/health · a worker or web server that exits is restarted.")
    print("  Press Ctrl-C to stop.")
    print(flush=True)


def _start_demo(env: dict[str, str], speed: float | None) -> subprocess.Popen[bytes]:
    from tariq.services.replay import event_time_span

    if speed is None:
        speed = max(event_time_span(DEMO_FILE) / DEMO_SECONDS, 1.0)
    print(f"replaying the demo ({DEMO_FILE.name}) at {speed:,.0f}× event time", flush=True)
    return spawn(["replay", str(DEMO_FILE), "--speed", str(speed), "--quiet"], env)
