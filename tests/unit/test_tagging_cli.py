"""`tariq iata parse` and `tariq label` through the real `tariq` entry point."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from tariq.cli import main
from tariq.domain.events import decode_event

BSM = """\
BSM
.V/1LCGK
.F/SV5123/18MAY/JED
.N/0065123456002
.G/MR/hotel-mak-0042/ID-000123
ENDBSM
"""
BAD = "BPM\n.V/1LCGK\n.N/12345\nENDBPM\n"


def test_iata_parse_prints_contract_events(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "messages.txt"
    path.write_text(BSM)
    assert main(["iata", "parse", str(path), "--occurred-at", "2026-05-18T04:10:00Z"]) == 0
    out = capsys.readouterr().out.splitlines()
    events = [decode_event(line) for line in out]
    assert [e.type for e in events] == ["bag.coded", "bag.scanned"] * 2
    assert len({e.event_id for e in events}) == 4
    # Same file, same ids: a second run is a duplicate, not new events.
    main(["iata", "parse", str(path), "--occurred-at", "2026-05-18T04:10:00Z"])
    assert capsys.readouterr().out.splitlines() == out


def test_iata_parse_reports_bad_messages_and_goes_on(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "messages.txt"
    path.write_text(BAD + BSM)
    assert main(["iata", "parse", str(path), "--occurred-at", "2026-05-18T04:10:00Z"]) == 1
    captured = capsys.readouterr()
    assert "line 3, element .N" in captured.err
    assert len(captured.out.splitlines()) == 4


def test_iata_parse_reads_stdin(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(BSM))
    assert main(["iata", "parse", "-"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 4


def test_label_encode_decode_render(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fields = [
        "--tag", "0065123456", "--pilgrim", "ID-000123", "--flight", "SV5123-2026-05-18",
        "--airport", "JED", "--hotel", "hotel-mak-0042", "--lane", "7",
    ]  # fmt: skip
    assert main(["label", "encode", *fields]) == 0
    text, payload = capsys.readouterr().out.splitlines()
    for code in (text, payload):
        assert main(["label", "decode", code]) == 0
        decoded = json.loads(capsys.readouterr().out)
        assert decoded == {
            "tag": "0065123456",
            "pilgrim_id": "ID-000123",
            "flight_id": "SV5123-2026-05-18",
            "airport": "JED",
            "hotel_id": "hotel-mak-0042",
            "lane": 7,
        }
    misread = payload[:5] + ("9" if payload[5] != "9" else "8") + payload[6:]
    assert main(["label", "decode", misread]) == 1
    assert "check character" in capsys.readouterr().err
    out = tmp_path / "label.svg"
    assert main(["label", "render", *fields, "--name", "Ahmed Ali", "--out", str(out)]) == 0
    assert "Ahmed Ali" in out.read_text() and "L07" in out.read_text()
    assert main(["label", "encode", *fields[:1], "123", *fields[2:]]) == 2
    assert "10 digits" in capsys.readouterr().err
