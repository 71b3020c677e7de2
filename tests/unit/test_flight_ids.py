"""Canonical flight ids (contract v1.1): the IATA path and the JSON (simulator) path give
the same `flight_id`; `tariq iata parse` notes messages that mean no contract event."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from simulators.season import build_schedule, simulated_flight_id
from tagging import iata
from tagging.tags import parse_tag
from tariq.cli import main


def test_iata_and_simulator_give_the_same_flight_id() -> None:
    # KUL is UTC+8: a departure at 18:00Z on 20 May is 02:00 on 21 May at the origin, and
    # the origin hall's BSM says `.F/SV5001/21MAY`.
    departure = int(datetime(2025, 5, 20, 18, 0, tzinfo=UTC).timestamp())
    from_json = simulated_flight_id("SV5001", "KUL", departure)
    message = iata.coded_bsm(
        parse_tag("0065123456"),
        station="KUL",
        flight="SV5001",
        flight_date=date(2025, 5, 21),
        destination="JED",
        hotel_id="MAK-0001",
        pilgrim_id="P-1",
    )
    events = iata.translate_message(message, occurred_at="2025-05-20T14:00:00Z")
    coded = [e for e in events if e["type"] == "bag.coded"]
    assert from_json == "SV5001-2025-05-21"
    assert [e["flight_id"] for e in coded] == [from_json]


def test_every_simulated_flight_id_has_the_contract_form() -> None:
    schedule = build_schedule("week", 7)
    for slot in schedule.flights:
        designator, _, day = slot.flight_id.partition("-")
        assert date.fromisoformat(day)
        assert designator[:2].isalnum() and designator[2:].isdigit()


@pytest.mark.parametrize(
    ("leg_date", "occurred_at", "expected"),
    [
        ("02JAN", "2026-12-31T22:00:00Z", "2027-01-02"),  # December message, January flight
        ("30DEC", "2027-01-01T03:00:00Z", "2026-12-30"),  # January message, December flight
        ("18MAY", "2026-05-17T10:00:00Z", "2026-05-18"),
    ],
)
def test_year_wraps_at_new_year(leg_date: str, occurred_at: str, expected: str) -> None:
    leg = iata.FlightLeg("F", "SV5123", leg_date, "JED")
    assert iata.flight_id(leg, iata.parse_instant(occurred_at)) == f"SV5123-{expected}"


TRANSFER_BSM = """\
BSM
.V/1TZRH
.F/SV5123/18MAY/JED
.I/LX1234/17MAY/GVA
.N/0065123456003
ENDBSM
BUM
.V/1LJED
.F/SV5123/18MAY/JED
.N/0065123456001
ENDBUM
"""


def test_iata_parse_notes_messages_that_mean_no_event(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "transfer.txt"
    path.write_text(TRANSFER_BSM)
    assert main(["iata", "parse", str(path), "--occurred-at", "2026-05-18T04:10:00Z"]) == 0
    captured = capsys.readouterr()
    assert captured.out == ""
    notes = captured.err.splitlines()
    assert len(notes) == 2
    assert "transfer BSM" in notes[0] and "line 1" in notes[0]
    assert "BUM" in notes[1] and "no contract event" in notes[1]


def test_no_event_reasons_cover_withdrawn_and_offload() -> None:
    withdrawn = iata.parse_message(
        "BSM\nDEL\n.V/1LCGK\n.F/SV5123/18MAY/JED\n.N/0065123456001\nENDBSM"
    )
    assert iata.translate_message(withdrawn, occurred_at="2026-05-18T04:00:00Z") == []
    assert "withdrawn BSM (DEL)" in iata.no_event_reason(withdrawn)
    offload = iata.parse_message("BPM\n.V/1LCGK\n.B/OFF\n.N/0065123456001\nENDBPM")
    assert iata.translate_message(offload, occurred_at="2026-05-18T04:00:00Z") == []
    assert "offload" in iata.no_event_reason(offload)
