"""The `tariq` command (contract.md section 6).

Each package adds its own subcommands through `add_commands(subparsers)`, so this file
only assembles them; the work lives next to the domain it belongs to.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tariq",
        description="Tariq: real-time baggage tracking for Makkah Route pilgrims.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True

    from simulators import bench_cli
    from simulators import cli as simulators_cli
    from tagging import cli as tagging_cli
    from tariq.cli import commands

    for module in (commands, tagging_cli, simulators_cli, bench_cli):
        module.add_commands(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
