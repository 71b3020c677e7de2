"""`tariq bench vehicles`: a fleet's GPS fixes through the real stack.

18,000 vehicles (buses and trucks) each send one `vehicle.position` every 10 s, staggered
evenly, so 1,800 positions/s arrive. They are POSTed to `/api/events` in batches (what is due
every 100 ms, at most `--batch` per request) by a few concurrent HTTP clients, as devices
or a fleet gateway would. Each fix's event time is the wall time it is due, and a
websocket on `/ws/live` matches every `vehicles` entry to its fix by vehicle_id and fix time.

Vehicles shuttle on straight lines between Jeddah airport and points around the Haram
in Makkah (~75 km) at 50–100 km/h, turning round at each end, so positions, speeds and
headings are plausible and nobody stalls.
"""

from __future__ import annotations

import asyncio
import math
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiohttp
import orjson
from tqdm import tqdm

from routing.geo import AIRPORTS
from simulators.stack import Sampler, Stack, counted, percentiles, running_stack, wait_counted
from simulators.track import HARAM, distance_m
from tariq.logs import is_terminal

TICK_S = 0.1


@dataclass(frozen=True, slots=True)
class Shuttle:
    """A vehicle going back and forth between two points at a constant speed."""

    vehicle_id: str
    kind: str
    a: tuple[float, float]
    b: tuple[float, float]
    speed_kmh: float

    def position(self, t: float) -> tuple[float, float, float]:
        """(lat, lon, heading in degrees) t seconds after leaving `a`."""
        length = distance_m(self.a, self.b)
        leg_s = length / (self.speed_kmh / 3.6)
        phase = (t / leg_s) % 2.0
        outbound = phase < 1.0
        f = phase if outbound else 2.0 - phase
        lat = self.a[0] + (self.b[0] - self.a[0]) * f
        lon = self.a[1] + (self.b[1] - self.a[1]) * f
        start, end = (self.a, self.b) if outbound else (self.b, self.a)
        return lat, lon, bearing(start, end)


def bearing(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Initial compass bearing from a to b, in [0, 360)."""
    lat1, lat2 = math.radians(a[0]), math.radians(b[0])
    dlon = math.radians(b[1] - a[1])
    x = math.sin(dlon) * math.cos(lat2)
    y = math.cos(lat1) * math.sin(lat2) - math.sin(lat1) * math.cos(lat2) * math.cos(dlon)
    return math.degrees(math.atan2(x, y)) % 360.0


def fleet(n: int) -> list[Shuttle]:
    """n shuttles, deterministic: spread over the airport apron and around the Haram."""
    out = []
    golden = math.pi * (3 - math.sqrt(5))
    for i in range(n):
        r = 0.02 * math.sqrt((i % 997) / 997)  # up to ~2 km around the anchor
        angle = i * golden
        a = (
            AIRPORTS["JED"][0] + r / 4 * math.cos(angle),
            AIRPORTS["JED"][1] + r / 4 * math.sin(angle),
        )
        b = (HARAM[0] + r * math.cos(angle * 1.3), HARAM[1] + r * math.sin(angle * 1.3))
        out.append(Shuttle(f"BV{i:05d}", "bus" if i % 3 else "truck", a, b, 50.0 + (i * 7919) % 51))
    return out


def iso_ms(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


def fix_key(vehicle_id: str, at: str) -> tuple[str, int]:
    """A fix's identity as the feed shows it: vehicle and event time to the millisecond."""
    return vehicle_id, round(datetime.fromisoformat(at).timestamp() * 1000)


def position_event(shuttle: Shuttle, epoch: float, t: float, run: str, k: int) -> dict[str, Any]:
    lat, lon, heading = shuttle.position(t)
    return {
        "event_id": f"vp-{run}-{shuttle.vehicle_id}-{k}",
        "type": "vehicle.position",
        "occurred_at": iso_ms(epoch),
        "vehicle_id": shuttle.vehicle_id,
        "kind": shuttle.kind,
        "lat": round(lat, 6),
        "lon": round(lon, 6),
        "speed_kmh": shuttle.speed_kmh,
        "heading": round(heading, 1),
    }


async def drive(
    stack: Stack, n: int, interval: float, seconds: float, clients: int, batch: int
) -> dict[str, Any]:
    shuttles = fleet(n)
    run = f"{time.time_ns() % 10**8:08d}"
    step = interval / n  # one fix every `step` seconds, vehicles in turn
    total = int(seconds / step)
    sent_at: dict[tuple[str, int], float] = {}
    seen: list[tuple[float, float]] = []  # (seconds into the run, latency)
    queue: asyncio.Queue[list[dict[str, Any]] | None] = asyncio.Queue()
    failures = 0
    posted = 0
    async with aiohttp.ClientSession() as session:
        before = counted(await stack.summary(session))
        # Warm-up: one fix, counted, so the worker has its partitions.
        warm = position_event(shuttles[0], time.time(), 0.0, run + "w", 0)
        async with session.post(
            f"{stack.base}/api/events", data=orjson.dumps([warm]), headers=stack.headers
        ) as r:
            r.raise_for_status()
        before = counted(await wait_counted(stack, session, before + 1, stall_s=90))

        async with session.ws_connect(stack.ws_url, max_msg_size=0) as ws:
            await ws.receive_json()  # snapshot
            start_wall, start = time.time(), time.perf_counter()

            async def listen() -> None:
                while True:
                    message = await ws.receive_json(loads=orjson.loads)
                    now = time.perf_counter()
                    if message.get("kind") != "vehicles":
                        continue
                    for v in message["vehicles"]:
                        at = sent_at.pop(fix_key(v["vehicle_id"], v["at"]), None)
                        if at is not None:
                            seen.append((now - start, now - at))

            async def client() -> None:
                nonlocal failures, posted
                while (items := await queue.get()) is not None:
                    body = orjson.dumps(items)
                    t0 = time.perf_counter()
                    for e in items:
                        sent_at[fix_key(e["vehicle_id"], e["occurred_at"])] = t0
                    async with session.post(
                        f"{stack.base}/api/events", data=body, headers=stack.headers
                    ) as r:
                        if r.status != 202:
                            failures += len(items)
                        else:
                            posted += len(items)

            listener = asyncio.create_task(listen())
            workers = [asyncio.create_task(client()) for _ in range(clients)]
            j = 0
            with tqdm(
                disable=not is_terminal(), total=total, desc="positions", unit="fix", leave=False
            ) as bar:
                while j < total:
                    due = min(total, int((time.perf_counter() - start) / step) + 1)
                    while j < due:
                        items = []
                        for jj in range(j, min(due, j + batch)):
                            k, i = divmod(jj, n)
                            t = jj * step
                            items.append(position_event(shuttles[i], start_wall + t, t, run, k))
                        j += len(items)
                        queue.put_nowait(items)
                    bar.update(j - bar.n)
                    await asyncio.sleep(TICK_S)
            send_s = time.perf_counter() - start
            for _ in workers:
                queue.put_nowait(None)
            await asyncio.gather(*workers)
            posted_s = time.perf_counter() - start
            body = await wait_counted(stack, session, before + total, stall_s=60)
            counted_s = time.perf_counter() - start
            await asyncio.sleep(2.0)  # the last feed messages
            listener.cancel()
    lat = percentiles([x * 1000 for _, x in seen])
    windows: dict[int, list[float]] = {}
    for t, x in seen:
        windows.setdefault(int(t // 30), []).append(x * 1000)
    return {
        "vehicles": n,
        "interval_s": interval,
        "seconds": seconds,
        "positions": total,
        "target_per_second": round(n / interval),
        "posted_per_second": round(posted / posted_s),
        "processed_per_second": round(total / counted_s),
        "post_failures": failures,
        "seen_on_feed": len(seen),
        "latency_ms": {k: round(v, 1) for k, v in lat.items()},
        "p99_ms_by_30s": {
            f"{w * 30}-{w * 30 + 30}s": round(percentiles(v)["p99"], 1)
            for w, v in sorted(windows.items())
        },
        "send_seconds": round(send_s, 1),
        "counted_after_s": round(counted_s, 1),
        "clock": body.get("clock"),
        "transport": f"POST /api/events, batches of ≤{batch} every {TICK_S}s, {clients} clients",
    }


def run_vehicles_bench(
    vehicles: int, interval: float, seconds: float, *, clients: int = 4, batch: int = 100
) -> dict[str, Any]:
    with running_stack(label="benchv") as stack:
        print(
            f"{vehicles:,} vehicles, a fix each per {interval:g} s, for {seconds:g} s …",
            file=sys.stderr,
            flush=True,
        )
        sampler = Sampler(stack.pids, every_s=1.0).start()
        try:
            result = asyncio.run(drive(stack, vehicles, interval, seconds, clients, batch))
        finally:
            sampler.stop()
        result["cpu_seconds"] = sampler.cpu_seconds()
        result["peak_memory_mb"] = sampler.peak_memory_mb()
    return result


def summary_lines(r: dict[str, Any]) -> list[str]:
    lat = r["latency_ms"]
    return [
        f"{r['vehicles']:,} vehicles, one fix per {r['interval_s']:g} s, {r['seconds']:g} s "
        f"({r['positions']:,} positions; {r['transport']})",
        f"positions/s: target {r['target_per_second']:,}, posted {r['posted_per_second']:,}, "
        f"processed {r['processed_per_second']:,} (all counted {r['counted_after_s']} s after "
        f"the start); POST failures {r['post_failures']:,}",
        f"position → /ws/live latency ({r['seen_on_feed']:,} matched): p50 {lat.get('p50')} ms, "
        f"p90 {lat.get('p90')} ms, p99 {lat.get('p99')} ms, max {lat.get('max')} ms",
        "p99 by 30 s window (ms): " + ", ".join(f"{v}" for v in r["p99_ms_by_30s"].values()),
        "CPU seconds: " + ", ".join(f"{k} {v}" for k, v in r["cpu_seconds"].items()),
        "peak memory (MB): " + ", ".join(f"{k} {v}" for k, v in r["peak_memory_mb"].items()),
    ]
