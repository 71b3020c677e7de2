"""Contract event validation (tariq/events.py)."""

from __future__ import annotations

import contextlib
import json

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tariq.domain.events import (
    EVENT_TYPES,
    BagScanned,
    InvalidEvent,
    decode_event,
    decode_journaled,
    event_as_dict,
    event_from_object,
    partition_key,
)

SCAN = {
    "event_id": "e1",
    "type": "bag.scanned",
    "occurred_at": "2026-05-18T04:10:00+03:00",
    "tag": "0065123456",
    "checkpoint": "sorted",
    "location": "JED",
    "hotel_id": "MAK-0001",
}


def test_every_contract_type_is_known() -> None:
    assert set(EVENT_TYPES) == {
        "hotel.registered",
        "flight.scheduled",
        "pilgrim.registered",
        "bag.coded",
        "bag.scanned",
        "flight.departed",
        "flight.arrived",
        "pilgrim.boarded",
        "pilgrim.arrived",
        "pilgrim.bus_boarded",
        "pilgrim.hotel_arrived",
        "vehicle.position",
        "iata.message",
    }


def test_a_valid_scan_decodes_with_its_offset_and_key() -> None:
    event = decode_event(orjson.dumps(SCAN))
    assert isinstance(event, BagScanned)
    assert event.occurred_at.utcoffset() is not None
    assert event.occurred_at.isoformat() == "2026-05-18T04:10:00+03:00"
    assert partition_key(event) == "0065123456"
    assert event_as_dict(event)["hotel_id"] == "MAK-0001"


def test_unknown_fields_are_ignored() -> None:
    assert decode_event(orjson.dumps({**SCAN, "reader": "BGFUSION"})).event_id == "e1"


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"type": "bag.lost"}, "unknown event type"),
        ({"tag": "006512345"}, "$.tag"),
        ({"tag": "00651234x6"}, "$.tag"),
        ({"occurred_at": "2026-05-18T04:10:00"}, "timezone"),
        ({"occurred_at": "18 May 2026"}, "$.occurred_at"),
        ({"event_id": ""}, "$.event_id"),
        ({"event_id": "x" * 65}, "$.event_id"),
        ({"checkpoint": "teleported"}, "$.checkpoint"),
        ({"hotel_id": None}, "hotel_id"),
        ({"location": 7}, "$.location"),
    ],
)
def test_bad_events_are_refused_with_a_reason(change: dict[str, object], reason: str) -> None:
    with pytest.raises(InvalidEvent) as refused:
        event_from_object({**SCAN, **change})
    assert reason in str(refused.value)


def test_missing_field_and_truck_scan_without_vehicle() -> None:
    without_tag = {k: v for k, v in SCAN.items() if k != "tag"}
    with pytest.raises(InvalidEvent, match="tag"):
        event_from_object(without_tag)
    with pytest.raises(InvalidEvent, match="vehicle_id"):
        event_from_object({**SCAN, "checkpoint": "truck_loaded", "hotel_id": None})


def test_not_json() -> None:
    with pytest.raises(InvalidEvent, match="not JSON"):
        decode_event(b"{nope")


@given(st.binary(max_size=300))
def test_any_bytes_either_decode_or_raise_invalid_event(raw: bytes) -> None:
    with contextlib.suppress(InvalidEvent):
        decode_event(raw)


@given(
    st.dictionaries(
        st.sampled_from(sorted({*SCAN, "vehicle_id", "uld", "source", "pilgrim_id"})),
        st.one_of(st.none(), st.integers(), st.text(max_size=20), st.booleans()),
    )
)
def test_mutated_scans_either_decode_or_raise_invalid_event(mutation: dict[str, object]) -> None:
    with contextlib.suppress(InvalidEvent):
        event_from_object({**SCAN, **mutation})


@given(
    st.dictionaries(
        st.sampled_from(sorted({*SCAN, "vehicle_id", "uld", "source", "pilgrim_id"})),
        st.one_of(st.none(), st.integers(), st.text(max_size=20), st.booleans()),
    )
)
def test_a_journaled_event_decodes_to_what_was_accepted(mutation: dict[str, object]) -> None:
    """The replay history decodes journaled payloads (text) without the byte checks: every
    event `decode_event` accepted comes back equal."""
    raw = json.dumps({**SCAN, **mutation}).encode()  # integers beyond 64 bits too
    try:
        accepted = decode_event(raw)
    except InvalidEvent:
        return
    assert decode_journaled(raw.decode()) == accepted


def test_a_journaled_payload_that_no_longer_decodes_raises_invalid_event() -> None:
    with pytest.raises(InvalidEvent, match="no longer decodes"):
        decode_journaled('{"type": "bag.scanned", "event_id": "e1"}')
