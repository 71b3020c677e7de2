"""Bag tag numbers: parse, format, allocate."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tagging.tags import BagTag, SerialAllocator, TagError, format_tag, make_tag, parse_tag


def test_parse_names_the_parts() -> None:
    tag = parse_tag("0065123456")
    assert tag == BagTag(0, "065", 123456)
    assert tag.kind == "normal"
    assert str(tag) == "0065123456"
    assert parse_tag("2065000001").kind == "rush"
    assert parse_tag("1065000001").kind == "fallback"
    assert parse_tag("7065000001").kind == "airline"


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "empty"),
        ("006512345", "10 digits"),
        ("00651234567", "10 digits"),
        ("00651A3456", "non-digit 'A' at position 6"),
        ("006512345٦", "non-digit"),  # an Arabic-Indic digit is not an ASCII digit
    ],
)
def test_errors_say_what_is_wrong(text: str, says: str) -> None:
    with pytest.raises(TagError, match=says):
        parse_tag(text)


def test_format_tag_pads_and_checks() -> None:
    assert format_tag("065", 42) == "0065000042"
    assert format_tag(65, 42, kind="rush") == "2065000042"
    with pytest.raises(TagError, match="serial"):
        format_tag("065", 1_000_000)
    with pytest.raises(TagError, match="airline"):
        format_tag("65", 1)
    with pytest.raises(TagError, match="kind"):
        format_tag("065", 1, kind="urgent")


@given(
    digit=st.integers(0, 9),
    code=st.integers(0, 999),
    serial=st.integers(0, 999_999),
)
def test_tag_round_trip(digit: int, code: int, serial: int) -> None:
    tag = make_tag(code, serial, digit)
    assert parse_tag(str(tag)) == tag
    assert len(str(tag)) == 10


def test_allocator_never_collides_and_reuses_gaps() -> None:
    allocator = SerialAllocator()
    a = allocator.allocate("065", 1000, "CGK hall 1")
    b = allocator.allocate("065", 500, "CGK hall 2")
    other = allocator.allocate("071", 1000, "ISB hall")
    assert (a.start, a.stop) == (0, 1000)
    assert (b.start, b.stop) == (1000, 1500)
    assert (other.start, other.stop) == (0, 1000)  # carriers have separate spaces
    assert "0065000999" in a and "0065000999" not in b and "0071000999" not in a
    allocator.release(a)
    c = allocator.allocate("065", 200, "SUB hall")
    assert (c.start, c.stop) == (0, 200)
    d = allocator.allocate("065", 900, "SOC hall")  # does not fit in the 800 gap left
    assert d.start == 1500
    tags = [str(t) for r in allocator.ranges("065") for t in r.tags()]
    assert len(tags) == len(set(tags)) == 200 + 500 + 900


def test_allocator_refuses_overlap_and_exhaustion() -> None:
    allocator = SerialAllocator()
    allocator.reserve("065", 100, 200, "printer 1")
    with pytest.raises(TagError, match="overlap 100–199 held by printer 1"):
        allocator.reserve("065", 150, 160)
    allocator.allocate("065", 999_900 - 100)  # fills 200..999_999 except the first 100
    with pytest.raises(TagError, match="no free run of 200"):
        allocator.allocate("065", 200)
    assert allocator.free("065") == 100
    assert len(allocator.allocate("065", 100)) == 100
