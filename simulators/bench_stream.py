"""`tariq bench stream`: the real stack on this machine, measured in one run.

1. Throughput: N generated events are produced to the input topic as fast as the
   producer goes; the clock stops when `/api/summary` has counted all N (so the time
   includes the worker's PostgreSQL commits and the Redis mirror).
2. Latency: single events are posted to `POST /api/events` at a fixed rate; each one's
   time from the POST to its change arriving on `/ws/live` is recorded.
3. Peak RSS (VmHWM) of every process of the stack.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from tqdm import tqdm

from tariq.commands import child_env, spawn, stop_process, wait_healthy
from tariq.config import Settings, load_settings
from tariq.kafka import EventProducer, ensure_topics

CHECKPOINTS = ("accepted", "loaded", "offloaded")


def generate(n: int, prefix: str) -> list[tuple[bytes, bytes]]:
    """n events: bags coded then scanned, keyed by tag like the service's producers."""
    events: list[tuple[bytes, bytes]] = []
    i = 0
    while len(events) < n:
        tag = f"0{65 + i // 1_000_000:03d}{i % 1_000_000:06d}"
        items: list[dict[str, Any]] = [
            {
                "event_id": f"{prefix}-c-{i}",
                "type": "bag.coded",
                "occurred_at": "2026-05-18T04:00:00Z",
                "tag": tag,
                "pilgrim_id": f"P{i // 2}",
                "flight_id": f"SV{i % 300}",
                "hotel_id": f"MAK-{i % 3500:04d}",
            }
        ]
        for step, checkpoint in enumerate(CHECKPOINTS):
            items.append(
                {
                    "event_id": f"{prefix}-s-{i}-{step}",
                    "type": "bag.scanned",
                    "occurred_at": f"2026-05-18T0{5 + step}:00:00Z",
                    "tag": tag,
                    "checkpoint": checkpoint,
                    "location": "CGK" if step < 2 else "JED",
                }
            )
        events.extend((tag.encode(), orjson.dumps(e)) for e in items)
        i += 1
    return events[:n]


def peak_rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


async def _counted(session: aiohttp.ClientSession, base: str, token: str) -> int:
    async with session.get(
        f"{base}/api/summary", headers={"Authorization": f"Bearer {token}"}
    ) as response:
        body = await response.json()
    events = body["events"]
    return int(events["processed"] + events["duplicates"] + events["rejected"])


async def measure_throughput(settings: Settings, base: str, token: str, n: int) -> dict[str, Any]:
    events = generate(n, "tp")
    producer = EventProducer(settings, linger_ms=5)
    await producer.start()
    async with aiohttp.ClientSession() as session:
        before = await _counted(session, base, token)
        started = time.perf_counter()
        with tqdm(total=n, desc="sent", unit="ev") as bar:
            for k in range(0, n, 10_000):
                await producer.send_many(events[k : k + 10_000])
                bar.update(len(events[k : k + 10_000]))
        sent_s = time.perf_counter() - started
        with tqdm(total=n, desc="processed", unit="ev") as bar:
            done = 0
            while done < n:
                await asyncio.sleep(0.05)
                now = await _counted(session, base, token) - before
                bar.update(now - done)
                done = now
        elapsed = time.perf_counter() - started
    await producer.stop()
    return {
        "events": n,
        "send_seconds": round(sent_s, 3),
        "seconds": round(elapsed, 3),
        "events_per_second": round(n / elapsed),
    }


async def measure_latency(base: str, token: str, rate: float, seconds: float) -> dict[str, Any]:
    total = int(rate * seconds)
    run = f"{time.time_ns() % 10**8:08d}"  # unique ids per run: a repeat would be a duplicate
    sent_at: dict[str, float] = {}
    latencies: list[float] = []
    ws_url = base.replace("http", "ws", 1) + f"/ws/live?token={token}"
    headers = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession() as session, session.ws_connect(ws_url) as ws:
        await ws.receive_json()  # snapshot

        async def listen() -> None:
            while len(latencies) < total:
                message = await ws.receive_json()
                now = time.perf_counter()
                if message.get("kind") == "bags":
                    for bag in message["bags"]:
                        at = sent_at.pop(bag["tag"], None)
                        if at is not None:
                            latencies.append(now - at)

        listener = asyncio.create_task(listen())
        in_flight: set[asyncio.Task[None]] = set()

        async def post(tag: str, body: bytes) -> None:
            sent_at[tag] = time.perf_counter()
            async with session.post(f"{base}/api/events", data=body, headers=headers) as r:
                if r.status != 202:
                    raise RuntimeError(f"POST /api/events answered {r.status}")

        start = time.perf_counter()
        for k in range(total):
            tag = f"9{run[-3:]}{k:06d}"
            body = orjson.dumps(
                [
                    {
                        "event_id": f"lat-{run}-{k}",
                        "type": "bag.coded",
                        "occurred_at": "2026-05-18T04:00:00Z",
                        "tag": tag,
                        "pilgrim_id": f"PL{k}",
                        "flight_id": "SV1",
                        "hotel_id": "MAK-0001",
                    }
                ]
            )
            delay = start + k / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            task = asyncio.create_task(post(tag, body))
            in_flight.add(task)
            task.add_done_callback(in_flight.discard)
        achieved = total / (time.perf_counter() - start)
        await asyncio.gather(*in_flight)
        try:
            await asyncio.wait_for(listener, timeout=30)
        except TimeoutError:
            listener.cancel()
    latencies.sort()
    ms = [x * 1000 for x in latencies]

    def pct(p: float) -> float:
        return round(ms[min(len(ms) - 1, int(p * len(ms)))], 1)

    return {
        "rate_target": rate,
        "rate_achieved": round(achieved),
        "events": total,
        "seen": len(ms),
        "p50_ms": pct(0.50),
        "p90_ms": pct(0.90),
        "p99_ms": pct(0.99),
        "max_ms": round(ms[-1], 1),
        "mean_ms": round(statistics.fmean(ms), 1),
    }


def run_stream_bench(events: int, rate: float, seconds: float, out: Path | None) -> dict[str, Any]:
    from tariq.local import start_local_services

    settings = load_settings()
    workdir = Path(tempfile.mkdtemp(prefix="tariq-bench-"))
    services = None
    processes: dict[str, Any] = {}
    try:
        if not (settings.kafka_url and settings.redis_url and settings.database_url):
            services = start_local_services(workdir)
            assert services.kafka_url and services.redis_url and services.database_url
            settings = settings.with_urls(
                services.kafka_url, services.redis_url, services.database_url
            )
        settings = replace(settings, data_dir=workdir, namespace=f"bench{int(time.time())}")
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            settings = replace(settings, http_port=s.getsockname()[1])
        from tariq.up import _prepare

        token = asyncio.run(_prepare(settings))
        asyncio.run(ensure_topics(settings))
        env = child_env(settings)
        env["TARIQ_NAMESPACE"] = settings.namespace
        processes["worker"] = spawn(["worker"], env)
        processes["web"] = spawn(["web", "--loglevel", "warning"], env)
        base = f"http://127.0.0.1:{settings.http_port}"
        wait_healthy(f"{base}/health", 60, processes["web"])
        # Let the worker join its group before measuring.
        warmup = asyncio.run(measure_latency(base, token, 50, 2))
        result: dict[str, Any] = {"warmup": warmup}
        result["throughput"] = asyncio.run(measure_throughput(settings, base, token, events))
        result["latency"] = asyncio.run(measure_latency(base, token, rate, seconds))
        rss = {name: peak_rss_mb(p.pid) for name, p in processes.items()}
        if services is not None:
            rss.update({name: peak_rss_mb(pid) for name, pid in services.pids.items()})
        result["peak_rss_mb"] = {k: round(v, 1) for k, v in rss.items() if v is not None}
        result["settings"] = {
            "batch_size": settings.batch_size,
            "batch_within_s": settings.batch_within_s,
            "fetch_wait_ms": settings.fetch_wait_ms,
            "partitions": settings.partitions,
        }
        if out:
            out.write_text(json.dumps(result, indent=2))
        return result
    finally:
        for proc in processes.values():
            stop_process(proc)
        if services is not None:
            services.stop()
        with contextlib.suppress(OSError):
            import shutil

            shutil.rmtree(workdir)
