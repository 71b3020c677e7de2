"""Pure helpers of the `tariq bench` commands: percentiles, /proc parsing, curves, tracks."""

from __future__ import annotations

import pytest

from simulators.bench_season import fifo_latencies, rates
from simulators.bench_vehicles import Shuttle, bearing, fix_key, fleet, iso_ms
from simulators.stack import (
    children_map,
    counted,
    descendants,
    judged,
    parse_stat_cpu_ticks,
    parse_status_kb,
    percentiles,
)
from simulators.track import distance_m


def test_percentiles_nearest_rank() -> None:
    values = [float(v) for v in range(100, 0, -1)]  # 1..100, unordered
    p = percentiles(values)
    assert (p["p50"], p["p90"], p["p99"], p["max"]) == (50.0, 90.0, 99.0, 100.0)
    assert p["mean"] == pytest.approx(50.5)
    assert percentiles([7.0]) == {"p50": 7.0, "p90": 7.0, "p99": 7.0, "max": 7.0, "mean": 7.0}
    assert percentiles([]) == {}


def test_counted_and_judged_read_the_summary() -> None:
    summary = {
        "events": {"processed": 10, "duplicates": 2, "rejected": 1},
        "clock": "2025-05-20T10:00:00Z",
        "reconciler": {"pending": 0, "clock": "2025-05-20T10:00:00Z", "rounds": 4},
    }
    assert counted(summary) == 13
    assert judged(summary)
    assert not judged({**summary, "reconciler": {"pending": 3, "clock": summary["clock"]}})
    assert not judged({**summary, "reconciler": {"pending": 0, "clock": "2025-05-20T09:00:00Z"}})


def test_proc_parsing() -> None:
    # A command name with spaces and parentheses must not shift the fields.
    stat = "42 (my (odd) name) S 1 42 42 0 -1 4194304 10 0 0 0 150 25 0 0 20 0 3 0 99 0 0"
    assert parse_stat_cpu_ticks(stat) == 175
    status = "Name:\tpython\nVmHWM:\t  204800 kB\nVmRSS:\t  1024 kB\n"
    assert parse_status_kb(status, "VmHWM") == 204800
    assert parse_status_kb(status, "Pss") is None


def test_descendants_walk_the_process_tree() -> None:
    def stat(pid: int, ppid: int) -> str:
        return f"{pid} (p) S {ppid} 0 0 0 0 0 0 0 0 0 1 1 0 0"

    stats = {10: stat(10, 1), 11: stat(11, 10), 12: stat(12, 11), 20: stat(20, 1)}
    assert sorted(descendants(10, children_map(stats))) == [10, 11, 12]
    assert descendants(20, children_map(stats)) == [20]


def test_fifo_latency_is_time_since_the_counted_line_was_sent() -> None:
    sent = [(0.0, 0), (1.0, 100), (2.0, 200)]
    done = [(0.0, 0), (1.5, 100), (3.0, 200), (3.5, 200)]
    assert fifo_latencies(sent, done) == [(1.5, 0.5), (3.0, 1.0), (3.5, 1.5)]


def test_rates_over_a_window() -> None:
    curve = [(float(t), 100 * t) for t in range(6)]
    assert all(v == pytest.approx(100.0) for _, v in rates(curve, window_s=2.0))


def test_shuttle_stays_on_its_segment_and_turns_round() -> None:
    s = Shuttle("BV00001", "bus", (21.679, 39.157), (21.4225, 39.8262), 72.0)
    leg_s = distance_m(s.a, s.b) / 20.0
    assert s.position(0.0)[:2] == pytest.approx(s.a)
    assert s.position(leg_s)[:2] == pytest.approx(s.b, abs=1e-6)
    assert s.position(2 * leg_s)[:2] == pytest.approx(s.a, abs=1e-6)
    out, back = s.position(0.25 * leg_s), s.position(1.25 * leg_s)
    assert out[2] == pytest.approx(bearing(s.a, s.b))
    assert back[2] == pytest.approx(bearing(s.b, s.a))
    # One 10 s fix interval moves it about speed × 10 s.
    moved = distance_m(s.position(100.0)[:2], s.position(110.0)[:2])
    assert moved == pytest.approx(200.0, rel=0.01)


def test_bearing_points_the_right_way() -> None:
    assert bearing((21.0, 39.0), (22.0, 39.0)) == pytest.approx(0.0, abs=1e-6)
    assert bearing((21.0, 39.0), (21.0, 40.0)) == pytest.approx(90.0, abs=0.5)


def test_fleet_is_deterministic_with_distinct_ids() -> None:
    a, b = fleet(500), fleet(500)
    assert a == b
    assert len({s.vehicle_id for s in a}) == 500
    assert {s.kind for s in a} == {"bus", "truck"}
    assert all(50 <= s.speed_kmh <= 100 for s in a)


def test_fix_key_matches_the_feed_time_forms() -> None:
    at = iso_ms(1_747_650_000.123)
    assert at == "2025-05-19T10:20:00.123Z"
    # The feed may render the same instant with microseconds and an offset.
    assert fix_key("BV1", at) == fix_key("BV1", "2025-05-19T10:20:00.123000+00:00")
    assert fix_key("BV1", at) != fix_key("BV1", iso_ms(1_747_650_000.124))


def test_judge_lag_is_wall_time_since_the_judged_event_time_was_ingested() -> None:
    from simulators.bench_season import judge_lag

    hour = "2025-05-20T{:02d}:00:00Z".format
    samples = [
        (0.0, hour(0), hour(0)),  # caught up
        (1.0, hour(1), hour(0)),  # judged to 00:00, ingested at t=0: 1 s behind
        (2.0, hour(2), hour(1)),  # judged to 01:00, ingested at t=1
        (5.0, hour(2), hour(1)),  # still judged to 01:00: 4 s behind
        (6.0, hour(2), hour(2)),  # caught up again
    ]
    assert judge_lag(samples) == {"max": 4.0, "p50": 1.0}


def test_ingest_bench_keys_records_as_replay_does() -> None:
    from simulators.bench_ingest import PARTITIONS, records_of

    lines = [
        b'{"event_id":"e1","occurred_at":"2025-05-20T10:00:00Z","type":"bag.scanned",'
        b'"tag":"0065000001","checkpoint":"accepted","location":"CGK"}',
        b"not json",
        b'{"event_id":"e2","occurred_at":"2025-05-20T10:01:00Z","type":"bag.scanned",'
        b'"tag":"0065000001","checkpoint":"loaded","location":"CGK"}',
    ]
    records = records_of(lines)
    assert [r.value for r in records] == lines
    assert records[0].partition == records[2].partition < PARTITIONS
    # Offsets count per partition, from 0, as a topic's would.
    same = [r for r in records if r.partition == records[0].partition]
    assert [r.offset for r in same] == list(range(len(same)))


def test_cpu_between_two_readings_counts_the_processes_read_both_times() -> None:
    from simulators.stack import ProcessReading, cpu_between

    first = {"worker": ProcessReading(1.0, 100.0, None), "gone": ProcessReading(5.0, 1.0, None)}
    last = {"worker": ProcessReading(3.25, 120.0, None), "new": ProcessReading(2.0, 1.0, None)}
    assert cpu_between(first, last) == {"worker": 2.25}
