"""Running the service on this machine: settings that find a running `tariq up`, embedded
servers for what is not configured, topics/schema/token in place, and the child processes
(worker, web, replay) that `tariq up` and the benchmarks start and stop."""

from __future__ import annotations

import collections
import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tariq.config import Settings, load_settings

DEMO_FILE = Path(__file__).resolve().parents[2] / "simulators" / "data" / "demo.jsonl"
DEMO_SECONDS = 180.0
# The embedded broker `tariq up` starts when TARIQ_KAFKA_URL is not set (README "Reliability").
DEFAULT_EMBEDDED_BROKER = "tansu"
# Where `tariq up` tells its children it keeps the supervision record (/health shows it).
SUPERVISOR_STATE_ENV = "TARIQ_SUPERVISOR_STATE"
# Set by `tariq up` for its children when it runs an embedded broker: the web intake then
# spools what it accepts in PostgreSQL (tariq/adapters/db/spool.py).
SPOOL_ENV = "TARIQ_SPOOL_ACCEPTED"


def spool_accepted() -> bool:
    return os.environ.get(SPOOL_ENV, "") == "1"


class PortInUse(RuntimeError):
    """The web server's port is taken: nothing was started."""


def check_port_free(host: str, port: int) -> None:
    """Bind the port as the web server will (address reuse on, as aiohttp does), then let
    it go; a port another process listens on fails here, before anything is started."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise PortInUse(
                f"cannot listen on {host}:{port} ({exc.strerror or exc}); stop what uses it, "
                "or choose another port with --port or TARIQ_HTTP_PORT"
            ) from None


def embedded_broker() -> str:
    """TARIQ_EMBEDDED_BROKER: `tansu` (memory only, the default; accepted events are
    spooled) or `noida` (noida-db, kept on disk; docs/reliability.md)."""
    return os.environ.get("TARIQ_EMBEDDED_BROKER", "").strip() or DEFAULT_EMBEDDED_BROKER


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


async def prepare_service(settings: Settings, *, respool: bool = False) -> str:
    """Topics and schema in place, and an operator token to print. With `respool` (a
    broker that lost its messages), the accepted events no worker has processed yet are
    published again from the spool, before any worker starts."""
    from tariq.adapters.db import create_pool, migrate, spool
    from tariq.adapters.db.tokens import create_token
    from tariq.adapters.kafka import EventProducer, ensure_topics

    await ensure_topics(settings)
    pool = await create_pool(settings.database_url or "", max_size=1)
    try:
        await migrate(pool)
        if respool:
            async with pool.acquire() as conn:
                await spool.prune(conn)
                waiting = await spool.pending(conn)
            if waiting:
                print(
                    f"re-publishing {len(waiting):,} accepted events not processed before the "
                    "last stop",
                    file=sys.stderr,
                    flush=True,
                )
                # Spooled again as new copies (with their new places), the old rows dropped.
                producer = EventProducer(settings, spool=pool)
                await producer.start()
                try:
                    await producer.send_many([(key, value) for _id, key, value in waiting])
                finally:
                    await producer.stop()
                async with pool.acquire() as conn:
                    await spool.forget(conn, [row[0] for row in waiting])
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
        broker=embedded_broker(),
    )
    settings = replace(
        settings,
        kafka_url=settings.kafka_url or services.kafka_url,
        redis_url=settings.redis_url or services.redis_url,
        database_url=settings.database_url or services.database_url,
    )
    # A memory-only broker numbers its offsets from 0 again on every start: name this run
    # in every `source_ref` (tariq/adapters/kafka.py), for us and the children we start.
    from tariq.adapters.kafka import BROKER_EPOCH_ENV

    os.environ.pop(BROKER_EPOCH_ENV, None)
    if services.kafka_url and embedded_broker() == "tansu":
        os.environ[BROKER_EPOCH_ENV] = secrets.token_hex(6)
    return settings, services


def child_env(settings: Settings, *, spool: bool = False) -> dict[str, str]:
    env = dict(os.environ)
    if spool:
        env[SPOOL_ENV] = "1"

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


def spawn(
    command: list[str], env: dict[str, str], *, die_with_us: bool = False
) -> subprocess.Popen[bytes]:
    """A `tariq` child process. With die_with_us (call from the main thread), it gets
    SIGTERM when we die, so a killed `tariq up` leaves no web server holding the port."""
    from tariq.adapters.embedded import die_with_parent

    return subprocess.Popen(
        [sys.executable, "-m", "tariq.cli", *command],
        env=env,
        preexec_fn=die_with_parent() if die_with_us else None,
    )


class CrashLoop(RuntimeError):
    """A supervised process exited too often: `tariq up` gives up."""


@dataclass
class Supervised:
    """One process `tariq up` keeps running."""

    name: str
    command: list[str]
    proc: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    last_exit: int | None = None
    last_exit_at: str | None = None
    restart_due: float | None = None  # monotonic time of the pending restart
    exits: collections.deque[float] = field(default_factory=collections.deque)

    def as_dict(self) -> dict[str, Any]:
        running = self.proc is not None and self.proc.poll() is None
        return {
            "pid": self.proc.pid if running and self.proc else None,
            "running": running,
            "restarts": self.restarts,
            "last_exit_status": self.last_exit,
            "last_exit_at": self.last_exit_at,
        }


class Supervisor:
    """Starts the worker and the web server, restarts either when it exits (backoff 0.5 s
    doubling to 10 s), and gives up (CrashLoop) when one exits `max_exits` times within
    `window_s`. The record in `state_file` is what /health shows as `processes`."""

    def __init__(
        self,
        env: dict[str, str],
        state_file: Path,
        *,
        max_exits: int = 5,
        window_s: float = 60.0,
        max_backoff_s: float = 10.0,
    ) -> None:
        self.state_file = state_file
        self.env = {**env, SUPERVISOR_STATE_ENV: str(state_file)}
        self.max_exits = max_exits
        self.window_s = window_s
        self.max_backoff_s = max_backoff_s
        self.children: dict[str, Supervised] = {}

    def start(self, name: str, command: list[str]) -> None:
        child = self.children.setdefault(name, Supervised(name, command))
        child.proc = spawn(command, self.env, die_with_us=True)
        child.restart_due = None
        self._write_state()

    def poll(self) -> None:
        """Notice exits, restart what is due; raises CrashLoop."""
        now = time.monotonic()
        for child in self.children.values():
            if child.restart_due is not None:
                if now >= child.restart_due:
                    child.restarts += 1
                    print(f"tariq up: restarting the {child.name} (restart {child.restarts})")
                    self.start(child.name, child.command)
                continue
            if child.proc is None or (status := child.proc.poll()) is None:
                continue
            child.last_exit, child.last_exit_at = status, datetime.now(UTC).isoformat()
            child.exits.append(now)
            while child.exits and now - child.exits[0] > self.window_s:
                child.exits.popleft()
            if len(child.exits) >= self.max_exits:
                self._write_state()
                raise CrashLoop(
                    f"the {child.name} exited {len(child.exits)} times within "
                    f"{self.window_s:.0f} s (last status {status}); stopping everything"
                )
            delay = min(0.5 * 2 ** (len(child.exits) - 1), self.max_backoff_s)
            child.restart_due = now + delay
            print(
                f"tariq up: the {child.name} exited with status {status}; "
                f"restarting it in {delay:.1f} s",
                flush=True,
            )
            self._write_state()

    def stop_all(self) -> None:
        for child in reversed(list(self.children.values())):
            if child.proc is not None:
                stop_process(child.proc)
        self.state_file.unlink(missing_ok=True)

    def _write_state(self) -> None:
        record = {
            "supervisor_pid": os.getpid(),
            "processes": {name: c.as_dict() for name, c in self.children.items()},
        }
        scratch = self.state_file.with_suffix(".tmp")
        scratch.write_text(json.dumps(record))
        scratch.replace(self.state_file)


def read_supervisor_state(path: Path) -> dict[str, Any] | None:
    """The record a supervising `tariq up` keeps (None if unreadable)."""
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def wait_ready(url: str, timeout_s: float, supervisor: Supervisor) -> dict[str, Any]:
    """Poll /health until the web server answers and a worker is consuming, supervising
    meanwhile (a child that exits while starting is restarted like any other)."""
    deadline = time.monotonic() + timeout_s
    last: dict[str, Any] = {}
    while time.monotonic() < deadline:
        supervisor.poll()
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                last = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            with contextlib.suppress(ValueError):
                last = json.loads(exc.read())
        except (OSError, ValueError):
            pass
        if last.get("status") == "ok" and last.get("worker", {}).get("consuming"):
            return last
        time.sleep(0.2)
    raise RuntimeError(
        f"the service was not ready within {timeout_s:.0f} s (last /health: {json.dumps(last)})"
    )


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
