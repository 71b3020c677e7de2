"""`tariq bench season`: a whole simulated season through the real stack, checked.

1. Generate the scenario (`tariq simulate --scale season --seed 1`: ~6.5M lines) into
   `--data` (reused when already there), and read it into memory with each line's key, so
   the timed run spends no CPU on reading the file.
2. Start the stack, produce every line flat out, and sample `/api/summary` every 0.25 s
   (counted lines, the reconciler's pending entities and clock) and every process's CPU
   and memory every second, until all lines are counted and judged.
3. Run the checker against the truth and write `report.json` and PNG plots to `--out`.

Latency here is derived from the curves: the i-th line sent is taken to be counted when the
count first reaches i (partitions are consumed in order, so this is FIFO up to the
interleaving of partitions), so it is the time a line waits in the backlog plus processing,
at 0.25 s resolution. Flat out, the producer outruns the worker and the backlog grows, so
this latency is dominated by the backlog, not by the path (see `tariq bench stream`).
"""

from __future__ import annotations

import asyncio
import bisect
import itertools
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from tqdm import tqdm

from simulators.bench_stream import SEND_CHUNK, Line, warm_up
from simulators.check import (
    churn_line,
    event_time_transients,
    fetch_alert_churn,
    open_alerts_in,
)
from simulators.stack import (
    Sampler,
    Stack,
    counted,
    judged,
    percentiles,
    running_stack,
)
from tariq.adapters.kafka import EventProducer
from tariq.logs import is_terminal

SUMMARY_EVERY_S = 0.25


# ---------------------------------------------------------------- pure helpers


def fifo_latencies(
    sent: Sequence[tuple[float, int]], done: Sequence[tuple[float, int]]
) -> list[tuple[float, float]]:
    """(time, latency) for each sample of the done curve: the time since the line the count
    has just reached was sent. Both curves are (seconds, cumulative lines), non-decreasing;
    the sent curve's time for a count is that of the first sample that reached it."""
    sent_counts = [n for _, n in sent]
    out = []
    for t, n in done:
        if n <= 0:
            continue
        i = bisect.bisect_left(sent_counts, n)
        if i < len(sent):
            out.append((t, max(0.0, t - sent[i][0])))
    return out


def rates(curve: Sequence[tuple[float, int]], window_s: float = 2.0) -> list[tuple[float, float]]:
    """Lines per second over a sliding window, at each sample of a cumulative curve."""
    out = []
    j = 0
    for t, n in curve:
        while curve[j][0] < t - window_s:
            j += 1
        t0, n0 = curve[j]
        if t > t0:
            out.append((t, (n - n0) / (t - t0)))
    return out


# ---------------------------------------------------------------- scenario


def scenario(scale: str, seed: int, pilgrims: int | None, data: Path) -> tuple[Path, Path]:
    events, truth = data / "events.jsonl", data / "truth.json"
    if events.is_file() and truth.is_file():
        print(f"reusing {events}", file=sys.stderr)
        return events, truth
    from simulators.faults import FaultRates
    from simulators.generate import generate, truth_document
    from simulators.season import build_schedule

    data.mkdir(parents=True, exist_ok=True)
    schedule = build_schedule(scale, seed, pilgrims, None, FaultRates())
    with (
        open(events, "wb", buffering=1 << 20) as sink,
        tqdm(
            disable=not is_terminal(), total=len(schedule.flights), unit="flight", desc="simulating"
        ) as bar,
    ):
        made = generate(schedule, sink.write, 60, on_flight=lambda: bar.update(1))
    truth.write_bytes(orjson.dumps(truth_document(made)))
    return events, truth


# Judging the oracle every 10 min of event time costs minutes for a day; not for a season.
TRANSIENTS_UP_TO_LINES = 1_000_000


def transients_in(events_path: Path, lines: int) -> int | None:
    """How many alerts open and resolve in event time itself in this scenario (the oracle
    judging every 10 min of event time: simulators/check.py `event_time_transients`); None
    above `TRANSIENTS_UP_TO_LINES`."""
    from tariq.domain.events import InvalidEvent, decode_event

    if lines > TRANSIENTS_UP_TO_LINES:
        return None

    events = []
    with open(events_path, "rb") as source:
        for line in source:
            try:
                events.append(decode_event(line))
            except InvalidEvent:
                continue
    return sum(event_time_transients(events).values())


def load_lines(path: Path) -> list[Line]:
    from tariq.services.replay import read_lines

    with tqdm(disable=not is_terminal(), desc="reading", unit="line", unit_scale=True) as bar:
        lines = []
        for line in read_lines(path):
            lines.append((line.key, line.value))
            if len(lines) % 100_000 == 0:
                bar.update(100_000)
    return lines


# ---------------------------------------------------------------- the run


async def replay_flat_out(stack: Stack, lines: Sequence[Line]) -> dict[str, Any]:
    n = len(lines)
    sent_curve: list[tuple[float, int]] = [(0.0, 0)]
    done_curve: list[tuple[float, int]] = [(0.0, 0)]
    pending_curve: list[tuple[float, int]] = []
    # (t, the service's event-time clock, the reconciler's): for the judge's lag in wall time.
    clocks: list[tuple[float, str | None, str | None]] = []
    peak_open = 0
    async with aiohttp.ClientSession() as session:
        before = await warm_up(stack, session, lines[0])
        producer = EventProducer(stack.settings, linger_ms=5)
        await producer.start()
        start = time.perf_counter()

        async def send() -> float:
            for k in range(0, n, SEND_CHUNK):
                await producer.send_many(lines[k : k + SEND_CHUNK])
                sent_curve.append((time.perf_counter() - start, min(n, k + SEND_CHUNK)))
            return time.perf_counter() - start

        sending = asyncio.create_task(send())
        counted_s = judged_s = None
        last_move, last = time.monotonic(), (-1, -1)
        try:
            with tqdm(
                disable=not is_terminal(), total=n, desc="counted", unit="ev", unit_scale=True
            ) as bar:
                while True:
                    body = await stack.summary(session)
                    t = time.perf_counter() - start
                    now = counted(body) - before
                    peak_open = max(peak_open, open_alerts_in(body))
                    done_curve.append((t, now))
                    rec = body.get("reconciler") or {}
                    pending_curve.append((t, int(rec.get("pending", 0))))
                    clocks.append((t, body.get("clock"), rec.get("clock")))
                    bar.update(now - bar.n)
                    bar.set_postfix(sent=sent_curve[-1][1], pending=pending_curve[-1][1])
                    if now >= n and counted_s is None:
                        counted_s = t
                    if counted_s is not None and judged(body):
                        judged_s = t
                        break
                    if (now, pending_curve[-1][1]) != last:
                        last, last_move = (now, pending_curve[-1][1]), time.monotonic()
                    elif time.monotonic() - last_move > 180:
                        raise RuntimeError(f"no progress for 180 s at {now:,} of {n:,}: {body}")
                    await asyncio.sleep(SUMMARY_EVERY_S)
            send_s = await sending
            history_s = await history_caught_up(stack, session, start)
        finally:
            await producer.stop()
    assert counted_s is not None and judged_s is not None
    return {
        "judge_lag_seconds": judge_lag(clocks),
        "history_seconds": history_s,
        "lines": n,
        "send_seconds": round(send_s, 1),
        "counted_seconds": round(counted_s, 1),
        "judged_seconds": round(judged_s, 1),
        "events_per_second": round(n / counted_s),
        "summary": body,
        "peak_open_alerts": peak_open,
        "curves": {
            "sent": sent_curve,
            "counted": done_curve,
            "pending": pending_curve,
            "judge_lag": judge_lags(clocks),
        },
    }


def judge_lag(clocks: Sequence[tuple[float, str | None, str | None]]) -> dict[str, float]:
    """How far alert judgement ran behind ingest, in wall time: the max and the median
    over the run of `judge_lags`."""
    lags = [lag for _, lag in judge_lags(clocks)]
    if not lags:
        return {}
    return {"max": round(max(lags), 1), "p50": round(statistics.median(lags), 1)}


def judge_lags(
    clocks: Sequence[tuple[float, str | None, str | None]],
) -> list[tuple[float, float]]:
    """At each sample (t, lag): the time since the service's clock first reached the event
    time the reconciler has judged to (0 when it has judged up to the clock)."""
    lags: list[tuple[float, float]] = []
    reached: list[tuple[float, float]] = []  # (service clock, first t it was seen), growing
    for t, clock_text, judged_text in clocks:
        clock, judged_to = _epoch(clock_text), _epoch(judged_text)
        if clock is not None and (not reached or clock > reached[-1][0]):
            reached.append((clock, t))
        if judged_to is None or not reached:
            continue
        if judged_to >= reached[-1][0]:
            lags.append((t, 0.0))
            continue
        at = bisect.bisect_left(reached, (judged_to, -1.0))
        first_seen = reached[at][1] if at < len(reached) else t
        lags.append((t, max(0.0, t - first_seen)))
    return lags


def _epoch(text: str | None) -> float | None:
    return datetime.fromisoformat(text).timestamp() if text else None


async def history_caught_up(
    stack: Stack, session: aiohttp.ClientSession, start: float, timeout_s: float = 1800
) -> float | None:
    """Seconds from the start until the replay's history (deferred after judging; stream/
    reconciler.py `history_round`) is computed for every bag; None if the service has none."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        rec = (await stack.summary(session)).get("reconciler") or {}
        if "history_pending" not in rec:
            return None
        if rec["history_pending"] == 0:
            return round(time.perf_counter() - start, 1)
        await asyncio.sleep(SUMMARY_EVERY_S)
    raise RuntimeError(f"replay history not caught up after {timeout_s} s")


async def fetch_bags_paged(
    stack: Stack, session: aiohttp.ClientSession, page: int = 10_000
) -> dict[str, dict[str, Any] | None] | None:
    """Every bag through `GET /api/bags?limit=&offset=`, or None if the service has no such
    listing (then the checker's per-bag GETs are used)."""
    bags: dict[str, dict[str, Any] | None] = {}
    offset = 0
    with tqdm(disable=not is_terminal(), desc="bags (paged)", unit="bag", unit_scale=True) as bar:
        while True:
            async with session.get(
                f"{stack.base}/api/bags",
                params={"limit": page, "offset": offset},
                headers=stack.headers,
            ) as r:
                if r.status in (400, 404, 405):
                    return None
                r.raise_for_status()
                body = await r.json(loads=orjson.loads)
            if "bags" not in body:
                return None
            for bag in body["bags"]:
                bags[bag["tag"]] = bag
            offset += len(body["bags"])
            bar.update(len(body["bags"]))
            if not body["bags"] or offset >= int(body["total"]):
                return bags


async def check(stack: Stack, truth: dict[str, Any]) -> dict[str, Any]:
    from simulators.check import compare, fetch_service_state

    started = time.perf_counter()
    tags = [bag["tag"] for bag in truth["bags"]]
    async with aiohttp.ClientSession() as session:
        paged = await fetch_bags_paged(stack, session)
    # Alerts and summary through the checker (paged already); bags per GET only if needed.
    state = await fetch_service_state(stack.base, stack.token, [] if paged else tags)
    bags = paged if paged is not None else state.bags
    report = compare(truth, bags, state.alerts, state.summary)
    return {
        "ok": report.ok,
        "bags_via": "GET /api/bags (paged)" if paged is not None else "GET /api/bags/{tag}",
        "seconds": round(time.perf_counter() - started, 1),
        "lines": report.lines()[:3],
        "mismatches": len(report.mismatches),
        "first_mismatches": [str(m) for m in report.mismatches[:20]],
    }


def run_season_bench(
    scale: str,
    seed: int,
    pilgrims: int | None,
    out: Path,
    *,
    data: Path | None = None,
    check_state: bool = True,
    workers: int = 1,
    reconciler_process: bool = False,
) -> dict[str, Any]:
    started = time.perf_counter()
    data = data or Path(tempfile.mkdtemp(prefix="tariq-season-"))
    events_path, truth_path = scenario(scale, seed, pilgrims, data)
    generated_s = time.perf_counter() - started
    lines = load_lines(events_path)
    result: dict[str, Any] = {
        "scale": scale,
        "seed": seed,
        "pilgrims": pilgrims,
        "lines": len(lines),
        "workers": workers,
        "reconciler_process": reconciler_process,
        "generate_seconds": round(generated_s, 1),
    }
    out.mkdir(parents=True, exist_ok=True)
    with running_stack(
        label="benchs", workers=workers, reconciler_process=reconciler_process
    ) as stack:
        sampler = Sampler(stack.pids, every_s=1.0).start()
        try:
            run = asyncio.run(replay_flat_out(stack, lines))
        finally:
            sampler.stop()
        del lines
        curves = run.pop("curves")
        result.update(run)
        lat = fifo_latencies(curves["sent"], curves["counted"])
        result["latency_s"] = {k: round(v, 2) for k, v in percentiles([x for _, x in lat]).items()}
        result["cpu_seconds"] = sampler.cpu_seconds()
        result["peak_memory_mb"] = sampler.peak_memory_mb()
        truth = orjson.loads(truth_path.read_bytes())
        print("alerts raised and resolved …", file=sys.stderr, flush=True)
        churn = asyncio.run(
            fetch_alert_churn(
                stack.base,
                stack.token,
                len(truth["alerts"]),
                result.pop("peak_open_alerts"),
                transients_in(events_path, result["lines"]),
            )
        )
        result["alerts"] = churn.as_dict()
        if check_state:
            print("checking the service against the truth …", file=sys.stderr, flush=True)
            result["check"] = asyncio.run(check(stack, truth))
    result["wall_seconds"] = round(time.perf_counter() - started, 1)
    (out / "report.json").write_text(json.dumps(result, indent=2, default=str))
    (out / "curves.json").write_text(json.dumps(curves))
    result["plots"] = plot(out, curves, lat, sampler)
    (out / "report.json").write_text(json.dumps(result, indent=2, default=str))
    return result


def plot(
    out: Path,
    curves: dict[str, list[tuple[float, int]]],
    lat: list[tuple[float, float]],
    sampler: Sampler,
) -> list[str]:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no plots (pip install matplotlib)", file=sys.stderr)
        return []
    files = []

    def save(fig: Any, name: str) -> None:
        fig.tight_layout()
        fig.savefig(out / name, dpi=110)
        plt.close(fig)
        files.append(name)

    fig, ax = plt.subplots(figsize=(9, 4))
    for name in ("sent", "counted"):
        r = rates(curves[name])
        ax.plot([t for t, _ in r], [v for _, v in r], label=f"{name} (2 s window)")
    ax.set(xlabel="seconds", ylabel="lines/s", title="Events per second")
    ax.legend()
    save(fig, "events_per_second.png")

    fig, ax = plt.subplots(figsize=(9, 4))
    ax.plot([t for t, _ in lat], [x for _, x in lat], lw=0.8, label="latency of the line counted")
    p = percentiles([x for _, x in lat])
    for key in ("p50", "p90", "p99"):
        if key in p:
            ax.axhline(p[key], ls="--", lw=0.8, label=f"{key} {p[key]:.1f} s")
    ax.set(xlabel="seconds", ylabel="seconds", title="Sent → counted latency (FIFO, from curves)")
    ax.legend()
    save(fig, "latency.png")

    fig, ax = plt.subplots(figsize=(9, 4))
    sent = curves["sent"]
    sent_t, sent_n = [t for t, _ in sent], [n for _, n in sent]
    lag = []
    for t, n in curves["counted"]:
        i = bisect.bisect_right(sent_t, t) - 1
        lag.append((t, max(0, sent_n[max(i, 0)] - n)))
    ax.plot([t for t, _ in lag], [v for _, v in lag], label="consumer lag (sent − counted)")
    ax.plot(
        [t for t, _ in curves["pending"]],
        [v for _, v in curves["pending"]],
        label="reconciler pending entities",
    )
    ax.set(xlabel="seconds", ylabel="lines / entities", title="Lag")
    ax.legend()
    save(fig, "lag.png")

    fig, ax = plt.subplots(figsize=(9, 4))
    judged = curves.get("judge_lag", [])
    ax.plot([t for t, _ in judged], [x for _, x in judged], lw=0.8, label="judging behind ingest")
    ax.set(xlabel="seconds", ylabel="seconds of wall time", title="Judging lag")
    ax.legend()
    save(fig, "judge_lag.png")

    t0 = sampler.samples[0][0] if sampler.samples else 0.0
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(9, 7), sharex=True)
    names = sorted({n for _, r in sampler.samples for n in r})
    for name in names:
        pts = [(t - t0, r[name]) for t, r in sampler.samples if name in r]
        ax1.plot([t for t, _ in pts], [x.rss_mb for _, x in pts], label=name)
        cpu = [
            (b[0], 100 * (b[1].cpu_s - a[1].cpu_s) / max(b[0] - a[0], 1e-9))
            for a, b in itertools.pairwise(pts)
        ]
        ax2.plot([t for t, _ in cpu], [x for _, x in cpu], label=name)
    ax1.set(ylabel="MB (PSS)", title="Memory per process")
    ax2.set(xlabel="seconds", ylabel="% of one core", title="CPU per process")
    ax1.legend(fontsize=8)
    save(fig, "processes.png")
    return files


def summary_lines(r: dict[str, Any]) -> list[str]:
    lat = r.get("latency_s", {})
    out = [
        f"season bench: scale {r['scale']}, seed {r['seed']}, {r['lines']:,} lines "
        f"(generated/read in {r['generate_seconds']} s), {r.get('workers', 1)} worker(s)"
        + (" and a reconciling worker" if r.get("reconciler_process") else ""),
        f"replay: sent in {r['send_seconds']} s, all counted after {r['counted_seconds']} s "
        f"({r['events_per_second']:,} events/s), judged after {r['judged_seconds']} s; "
        f"judging behind ingest by {r.get('judge_lag_seconds')} s of wall time; replay "
        f"history computed after {r.get('history_seconds')} s",
        f"sent → counted latency (FIFO from curves): p50 {lat.get('p50')} s, "
        f"p99 {lat.get('p99')} s, max {lat.get('max')} s",
        "CPU seconds: " + ", ".join(f"{k} {v}" for k, v in r["cpu_seconds"].items()),
        "peak memory (MB): " + ", ".join(f"{k} {v}" for k, v in r["peak_memory_mb"].items()),
    ]
    if "alerts" in r:
        out.append(churn_line(r["alerts"]))
    if "check" in r:
        c = r["check"]
        out.append(
            f"checker ({c['bags_via']}, {c['seconds']} s): {'EXACT' if c['ok'] else 'NOT EXACT'}"
        )
        out.extend("  " + line for line in c["lines"])
        out.extend("  " + m for m in c["first_mismatches"][:5])
    out.append(f"wall time {r['wall_seconds']} s; plots: {', '.join(r.get('plots', []))}")
    return out
