"""Contract v1.1 input rules (issue 11): every string, length, size and depth limit, and
the property that any input gives an event or a dead-letter reason, never another error."""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tariq.domain.entities import PilgrimState
from tariq.domain.events import (
    MAX_DEPTH,
    MAX_EVENT_BYTES,
    AnyEvent,
    InvalidEvent,
    PilgrimRegistered,
    decode_event,
    event_from_object,
    json_depth_exceeds,
)
from tariq.domain.records import (
    MASK,
    MAX_DEAD_LETTER_BYTES,
    Accepted,
    DeadLetter,
    InputRecord,
    decode_batch,
    journal_payload,
    mask_personal_data,
    passport_hash,
    seal_passport,
    seal_registrations,
)
from tariq.services.intake import MAX_EVENTS, TooManyEvents, split_array, split_body
from tariq.services.replay import read_lines

AT = "2026-05-18T04:10:00Z"
VALID: list[dict[str, Any]] = [
    {"type": "hotel.registered", "hotel_id": "MAK-1", "name": "Dar", "city": "makkah",
     "lat": 21.4, "lon": 39.8},
    {"type": "flight.scheduled", "flight_id": "SV5123-2026-05-18", "origin": "CGK",
     "destination": "JED", "scheduled_departure": AT, "scheduled_arrival": AT},
    {"type": "pilgrim.registered", "pilgrim_id": "P1", "group_id": "G1",
     "flight_id": "SV5123-2026-05-18", "hotel_id": "MAK-1", "nationality": "ID",
     "name": "Siti", "passport_no": "X1234567"},
    {"type": "bag.coded", "tag": "0065123456", "pilgrim_id": "P1",
     "flight_id": "SV5123-2026-05-18", "hotel_id": "MAK-1"},
    {"type": "bag.scanned", "tag": "0065123456", "checkpoint": "truck_loaded",
     "location": "JED", "vehicle_id": "T1", "uld": "AKE1"},
    {"type": "flight.departed", "flight_id": "SV5123-2026-05-18"},
    {"type": "pilgrim.arrived", "pilgrim_id": "P1", "airport": "JED"},
    {"type": "vehicle.position", "vehicle_id": "B1", "kind": "bus", "lat": 21.5,
     "lon": 39.2, "speed_kmh": 40, "heading": 90},
    {"type": "iata.message", "text": "BSM\n.V/1LJED\n.F/SV5123/18MAY/CGK\n.N/0065123456\nENDBSM"},
]  # fmt: skip


def event(n: int = 0, **fields: Any) -> dict[str, Any]:
    return {"event_id": f"e{n}", "occurred_at": AT, "source": "hh-1", **VALID[n], **fields}


def raw(n: int = 0, **fields: Any) -> bytes:
    return orjson.dumps(event(n, **fields))


def reason(data: bytes) -> str:
    with pytest.raises(InvalidEvent) as caught:
        decode_event(data)
    return str(caught.value)


def outcome(data: bytes) -> AnyEvent | str:
    """The only two results decoding may have: an event, or the reason it is not one."""
    try:
        return decode_event(data)
    except InvalidEvent as exc:
        assert str(exc), "a dead letter always says why"
        return str(exc)


# ---- properties --------------------------------------------------------------------------


@given(st.binary(max_size=2048))
@settings(max_examples=800, suppress_health_check=[HealthCheck.too_slow])
def test_any_bytes_give_an_event_or_a_reason(data: bytes) -> None:
    outcome(data)


def _mutate(data: bytes, rng: random.Random, edits: int) -> bytes:
    out = bytearray(data)
    specials = b'\x00\x1f\x7f\\"{}[],:\xff\xc3'
    for _ in range(edits):
        choice = rng.randrange(5)
        at = rng.randrange(len(out) + 1)
        if choice == 0 and out:
            del out[min(at, len(out) - 1)]
        elif choice == 1:
            out[at:at] = bytes([rng.choice(specials)])
        elif choice == 2 and out:
            out[min(at, len(out) - 1)] = rng.randrange(256)
        elif choice == 3:
            out[at:at] = rng.choice([b"\\u0000", b"\\u001f", b"\\ud800", b"[" * 40, b'"x":'])
        else:
            out[at:at] = data[rng.randrange(len(data)) :][: rng.randrange(64)]
    return bytes(out)


@given(st.integers(0, len(VALID) - 1), st.integers(0, 2**32), st.integers(1, 8))
@settings(max_examples=800)
def test_mutated_valid_events_give_an_event_or_a_reason(n: int, seed: int, edits: int) -> None:
    result = outcome(_mutate(raw(n), random.Random(seed), edits))
    if not isinstance(result, str):
        # Whatever was accepted obeys the rules: no control character in an id.
        assert all(ch >= " " and ch != "\x7f" for ch in result.event_id)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children) | st.dictionaries(st.text(), children),
    max_leaves=40,
)


@given(st.data(), st.integers(0, len(VALID) - 1), json_values)
@settings(max_examples=300)
def test_any_value_in_any_field_gives_an_event_or_a_reason(
    data: st.DataObject, n: int, value: object
) -> None:
    name = data.draw(st.sampled_from([*event(n), "extra"]) | st.text(min_size=1))
    # The standard encoder: integers beyond 64 bits, non-ASCII as is.
    outcome(json.dumps(event(n, **{name: value}), ensure_ascii=False).encode())


# ---- every valid sample is valid (the tests below change one thing) ---------------------


@pytest.mark.parametrize("n", range(len(VALID)))
def test_samples_are_valid(n: int) -> None:
    assert not isinstance(outcome(raw(n)), str)


# ---- control characters ------------------------------------------------------------------

STRING_FIELDS = [
    (n, name)
    for n, sample in enumerate(VALID)
    for name, value in {**sample, "event_id": "x", "source": "y"}.items()
    if isinstance(value, str) and name not in ("type", "city", "destination", "airport")
    and name not in ("checkpoint", "kind", "tag", "origin")
    and not name.startswith("scheduled")
]  # fmt: skip


@pytest.mark.parametrize(("n", "name"), STRING_FIELDS)
@pytest.mark.parametrize("char", ["\x00", "\x01", "\x1f", "\x7f", "\n"])
def test_a_control_character_in_any_string_field_is_refused(n: int, name: str, char: str) -> None:
    if name == "text" and char == "\n":
        return  # allowed inside an IATA message text (next test)
    value = str(event(n)[name])
    assert "control character" in reason(raw(n, **{name: value[:1] + char + value[1:]}))


def test_tab_cr_lf_are_allowed_in_an_iata_text_only() -> None:
    assert not isinstance(outcome(raw(8, text="BSM\r\n.V/1LJED\t\nENDBSM")), str)
    assert "control character" in reason(raw(8, text="BSM\x00\nENDBSM"))
    assert "control character" in reason(raw(8, source="a\tb"))


def test_control_characters_in_unknown_fields_and_keys_are_refused() -> None:
    assert "control character" in reason(raw(5, note="hh\x00x"))
    assert "control character" in reason(raw(5, **{"k\x01": "v"}))
    assert "control character" in reason(raw(5, deep={"a": ["\x7f"]}))
    # An escaped backslash followed by "u0000" is text, not a NUL.
    data = raw(5)[:-1] + rb',"note":"C:\\u0000"}'
    assert not isinstance(outcome(data), str)


def test_nul_in_flight_id_and_source_are_refused_with_the_field_named() -> None:
    assert "`$.flight_id`" in reason(raw(5, flight_id="ZZ\x00X"))
    assert "`$.source`" in reason(raw(5, source="hh\x00x"))


# ---- lengths and sizes -------------------------------------------------------------------


ID_FIELDS = [(0, "hotel_id"), (5, "flight_id"), (2, "pilgrim_id"), (4, "vehicle_id"),
             (0, "event_id"), (2, "passport_no")]  # fmt: skip


@pytest.mark.parametrize(("n", "name"), ID_FIELDS)
def test_ids_are_1_to_64_characters(n: int, name: str) -> None:
    assert not isinstance(outcome(raw(n, **{name: "é" * 64})), str)
    assert "length <= 64" in reason(raw(n, **{name: "x" * 65}))
    assert "length >= 1" in reason(raw(n, **{name: ""}))


def test_names_at_most_200_characters() -> None:
    assert not isinstance(outcome(raw(0, name="n" * 200)), str)
    assert "length <= 200" in reason(raw(0, name="n" * 201))
    assert "length <= 200" in reason(raw(2, name="n" * 201))


def test_text_at_most_16_kib() -> None:
    assert not isinstance(outcome(raw(8, text="B" * 16384)), str)
    assert "16384" in reason(raw(8, text="B" * 16385))
    # 16 KiB is bytes: 6,000 three-byte characters are 18,000 bytes.
    assert "16384" in reason(raw(8, text="€" * 6000))


def test_one_event_at_most_64_kib() -> None:
    base = len(raw(5, pad=""))
    assert not isinstance(outcome(raw(5, pad="p" * (MAX_EVENT_BYTES - base))), str)
    assert "too large" in reason(raw(5, pad="p" * (MAX_EVENT_BYTES - base + 1)))
    assert "too large" in reason(raw(5, pad="p" * 2_000_000))


def _nested(depth: int) -> object:
    """A value that makes an event `depth` levels deep (the event object is one)."""
    value: object = 1
    for _ in range(depth - 1):
        value = [value]
    return value


def test_nesting_at_most_32_levels() -> None:
    assert not isinstance(outcome(raw(5, extra=_nested(MAX_DEPTH))), str)
    assert "deeper than 32" in reason(raw(5, extra=_nested(MAX_DEPTH + 1)))


def test_a_1000_deep_value_is_a_reason_not_a_recursion_error() -> None:
    assert "deeper than 32" in reason(b"[" * 1000 + b"]" * 1000)
    assert "deeper than 32" in reason(b'{"a":' * 1000 + b"1" + b"}" * 1000)
    assert "deeper than 32" in reason(b"[" * 60_000)


def test_brackets_inside_strings_do_not_count_as_depth() -> None:
    assert not json_depth_exceeds(b'{"a": "' + b"[{" * 100 + b'", "b": "\\"[["}')
    assert not isinstance(outcome(raw(5, note="[" * 200)), str)


def test_bad_utf8_is_refused() -> None:
    assert "not UTF-8" in reason(raw(5)[:-1] + b',"n":"\xff"}')
    assert "not UTF-8" in reason(b"\xc3(")


def test_lone_surrogate_escapes_are_refused() -> None:
    assert "not JSON" in reason(raw(5)[:-1] + rb',"n":"\ud800"}')
    assert "not JSON" in reason(raw(5)[:-1] + rb',"n":"\udc00"}')


def test_event_from_object_applies_the_same_rules() -> None:
    with pytest.raises(InvalidEvent, match="control character"):
        event_from_object(event(5, flight_id="A\x00"))
    with pytest.raises(InvalidEvent):
        event_from_object(event(5, extra=_nested(300)))


# ---- dead letters and personal data ------------------------------------------------------


def test_dead_letters_are_masked_truncated_and_described() -> None:
    original = raw(2) + b" " + b"j" * 200_000
    letter = DeadLetter.of("http:x:0", "http", "not JSON", original)
    assert b"X1234567" not in letter.raw and MASK.encode() in letter.raw
    assert len(letter.raw) == MAX_DEAD_LETTER_BYTES and letter.truncated
    assert letter.length == len(original)
    assert letter.sha256 == hashlib.sha256(original).hexdigest()
    small = DeadLetter.of("r", "s", "reason\x00with NUL", b"{}")
    assert (small.truncated, small.length, small.reason) == (False, 2, "reason?with NUL")


def test_masking_works_on_text_that_is_not_json() -> None:
    junk = (
        b'garbage {"passport_no" :"A 12\\"34", "passport\\u005fno": "B99"\n'
        b"BSM\n.P/1AHMED/ALI\n.N/0065123456\nSSR DOCS HK1/P/IDN/C7654321/IDN/01JAN80/M\n"
    )
    masked = mask_personal_data(junk)
    for secret in (b"A 12", b"B99", b"AHMED", b"C7654321"):
        assert secret not in masked
    assert b".N/0065123456" in masked


def test_batch_dead_letters_never_hold_a_passport_number() -> None:
    bad = raw(2, nationality="I")  # invalid (too short), with a passport number
    batch = decode_batch([InputRecord(bad, "t", 0, 7)])
    assert [d.source_ref for d in batch.dead] == ["kafka:t:0:7"]
    assert b"X1234567" not in batch.dead[0].raw


def test_journal_payload_masks_the_passport_number() -> None:
    data = raw(2)
    item = Accepted(InputRecord(data, "t", 0, 1), decode_event(data))
    payload = journal_payload(item)
    assert "X1234567" not in payload
    assert orjson.loads(payload) == {**event(2), "passport_no": MASK}
    assert payload == raw(2).decode().replace("X1234567", MASK)  # byte-exact otherwise
    other = Accepted(InputRecord(raw(5), "t", 0, 2), decode_event(raw(5)))
    assert journal_payload(other) == raw(5).decode()


@pytest.mark.parametrize(
    "spelling",
    [rb'"passport_no": "X1234567"', rb'"\u0070assport_no":"X1234567"',
     rb'"passport_no":"X1234567","passport_no":"X1234567"'],
)  # fmt: skip
def test_the_passport_is_masked_however_the_key_is_written(spelling: bytes) -> None:
    body = orjson.dumps({k: v for k, v in event(2).items() if k != "passport_no"})
    data = body[:-1] + b"," + spelling + b',"big":123456789012345678901234567890}'
    item = Accepted(InputRecord(data, "t", 0, 1), decode_event(data))
    assert "X1234567" not in journal_payload(item)
    assert b"X1234567" not in seal_passport(data, item.event, b"k")


def test_passport_hash_is_keyed_and_normalised() -> None:
    assert passport_hash(b"k", "x12 345-67") == passport_hash(b"k", "X1234567")
    assert passport_hash(b"k", "X1234567") != passport_hash(b"other", "X1234567")
    assert "X1234567" not in passport_hash(b"k", "X1234567")
    item = Accepted(InputRecord(raw(2), "t", 0, 1), decode_event(raw(2)))
    assert sealed_hash(b"k", [item]) == passport_hash(b"k", "X1234567")


def sealed_hash(key: bytes, items: list[Accepted]) -> str | None:
    """The passport hash the stream keeps for P1 after folding `items`."""
    pilgrims: dict[str, PilgrimState] = {"P1": PilgrimState("P1")}
    for item in items:
        assert isinstance(item.event, PilgrimRegistered)
        pilgrims["P1"].apply(item.event)
    seal_registrations(key, pilgrims, items)
    return pilgrims["P1"].passport_hash


def test_only_the_winning_registration_gives_the_hash_in_any_order() -> None:
    older = Accepted(InputRecord(raw(2), "t", 0, 1), decode_event(raw(2)))
    later_body = raw(2, event_id="e9", occurred_at="2026-05-21T00:00:00Z", passport_no="Y7654321")
    newer = Accepted(InputRecord(later_body, "t", 0, 2), decode_event(later_body))
    expected = passport_hash(b"k", "Y7654321")
    assert sealed_hash(b"k", [older, newer]) == expected
    assert sealed_hash(b"k", [newer, older]) == expected
    without = raw(2, event_id="e10", occurred_at="2026-05-22T00:00:00Z", passport_no=None)
    latest = Accepted(InputRecord(without, "t", 0, 3), decode_event(without))
    assert sealed_hash(b"k", [older, latest]) is None


def test_the_intake_publishes_a_registration_with_the_hash_not_the_number() -> None:
    sealed = seal_passport(raw(2), decode_event(raw(2)), b"k")
    assert b"X1234567" not in sealed
    event = decode_event(sealed)  # still a valid event: the hash fits the id limit
    assert isinstance(event, PilgrimRegistered)
    assert event.passport_no == passport_hash(b"k", "X1234567")
    # The worker keeps a sealed value as it is, so both paths give the same hash.
    item = Accepted(InputRecord(sealed, "t", 0, 1), event)
    assert sealed_hash(b"k", [item]) == passport_hash(b"k", "X1234567")
    assert seal_passport(raw(5), decode_event(raw(5)), b"k") == raw(5)


# ---- splitting a posted body -------------------------------------------------------------


def test_split_array_keeps_each_items_bytes() -> None:
    items = [raw(5), raw(0), b'"not an object"', b"[" * 300 + b"]" * 300]
    body = b"[ " + b" ,\n".join(items) + b" ]"
    assert split_body(body) == items


_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.text(st.characters(exclude_categories=("Cs",)), max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text('abc"\\', max_size=4), inner)
    ),
    max_leaves=8,
)


@given(_JSON, st.sampled_from([b"", b" ", b"\n", b" \r\n\t"]))
def test_a_one_item_array_splits_as_the_scan_splits_it(item: object, space: bytes) -> None:
    """The one-item fast path (orjson) gives the scan's bytes exactly."""
    body = b"[" + space + orjson.dumps(item) + space + b"]"
    assert split_body(body) == split_array(body) == [orjson.dumps(item)]


def test_split_json_lines() -> None:
    assert split_body(raw(5) + b"\n\n" + raw(0) + b"\r\n") == [raw(5), raw(0)]


@pytest.mark.parametrize(
    "body",
    [b"junk\n" * 1000, b"[1, 2", b"[1] 2", b"x[1]", b"]", b"[1,,2]", b"[1,]"],
)
def test_a_body_that_is_not_an_array_or_lines_of_objects_is_refused(body: bytes) -> None:
    with pytest.raises(ValueError):
        split_body(body)


def test_more_than_10000_events_is_too_many() -> None:
    assert len(split_body(b"[" + b",".join([b"{}"] * MAX_EVENTS) + b"]")) == MAX_EVENTS
    with pytest.raises(TooManyEvents):
        split_body(b"[" + b",".join([b"{}"] * (MAX_EVENTS + 1)) + b"]")
    with pytest.raises(TooManyEvents):
        split_body(b"{}\n" * (MAX_EVENTS + 1))


# ---- replay files ------------------------------------------------------------------------


def test_replay_sends_bad_lines_for_dead_letters_and_reports_unsendable_ones(
    tmp_path: Path,
) -> None:
    path = tmp_path / "r.jsonl"
    lines = [raw(5), b"[" * 1000 + b"]" * 1000, raw(5, flight_id="A\x00"), b"x" * 1_000_000]
    path.write_bytes(b"\n".join(lines) + b"\n")
    oversize: list[int] = []
    sent = list(read_lines(path, oversize))
    assert [line.value for line in sent] == lines[:3]  # the worker dead-letters 2 and 3
    assert [line.key is not None for line in sent] == [True, False, False]
    assert oversize == [4]
