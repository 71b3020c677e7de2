"""Makkah Route labels: text form, payload with check character, SVG."""

from __future__ import annotations

import re
import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tagging.labels import (
    ALPHABET,
    Label,
    LabelError,
    code39_bars,
    decode,
    decode_payload,
    decode_text,
    encode_payload,
    encode_text,
    render_svg,
)
from tagging.tags import make_tag

LABEL = Label(
    make_tag("065", 123456),
    "ID-000123",
    "SV5123-2026-05-18",
    "JED",
    "hotel-mak-0042",
    7,
    "Ahmed Ali",
)

ids = st.text(min_size=1, max_size=64).filter(lambda s: s.encode("utf-8", "strict") is not None)
labels = st.builds(
    Label,
    st.builds(make_tag, st.integers(0, 999), st.integers(0, 999_999), st.integers(0, 9)),
    ids,
    ids,
    st.sampled_from(["JED", "MED"]),
    ids,
    st.none() | st.integers(1, 24),
    st.none() | st.text(max_size=30),
)


def test_payload_and_text_of_a_label() -> None:
    payload = encode_payload(LABEL)
    assert payload.startswith("MR1/0065123456/SV5123-2026-05-18/JED/+H+O+T+E+L-+M+A+K-0042/07/")
    assert set(payload) <= set(ALPHABET)
    text = encode_text(LABEL)
    assert text.startswith("0065123456 SV5123-2026-05-18 JED L07 hotel-mak-0042 ID-000123 ")
    assert text[-1] == payload[-1]
    assert "Ahmed" not in payload and "Ahmed" not in text  # the name stays off the codes


@given(labels)
def test_label_round_trips(label: Label) -> None:
    expected = label.without_name()
    assert decode_payload(encode_payload(label)) == expected
    assert decode_text(encode_text(label)) == expected
    assert decode(encode_payload(label)) == expected


@given(labels, st.data())
def test_a_single_misread_is_detected(label: Label, data: st.DataObject) -> None:
    payload = encode_payload(label)
    position = data.draw(st.integers(0, len(payload) - 1))
    wrong = data.draw(st.sampled_from(ALPHABET).filter(lambda c: c != payload[position]))
    misread = payload[:position] + wrong + payload[position + 1 :]
    with pytest.raises(LabelError):
        decode_payload(misread)


@given(labels, st.data())
def test_swapped_neighbours_are_detected(label: Label, data: st.DataObject) -> None:
    payload = encode_payload(label)
    body = payload[:-2]
    position = data.draw(st.integers(0, len(body) - 2))
    if body[position] == body[position + 1]:
        return
    swapped = (
        body[:position] + body[position + 1] + body[position] + body[position + 2 :] + payload[-2:]
    )
    with pytest.raises(LabelError):
        decode_payload(swapped)


@pytest.mark.parametrize(
    ("code", "says"),
    [
        ("MR1/0065123456/X/JED/H/07/P", "check"),
        ("0065123456 SV1 JED L07 h p", "6 parts, expected 7"),
        ("0065123456 SV1 JED L7 h p K", "lane"),
        ("00651234 SV1 JED L07 h p K", "10 digits"),
    ],
)
def test_bad_codes_say_why(code: str, says: str) -> None:
    with pytest.raises(LabelError, match=says):
        decode(code)


def test_payload_needs_its_prefix() -> None:
    with pytest.raises(LabelError, match="must start with MR1/"):
        decode_payload("XX1/0065123456/X/JED/H/07/P/A")


def test_label_refuses_bad_fields() -> None:
    with pytest.raises(LabelError, match="airport"):
        Label(make_tag("065", 1), "p", "f", "jed", "h")
    with pytest.raises(LabelError, match="lane"):
        Label(make_tag("065", 1), "p", "f", "JED", "h", 0)
    with pytest.raises(LabelError, match="hotel id"):
        Label(make_tag("065", 1), "p", "f", "JED", "")


def test_svg_shows_the_label_and_a_code39_of_the_payload() -> None:
    svg = render_svg(LABEL)
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    for shown in ("JED", "L07", "hotel-mak-0042", "SV5123-2026-05-18", "0065123456", "Ahmed Ali"):
        assert shown in svg
    payload = encode_payload(LABEL)
    # 9 elements per character, 5 of them bars, plus start and stop.
    assert len(re.findall(r"<rect x=", svg)) == 5 * (len(payload) + 2)
    assert "Ahmed" not in render_svg(LABEL.without_name())


def test_code39_has_three_wide_elements_per_character() -> None:
    for char in string.digits + string.ascii_uppercase + "-./+%":
        bars = code39_bars(char, narrow=1, wide=3)
        # start, char, stop: each 9 elements (3 wide) -> width 3*(6+9) + 2 gaps
        assert bars[-1][0] + bars[-1][1] == 3 * 15 + 2
