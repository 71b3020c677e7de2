"""Simulated scenarios for end-to-end tests, and waiting until the service has caught up."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime
from pathlib import Path

from tests.support.service import Api, input_drained, wait_until

# Rates raised above the calibrated ones so that a small scenario shows every fault kind.
EVERY_FAULT = [
    "left_behind=0.01",
    "lost=0.01",
    "no_show=0.01",
    "bus_breakdown=0.05",
    "mislabelled=0.005",
]


def simulate(out: Path, *, pilgrims: int, seed: int) -> tuple[Path, Path]:
    command = [
        sys.executable,
        "-m",
        "tariq.cli",
        "simulate",
        "--scale",
        "day",
        "--pilgrims",
        str(pilgrims),
        "--seed",
        str(seed),
        "--out",
        str(out),
        "--no-progress",
    ]
    for rate in EVERY_FAULT:
        command += ["--fault-rate", rate]
    subprocess.run(command, check=True, capture_output=True)
    return out / "events.jsonl", out / "truth.json"


def _time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None


async def caught_up(api: Api, inputs: int, *, timeout: float) -> None:
    """Every input counted, the events derived from IATA messages processed too (the
    input topic drained), alert judgement done up to the service's clock, and the replay's
    history of every judged bag computed."""

    async def done() -> bool:
        summary = await api.summary()
        events = summary["events"]
        counted = events["processed"] + events["duplicates"] + events["rejected"]
        reconciler = summary["reconciler"]
        return bool(
            counted >= inputs
            and reconciler["pending"] == 0
            and reconciler.get("history_pending", 0) == 0
            and _time(reconciler["clock"]) == _time(summary["clock"])
        )

    await wait_until(done, timeout=timeout, what=f"{inputs} inputs processed and judged")
    await input_drained(api, timeout=timeout)
    await wait_until(done, timeout=timeout, what=f"{inputs} inputs processed and judged")


def check_against_truth(
    truth_file: Path, base_url: str, token: str, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    """`tariq simulate check`: the running service's bags and open alerts against the
    scenario's ground truth (its output says `precision 1.0000, recall 1.0000` when exact)."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "tariq.cli",
            "simulate",
            "check",
            str(truth_file),
            "--url",
            base_url,
            "--token",
            token,
        ],
        capture_output=True,
        text=True,
        env=env,
    )
