"""Subcommands of `tariq` that belong to the simulators package:
`tariq simulate --scale ... --out DIR` and `tariq simulate check TRUTH.json`."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path

import orjson

from simulators.faults import FAULT_KINDS, parse_fault_rate

DEFAULT_URL = "http://127.0.0.1:8080"


def add_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    simulate = subparsers.add_parser(
        "simulate",
        help="generate a scenario (replay file and ground truth), or check a service against one",
        description="Generate a Makkah Route scenario: DIR/events.jsonl and DIR/truth.json.",
    )
    simulate.add_argument("--scale", choices=("day", "week", "season"), default="day")
    simulate.add_argument(
        "--pilgrims",
        type=int,
        help="pilgrims in the scenario (default: the published season scaled to the window)",
    )
    simulate.add_argument(
        "--flights", type=int, help="number of flights (default: ~385 pilgrims each)"
    )
    simulate.add_argument("--seed", type=int, default=1)
    simulate.add_argument("--out", type=Path, help="output directory")
    simulate.add_argument(
        "--events-name", default="events.jsonl", help="file name of the replay file inside --out"
    )
    simulate.add_argument(
        "--truth-name", default="truth.json", help="file name of the ground truth inside --out"
    )
    simulate.add_argument(
        "--fault-rate",
        action="append",
        default=[],
        metavar="KIND=RATE",
        help=f"override a fault rate; KIND is one of {', '.join(FAULT_KINDS)}",
    )
    simulate.add_argument("--gps-interval", type=int, default=60, help="seconds between fixes")
    simulate.add_argument(
        "--calibration", action="store_true", help="also print the arrival curve by day and airport"
    )
    simulate.add_argument(
        "--calibration-only",
        action="store_true",
        help="print the calibration table without generating events",
    )
    simulate.add_argument("--no-progress", action="store_true")
    simulate.add_argument(
        "--send",
        action="store_true",
        help="after generating, send the events into the running service (as tariq replay)",
    )
    simulate.add_argument(
        "--speed",
        type=float,
        default=None,
        help="with --send: event-time seconds per second (time compression; default: flat out)",
    )
    simulate.set_defaults(func=run_simulate)

    nested = simulate.add_subparsers(dest="simulate_command", metavar="check")
    check = nested.add_parser("check", help="compare a running service with a truth file")
    check.add_argument("truth", type=Path)
    check.add_argument("--url", default=DEFAULT_URL)
    check.add_argument("--token", default=None, help="operator token (default: $TARIQ_TOKEN)")
    check.add_argument("--concurrency", type=int, default=32)
    check.set_defaults(func=run_check)


def run_simulate(args: argparse.Namespace) -> int:
    from simulators.calibration import calibrate, format_table
    from simulators.faults import FaultRates
    from simulators.season import build_schedule

    try:
        overrides = dict(parse_fault_rate(text) for text in args.fault_rate)
    except ValueError as exc:
        print(f"tariq simulate: {exc}", file=sys.stderr)
        return 2
    try:
        schedule = build_schedule(
            args.scale,
            args.seed,
            args.pilgrims,
            args.flights,
            FaultRates().with_overrides(overrides),
        )
    except ValueError as exc:
        print(f"tariq simulate: {exc}", file=sys.stderr)
        return 2
    if args.calibration_only:
        print(format_table(calibrate(schedule), arrivals_by_day=True))
        return 0
    if args.out is None:
        print(
            "tariq simulate: --out DIR is required (or use `tariq simulate check`)", file=sys.stderr
        )
        return 2
    from tqdm import tqdm

    from simulators.generate import generate, truth_document
    from tariq.logs import is_terminal

    args.out.mkdir(parents=True, exist_ok=True)
    events_path = args.out / args.events_name
    truth_path = args.out / args.truth_name
    started = time.perf_counter()
    with (
        open(events_path, "wb", buffering=1 << 20) as sink,
        tqdm(
            total=len(schedule.flights),
            unit="flight",
            file=sys.stderr,
            disable=args.no_progress or not is_terminal(),
            desc="simulating",
        ) as bar,
    ):
        scenario = generate(
            schedule, sink.write, args.gps_interval, on_flight=lambda: bar.update(1)
        )
    truth = truth_document(scenario)
    truth_path.write_bytes(orjson.dumps(truth))
    elapsed = time.perf_counter() - started
    counts = truth["counts"]
    print(f"wrote {events_path} ({counts['lines']:,} lines) and {truth_path} in {elapsed:.1f} s")
    print(
        f"scenario {truth['scenario']['start']} .. {truth['clock']} (final clock); "
        f"{truth['scenario']['pilgrims']:,} pilgrims, {truth['scenario']['flights']:,} "
        f"flights, {truth['scenario']['bags']:,} bags, {truth['scenario']['hotels']:,} hotels"
    )
    print("events by type: " + ", ".join(f"{k} {v:,}" for k, v in counts["events_by_type"].items()))
    print(
        f"injected: {counts['duplicates']:,} duplicates, {counts['out_of_order']:,} late, "
        f"{counts['malformed']:,} malformed " + str(counts["malformed_by_kind"])
    )
    print("faults: " + ", ".join(f"{k} {v:,}" for k, v in truth["faults_injected"].items()))
    print("bags by stage: " + ", ".join(f"{k} {v:,}" for k, v in truth["bags_by_stage"].items()))
    print(
        "open alerts: " + ", ".join(f"{k} {v:,}" for k, v in truth["alerts_open_by_type"].items())
    )
    print()
    print(format_table(calibrate(schedule), arrivals_by_day=args.calibration))
    if args.send:
        import asyncio

        from tariq.services.launch import resolved_settings
        from tariq.services.replay import replay

        settings = resolved_settings()
        settings.require_urls()
        pace = f" at {args.speed:g}x event time" if args.speed else ""
        print(f"sending {events_path} into the service{pace} …")
        sent = asyncio.run(
            replay(settings, events_path, speed=args.speed, progress=not args.no_progress)
        )
        print(f"sent {sent:,} events; check with: tariq simulate check {truth_path}")
    return 0


def run_check(args: argparse.Namespace) -> int:
    from simulators.check import compare, fetch_service_state

    token = args.token or os.environ.get("TARIQ_TOKEN")
    if not token:
        print("tariq simulate check: give --token or set TARIQ_TOKEN", file=sys.stderr)
        return 2
    truth = orjson.loads(args.truth.read_bytes())
    tags = [bag["tag"] for bag in truth["bags"]]
    try:
        state = asyncio.run(fetch_service_state(args.url, token, tags, args.concurrency))
    except Exception as exc:  # any transport or HTTP failure is a failed check, said plainly
        print(f"tariq simulate check: cannot read {args.url}: {exc}", file=sys.stderr)
        return 2
    report = compare(truth, state.bags, state.alerts, state.summary)
    print("\n".join(report.lines()))
    return 0 if report.ok else 1
