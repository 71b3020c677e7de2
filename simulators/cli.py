"""Subcommands of `tariq` that belong to the simulators package."""

from __future__ import annotations

import argparse


def add_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register this package's subcommands (none yet)."""
