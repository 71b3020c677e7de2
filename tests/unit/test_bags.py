"""The bag state machine (stream/bags.py): stage and location, whatever the order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from tariq.domain.bags import BagState
from tariq.domain.events import CHECKPOINTS, STAGE_RANK, BagCoded, BagScanned
from tariq.domain.records import Accepted, InputRecord, fold

T0 = datetime(2026, 5, 18, 4, 0, tzinfo=UTC)
TAG = "0065000001"


def scan(event_id: str, checkpoint: str, location: str, minutes: int) -> BagScanned:
    return BagScanned(
        event_id=event_id,
        occurred_at=T0 + timedelta(minutes=minutes),
        tag=TAG,
        checkpoint=checkpoint,  # type: ignore[arg-type]
        location=location,
        vehicle_id="TRK-1" if checkpoint == "truck_loaded" else None,
        hotel_id="H1" if checkpoint == "sorted" else None,
    )


def coded(event_id: str = "c1", hotel: str = "H1", minutes: int = 0) -> BagCoded:
    return BagCoded(
        event_id=event_id,
        occurred_at=T0 + timedelta(minutes=minutes),
        tag=TAG,
        pilgrim_id="P1",
        flight_id="SV1",
        hotel_id=hotel,
    )


def test_a_coded_bag_without_scans_is_coded() -> None:
    bag = BagState(TAG)
    bag.apply(coded())
    assert (bag.stage, bag.location, bag.hotel_id) == ("coded", None, "H1")


def test_stage_is_the_highest_checkpoint_and_location_the_latest_scan() -> None:
    bag = BagState(TAG)
    # Arrival order is not event order: the loading scan comes after the sort.
    for event in (scan("s3", "sorted", "JED", 600), scan("s2", "loaded", "CGK", 60)):
        bag.apply(event)
    assert bag.stage == "sorted"
    assert bag.location == "JED"
    assert bag.updated_at == T0 + timedelta(minutes=600)


def test_a_late_lower_checkpoint_moves_location_when_it_is_later_in_event_time() -> None:
    bag = BagState(TAG)
    bag.apply(scan("s1", "delivered", "H1", 100))
    bag.apply(scan("s2", "sorted", "JED", 200))  # a later re-sort: location follows it
    assert (bag.stage, bag.location) == ("delivered", "JED")


def test_equal_event_times_are_broken_by_event_id() -> None:
    a, b = scan("a", "sorted", "JED", 5), scan("b", "sorted", "MED", 5)
    first, second = BagState(TAG), BagState(TAG)
    for event in (a, b):
        first.apply(event)
    for event in (b, a):
        second.apply(event)
    assert first.location == second.location == "MED"


def test_the_later_coding_wins() -> None:
    bag = BagState(TAG)
    bag.apply(coded("c2", hotel="H2", minutes=10))
    bag.apply(coded("c1", hotel="H1", minutes=0))
    assert bag.hotel_id == "H2"


def accepted(*events: BagCoded | BagScanned, partition: int = 0) -> list[Accepted]:
    return [
        Accepted(InputRecord(b"", "t", partition, offset), event)
        for offset, event in enumerate(events)
    ]


def empty_states() -> dict[str, dict[str, object]]:
    return {kind: {} for kind in ("bag", "flight", "pilgrim", "hotel", "vehicle")}


def test_stage_deltas_count_moves_between_stages_per_scope() -> None:
    states = empty_states()
    folded = fold(states, accepted(coded(), scan("s1", "accepted", "CGK", 1)))  # type: ignore[arg-type]
    assert folded.stage_delta == {"p0": {"accepted": 1, "coded": 0}}
    assert ("bag", TAG) in folded.dirty
    folded = fold(states, accepted(scan("s2", "loaded", "CGK", 2), partition=3))  # type: ignore[arg-type]
    assert folded.stage_delta == {"p3": {"accepted": -1, "loaded": 1}}


def test_flight_stage_deltas_follow_each_bag_between_flights_and_stages() -> None:
    states = empty_states()
    folded = fold(states, accepted(scan("s0", "accepted", "CGK", 1)))  # type: ignore[arg-type]
    assert folded.flight_stage_delta == {}  # no flight yet: counted nowhere
    folded = fold(states, accepted(coded(), scan("s1", "loaded", "CGK", 2)))  # type: ignore[arg-type]
    assert folded.flight_stage_delta == {("SV1", STAGE_RANK["loaded"]): 1}
    recoded = BagCoded(
        event_id="c9",
        occurred_at=T0 + timedelta(minutes=9),
        tag=TAG,
        pilgrim_id="P1",
        flight_id="SV2",
        hotel_id="H1",
    )
    folded = fold(states, accepted(recoded, scan("s2", "offloaded", "JED", 10)))  # type: ignore[arg-type]
    assert folded.flight_stage_delta == {
        ("SV1", STAGE_RANK["loaded"]): -1,
        ("SV2", STAGE_RANK["offloaded"]): 1,
    }


def test_loading_a_truck_marks_the_truck_for_judgement() -> None:
    states = empty_states()
    folded = fold(states, accepted(coded(), scan("s5", "truck_loaded", "JED", 5)))  # type: ignore[arg-type]
    assert ("vehicle", "TRK-1") in folded.dirty


events_strategy = st.lists(
    st.tuples(
        st.sampled_from(CHECKPOINTS),
        st.sampled_from(["CGK", "JED", "MED", "H1", "H2"]),
        st.integers(min_value=0, max_value=50),
    ),
    min_size=1,
    max_size=12,
)


@given(events_strategy, st.randoms(use_true_random=False), st.data())
def test_any_order_with_duplicates_gives_the_same_state(
    specs: list[tuple[str, str, int]], rnd: object, data: st.DataObject
) -> None:
    events: list[BagCoded | BagScanned] = [coded()] + [
        scan(f"s{i}", checkpoint, location, minute)
        for i, (checkpoint, location, minute) in enumerate(specs)
    ]
    reordered = data.draw(st.permutations(events))
    duplicated = reordered + data.draw(st.lists(st.sampled_from(events), max_size=5))
    reference, other = BagState(TAG), BagState(TAG)
    for event in events:
        reference.apply(event)
    for event in duplicated:
        other.apply(event)
    assert other == reference
    latest = max(
        (e for e in events if isinstance(e, BagScanned)), key=lambda e: (e.occurred_at, e.event_id)
    )
    assert reference.location == latest.location
    assert reference.stage == max(
        (e.checkpoint for e in events if isinstance(e, BagScanned)), key=CHECKPOINTS.index
    )
