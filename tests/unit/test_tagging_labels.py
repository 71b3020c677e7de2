"""Makkah Route labels: text form, payload with check character, SVG."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tagging.labels import (
    ALPHABET,
    Label,
    LabelError,
    decode,
    decode_payload,
    decode_text,
    encode_payload,
    encode_text,
    render_svg,
)
from tagging.symbols import DOT_MM, ITF_NARROW_DOTS, ITF_WIDE_DOTS, SymbolError, itf_bars
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


def test_svg_shows_the_label_an_itf_of_the_tag_and_a_qr_of_the_payload() -> None:
    svg = render_svg(LABEL)
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    for shown in ("JED", "L07", "hotel-mak-0042", "SV5123-2026-05-18", "0065123456", "Ahmed Ali"):
        assert shown in svg
    itf = re.search(r'<g [^>]*data-symbol="itf"[^>]*>(.*?)</g>', svg, re.S)
    assert itf is not None
    # Start: 2 bars; each digit pair: 5 bars (the first digit's); stop: 2 bars.
    assert len(re.findall(r"<rect ", itf.group(1))) == 2 + 5 * 5 + 2
    assert 'data-symbol="qr"' in svg
    assert "Ahmed" not in render_svg(LABEL.without_name())


def test_itf_elements_are_whole_dots_wide_enough_for_203_dpi() -> None:
    bars = itf_bars("0065123456")
    widths = {w for _, w in bars.bars}
    assert widths == {ITF_NARROW_DOTS, ITF_WIDE_DOTS}
    assert ITF_NARROW_DOTS * DOT_MM >= 0.25  # module width at least 0.25 mm
    assert 2.25 <= ITF_WIDE_DOTS / ITF_NARROW_DOTS <= 3.0
    first_bar, (last_x, last_w) = bars.bars[0][0], bars.bars[-1]
    assert first_bar >= 10 * ITF_NARROW_DOTS  # quiet zones of 10 X
    assert bars.width_dots - (last_x + last_w) >= 10 * ITF_NARROW_DOTS
    # The whole symbol with its quiet zones fits the label's left 60 mm.
    assert bars.width_dots * DOT_MM < 60
    with pytest.raises(SymbolError):
        itf_bars("123")


def test_arabic_label_is_set_right_to_left_with_ids_isolated() -> None:
    arabic = Label(LABEL.tag, "ID-000123", "SV5123-2026-05-18", "JED", "hotel-mak-0042", 7,
                   "أحمد علي")  # fmt: skip
    svg = render_svg(arabic, "ar")
    assert 'xml:lang="ar"' in svg and "الفندق" in svg and "الرحلة" in svg
    name = re.search(r"<text [^>]*>أحمد علي</text>", svg)
    assert name is not None and 'direction="rtl"' in name.group(0)
    assert '<tspan direction="ltr" unicode-bidi="isolate">hotel-mak-0042</tspan>' in svg
    # An Arabic name on an English label is still set right to left.
    assert 'direction="rtl"' in render_svg(arabic, "en")
    with pytest.raises(LabelError, match="language"):
        render_svg(LABEL, "xx")


def test_text_from_ids_and_names_is_escaped() -> None:
    odd = Label(LABEL.tag, "<p>", "f&g", "JED", 'h"1', None, "<script>\x01")
    svg = render_svg(odd)
    assert "<script>" not in svg and "&lt;script&gt;" in svg and "\x01" not in svg
