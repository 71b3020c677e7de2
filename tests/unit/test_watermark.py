"""The judge clock of deadline rules (tariq/domain/watermark.py) and the few fixes a stall
judgement reads (tariq/domain/alerts.py `fixes_from`), as pure functions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from routing.geo import offset
from tariq.config import AlertThresholds
from tariq.domain.alerts import FIXES_BEFORE, Fix, fixes_from, judge_stall
from tariq.domain.watermark import PartitionProgress, ScopeClock, ahead_of_watermark, judge_clock

T0 = datetime(2026, 5, 18, 8, 0, tzinfo=UTC)
STALE = 60.0


def t(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def scope(name: str, minutes: float | None, lag: int | None = 0, age: float = 1.0) -> ScopeClock:
    return ScopeClock(name, None if minutes is None else t(minutes), lag, age)


def test_with_no_backlog_the_clock_is_the_latest_event_time() -> None:
    scopes = [scope("p0", 10), scope("p1", 50), scope("p2", 30, lag=None)]
    assert judge_clock(scopes, None, STALE) == t(50)
    assert judge_clock([], None, STALE) is None
    assert judge_clock([scope("p0", None)], t(5), STALE) == t(5)


def test_a_lagging_partition_holds_the_clock_at_its_own() -> None:
    scopes = [scope("p0", 10, lag=500), scope("p1", 50), scope("p2", 30, lag=2)]
    assert judge_clock(scopes, None, STALE) == t(10)
    # Caught up (lag 0) while another still lags: its clock still bounds the judge clock,
    # since its producer may have written more since its latest fetch.
    scopes[0] = scope("p0", 12, lag=0)
    assert judge_clock(scopes, t(10), STALE) == t(12)
    # Nothing lags any more: the latest event time.
    scopes[2] = scope("p2", 30, lag=0)
    assert judge_clock(scopes, t(12), STALE) == t(50)


def test_a_caught_up_partition_bounds_the_clock_only_while_another_lags() -> None:
    """The day bench: one worker's partitions read all they knew of (18:53) while the
    producer was still writing; the other's lagged at 22:13. Judged at 22:13, bags whose
    loaded scans (18:58) were unread came out `left_behind`."""
    scopes = [
        scope("p0", 23 * 60, lag=7758),
        scope("p1", 18 * 60 + 53),
        scope("p2", 22 * 60 + 13, lag=8806),
        scope("p3", 18 * 60 + 53),
    ]
    assert judge_clock(scopes, None, STALE) == t(18 * 60 + 53)
    # A caught-up report gone stale (its worker died), or one without event time, does
    # not bound it.
    scopes[1] = scope("p1", 60, age=STALE + 1)
    scopes[3] = scope("p3", None)
    assert judge_clock(scopes, None, STALE) == t(22 * 60 + 13)


def test_a_lag_not_refreshed_for_long_is_ignored() -> None:
    scopes = [scope("p0", 10, lag=500, age=STALE + 1), scope("p1", 50)]
    assert judge_clock(scopes, None, STALE) == t(50)
    scopes[0] = scope("p0", 10, lag=500, age=STALE)
    assert judge_clock(scopes, None, STALE) == t(10)
    # A lag with no report time (never measured) holds nothing back either.
    assert judge_clock([ScopeClock("p0", t(10), 5, None), scope("p1", 50)], None, STALE) == t(50)


def test_a_lagging_partition_with_no_event_time_yet_holds_the_previous_clock() -> None:
    scopes = [scope("p0", None, lag=100), scope("p1", 50)]
    assert judge_clock(scopes, t(20), STALE) == t(20)
    assert judge_clock(scopes, None, STALE) is None


def test_the_judge_clock_never_goes_back() -> None:
    scopes = [scope("p0", 10, lag=500), scope("p1", 50)]
    assert judge_clock(scopes, t(40), STALE) == t(40)


def test_while_input_lags_the_clock_waits_for_events_up_to_the_lateness_late() -> None:
    """A scanner's buffered upload sits in its partition behind later events: the
    partition's clock (its latest event time) is past the scan, so only an allowance for
    late events keeps the judge clock from passing it while the backlog waits."""
    hour = timedelta(hours=1)
    scopes = [scope("p0", 10 * 60, lag=500), scope("p1", 12 * 60, lag=20)]
    assert judge_clock(scopes, None, STALE, hour) == t(9 * 60)
    # Never back: a previous clock later than that stays.
    assert judge_clock(scopes, t(9 * 60 + 30), STALE, hour) == t(9 * 60 + 30)
    # Nothing lags: nothing waits, and the clock is the latest event time (live alerts
    # are not delayed).
    caught_up = [scope("p0", 10 * 60), scope("p1", 12 * 60)]
    assert judge_clock(caught_up, None, STALE, hour) == t(12 * 60)


def test_partition_progress_lag() -> None:
    assert PartitionProgress(next_offset=100, end=150).lag == 50
    assert PartitionProgress(next_offset=150, end=150).lag == 0
    assert PartitionProgress(next_offset=151, end=150).lag == 0


clocks = st.one_of(st.none(), st.integers(0, 10_000))
scopes_strategy = st.lists(
    st.tuples(clocks, st.one_of(st.none(), st.integers(-1, 1_000)), st.floats(0, 200)),
    max_size=8,
)


@settings(max_examples=300)
@given(scopes_strategy, st.one_of(st.none(), st.integers(0, 10_000)), st.sampled_from([0, 1, 60]))
def test_judge_clock_properties(
    rows: list[tuple[int | None, int | None, float]],
    previous_min: int | None,
    lateness_min: int,
) -> None:
    scopes = [scope(f"p{i}", c, lag, age) for i, (c, lag, age) in enumerate(rows)]
    previous = None if previous_min is None else t(previous_min)
    lateness = timedelta(minutes=lateness_min)
    clock = judge_clock(scopes, previous, STALE, lateness)
    latest = max((s.clock for s in scopes if s.clock is not None), default=None)
    # Never back, and never ahead of the latest event time (unless the previous was).
    if previous is not None:
        assert clock is not None and clock >= previous
    if latest is not None and clock is not None and (previous is None or previous <= latest):
        assert clock <= latest
    lagging = [s for s in scopes if s.lag and s.lag > 0 and (s.lag_age_s or 0) <= STALE]
    if not lagging and latest is not None:
        # Nothing waiting: the latest event time, as before (or the previous, if later).
        assert clock == max(latest, previous) if previous else clock == latest
    caught_up = [s for s in scopes if s.lag is not None and s.lag <= 0 and s.lag_age_s <= STALE]
    for s in lagging + (caught_up if lagging else []):
        # A fresh backlog is never outrun, nor its events up to `lateness` late, unless
        # the clock had already passed them; nor, while there is one, a partition that
        # read only as far as it knew.
        if s.clock is not None and clock is not None and clock > s.clock - lateness:
            assert previous is not None and clock == previous


# ---- the fixes a stall judgement reads -----------------------------------------------------

TH = AlertThresholds()
ROAD = (21.50, 39.40)


@st.composite
def tracks(draw: st.DrawFn) -> list[Fix]:
    """A vehicle's fixes: stretches parked in one spot or driving, a fix every few minutes,
    with silences."""
    fixes: list[Fix] = []
    minute = 0.0
    east = 0.0
    for stretch in range(draw(st.integers(1, 5))):
        parked = draw(st.booleans())
        for k in range(draw(st.integers(1, 12))):
            minute += draw(st.sampled_from([0.5, 1, 3, 7, 15, 30]))
            if not parked:
                east += draw(st.integers(60, 2_000))
            jitter = draw(st.integers(0, 20)) if parked else 0
            lat, lon = offset(*ROAD, east + jitter, 0)
            fixes.append(Fix(t(minute), f"f{stretch}-{k}", lat, lon))
    return fixes


@settings(max_examples=200)
@given(tracks(), st.integers(0, 600), st.booleans())
def test_the_fixes_read_judge_a_stall_as_all_fixes_would(
    fixes: list[Fix], clock_minute: int, loaded: bool
) -> None:
    clock = t(clock_minute)
    since = t(clock_minute / 2) if loaded else None
    earliest = fixes_from(clock, since, TH)
    assert earliest is not None
    # What the reconciler's query reads: the fixes from `earliest` and the FIXES_BEFORE
    # latest ones before it.
    before = sorted((f for f in fixes if f.at < earliest), key=lambda f: (f.at, f.event_id))
    read = [f for f in fixes if f.at >= earliest] + before[len(before) - FIXES_BEFORE :]
    everything = judge_stall(fixes, clock, [], TH)
    partial = judge_stall(read, clock, [], TH)
    assert partial[0] == everything[0]
    if not everything[0]:
        assert partial == everything  # and the stall time to look again at is exact
    assert fixes_from(None, None, TH) is None


DRIFT = timedelta(minutes=30)


def test_alignment_pauses_own_partitions_past_the_earliest_lagging_one() -> None:
    scopes = [scope("p0", 10, lag=500), scope("p1", 50, lag=900), scope("p2", 35, lag=10)]
    # p1 is 40 minutes past p0 (limit 10 + 30): paused; p2 (35) is within the drift.
    assert ahead_of_watermark(scopes, {"p1", "p2"}, DRIFT, STALE) == {"p1"}
    # Only this worker's own partitions are paused, never the earliest one.
    assert ahead_of_watermark(scopes, {"p0"}, DRIFT, STALE) == set()
    assert ahead_of_watermark(scopes, {"p0", "p1", "p2"}, timedelta(0), STALE) == {"p1", "p2"}


def test_alignment_waits_only_for_partitions_that_hold_the_clock_back() -> None:
    # Caught up, stale or never measured: nothing to wait for.
    assert (
        ahead_of_watermark([scope("p0", 10), scope("p1", 50, lag=9)], {"p1"}, DRIFT, STALE) == set()
    )
    stale = [scope("p0", 10, lag=500, age=STALE + 1), scope("p1", 50, lag=9)]
    assert ahead_of_watermark(stale, {"p1"}, DRIFT, STALE) == set()
    unmeasured = [ScopeClock("p0", t(10), 5, None), scope("p1", 50, lag=9)]
    assert ahead_of_watermark(unmeasured, {"p1"}, DRIFT, STALE) == set()
    # A lagging partition with no event time yet gives no bound to wait for.
    assert (
        ahead_of_watermark([scope("p0", None, lag=5), scope("p1", 50)], {"p1"}, DRIFT, STALE)
        == set()
    )


@given(
    st.lists(
        st.tuples(
            st.one_of(st.none(), st.integers(0, 600)),
            st.one_of(st.none(), st.integers(0, 1000)),
            st.floats(0, 2 * STALE),
        ),
        min_size=1,
        max_size=6,
    ),
    st.integers(0, 120),
)
@settings(max_examples=300)
def test_alignment_never_pauses_the_partition_the_clock_waits_for(
    rows: list[tuple[int | None, int | None, float]], drift_min: int
) -> None:
    """Whatever the partitions report, the earliest lagging partition keeps reading (so
    the watermark advances), and a paused partition is past it by more than the drift."""
    scopes = [scope(f"p{i}", m, lag, age) for i, (m, lag, age) in enumerate(rows)]
    names = {s.scope for s in scopes}
    drift = timedelta(minutes=drift_min)
    paused = ahead_of_watermark(scopes, names, drift, STALE)
    behind = [s for s in scopes if s.lag and s.lag_age_s <= STALE and s.clock is not None]
    if not behind:
        assert paused == set()
        return
    earliest = min(s.clock for s in behind if s.clock is not None)
    assert all(s.scope not in paused for s in behind if s.clock == earliest)
    assert all(
        s.clock is not None and s.clock > earliest + drift for s in scopes if s.scope in paused
    )
