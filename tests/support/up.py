"""`tariq up` run as an operator runs it: a subprocess (its own process group, so a test can
kill the whole group), with its own TARIQ_DATA_DIR and a free port."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from tests.support.service import Api, free_port, wait_until

TOKEN_LINE = re.compile(r"Operator token: (\S+)")


class RunningUp:
    def __init__(self, env: dict[str, str], data_dir: Path, logdir: Path) -> None:
        self.port = free_port()
        self.data_dir = data_dir
        self.env = {
            **os.environ,
            **env,
            "TARIQ_DATA_DIR": str(data_dir),
            "TARIQ_HTTP_PORT": str(self.port),
        }
        self.logdir = logdir
        self.logdir.mkdir(parents=True, exist_ok=True)
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path: Path | None = None
        self._runs = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, extra: Sequence[str] = ()) -> subprocess.Popen[bytes]:
        self._runs += 1
        self.log_path = self.logdir / f"up-{self._runs}.log"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tariq.cli", "up", *extra],
            env=self.env,
            stdout=self.log_path.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, as in a terminal
        )
        return self.proc

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path else ""

    async def wait_up(self, timeout: float = 240) -> str:
        """Wait for "Tariq is up" (printed once a worker consumes); returns the token."""

        async def up() -> bool:
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError(f"tariq up exited ({self.proc.returncode}):\n{self.output()}")
            return "Tariq is up" in self.output()

        await wait_until(up, timeout=timeout, what="tariq up to report it is up")
        found = TOKEN_LINE.search(self.output())
        assert found, self.output()
        return found.group(1)

    def health(self) -> tuple[int, dict[str, Any]]:
        try:
            with urllib.request.urlopen(f"{self.base_url}/health", timeout=5) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())
        except OSError:  # not listening (yet, or any more)
            return 0, {}

    def kill_group(self) -> None:
        """kill -9 of the whole `tariq up` process group (it, its worker and web server)."""
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        """Ctrl-C, as in a terminal (SIGINT to the group); kill what is left after 60 s."""
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGINT)
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


async def post_lines(api: Api, lines: Sequence[bytes], chunk: int = 1000) -> int:
    """POST JSON Lines in chunks; returns how many were accepted (202)."""
    accepted = 0
    for start in range(0, len(lines), chunk):
        status, body = await api.post("/api/events", b"\n".join(lines[start : start + chunk]))
        assert status == 202, body
        accepted += int(body["accepted"])
    return accepted


async def wait_health(
    up: RunningUp, what: str, timeout: float, check: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    """Poll /health until `check(body)` holds; returns that body."""
    seen: dict[str, Any] = {}

    async def holds() -> bool:
        nonlocal seen
        _status, seen = await asyncio.to_thread(up.health)
        return bool(seen) and check(seen)

    try:
        await wait_until(holds, timeout=timeout, what=what)
    except AssertionError as exc:
        raise AssertionError(f"{exc}; last /health: {seen}") from None
    return seen


def consuming_pid(body: dict[str, Any]) -> int | None:
    """The pid of the supervised worker, if /health shows it consuming (its own heartbeat,
    not one a killed predecessor left behind) and nothing down."""
    pid = (body.get("processes") or {}).get("worker", {}).get("pid")
    for worker in body.get("workers", []):
        if pid and worker["worker_id"].endswith(f":{pid}") and worker["partitions"]:
            return int(pid) if body.get("status") == "ok" else None
    return None


def wait_port_closed(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1):
                pass
        except urllib.error.HTTPError:
            pass
        except OSError:
            return
        time.sleep(0.2)
    raise AssertionError(f"port {port} still answers after {timeout:.0f} s")
