"""The `tariq` command (contract.md section 6).

Each package adds its own subcommands through `add_commands(subparsers)`, so this file
only assembles them; the work lives next to the domain it belongs to. Only the module
that owns the command given is imported: `tariq worker` and `tariq web` never load the
simulators or the benchmarks.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import Final

# Command → the module that adds it; `None` (help, or an unknown command) loads them all.
_OWNERS: Final = {
    "up": "tariq.cli.commands",
    "worker": "tariq.cli.commands",
    "web": "tariq.cli.commands",
    "replay": "tariq.cli.commands",
    "token": "tariq.cli.commands",
    "pilgrim": "tariq.cli.commands",
    "iata": "tagging.cli",
    "label": "tagging.cli",
    "simulate": "simulators.cli",
    "bench": "simulators.bench_cli",
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tariq",
        description="Tariq: real-time baggage tracking for Makkah Route pilgrims.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    owner = _OWNERS.get(command or "")
    modules = [owner] if owner else list(dict.fromkeys(_OWNERS.values()))
    for name in modules:
        importlib.import_module(name).add_commands(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(args_list[0] if args_list else None)
    args = parser.parse_args(args_list)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
