"""Hotel notices, the pure part: ids, body, signature, retry schedule."""

from __future__ import annotations

import hashlib
import hmac
import random
from datetime import UTC, datetime, timedelta, timezone

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dashboards.notices_api import webhook_problem
from tariq.domain.notices import (
    FAST_SCHEDULE,
    Notice,
    RetrySchedule,
    bags_delivered,
    bags_en_route,
    encode_body,
    notice_id,
    sign,
    verify,
)

LEFT = datetime(2026, 5, 18, 6, 30, tzinfo=UTC)
ETA = LEFT + timedelta(minutes=75)
tags = st.lists(st.from_regex(r"\A[0-9]{10}\Z"), min_size=1, max_size=8)


def en_route(**changes: object) -> Notice:
    fields: dict[str, object] = {
        "hotel_id": "H-MAK-001",
        "vehicle_id": "TRK-7",
        "trip_id": "trip-1",
        "tags": ["0123456789", "0987654321"],
        "eta": ETA,
        "occurred_at": LEFT,
    }
    fields.update(changes)
    return bags_en_route(**fields)  # type: ignore[arg-type]


def test_body_has_the_contract_fields_in_canonical_form() -> None:
    body = encode_body(en_route())
    assert orjson.loads(body) == {
        "notice_id": en_route().notice_id,
        "hotel_id": "H-MAK-001",
        "kind": "bags_en_route",
        "vehicle_id": "TRK-7",
        "tags": ["0123456789", "0987654321"],
        "eta": "2026-05-18T07:45:00Z",
        "occurred_at": "2026-05-18T06:30:00Z",
    }
    # Compact, sorted keys: the bytes are a function of the notice alone.
    assert body.startswith(b'{"eta":"2026-05-18T07:45:00Z","hotel_id":')
    assert b" " not in body


def test_delivered_notice_has_no_eta() -> None:
    notice = bags_delivered(
        hotel_id="H-MAK-001", tags=["0123456789"], event_ids=["e-9"], occurred_at=LEFT
    )
    body = orjson.loads(encode_body(notice))
    assert body["kind"] == "bags_delivered"
    assert body["eta"] is None
    assert body["vehicle_id"] is None


@given(tags, st.randoms())
def test_notice_id_is_stable_whatever_the_order_and_repeats(
    bag_tags: list[str], rnd: random.Random
) -> None:
    shuffled = [*bag_tags, *bag_tags]
    rnd.shuffle(shuffled)
    first = en_route(tags=bag_tags)
    again = en_route(tags=shuffled, eta=ETA + timedelta(minutes=9), occurred_at=LEFT)
    assert first.notice_id == again.notice_id
    assert encode_body(first) != encode_body(again)  # the ETA moved, the identity did not


def test_notice_id_changes_with_what_caused_it() -> None:
    base = en_route()
    assert en_route(trip_id="trip-2").notice_id != base.notice_id
    assert en_route(vehicle_id="TRK-8").notice_id != base.notice_id
    assert en_route(hotel_id="H-MAK-002").notice_id != base.notice_id
    # One notice per departure: a bag processed late does not make another of the trip.
    assert en_route(tags=["0123456789"]).notice_id == base.notice_id
    delivered = notice_id("bags_delivered", "H-MAK-001", "TRK-7", ["trip-1"], base.tags)
    assert delivered != base.notice_id


def test_delivered_notice_id_depends_on_the_scans_not_their_order() -> None:
    one = bags_delivered(hotel_id="H", tags=["1", "2"], event_ids=["e-1", "e-2"], occurred_at=LEFT)
    two = bags_delivered(
        hotel_id="H", tags=["2", "1"], event_ids=["e-2", "e-1", "e-2"], occurred_at=LEFT
    )
    other = bags_delivered(hotel_id="H", tags=["1", "2"], event_ids=["e-3"], occurred_at=LEFT)
    assert one.notice_id == two.notice_id
    assert one.notice_id != other.notice_id


def test_times_without_offset_are_refused() -> None:
    with pytest.raises(ValueError, match="UTC offset"):
        en_route(eta=datetime(2026, 5, 18, 7, 45))


def test_signature_is_the_hmac_of_the_raw_body() -> None:
    body = encode_body(en_route())
    expected = hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    assert sign(body, "s3cret") == f"sha256={expected}"


@given(st.binary(), st.text(min_size=1))
def test_verify_accepts_exactly_the_right_signature(body: bytes, secret: str) -> None:
    header = sign(body, secret)
    assert verify(body, secret, header)
    assert not verify(body + b"x", secret, header)
    assert not verify(body, secret + "x", header)
    assert not verify(body, secret, header.removeprefix("sha256="))
    assert not verify(body, secret, None)
    assert not verify(body, secret, "sha256=ünïcode")


def test_retry_schedule_doubles_up_to_the_cap() -> None:
    schedule = RetrySchedule(first_s=1.0, factor=2.0, cap_s=300.0, jitter=0.0)
    delays = [schedule.delay(n, 0.5) for n in range(1, 12)]
    assert delays == [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300]
    assert schedule.delay(10_000, 0.0) == 300  # a week-long outage does not overflow


@given(st.integers(min_value=1, max_value=5_000), st.floats(min_value=0, max_value=0.999999))
def test_jitter_only_shortens_within_its_fraction(failures: int, rand: float) -> None:
    schedule = RetrySchedule(first_s=1.0, factor=2.0, cap_s=300.0, jitter=0.25)
    plain = RetrySchedule(first_s=1.0, factor=2.0, cap_s=300.0, jitter=0.0)
    delay = schedule.delay(failures, rand)
    assert 0.75 * plain.delay(failures, 0) <= delay <= plain.delay(failures, 0)


def test_fast_schedule_is_short_and_bad_schedules_are_refused() -> None:
    assert FAST_SCHEDULE.delay(50, 0.0) <= 0.05
    with pytest.raises(ValueError):
        RetrySchedule(first_s=0)
    with pytest.raises(ValueError):
        RetrySchedule(jitter=1.0)
    with pytest.raises(ValueError):
        FAST_SCHEDULE.delay(0, 0.0)


def test_times_in_other_offsets_are_sent_as_given() -> None:
    riyadh = timezone(timedelta(hours=3))
    body = orjson.loads(encode_body(en_route(eta=ETA.astimezone(riyadh))))
    assert body["eta"] == "2026-05-18T10:45:00+03:00"


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ({"url": "https://hotel.example/hook", "secret": "k"}, None),
        ({"url": "http://127.0.0.1:9000/n", "secret": "k"}, None),
        ({"url": "ftp://hotel.example/hook", "secret": "k"}, "http"),
        ({"url": "/relative", "secret": "k"}, "http"),
        ({"url": "https://hotel.example/hook", "secret": "  "}, "secret"),
        ({"url": "https://hotel.example/hook"}, "secret"),
        ({"secret": "k"}, "url"),
        (["https://hotel.example/hook", "k"], "object"),
    ],
)
def test_webhook_body_validation(body: object, problem: str | None) -> None:
    found = webhook_problem(body)
    if problem is None:
        assert found is None
    else:
        assert found is not None and problem in found
