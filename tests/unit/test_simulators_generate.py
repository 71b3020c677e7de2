"""The season generator: determinism, valid events, file order, faults reflected in the truth."""

from __future__ import annotations

import io
from collections import Counter
from datetime import datetime
from typing import Any

import orjson
import pytest

from simulators.faults import FaultRates
from simulators.generate import Scenario, generate, truth_document
from simulators.oracle import judge
from simulators.plates import LicensePlates
from simulators.season import build_schedule
from tariq.domain.events import EVENT_TYPES, InvalidEvent, decode_event

HIGH_FAULTS = FaultRates().with_overrides(
    {
        "misdelivered": 0.06,
        "left_behind": 0.03,
        "lost": 0.03,
        "late_delivery": 0.06,
        "mislabelled": 0.02,
        "no_show": 0.02,
        "bus_breakdown": 0.3,
        "duplicate": 0.01,
        "out_of_order": 0.01,
        "malformed": 0.005,
        "malformed_iata": 0.003,
    }
)


def run(
    seed: int = 7, pilgrims: int = 1_200, flights: int = 4, rates: FaultRates = HIGH_FAULTS
) -> tuple[bytes, Scenario]:
    schedule = build_schedule("day", seed=seed, pilgrims=pilgrims, flights=flights, rates=rates)
    out = io.BytesIO()
    scenario = generate(schedule, out.write)
    return out.getvalue(), scenario


DATA, SCENARIO = run()
LINES = DATA.splitlines()
TRUTH = truth_document(SCENARIO)


def test_same_seed_same_scenario_other_seed_other_scenario() -> None:
    again, scenario = run()
    assert again == DATA
    assert truth_document(scenario) == TRUTH
    other, _ = run(seed=8)
    assert other != DATA


def test_every_line_is_a_contract_event_except_the_deliberately_malformed() -> None:
    rejected = 0
    bad_iata = 0
    seen: dict[str, bytes] = {}
    duplicates = 0
    for line in LINES:
        try:
            event = decode_event(line)
        except InvalidEvent:
            rejected += 1
            continue
        if event.type == "iata.message":
            bad_iata += 1
            assert event.event_id.startswith("s7-x")
        if event.event_id in seen:
            assert seen[event.event_id] == line  # a duplicate repeats the very same JSON
            duplicates += 1
        seen[event.event_id] = line
    counts = TRUTH["counts"]
    assert counts["malformed"] == rejected + bad_iata > 0
    assert counts["malformed_by_kind"]["iata_unparseable"] == bad_iata > 0
    assert duplicates == counts["duplicates"] > 0
    assert len(seen) - bad_iata == counts["events_valid"]
    assert set(counts["malformed_by_kind"]) >= {
        "not_json",
        "unknown_type",
        "missing_field",
        "bad_tag",
        "bad_time",
    }


def test_every_event_type_appears() -> None:
    assert set(TRUTH["counts"]["events_by_type"]) | {"iata.message"} == set(EVENT_TYPES)


def test_the_file_is_in_event_time_order_except_the_injected_late_lines() -> None:
    latest = None
    behind = 0
    for line in LINES:
        try:
            event = decode_event(line)
        except InvalidEvent:
            continue
        t = event.occurred_at
        if latest is not None and t < latest:
            behind += 1
            assert (latest - t).total_seconds() <= 3_600
        latest = t if latest is None or t > latest else latest
    counts = TRUTH["counts"]
    assert 0 < behind <= counts["out_of_order"] + counts["duplicates"]


def test_the_truth_is_the_oracle_over_the_valid_lines_of_the_file() -> None:
    events = []
    for line in LINES:
        try:
            events.append(decode_event(line))
        except InvalidEvent:
            continue
    result = judge(events)
    assert result.alerts == SCENARIO.result.alerts
    assert result.bags == SCENARIO.result.bags
    assert datetime.fromisoformat(TRUTH["clock"]).timestamp() == result.clock


def _valid_events() -> list[dict[str, Any]]:
    """The lines that are contract events (the injected malformed ones left out)."""
    valid = []
    for line in LINES:
        try:
            decode_event(line)
        except InvalidEvent:
            continue
        valid.append(orjson.loads(line))
    return valid


VALID = _valid_events()
BOARDED = {e["pilgrim_id"] for e in VALID if e["type"] == "pilgrim.boarded"}


def _bag_events() -> dict[str, list[dict[str, Any]]]:
    by_tag: dict[str, list[dict[str, Any]]] = {}
    for obj in VALID:
        if obj["type"] in ("bag.scanned", "bag.coded"):
            by_tag.setdefault(obj["tag"], []).append(obj)
    return by_tag


def test_each_fault_kind_is_injected_and_reflected_in_the_truth() -> None:
    assert set(TRUTH["faults_injected"]) == {
        "misdelivered",
        "left_behind",
        "lost",
        "late_delivery",
        "mislabelled",
        "no_show",
        "bus_breakdown",
    }
    open_alerts = {(a["type"], a["tag"] or a["vehicle_id"]) for a in TRUTH["alerts"]}
    bags = {b["tag"]: b for b in TRUTH["bags"]}
    scans = _bag_events()
    clock = datetime.fromisoformat(TRUTH["clock"]).timestamp()
    seen: Counter[str] = Counter()
    for tag, (fault, scan_tag) in SCENARIO.faulty_bags.items():
        if tag not in bags:
            continue
        bag = bags[tag]
        seen[fault] += 1
        if fault == "misdelivered":
            wrong = bag["location"] is not None and bag["location"] != bag["hotel_id"]
            delivered = bag["stage"] in ("delivered", "claimed")
            if delivered:
                assert (("misdelivered", tag) in open_alerts) == wrong
        elif fault == "left_behind":
            assert bag["stage"] == "accepted"
            # The rule needs the pilgrim on board: a no-show's bag left behind is no alert.
            assert (("left_behind", tag) in open_alerts) == (bag["pilgrim_id"] in BOARDED)
        elif fault == "lost":
            assert bag["stage"] == "loaded"
            arrived = [e for e in scans[tag] if e.get("checkpoint") == "loaded"]
            assert arrived
            assert ("missing_at_arrival", tag) in open_alerts or clock <= _arrival(bag) + 7_200
        elif fault == "mislabelled":
            assert bag["stage"] == "coded"
            assert ("unknown_tag", scan_tag) in open_alerts
        elif fault == "late_delivery":
            overdue = ("delivery_overdue", tag) in open_alerts
            if bag["stage"] in ("delivered", "claimed"):
                assert not overdue
    assert {"misdelivered", "left_behind", "lost", "mislabelled", "late_delivery"} <= set(seen)
    kinds = {kind for kind, _ in open_alerts}
    assert kinds == {
        "misdelivered",
        "left_behind",
        "loaded_without_pilgrim",
        "missing_at_arrival",
        "delivery_overdue",
        "unknown_tag",
        "vehicle_stalled",
    }


def _arrival(bag: dict[str, Any]) -> float:
    for e in VALID:
        if e["type"] == "flight.arrived" and e["flight_id"] == bag["flight_id"]:
            return datetime.fromisoformat(e["occurred_at"]).timestamp()
    raise AssertionError("no arrival")


def test_no_show_bags_fly_without_their_pilgrim_and_breakdowns_resolve() -> None:
    open_alerts = {(a["type"], a["tag"] or a["vehicle_id"]) for a in TRUTH["alerts"]}
    no_show_bags = [a for a in TRUTH["alerts"] if a["type"] == "loaded_without_pilgrim"]
    assert no_show_bags
    # Only the forced final breakdown (and any cut by the end) is still open; replacements
    # resolved the others.
    stalled = [v for kind, v in open_alerts if kind == "vehicle_stalled"]
    assert 1 <= len(stalled) < len(SCENARIO.breakdowns)
    assert set(stalled) <= set(SCENARIO.breakdowns)


def test_time_based_alerts_end_both_open_and_resolved() -> None:
    # Some late deliveries were delivered (resolved), and some delivery_overdue is open.
    late = [t for t, (f, _) in SCENARIO.faulty_bags.items() if f == "late_delivery"]
    bags = {b["tag"]: b for b in TRUTH["bags"]}
    delivered = [t for t in late if bags[t]["stage"] in ("delivered", "claimed")]
    assert delivered
    assert TRUTH["alerts_open_by_type"]["delivery_overdue"] > 0


def test_license_plates_are_unique_and_overflow_to_the_national_carrier() -> None:
    plates = LicensePlates()
    plates._next_serial["065"] = 999_999
    first, second, third = (plates.next_tag("126") for _ in range(3))
    assert first == "0065999999"
    assert (second, third) == ("0126000000", "0126000001")
    assert all(len(t) == 10 and t.isdigit() for t in (first, second, third))
    plates._next_serial["126"] = 1_000_000
    with pytest.raises(OverflowError):
        plates.next_tag("126")


def test_the_committed_demo_is_small_and_has_every_event_type() -> None:
    from pathlib import Path

    import simulators

    demo = Path(simulators.__file__).parent / "data" / "demo.jsonl"
    assert demo.stat().st_size <= 2 * 1024 * 1024
    kinds: Counter[str] = Counter()
    for line in demo.read_bytes().splitlines():
        try:
            kinds[decode_event(line).type] += 1
        except InvalidEvent:
            kinds["(malformed)"] += 1
    assert set(EVENT_TYPES) <= set(kinds)
    assert kinds["(malformed)"] > 0
