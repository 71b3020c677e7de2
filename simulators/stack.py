"""The real stack, started for a benchmark: broker, Redis, PostgreSQL (embedded in a temp dir
unless TARIQ_*_URL are set), one worker and one web server, each a process we can measure.

Also what every benchmark measures about processes (CPU seconds and memory from /proc) and
the small pure helpers the reports share (percentiles, the summary's counts).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import aiohttp

from tariq.config import Settings, load_settings
from tariq.services.launch import child_env, spawn, stop_process, wait_healthy

CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


# ---------------------------------------------------------------- pure helpers


def percentiles(
    values: Sequence[float], points: Sequence[float] = (0.5, 0.9, 0.99)
) -> dict[str, float]:
    """Nearest-rank percentiles of `values` (any order), keyed `p50`, `p90`, `p99`, …;
    plus `max` and `mean`. Empty input gives an empty dict."""
    if not values:
        return {}
    ordered = sorted(values)
    n = len(ordered)
    out: dict[str, float] = {}
    for p in points:
        rank = max(1, -(-round(p * n * 1000) // 1000))  # ceil(p * n), robust to float noise
        out[f"p{p * 100:g}"] = ordered[min(n, rank) - 1]
    out["max"] = ordered[-1]
    out["mean"] = sum(ordered) / n
    return out


def counted(summary: Mapping[str, Any]) -> int:
    """Lines the service has accounted for: processed, duplicates and dead letters."""
    events = summary["events"]
    return int(events["processed"]) + int(events["duplicates"]) + int(events["rejected"])


def judged(summary: Mapping[str, Any]) -> bool:
    """Alert judgement caught up: nothing pending and the reconciler at the service's clock."""
    rec = summary.get("reconciler") or {}
    return rec.get("pending") == 0 and rec.get("clock") == summary.get("clock")


def parse_stat_cpu_ticks(stat: str) -> int:
    """utime + stime (clock ticks) from the text of /proc/PID/stat."""
    fields = stat[stat.rindex(")") + 2 :].split()
    return int(fields[11]) + int(fields[12])


def parse_status_kb(status: str, name: str) -> int | None:
    """A `Name:   123 kB` field of /proc/PID/status (or smaps_rollup), in kB."""
    for line in status.splitlines():
        if line.startswith(name + ":"):
            return int(line.split()[1])
    return None


def children_map(stats: Mapping[int, str]) -> dict[int, list[int]]:
    """Parent pid → child pids, from /proc/PID/stat texts."""
    kids: dict[int, list[int]] = {}
    for pid, stat in stats.items():
        ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
        kids.setdefault(ppid, []).append(pid)
    return kids


def descendants(root: int, kids: Mapping[int, Sequence[int]]) -> list[int]:
    """root and every process below it."""
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(kids.get(pid, ()))
    return out


# ---------------------------------------------------------------- /proc readings


def _read(path: str) -> str | None:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None


def _all_stats() -> dict[int, str]:
    stats = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            text = _read(f"/proc/{entry}/stat")
            if text:
                stats[int(entry)] = text
    return stats


@dataclass
class ProcessReading:
    cpu_s: float  # the process and its live descendants (PostgreSQL backends)
    rss_mb: float  # proportional set size of the tree (shared memory counted once)
    hwm_mb: float | None  # VmHWM of the root process


# PostgreSQL works in forked backends: its tree is the server. Every other process is read
# alone (the bench's own tree holds the whole stack).
TREES = frozenset({"postgres"})


def read_processes(pids: Mapping[str, int]) -> dict[str, ProcessReading]:
    stats = _all_stats()
    kids = children_map(stats)
    out = {}
    for name, root in pids.items():
        if root not in stats:
            continue
        cpu = 0
        pss_kb = 0
        for pid in descendants(root, kids) if name in TREES else [root]:
            if pid in stats:
                cpu += parse_stat_cpu_ticks(stats[pid])
            rollup = _read(f"/proc/{pid}/smaps_rollup") or ""
            pss_kb += parse_status_kb(rollup, "Pss") or 0
        hwm = parse_status_kb(_read(f"/proc/{root}/status") or "", "VmHWM")
        out[name] = ProcessReading(
            cpu / CLOCK_TICKS, pss_kb / 1024, hwm / 1024 if hwm is not None else None
        )
    return out


def cpu_between(
    first: Mapping[str, ProcessReading], last: Mapping[str, ProcessReading]
) -> dict[str, float]:
    """CPU seconds each process used between two readings (those read both times)."""
    return {name: round(last[name].cpu_s - first[name].cpu_s, 2) for name in last if name in first}


@dataclass
class Sampler:
    """Samples every process's CPU seconds and memory in a thread, for reports and plots."""

    pids: dict[str, int]
    every_s: float = 1.0
    samples: list[tuple[float, dict[str, ProcessReading]]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> Sampler:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append((time.monotonic(), read_processes(self.pids)))
            self._stop.wait(self.every_s)

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join()
        self.samples.append((time.monotonic(), read_processes(self.pids)))

    def cpu_seconds(self) -> dict[str, float]:
        """CPU seconds each process used between the first and the last sample."""
        if len(self.samples) < 2:
            return {}
        return cpu_between(self.samples[0][1], self.samples[-1][1])

    def window_s(self) -> float:
        return self.samples[-1][0] - self.samples[0][0] if len(self.samples) > 1 else 0.0

    def peak_memory_mb(self) -> dict[str, float]:
        """Per process: its VmHWM (single processes) or the sampled peak PSS of its tree
        (PostgreSQL, whose backends are children), whichever is larger."""
        peaks: dict[str, float] = {}
        for _, readings in self.samples:
            for name, r in readings.items():
                peaks[name] = max(peaks.get(name, 0.0), r.rss_mb, r.hwm_mb or 0.0)
        return {name: round(v, 1) for name, v in peaks.items()}


# ---------------------------------------------------------------- the stack


@dataclass
class Stack:
    settings: Settings
    token: str
    base: str
    processes: dict[str, subprocess.Popen[bytes]]
    service_pids: dict[str, int]

    @property
    def pids(self) -> dict[str, int]:
        """Every process of the stack, and this one (the load generator)."""
        return {
            "bench": os.getpid(),
            **{name: p.pid for name, p in self.processes.items()},
            **self.service_pids,
        }

    @property
    def ws_url(self) -> str:
        return self.base.replace("http", "ws", 1) + f"/ws/live?token={self.token}"

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    async def summary(self, session: aiohttp.ClientSession) -> dict[str, Any]:
        async with session.get(f"{self.base}/api/summary", headers=self.headers) as r:
            r.raise_for_status()
            body: dict[str, Any] = await r.json()
            return body


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def running_stack(
    *,
    env: Mapping[str, str] | None = None,
    web: bool = True,
    label: str = "bench",
    workers: int = 1,
    reconciler_process: bool = False,
) -> Iterator[Stack]:
    """Start the stack (embedded services in a temp dir when no URLs are set) with
    `workers` workers in one consumer group (`worker`, `worker2`, …) and, with
    `reconciler_process`, the reconciler in a worker of its own (`reconciler`; the others
    then only ingest); yield it, and stop everything it started, whatever happens."""
    from tariq.services.launch import prepare_service, start_missing_services

    settings = load_settings()
    workdir = Path(tempfile.mkdtemp(prefix=f"tariq-{label}-"))
    services = None
    processes: dict[str, subprocess.Popen[bytes]] = {}
    try:
        settings, services = start_missing_services(settings, workdir)
        # A fresh namespace: topic, consumer groups and Redis keys of this run only. With a
        # shared PostgreSQL the journal is shared too, so event ids must not repeat runs.
        namespace = f"{label}{time.time_ns() % 10**10}"
        settings = replace(settings, data_dir=workdir, namespace=namespace, http_port=_free_port())
        token = asyncio.run(prepare_service(settings))
        child = child_env(settings)
        child["TARIQ_NAMESPACE"] = namespace
        child.update(env or {})
        roles = {"TARIQ_WORKER_ROLES": "ingest"} if reconciler_process else {}
        for n in range(1, workers + 1):
            name = "worker" if n == 1 else f"worker{n}"
            processes[name] = spawn(["worker"], {**child, **roles})
        if reconciler_process:
            processes["reconciler"] = spawn(
                ["worker"], {**child, "TARIQ_WORKER_ROLES": "reconcile"}
            )
        base = f"http://127.0.0.1:{settings.http_port}"
        if web:
            processes["web"] = spawn(["web", "--loglevel", "warning"], child)
            wait_healthy(f"{base}/health", 60, processes["web"])
        yield Stack(settings, token, base, processes, services.pids if services else {})
    finally:
        for proc in processes.values():
            stop_process(proc)
        if services is not None:
            services.stop()
        with contextlib.suppress(OSError):
            shutil.rmtree(workdir)


async def wait_counted(
    stack: Stack,
    session: aiohttp.ClientSession,
    target: int,
    *,
    stall_s: float = 120.0,
    every_s: float = 0.05,
    on_progress: Any = None,
) -> dict[str, Any]:
    """Poll /api/summary until `target` lines are counted; fail if nothing moves for stall_s."""
    last, moved = -1, time.monotonic()
    while True:
        body = await stack.summary(session)
        now = counted(body)
        if on_progress is not None:
            on_progress(now, body)
        if now >= target:
            return body
        if now != last:
            last, moved = now, time.monotonic()
        elif time.monotonic() - moved > stall_s:
            raise RuntimeError(f"stuck at {now:,} of {target:,} counted for {stall_s:.0f} s")
        await asyncio.sleep(every_s)


async def wait_judged(
    stack: Stack, session: aiohttp.ClientSession, timeout_s: float = 600.0
) -> tuple[float, dict[str, Any]]:
    """Seconds until the reconciler has caught up with the counted events, and the summary."""
    started = time.monotonic()
    while True:
        body = await stack.summary(session)
        if judged(body):
            return time.monotonic() - started, body
        if time.monotonic() - started > timeout_s:
            raise RuntimeError(f"judgement not caught up after {timeout_s:.0f} s: {body}")
        await asyncio.sleep(0.1)
