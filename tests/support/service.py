"""The service under test, run as real processes: `tariq worker` (one or several) and
`tariq web`, exactly as an operator would run them on real infrastructure."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RunningService:
    def __init__(self, env: dict[str, str], logdir: Path) -> None:
        self.port = free_port()
        self.env = {**os.environ, **env, "TARIQ_HTTP_PORT": str(self.port)}
        self.logdir = logdir
        self.logdir.mkdir(parents=True, exist_ok=True)
        self.workers: list[subprocess.Popen[bytes]] = []
        self.web: subprocess.Popen[bytes] | None = None
        self._count = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _spawn(self, *command: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        self._count += 1
        log = (self.logdir / f"{self._count:02d}-{command[0]}.log").open("wb")
        return subprocess.Popen(
            [sys.executable, "-m", "tariq.cli", *command],
            env={**self.env, **(env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def start_worker(self, roles: str | None = None) -> subprocess.Popen[bytes]:
        """A `tariq worker`; `roles`: its TARIQ_WORKER_ROLES (unset: ingest and reconcile)."""
        env = {"TARIQ_WORKER_ROLES": roles} if roles else None
        worker = self._spawn("worker", "--loglevel", "info", env=env)
        self.workers.append(worker)
        return worker

    def kill(self, proc: subprocess.Popen[bytes]) -> None:
        proc.send_signal(signal.SIGKILL)
        proc.wait()

    def start_web(self) -> None:
        self.web = self._spawn("web")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.web.poll() is not None:
                raise RuntimeError(f"tariq web exited; see {self.logdir}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("tariq web did not start listening")

    def token(
        self,
        role: str,
        hotel: str | None = None,
        *,
        vehicle: str | None = None,
        expires: str | None = None,
    ) -> str:
        command = ["create", "--role", role]
        for option, value in (("--hotel", hotel), ("--vehicle", vehicle), ("--expires", expires)):
            if value:
                command += [option, value]
        return self.tariq("token", *command).strip().splitlines()[-1]

    def tariq(self, *args: str) -> str:
        """Run a `tariq` command with the service's configuration; its standard output."""
        command = [sys.executable, "-m", "tariq.cli", *args]
        out = subprocess.run(command, env=self.env, check=True, capture_output=True, text=True)
        return out.stdout

    def stop(self) -> None:
        for proc in [*self.workers, *([self.web] if self.web else [])]:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in [*self.workers, *([self.web] if self.web else [])]:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


class Api:
    def __init__(self, session: aiohttp.ClientSession, base_url: str, token: str) -> None:
        self.session = session
        self.base_url = base_url
        self.token = token

    def _headers(self, token: str | None) -> dict[str, str]:
        token = self.token if token is None else token
        return {"Authorization": f"Bearer {token}"} if token else {}

    async def get(self, path: str, token: str | None = None) -> tuple[int, Any]:
        async with self.session.get(self.base_url + path, headers=self._headers(token)) as r:
            return r.status, await r.json(content_type=None)

    async def post(self, path: str, body: bytes, token: str | None = None) -> tuple[int, Any]:
        async with self.session.post(
            self.base_url + path, data=body, headers=self._headers(token)
        ) as r:
            return r.status, await r.json(content_type=None)

    async def put(self, path: str, body: bytes, token: str | None = None) -> tuple[int, Any]:
        async with self.session.put(
            self.base_url + path, data=body, headers=self._headers(token)
        ) as r:
            return r.status, await r.json(content_type=None)

    async def summary(self) -> dict[str, Any]:
        status, body = await self.get("/api/summary")
        assert status == 200, body
        return dict(body)


async def wait_until(
    condition: Callable[[], Awaitable[bool]], *, timeout: float, what: str
) -> None:
    """Poll until the condition holds; fail (not a timing assert: a hang guard) if never."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await condition():
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"gave up after {timeout:.0f} s waiting for {what}")


async def input_drained(api: Api, *, timeout: float = 120) -> None:
    """Wait until the workers have processed everything on the input topic, derived events
    (those a worker publishes from an `iata.message`) included: every consuming worker's
    heartbeat, taken after this call began (plus a fetch's margin), shows no lag. Call it
    once the inputs are counted: derived events are published before their parent is."""
    since = time.time() + 0.5

    async def drained() -> bool:
        async with api.session.get(api.base_url + "/health") as response:
            body = await response.json(content_type=None)
        workers = [w for w in body.get("workers", []) if w.get("partitions")]
        return bool(workers) and all(
            w.get("lag") == 0
            and datetime.fromisoformat(w["at"].replace("Z", "+00:00")).timestamp() > since
            for w in workers
        )

    await wait_until(drained, timeout=timeout, what="the input topic drained (lag 0)")
