"""The checker's pure comparison of API answers with a truth file."""

from __future__ import annotations

import copy
from typing import Any

from simulators.check import compare

TRUTH: dict[str, Any] = {
    "bags": [
        {
            "tag": "0065000001",
            "pilgrim_id": "P1",
            "flight_id": "F1",
            "hotel_id": "H1",
            "stage": "delivered",
            "location": "H2",
        },
        {
            "tag": "0065000002",
            "pilgrim_id": "P1",
            "flight_id": "F1",
            "hotel_id": "H1",
            "stage": "coded",
            "location": None,
        },
    ],
    "alerts": [
        {
            "alert_id": "misdelivered:0065000001",
            "type": "misdelivered",
            "tag": "0065000001",
            "pilgrim_id": "P1",
            "flight_id": "F1",
            "hotel_id": "H1",
            "vehicle_id": None,
        },
        {
            "alert_id": "vehicle_stalled:BUS-1",
            "type": "vehicle_stalled",
            "tag": None,
            "pilgrim_id": None,
            "flight_id": None,
            "hotel_id": None,
            "vehicle_id": "BUS-1",
        },
    ],
    "alerts_open_by_type": {"misdelivered": 1, "vehicle_stalled": 1},
    "counts": {"malformed": 3},
}


def api_state() -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, Any]]:
    bags = {b["tag"]: {**b, "updated_at": "x", "history": [], "alerts": []} for b in TRUTH["bags"]}
    alerts = [
        {**a, "status": "open", "alert_id": f"svc-{i}"} for i, a in enumerate(TRUTH["alerts"])
    ]
    summary = {
        "alerts_open_by_type": {"misdelivered": 1, "vehicle_stalled": 1},
        "events": {"processed": 10, "rejected": 3, "duplicates": 0},
    }
    return bags, alerts, summary


def test_a_service_that_agrees_passes() -> None:
    report = compare(TRUTH, *api_state())
    assert report.ok
    assert (report.bags_exact, report.alerts_matched) == (2, 2)
    assert (report.precision, report.recall) == (1.0, 1.0)


def test_a_wrong_stage_and_an_unknown_bag_are_mismatches() -> None:
    bags, alerts, summary = api_state()
    bags["0065000001"] = {**bags["0065000001"], "stage": "claimed"}
    del bags["0065000002"]
    report = compare(TRUTH, bags, alerts, summary)
    assert not report.ok
    assert report.bags_exact == 0
    assert {m.kind for m in report.mismatches} == {"bag_stage", "bag_missing"}


def test_missing_and_unexpected_alerts_give_recall_and_precision() -> None:
    bags, alerts, summary = api_state()
    alerts = [
        alerts[0],
        {"type": "left_behind", "tag": "0065000002", "status": "open"},
        {"type": "vehicle_stalled", "vehicle_id": "BUS-1", "status": "resolved"},
    ]
    summary["alerts_open_by_type"] = {"misdelivered": 1, "left_behind": 1}
    report = compare(TRUTH, bags, alerts, summary)
    assert report.alerts_matched == 1
    assert report.precision == 0.5 and report.recall == 0.5
    kinds = [m.kind for m in report.mismatches]
    assert "alert_missing" in kinds and "alert_unexpected" in kinds
    assert kinds.count("summary_alerts_open") == 2


def test_wrong_ids_on_a_matched_alert_and_wrong_rejected_count() -> None:
    bags, alerts, summary = api_state()
    alerts[0] = {**alerts[0], "flight_id": "F9"}
    summary["events"]["rejected"] = 2
    truth = copy.deepcopy(TRUTH)
    report = compare(truth, bags, alerts, summary)
    assert {m.kind for m in report.mismatches} == {"alert_flight_id", "summary_rejected"}
    assert any("F9" in line for line in report.lines())


def test_alert_churn_counts_raised_and_resolved_within_the_run() -> None:
    from simulators.check import AlertChurn, churn_line, open_alerts_in

    churn = AlertChurn(
        {"misdelivered": 3, "vehicle_stalled": 1},
        {"missing_at_arrival": 1},
        true_open=4,
        peak_open=9,
    )
    report = churn.as_dict()
    assert (report["raised"], report["raised_and_resolved"], report["open_at_end"]) == (5, 1, 4)
    assert report["raised_and_resolved_share"] == 0.2
    assert (report["true_open_at_end"], report["peak_open_during_run"]) == (4, 9)
    assert "5 raised, 1 of them resolved within the run (20.00%)" in churn_line(report)
    assert AlertChurn({}, {}).resolved_share == 0.0
    assert open_alerts_in({"alerts_open_by_type": {"a": 2, "b": 3}}) == 5
    assert open_alerts_in({}) == 0


def test_the_stream_bench_counts_true_open_alerts_with_the_oracle() -> None:
    from simulators.bench_stream import oracle_view

    scan = (
        b'{"event_id":"e1","type":"bag.scanned","occurred_at":"2026-05-18T04:00:00Z",'
        b'"tag":"0065000001","checkpoint":"accepted","location":"CGK"}'
    )
    assert oracle_view([(b"k", scan), (None, b"not json")]) == (1, 0)  # an unknown_tag


def test_event_time_transients_are_alerts_that_open_and_resolve_in_event_time() -> None:
    from simulators.check import event_time_transients
    from tariq.domain.events import event_from_object

    def ev(eid: str, type_: str, hhmm: str, **fields: Any) -> Any:
        at = f"2026-05-18T{hhmm}:00Z"
        return event_from_object({"event_id": eid, "type": type_, "occurred_at": at, **fields})

    coded = ev("c", "bag.coded", "00:00", tag="0065000001", pilgrim_id="P1", flight_id="F1",
               hotel_id="H1")  # fmt: skip
    checkin = ev("i", "pilgrim.hotel_arrived", "01:00", pilgrim_id="P1", hotel_id="H1")
    # Delivered 6 h after check-in: delivery_overdue held from 05:00 to 07:00 in event time.
    late = ev("d", "bag.scanned", "07:00", tag="0065000001", checkpoint="delivered",
              location="H1")  # fmt: skip
    assert event_time_transients([late, checkin, coded]) == {"delivery_overdue": 1}
    # Delivered in time: nothing ever opened.
    early = ev("d", "bag.scanned", "03:00", tag="0065000001", checkpoint="delivered",
               location="H1")  # fmt: skip
    tick = ev("t", "flight.departed", "09:00", flight_id="F9")
    assert event_time_transients([early, checkin, coded, tick]) == {}
