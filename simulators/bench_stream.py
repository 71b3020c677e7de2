"""`tariq bench stream`: the real stack on this machine, measured in one run.

1. Throughput: the head (N lines) of a simulated day is produced to the input topic as fast
   as the producer goes; the clock runs from the first send until `/api/summary` has counted
   all N (so it includes the worker's PostgreSQL commits and the Redis mirror). Then the time
   until the reconciler has judged them all. CPU seconds of every process over the run.
2. Latency: single events are posted to `POST /api/events` at a fixed rate; each one's time
   from the POST to its change arriving on `/ws/live`.
3. Peak memory of every process of the stack.
4. The same N lines through our worker with `TARIQ_INGEST=faust` (a fresh stack), and through
   the naive one-agent Faust table counter (simulators/naive_faust.py) on a fresh broker.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from tqdm import tqdm

from simulators.check import churn_line, fetch_alert_churn, open_alerts_in
from simulators.http_load import HttpError, LeanClient
from simulators.stack import (
    Sampler,
    Stack,
    counted,
    cpu_between,
    percentiles,
    read_processes,
    running_stack,
    wait_counted,
    wait_judged,
)
from tariq.adapters.kafka import EventProducer, bootstrap_servers
from tariq.config import load_settings
from tariq.logs import is_terminal

Line = tuple[bytes | None, bytes]
SEND_CHUNK = 10_000


def day_head(n: int, seed: int = 1) -> list[Line]:
    """The first n lines of a simulated day (`tariq simulate --scale day`), keyed like the
    service keys them; malformed lines (the day has some) unkeyed, as the replay sends them."""
    from simulators.faults import FaultRates
    from simulators.generate import generate
    from simulators.season import build_schedule
    from tariq.services.replay import read_lines

    scale = "day" if n <= 350_000 else "week"
    with tempfile.TemporaryDirectory(prefix="tariq-bench-day-") as tmp:
        path = Path(tmp) / "events.jsonl"
        schedule = build_schedule(scale, seed, None, None, FaultRates())
        with open(path, "wb", buffering=1 << 20) as sink:
            generate(schedule, sink.write, 60)
        lines: list[Line] = []
        for line in read_lines(path):
            lines.append((line.key, line.value))
            if len(lines) >= n:
                break
    if len(lines) < n:
        raise ValueError(f"a simulated {scale} has only {len(lines):,} lines, not {n:,}")
    return lines


def oracle_view(lines: Sequence[Line]) -> tuple[int, int]:
    """(alerts open after these lines, alerts that open and resolve in event time itself),
    by the independent oracle (simulators/oracle.py) on their valid events."""
    from simulators.check import event_time_transients
    from simulators.oracle import judge
    from tariq.domain.events import InvalidEvent, decode_event

    events = []
    for _, value in lines:
        try:
            events.append(decode_event(value))
        except InvalidEvent:
            continue
    return len(judge(events).alerts), sum(event_time_transients(events).values())


async def produce(producer: EventProducer, lines: Sequence[Line], desc: str = "sent") -> float:
    """Send every line, waiting for the broker's acks chunk by chunk; returns seconds."""
    started = time.perf_counter()
    with tqdm(
        disable=not is_terminal(), total=len(lines), desc=desc, unit="ev", leave=False
    ) as bar:
        for k in range(0, len(lines), SEND_CHUNK):
            chunk = lines[k : k + SEND_CHUNK]
            await producer.send_many(chunk)
            bar.update(len(chunk))
    return time.perf_counter() - started


async def warm_up(stack: Stack, session: aiohttp.ClientSession, line: Line) -> int:
    """Send one line (the first of the run: the run then sends it again as a duplicate) and
    wait until it is counted, so the worker has joined its group before the clock starts."""
    before = counted(await stack.summary(session))
    producer = EventProducer(stack.settings, linger_ms=0)
    await producer.start()
    try:
        await producer.send_many([line])
    finally:
        await producer.stop()
    body = await wait_counted(stack, session, before + 1, stall_s=90)
    return counted(body)


async def measure_throughput(stack: Stack, lines: Sequence[Line]) -> dict[str, Any]:
    n = len(lines)
    async with aiohttp.ClientSession() as session:
        before = await warm_up(stack, session, lines[0])
        producer = EventProducer(stack.settings, linger_ms=5)
        await producer.start()
        sampler = Sampler(stack.pids, every_s=0.5).start()
        lag: list[int] = []
        peak_open = [0]
        # The CPU of the counting itself, apart from the judging and checks after it.
        at_start = read_processes(stack.pids)
        started = time.perf_counter()
        try:
            sending = asyncio.create_task(produce(producer, lines))
            with tqdm(
                disable=not is_terminal(), total=n, desc="counted", unit="ev", leave=False
            ) as bar:

                def progress(now: int, body: dict[str, Any]) -> None:
                    bar.update(now - before - bar.n)
                    lag.append(int(body.get("reconciler", {}).get("pending") or 0))
                    peak_open[0] = max(peak_open[0], open_alerts_in(body))

                await wait_counted(stack, session, before + n, on_progress=progress)
            elapsed = time.perf_counter() - started
            counting_cpu = cpu_between(at_start, read_processes(stack.pids))
            send_s = await sending
            judge_s, body = await wait_judged(stack, session)
            true_open, transients = oracle_view(lines)
            churn = await fetch_alert_churn(
                stack.base, stack.token, true_open, peak_open[0], transients
            )
        finally:
            sampler.stop()
            await producer.stop()
    return {
        "events": n,
        "send_seconds": round(send_s, 2),
        "seconds": round(elapsed, 2),
        "events_per_second": round(n / elapsed),
        "judged_after_counted_seconds": round(judge_s, 2),
        "reconciler_pending_max": max(lag, default=0),
        "reconciler_rounds": (body.get("reconciler") or {}).get("rounds"),
        "alerts": churn.as_dict(),
        "cpu_seconds_counting": counting_cpu,
        "cpu_seconds": sampler.cpu_seconds(),
        "cpu_seconds_total": round(sum(sampler.cpu_seconds().values()), 1),
        "cpu_window_seconds": round(sampler.window_s(), 2),
        "peak_memory_mb": sampler.peak_memory_mb(),
    }


async def measure_latency(stack: Stack, rate: float, seconds: float) -> dict[str, Any]:
    total = int(rate * seconds)
    run = f"{time.time_ns() % 10**8:08d}"  # unique ids per run: a repeat would be a duplicate
    sent_at: dict[str, float] = {}
    latencies: list[float] = []
    post_s: list[float] = []
    failures = 0
    # The POSTs go through the lean client: aiohttp's cost the load generator as much CPU
    # as the web tier it measures, on the same two cores (simulators/http_load.py).
    client = LeanClient(stack.base, {**stack.headers, "Content-Type": "application/json"})
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(stack.ws_url, max_msg_size=0) as ws,
    ):
        await ws.receive_json()  # snapshot

        async def listen() -> None:
            while len(latencies) < total:
                message = await ws.receive_json(loads=orjson.loads)
                now = time.perf_counter()
                if message.get("kind") == "bags":
                    for bag in message["bags"]:
                        at = sent_at.pop(bag["tag"], None)
                        if at is not None:
                            latencies.append(now - at)

        listener = asyncio.create_task(listen())
        in_flight: set[asyncio.Task[None]] = set()

        async def post(tag: str, body: bytes) -> None:
            nonlocal failures
            sent_at[tag] = t0 = time.perf_counter()
            try:
                status = await client.post("/api/events", body)
            except (OSError, HttpError):
                status = 0
            if status != 202:
                failures += 1
            post_s.append(time.perf_counter() - t0)

        start = time.perf_counter()
        with tqdm(
            disable=not is_terminal(),
            total=total,
            desc=f"latency @{rate:,.0f}/s",
            unit="ev",
            leave=False,
        ) as bar:
            for k in range(total):
                tag = f"9{run[-3:]}{k:06d}"
                body = orjson.dumps(
                    [
                        {
                            "event_id": f"lat-{run}-{k}",
                            "type": "bag.coded",
                            "occurred_at": "2025-05-18T04:00:00Z",
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
                if k % 500 == 0:
                    bar.update(k - bar.n)
        achieved = total / (time.perf_counter() - start)
        await asyncio.gather(*in_flight)
        client.close()
        try:
            await asyncio.wait_for(listener, timeout=30)
        except TimeoutError:
            listener.cancel()
    ms = percentiles([x * 1000 for x in latencies])
    return {
        "rate_target": rate,
        "rate_achieved": round(achieved),
        "events": total,
        "seen": len(latencies),
        "post_failures": failures,
        **{f"{k}_ms": round(v, 1) for k, v in ms.items()},
        # How long the POST itself took (web tier + produce to the broker).
        "post_ms": {k: round(v, 1) for k, v in percentiles([x * 1000 for x in post_s]).items()},
    }


# ---------------------------------------------------------------- the naive baseline


async def _create_topic(kafka_url: str, topic: str) -> None:
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers(kafka_url))
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=4, replication_factor=1)])
    finally:
        await admin.close()


async def _naive_run(
    kafka_url: str, topic: str, lines: Sequence[Line], progress: Path, pid: int
) -> dict[str, Any]:
    from dataclasses import replace

    # The producer wants all three URLs; only the broker is used.
    settings = replace(
        load_settings(),
        kafka_url=kafka_url,
        redis_url="redis://unused",
        database_url="postgresql://unused",
        namespace=topic.removesuffix(".events"),
    )

    def seen() -> int:
        try:
            return int(progress.read_text() or 0)
        except (OSError, ValueError):
            return 0

    producer = EventProducer(settings, linger_ms=5)
    await producer.start()
    try:
        await producer.send_many([lines[0]])  # warm-up: wait for the agent to join
        deadline = time.monotonic() + 90
        while seen() < 1:
            if time.monotonic() > deadline:
                raise RuntimeError("the naive Faust app did not count its first event in 90 s")
            await asyncio.sleep(0.05)
        sampler = Sampler({"bench": __import__("os").getpid(), "naive_faust": pid}, 0.5).start()
        started = time.perf_counter()
        sending = asyncio.create_task(produce(producer, lines))
        n = len(lines)
        last, moved = 0, time.monotonic()
        with tqdm(
            disable=not is_terminal(), total=n, desc="naive counted", unit="ev", leave=False
        ) as bar:
            while (now := seen() - 1) < n:
                bar.update(now - bar.n)
                if now != last:
                    last, moved = now, time.monotonic()
                elif time.monotonic() - moved > 120:
                    raise RuntimeError(f"naive Faust stuck at {now:,} of {n:,}")
                await asyncio.sleep(0.05)
        elapsed = time.perf_counter() - started
        await sending
        sampler.stop()
    finally:
        await producer.stop()
    return {
        "events": n,
        "seconds": round(elapsed, 2),
        "events_per_second": round(n / elapsed),
        "cpu_seconds": sampler.cpu_seconds(),
        "peak_memory_mb": sampler.peak_memory_mb(),
    }


def run_naive(lines: Sequence[Line]) -> dict[str, Any]:
    """The naive app on its own broker (or TARIQ_KAFKA_URL) and a fresh topic."""
    from tariq.adapters.embedded import start_local_services

    settings = load_settings()
    workdir = Path(tempfile.mkdtemp(prefix="tariq-naive-"))
    services = None
    proc: subprocess.Popen[bytes] | None = None
    try:
        kafka_url = settings.kafka_url
        if not kafka_url:
            services = start_local_services(workdir, need_redis=False, need_postgres=False)
            kafka_url = services.kafka_url
        assert kafka_url
        topic = f"naive{time.time_ns() % 10**10}.events"
        asyncio.run(_create_topic(kafka_url, topic))
        progress = workdir / "progress"
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "simulators.naive_faust",
                kafka_url,
                topic,
                topic.replace(".", "-"),
                str(progress),
            ],
            cwd=workdir,
        )
        return asyncio.run(_naive_run(kafka_url, topic, lines, progress, proc.pid))
    finally:
        if proc is not None:
            from tariq.services.launch import stop_process

            stop_process(proc)
        if services is not None:
            services.stop()
        with contextlib.suppress(OSError):
            shutil.rmtree(workdir)


# ---------------------------------------------------------------- the whole bench


def run_stream_bench(
    events: int,
    rate: float,
    seconds: float,
    out: Path | None,
    *,
    seed: int = 1,
    faust: bool = True,
    naive: bool = True,
    workers: int = 1,
    reconciler_process: bool = False,
) -> dict[str, Any]:
    print(f"generating the head of a simulated day ({events:,} lines) …", file=sys.stderr)
    lines = day_head(events, seed)
    result: dict[str, Any] = {
        "events": events,
        "source": f"simulated day, seed {seed}, head",
        "workers": workers,
        "reconciler_process": reconciler_process,
    }
    with running_stack(
        label="bench", workers=workers, reconciler_process=reconciler_process
    ) as stack:
        print("direct ingest: throughput …", file=sys.stderr, flush=True)
        result["throughput"] = asyncio.run(measure_throughput(stack, lines))
        print("direct ingest: latency …", file=sys.stderr, flush=True)
        sampler = Sampler(stack.pids, every_s=0.5).start()
        result["latency"] = asyncio.run(measure_latency(stack, rate, seconds))
        sampler.stop()
        result["latency"]["cpu_seconds"] = sampler.cpu_seconds()
        result["peak_memory_mb"] = sampler.peak_memory_mb()
        s = stack.settings
        save(out, result)
        result["settings"] = {
            "batch_size": s.batch_size,
            "batch_within_s": s.batch_within_s,
            "fetch_wait_ms": s.fetch_wait_ms,
            "partitions": s.partitions,
            "concurrency": s.concurrency,
        }
    if faust:
        print("TARIQ_INGEST=faust: throughput …", file=sys.stderr, flush=True)
        with running_stack(env={"TARIQ_INGEST": "faust"}, label="benchf") as stack:
            result["faust_ingest"] = asyncio.run(measure_throughput(stack, lines))
    if naive:
        print("naive one-agent Faust table counter …", file=sys.stderr, flush=True)
        result["naive"] = run_naive(lines)
        result["ratio_ours_to_naive"] = round(
            result["throughput"]["events_per_second"] / result["naive"]["events_per_second"], 2
        )
    save(out, result)
    return result


def save(out: Path | None, result: dict[str, Any]) -> None:
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2))


def summary_lines(result: dict[str, Any]) -> list[str]:
    """The readable summary printed after a run."""
    tp = result["throughput"]
    lat = result["latency"]
    out = [
        f"throughput ({tp['events']:,} lines of a simulated day, direct ingest, "
        f"{result.get('workers', 1)} worker(s)"
        + (" and a reconciling worker" if result.get("reconciler_process") else "")
        + "): "
        f"{tp['events_per_second']:,} events/s end to end ({tp['seconds']} s; producing took "
        f"{tp['send_seconds']} s); judged {tp['judged_after_counted_seconds']} s after counted "
        f"(reconciler pending max {tp['reconciler_pending_max']:,})",
        "  " + churn_line(tp["alerts"]),
        f"  CPU seconds while counting ({tp['seconds']} s): "
        + ", ".join(f"{k} {v}" for k, v in tp.get("cpu_seconds_counting", {}).items())
        + f" (total {round(sum(tp.get('cpu_seconds_counting', {}).values()), 1)})",
        "  CPU seconds during the run: "
        + ", ".join(f"{k} {v}" for k, v in tp["cpu_seconds"].items())
        + f" (total {tp['cpu_seconds_total']} in {tp['cpu_window_seconds']} s on 2 cores)",
        f"latency at {lat['rate_target']:,.0f}/s (achieved {lat['rate_achieved']:,}/s, "
        f"{lat['seen']:,} of {lat['events']:,} seen): p50 {lat.get('p50_ms')} ms, "
        f"p90 {lat.get('p90_ms')} ms, p99 {lat.get('p99_ms')} ms, max {lat.get('max_ms')} ms; "
        f"the POST alone: p50 {lat['post_ms'].get('p50')} ms, p99 {lat['post_ms'].get('p99')} ms",
        "  CPU seconds during the latency run: "
        + ", ".join(f"{k} {v}" for k, v in lat.get("cpu_seconds", {}).items()),
        "peak memory (MB): " + ", ".join(f"{k} {v}" for k, v in result["peak_memory_mb"].items()),
    ]
    if "faust_ingest" in result:
        f = result["faust_ingest"]
        out.append(
            f"TARIQ_INGEST=faust: {f['events_per_second']:,} events/s ({f['seconds']} s); "
            f"direct is {tp['events_per_second'] / f['events_per_second']:.2f}× that"
        )
    if "naive" in result:
        nv = result["naive"]
        out.append(
            f"naive one-agent Faust table counter: {nv['events_per_second']:,} events/s "
            f"({nv['seconds']} s); ours/naive = {result['ratio_ours_to_naive']}"
        )
    return out
