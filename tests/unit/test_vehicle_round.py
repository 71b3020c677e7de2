"""The reconciler's vehicle step (tariq/domain/vehicles.py) on loaded values, without I/O."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import orjson

from routing.eta import Destination, PlannedStop
from routing.geo import AIRPORTS, offset
from tariq.config import AlertThresholds
from tariq.domain.alerts import Alert, Carried, Fix, alert_changes
from tariq.domain.entities import HotelState, VehicleState
from tariq.domain.vehicles import (
    TripEta,
    VehicleJudgement,
    VehiclesRound,
    changed_view,
    judge_vehicles,
    needs_plan,
    next_stop,
)

T0 = datetime(2026, 5, 18, 8, 0, tzinfo=UTC)
TH = AlertThresholds()
REPLAN = timedelta(minutes=5)
# Far from both airports (JED, MED): a loaded vehicle seen here is on a trip.
ROAD = (21.45, 39.70)
HOTELS = {
    "H1": HotelState("H1", "One", "makkah", 21.42, 39.82),
    "H2": HotelState("H2", "Two", "makkah", 21.43, 39.83),
}


class FakePlanner:
    """Stops in id order, H1 20 min and H2 40 min after the plan; records each call."""

    def __init__(self) -> None:
        self.calls: list[tuple[float, float, datetime, list[str]]] = []

    def __call__(
        self, lat: float, lon: float, at: datetime, destinations: Sequence[Destination]
    ) -> list[PlannedStop]:
        self.calls.append((lat, lon, at, [d.hotel_id for d in destinations]))
        return [
            PlannedStop(d.hotel_id, at + timedelta(minutes=20 * (i + 1)))
            for i, d in enumerate(destinations)
        ]


def moving_fixes(start: datetime, minutes: int) -> list[Fix]:
    """A fix a minute, each 500 m east of the last."""
    return [
        Fix(start + timedelta(minutes=m), f"fix-{m}", *offset(*ROAD, 500 * m, 0))
        for m in range(minutes + 1)
    ]


def still_fixes(start: datetime, minutes: int) -> list[Fix]:
    return [Fix(start + timedelta(minutes=m), f"fix-{m}", *ROAD) for m in range(minutes + 1)]


def truck_load(since: datetime | None = T0) -> Carried:
    return Carried(since, frozenset({"H1", "H2"}), {"H1": ("T1", "T2"), "H2": ("T3",)})


def position_of(fixes: list[Fix]) -> VehicleState:
    last = fixes[-1]
    return VehicleState("V1", "truck", last.lat, last.lon, at=last.at, event_id=last.event_id)


def judge(
    load: Carried,
    fixes: list[Fix],
    before: VehicleJudgement | None,
    clock: datetime,
    planner: FakePlanner,
    told: Sequence[TripEta] = (),
) -> VehiclesRound:
    return judge_vehicles(
        ["V1"],
        {"V1": load},
        {"V1": fixes},
        {"V1": before} if before is not None else {},
        {"V1": position_of(fixes)} if fixes else {},
        HOTELS,
        clock,
        TH,
        planner,
        REPLAN,
        {(t.vehicle_id, t.hotel_id): t for t in told},
        stall_hotels=[(h.lat, h.lon) for h in HOTELS.values() if h.lat and h.lon],
    )


def test_a_new_trip_is_planned_and_tells_each_hotel_its_bags_are_en_route() -> None:
    planner = FakePlanner()
    fixes = moving_fixes(T0, 10)
    result = judge(truck_load(), fixes, None, fixes[-1].at, planner)

    [judgement] = result.judgements
    planned_at = fixes[-1].at
    assert judgement.status == "on_trip"
    assert judgement.trip_since == T0
    assert judgement.planned_at == planned_at
    assert planner.calls == [(fixes[-1].lat, fixes[-1].lon, planned_at, ["H1", "H2"])]
    assert orjson.loads(judgement.plan or "") == [
        {"hotel_id": "H1", "eta": (planned_at + timedelta(minutes=20)).isoformat()},
        {"hotel_id": "H2", "eta": (planned_at + timedelta(minutes=40)).isoformat()},
    ]
    assert (judgement.next_stop, judgement.eta) == ("H1", planned_at + timedelta(minutes=20))
    # Moving: the run of fixes within 50 m is the latest fix alone, too few to stall.
    assert judgement.stall_due_at is None
    assert result.alerts == []

    by_hotel = {n.hotel_id: n for n in result.notices}
    assert sorted(by_hotel) == ["H1", "H2"]
    assert all(n.kind == "bags_en_route" and n.vehicle_id == "V1" for n in result.notices)
    assert by_hotel["H1"].tags == ("T1", "T2")
    assert by_hotel["H2"].tags == ("T3",)
    assert by_hotel["H2"].eta == planned_at + timedelta(minutes=40)
    # The notice's time is the departure: the first fix beyond the airports after loading.
    assert all(n.occurred_at == T0 for n in result.notices)
    assert sorted((t.hotel_id, t.departed_at, t.eta) for t in result.told) == [
        ("H1", T0, planned_at + timedelta(minutes=20)),
        ("H2", T0, planned_at + timedelta(minutes=40)),
    ]
    assert result.views == [
        {
            "vehicle_id": "V1",
            "status": "on_trip",
            "next_stop": "H1",
            "eta": planned_at + timedelta(minutes=20),
        }
    ]


def test_the_plan_is_kept_until_it_is_five_minutes_old_then_made_again() -> None:
    planner = FakePlanner()
    first = judge(truck_load(), moving_fixes(T0, 10), None, T0 + timedelta(minutes=10), planner)
    before = first.judgements[0]

    # Four minutes on: the saved plan stands, nothing changes, no second notice.
    fixes = moving_fixes(T0, 14)
    kept = judge(truck_load(), fixes, before, fixes[-1].at, planner, first.told)
    assert len(planner.calls) == 1
    assert kept.judgements[0] == before
    assert kept.notices == []
    assert kept.views == []

    # Five minutes after the plan: made again from where the vehicle is, still no notice.
    fixes = moving_fixes(T0, 15)
    again = judge(truck_load(), fixes, before, fixes[-1].at, planner, first.told)
    assert len(planner.calls) == 2
    assert planner.calls[-1][:3] == (fixes[-1].lat, fixes[-1].lon, fixes[-1].at)
    assert again.judgements[0].planned_at == fixes[-1].at
    assert again.judgements[0].eta == fixes[-1].at + timedelta(minutes=20)
    assert again.notices == []  # the ETA moved by 5 minutes: less than ETA_CHANGE
    assert [v["eta"] for v in again.views] == [fixes[-1].at + timedelta(minutes=20)]


def test_a_new_loading_is_a_new_trip_with_new_notices() -> None:
    planner = FakePlanner()
    first = judge(truck_load(), moving_fixes(T0, 10), None, T0 + timedelta(minutes=10), planner)
    later = T0 + timedelta(minutes=2)
    fixes = moving_fixes(T0, 11)
    result = judge(truck_load(later), fixes, first.judgements[0], fixes[-1].at, planner)
    assert len(planner.calls) == 2
    assert result.judgements[0].trip_since == later
    assert {n.hotel_id for n in result.notices} == {"H1", "H2"}
    old_ids = {n.notice_id for n in first.notices}
    assert not old_ids & {n.notice_id for n in result.notices}


def test_a_plan_without_a_saved_text_is_made_again() -> None:
    planner = FakePlanner()
    fixes = moving_fixes(T0, 10)
    before = VehicleJudgement("V1", "on_trip", None, T0, None, fixes[-1].at)
    told = [
        TripEta("V1", h, T0, fixes[-1].at + timedelta(minutes=m))
        for h, m in (("H1", 20), ("H2", 40))
    ]
    result = judge(truck_load(), fixes, before, fixes[-1].at, planner, told)
    assert len(planner.calls) == 1
    assert result.notices == []  # same trip: the hotels were told already


def test_a_vehicle_still_for_twenty_minutes_on_a_trip_stalls() -> None:
    planner = FakePlanner()
    fixes = moving_fixes(T0, 5) + still_fixes(T0 + timedelta(minutes=6), 25)[:-1]
    # 19 minutes still: on a trip, the stall due when 20 minutes have passed.
    clock = T0 + timedelta(minutes=25)
    on_trip = judge(truck_load(), fixes[:-5], None, clock, planner)
    assert on_trip.judgements[0].status == "on_trip"
    assert on_trip.judgements[0].stall_due_at == T0 + timedelta(minutes=26)
    assert on_trip.alerts == []

    clock = T0 + timedelta(minutes=26)
    stalled = judge(truck_load(), fixes, on_trip.judgements[0], clock, planner, on_trip.told)
    assert stalled.judgements[0].status == "stalled"
    # The run's stall time stays, so the vehicle is judged again when hotels change.
    assert stalled.judgements[0].stall_due_at == T0 + timedelta(minutes=26)
    assert stalled.alerts == [Alert("vehicle_stalled", "V1", vehicle_id="V1")]
    assert [v["status"] for v in stalled.views] == ["stalled"]
    assert stalled.notices == []


def test_an_empty_vehicle_is_idle_without_a_plan() -> None:
    planner = FakePlanner()
    fixes = moving_fixes(T0, 10)
    empty = Carried(None, frozenset(), {})
    result = judge(empty, fixes, None, fixes[-1].at, planner)
    assert result.judgements == [VehicleJudgement("V1", "idle")]
    assert planner.calls == []
    assert result.notices == []
    assert result.views == []  # a vehicle never judged was idle: nothing changed


def test_an_idle_vehicle_drops_its_plan() -> None:
    eta = T0 + timedelta(hours=1)
    plan = orjson.dumps([{"hotel_id": "H1", "eta": eta.isoformat()}]).decode()
    before = VehicleJudgement("V1", "on_trip", None, T0, plan, T0, "H1", eta)
    result = judge(Carried(None, frozenset(), {}), moving_fixes(T0, 3), before, T0, FakePlanner())
    assert result.judgements == [VehicleJudgement("V1", "idle")]
    assert result.views == [{"vehicle_id": "V1", "status": "idle", "next_stop": None, "eta": None}]


def test_next_stop_is_the_first_planned_stop_still_carried_for() -> None:
    plan = orjson.dumps(
        [
            {"hotel_id": "H1", "eta": "2026-05-18T09:00:00+00:00"},
            {"hotel_id": "H2", "eta": "2026-05-18T09:30:00+00:00"},
        ]
    ).decode()
    assert next_stop(plan, frozenset({"H1", "H2"})) == (
        "H1",
        datetime(2026, 5, 18, 9, tzinfo=UTC),
    )
    assert next_stop(plan, frozenset({"H2"})) == ("H2", datetime(2026, 5, 18, 9, 30, tzinfo=UTC))
    assert next_stop(plan, frozenset()) == (None, None)
    assert next_stop(None, frozenset({"H1"})) == (None, None)


def test_replanning_cadence() -> None:
    at = T0 + timedelta(minutes=30)
    saved = VehicleJudgement("V1", "on_trip", None, T0, "[]", at - timedelta(minutes=4))
    assert not needs_plan(saved, T0, at, REPLAN)
    assert needs_plan(saved, T0, at + timedelta(minutes=1), REPLAN)  # five minutes old
    assert needs_plan(saved, T0 + timedelta(seconds=1), at, REPLAN)  # a new trip
    never = VehicleJudgement("V1", "on_trip", None, T0, "[]", None)
    assert needs_plan(never, T0, at, REPLAN)
    no_text = VehicleJudgement("V1", "on_trip", None, T0, "", at)
    assert needs_plan(no_text, T0, at, REPLAN)


def test_unchanged_views_are_not_published() -> None:
    eta = T0 + timedelta(hours=1)
    before = VehicleJudgement("V1", "on_trip", None, T0, "[]", T0, "H1", eta)
    same = VehicleJudgement("V1", "on_trip", T0, T0, "[x]", T0 + timedelta(minutes=5), "H1", eta)
    assert changed_view(before, same) is None
    later = VehicleJudgement("V1", "on_trip", None, T0, "[]", T0, "H1", eta + timedelta(minutes=1))
    assert changed_view(before, later) == {
        "vehicle_id": "V1",
        "status": "on_trip",
        "next_stop": "H1",
        "eta": eta + timedelta(minutes=1),
    }


def test_alert_changes_resolve_only_judged_subjects() -> None:
    stalled = Alert("vehicle_stalled", "V1", vehicle_id="V1")
    overdue = Alert("delivery_overdue", "T1", tag="T1")
    open_now = {
        ("vehicle_stalled", "V1"): "a1",
        ("misdelivered", "T1"): "a2",
        ("vehicle_stalled", "V2"): "a3",
    }
    desired = {stalled.key: stalled, overdue.key: overdue}
    to_resolve, to_raise = alert_changes(open_now, desired, {"T1"}, {"V1"})
    assert to_resolve == ["a2"]  # V2 was not judged: its alert stays open
    assert to_raise == [overdue]


def departing_fixes(departs: datetime, minutes: int) -> list[Fix]:
    """Ten minutes waiting at JED's reference point, then on the road from `departs`."""
    waiting = [
        Fix(departs - timedelta(minutes=10 - m), f"wait-{m}", *AIRPORTS["JED"]) for m in range(10)
    ]
    return waiting + [
        Fix(departs + timedelta(minutes=m), f"road-{m}", *offset(*ROAD, 500 * m, 0))
        for m in range(minutes + 1)
    ]


def test_one_en_route_notice_per_departure_with_every_bag_loaded_before_it() -> None:
    """Loadings processed after the positions (another partition lagging) must not split
    the departure's notice: none before the clock reaches the departure, then one per hotel
    with all bags, and no second one when a loading is processed later still."""
    planner = FakePlanner()
    loaded = T0 - timedelta(minutes=8)
    fixes = departing_fixes(T0, 6)
    part = Carried(loaded, frozenset({"H1"}), {"H1": ("T1",)})
    lagging = judge(part, fixes, None, T0 - timedelta(minutes=1), planner)
    assert lagging.judgements[0].status == "on_trip"
    assert lagging.notices == [] and lagging.told == []

    whole = Carried(loaded, frozenset({"H1", "H2"}), {"H1": ("T1", "T2"), "H2": ("T3",)})
    caught_up = judge(whole, fixes, lagging.judgements[0], fixes[-1].at, planner)
    by_hotel = {n.hotel_id: n for n in caught_up.notices}
    assert sorted(by_hotel) == ["H1", "H2"]
    assert by_hotel["H1"].tags == ("T1", "T2") and by_hotel["H2"].tags == ("T3",)
    assert {n.occurred_at for n in caught_up.notices} == {T0}

    later = Carried(loaded, frozenset({"H1", "H2"}), {"H1": ("T1", "T2", "T9"), "H2": ("T3",)})
    again = judge(later, fixes, caught_up.judgements[0], fixes[-1].at, planner, caught_up.told)
    assert again.notices == []


class SlowingPlanner(FakePlanner):
    """As FakePlanner, each stop `delay` later."""

    delay = timedelta(0)

    def __call__(
        self, lat: float, lon: float, at: datetime, destinations: Sequence[Destination]
    ) -> list[PlannedStop]:
        return [
            PlannedStop(s.hotel_id, s.eta + self.delay)
            for s in super().__call__(lat, lon, at, destinations)
        ]


def test_eta_changed_when_a_new_plan_moves_the_eta_by_ten_minutes_or_more() -> None:
    planner = SlowingPlanner()
    fixes = still_fixes(T0, 0) + moving_fixes(T0 + timedelta(minutes=1), 4)[1:]
    first = judge(truck_load(), fixes, None, fixes[-1].at, planner)
    told = {t.hotel_id: t.eta for t in first.told}
    assert [n.kind for n in first.notices] == ["bags_en_route", "bags_en_route"]

    # Stuck: five minutes later the plan is made again, 12 minutes later than told.
    planner.delay = timedelta(minutes=7)
    stuck = fixes + still_fixes(fixes[-1].at, 5)[1:]
    moved = judge(truck_load(), stuck, first.judgements[0], stuck[-1].at, planner, first.told)
    changed = {n.hotel_id: n for n in moved.notices}
    assert sorted(changed) == ["H1", "H2"]
    h1 = changed["H1"]
    assert h1.kind == "eta_changed" and h1.tags == ("T1", "T2")
    assert h1.previous_eta == told["H1"]
    assert h1.eta == stuck[-1].at + timedelta(minutes=27)
    assert h1.occurred_at == stuck[-1].at
    assert {t.eta for t in moved.told} == {n.eta for n in moved.notices}

    # Told the new ETA: a replan 3 minutes later than that is no news.
    planner.delay = timedelta(minutes=5)
    more = stuck + still_fixes(stuck[-1].at, 5)[1:]
    told_now = [*first.told, *moved.told]
    latest = {(t.vehicle_id, t.hotel_id): t for t in told_now}
    quiet = judge(
        truck_load(), more, moved.judgements[0], more[-1].at, planner, list(latest.values())
    )
    assert quiet.notices == []
