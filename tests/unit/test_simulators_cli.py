"""`tariq simulate` and `tariq simulate check` on the command line."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from simulators.faults import parse_fault_rate
from tariq.cli import build_parser, main


def test_both_forms_parse() -> None:
    parser = build_parser()
    args = parser.parse_args(
        [
            "simulate",
            "--scale",
            "week",
            "--seed",
            "3",
            "--out",
            "/tmp/x",
            "--fault-rate",
            "misdelivered=0.02",
        ]
    )
    assert (args.scale, args.seed, args.simulate_command) == ("week", 3, None)
    args = parser.parse_args(["simulate", "check", "truth.json", "--token", "t"])
    assert (args.simulate_command, args.truth, args.url) == (
        "check",
        Path("truth.json"),
        "http://127.0.0.1:8080",
    )


def test_generates_a_replay_file_and_a_truth(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(
        [
            "simulate",
            "--scale",
            "day",
            "--pilgrims",
            "80",
            "--flights",
            "2",
            "--seed",
            "5",
            "--out",
            str(tmp_path),
            "--no-progress",
            "--fault-rate",
            "misdelivered=0.2",
        ]
    )
    assert status == 0
    truth = orjson.loads((tmp_path / "truth.json").read_bytes())
    assert truth["scenario"]["pilgrims"] == 80
    assert truth["faults_injected"]["misdelivered"] > 0
    lines = (tmp_path / "events.jsonl").read_bytes().splitlines()
    assert len(lines) == truth["counts"]["lines"]
    out = capsys.readouterr().out
    assert "bags per pilgrim" in out and "open alerts" in out


def test_bad_fault_rates_are_refused() -> None:
    with pytest.raises(ValueError):
        parse_fault_rate("gremlins=0.1")
    with pytest.raises(ValueError):
        parse_fault_rate("lost=2")
    assert main(["simulate", "--out", "/tmp/never", "--fault-rate", "lost"]) == 2


def test_check_without_a_token_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TARIQ_TOKEN", raising=False)
    (tmp_path / "truth.json").write_bytes(b"{}")
    assert main(["simulate", "check", str(tmp_path / "truth.json")]) == 2
