"""`tariq bench …`: benchmarks of the real stack on this machine (docs/benchmarks.md)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def cmd_bench_stream(args: argparse.Namespace) -> int:
    from simulators.bench_stream import run_stream_bench, summary_lines

    result = run_stream_bench(
        args.events,
        args.rate,
        args.seconds,
        args.out,
        seed=args.seed,
        faust=not args.no_faust,
        naive=not args.no_naive,
        workers=args.workers,
        reconciler_process=args.reconciler_process,
    )
    print("\n".join(summary_lines(result)))
    if args.out:
        print(f"results: {args.out}")
    return 0


def cmd_bench_vehicles(args: argparse.Namespace) -> int:
    from simulators.bench_vehicles import run_vehicles_bench, summary_lines

    result = run_vehicles_bench(
        args.vehicles, args.interval, args.seconds, clients=args.clients, batch=args.batch
    )
    if args.out:
        args.out.write_text(json.dumps(result, indent=2))
    print("\n".join(summary_lines(result)))
    return 0


def cmd_bench_season(args: argparse.Namespace) -> int:
    from simulators.bench_season import run_season_bench, summary_lines

    result = run_season_bench(
        args.scale,
        args.seed,
        args.pilgrims,
        args.out,
        data=args.data,
        check_state=not args.no_check,
        workers=args.workers,
        reconciler_process=args.reconciler_process,
    )
    print("\n".join(summary_lines(result)))
    return 0 if result.get("check", {}).get("ok", True) else 1


def cmd_bench_eta(args: argparse.Namespace) -> int:
    from simulators.eta_report import run_eta_report, summary_lines

    report = run_eta_report(args.scale, args.seed, args.pilgrims, args.flights)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2))
    print("\n".join(summary_lines(report)))
    return 0


def cmd_bench_ingest(args: argparse.Namespace) -> int:
    from simulators.bench_ingest import run

    result = run(args.file, args.events, args.batch, args.profile)
    print("\n".join(result.lines()))
    return 0


def add_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    bench = subparsers.add_parser("bench", help="benchmarks of the real stack")
    bench_sub = bench.add_subparsers(dest="bench_command", metavar="WHAT")
    bench_sub.required = True

    stream = bench_sub.add_parser(
        "stream",
        help="end-to-end events/s, event → websocket latency, CPU and peak memory; "
        "Faust ingest and a naive Faust counter as baselines",
    )
    stream.add_argument("--events", type=int, default=100_000, help="lines of a simulated day")
    stream.add_argument("--seed", type=int, default=1, help="seed of the simulated day")
    stream.add_argument("--rate", type=float, default=2000, help="events/s for the latency run")
    stream.add_argument("--seconds", type=float, default=30, help="length of the latency run")
    stream.add_argument("--no-faust", action="store_true", help="skip the TARIQ_INGEST=faust run")
    stream.add_argument("--no-naive", action="store_true", help="skip the naive Faust baseline")
    stream.add_argument("--out", type=Path, default=None, help="write the results as JSON here")
    _topology_arguments(stream)
    stream.set_defaults(func=cmd_bench_stream)

    vehicles = bench_sub.add_parser(
        "vehicles", help="vehicle positions through the stack: positions/s, position → feed latency"
    )
    vehicles.add_argument("--vehicles", type=int, default=18_000)
    vehicles.add_argument("--interval", type=float, default=10.0, help="seconds between fixes")
    vehicles.add_argument("--seconds", type=float, default=300.0, help="length of the run")
    vehicles.add_argument("--clients", type=int, default=4, help="concurrent HTTP clients")
    vehicles.add_argument("--batch", type=int, default=100, help="positions per POST at most")
    vehicles.add_argument("--out", type=Path, default=None, help="write the results as JSON here")
    vehicles.set_defaults(func=cmd_bench_vehicles)

    season = bench_sub.add_parser(
        "season", help="a whole simulated season replayed flat out, judged and checked"
    )
    season.add_argument("--scale", choices=("day", "week", "season"), default="season")
    season.add_argument("--seed", type=int, default=1)
    season.add_argument("--pilgrims", type=int, default=None, help="a smaller season")
    season.add_argument(
        "--data",
        type=Path,
        default=None,
        help="keep the generated events.jsonl/truth.json here (reused when present)",
    )
    season.add_argument("--no-check", action="store_true", help="skip the checker")
    _topology_arguments(season)
    season.add_argument(
        "--out",
        type=Path,
        default=Path("artifacts/bench/season"),
        help="report directory (report.json and PNG plots)",
    )
    season.set_defaults(func=cmd_bench_season)

    ingest = bench_sub.add_parser(
        "ingest",
        help="the worker's batch processing alone, in this process, on a scratch database: "
        "worker and PostgreSQL CPU per event (TARIQ_DATABASE_URL, TARIQ_REDIS_URL)",
    )
    ingest.add_argument("file", type=Path, help="a scenario's events.jsonl")
    ingest.add_argument("--events", type=int, default=100_000, help="its first N lines")
    ingest.add_argument("--batch", type=int, default=2000)
    ingest.add_argument("--profile", type=Path, default=None, help="write a cProfile here")
    ingest.set_defaults(func=cmd_bench_ingest)

    eta = bench_sub.add_parser(
        "eta",
        help="ETA error of the stream's planner on a generated scenario's bus and truck trips "
        "(at trip start and half-way, against the true arrival; free flow as the baseline)",
    )
    eta.add_argument("--scale", choices=("day", "week", "season"), default="day")
    eta.add_argument("--seed", type=int, default=1)
    eta.add_argument("--pilgrims", type=int, default=None, help="a smaller scenario")
    eta.add_argument("--flights", type=int, default=None)
    eta.add_argument("--out", type=Path, default=None, help="write the report as JSON here")
    eta.set_defaults(func=cmd_bench_eta)


def _topology_arguments(parser: argparse.ArgumentParser) -> None:
    """How many workers run our stack, and whether one of them only reconciles."""
    parser.add_argument(
        "--workers", type=int, default=1, help="workers in the consumer group (default 1)"
    )
    parser.add_argument(
        "--reconciler-process",
        action="store_true",
        help="the reconciler in a worker of its own (TARIQ_WORKER_ROLES); the others ingest",
    )
