"""`tariq bench …`: benchmarks of the real stack on this machine."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def cmd_bench_stream(args: argparse.Namespace) -> int:
    from simulators.bench_stream import run_stream_bench

    result = run_stream_bench(args.events, args.rate, args.seconds, args.out)
    print(json.dumps(result, indent=2))
    return 0


def add_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    bench = subparsers.add_parser("bench", help="benchmarks of the real stack")
    bench_sub = bench.add_subparsers(dest="bench_command", metavar="WHAT")
    bench_sub.required = True
    stream = bench_sub.add_parser(
        "stream", help="end-to-end events/s, event → websocket latency, peak RSS"
    )
    stream.add_argument("--events", type=int, default=100_000, help="events for throughput")
    stream.add_argument("--rate", type=float, default=1000, help="events/s for the latency run")
    stream.add_argument("--seconds", type=float, default=30, help="length of the latency run")
    stream.add_argument("--out", type=Path, default=None, help="write the results as JSON here")
    stream.set_defaults(func=cmd_bench_stream)
