"""The Makkah Route bag label: printed text form, barcode/QR payload, SVG rendering.

The label ties a tag to pilgrim, flight, arrival airport, hotel and sort lane. Both codes
carry ids only, never the pilgrim's name or passport number: anyone near a bag can read its
label. The name, when given, is printed on the label for the porters and nowhere else.

Payload (for a QR code in alphanumeric mode or a Code 39 barcode; 41-character alphabet
`0-9 A-Z - . / + %`):  `MR1/<tag>/<flight>/<airport>/<hotel>/<lane>/<pilgrim>/<check>`,
where in ids a lowercase letter x is written `+X` and any other character outside
`0-9 A-Z - .` as `%HH` (each UTF-8 byte). The check character is a weighted sum modulo 41
(a prime larger than the alphabet), so any single misread character and any swap of two
neighbouring characters is detected.

Text form (one printable line, for people and for typing in):
`<tag> <flight> <airport> L<lane> <hotel> <pilgrim> <check>` with `%HH` escapes for
spaces, `%` and non-printable characters in ids; the check is the payload's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Final
from xml.sax.saxutils import escape

from tagging.tags import BagTag, TagError, parse_tag

ALPHABET: Final = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-./+%"
_VALUE: Final = {char: value for value, char in enumerate(ALPHABET)}
_MODULUS: Final = 41
_LITERAL: Final = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-.")
PAYLOAD_PREFIX: Final = "MR1"
MAX_LANE: Final = 99
_MAX_ID: Final = 64
_AIRPORT: Final = re.compile(r"[A-Z]{3}")


class LabelError(ValueError):
    """A label, payload or text form that is not valid; the message says why."""


@dataclass(frozen=True, slots=True)
class Label:
    tag: BagTag
    pilgrim_id: str
    flight_id: str
    airport: str  # arrival airport, JED or MED
    hotel_id: str
    lane: int | None = None  # sort lane at the arrival airport, when planned
    pilgrim_name: str | None = None  # printed only; never in the codes

    def __post_init__(self) -> None:
        if not isinstance(self.tag, BagTag):
            raise LabelError(f"tag must be a BagTag, got {self.tag!r}")
        for value, what in (
            (self.pilgrim_id, "pilgrim id"),
            (self.flight_id, "flight id"),
            (self.hotel_id, "hotel id"),
        ):
            if not isinstance(value, str) or not 0 < len(value) <= _MAX_ID:
                raise LabelError(f"{what} must be 1–64 characters, got {value!r}")
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise LabelError(f"{what} {value!r} is not valid Unicode text") from None
        if _AIRPORT.fullmatch(self.airport) is None:
            raise LabelError(f"arrival airport must be a 3-letter IATA code, got {self.airport!r}")
        if self.lane is not None and not 1 <= self.lane <= MAX_LANE:
            raise LabelError(f"lane must be 1–{MAX_LANE}, got {self.lane}")

    def without_name(self) -> Label:
        return replace(self, pilgrim_name=None)


def check_character(text: str) -> str:
    """The check character of a payload body (characters of `ALPHABET` only)."""
    total = 0
    for position, char in enumerate(text):
        value = _VALUE.get(char)
        if value is None:
            raise LabelError(f"character {char!r} is not in the payload alphabet")
        # Weights 1..40 never reach 0 mod 41; neighbours' weights always differ.
        total += (position % (_MODULUS - 1) + 1) * value
    return ALPHABET[total % _MODULUS]


def _escape_payload(value: str) -> str:
    out: list[str] = []
    for char in value:
        if char in _LITERAL:
            out.append(char)
        elif "a" <= char <= "z":
            out.append("+" + char.upper())
        else:
            out.extend(f"%{byte:02X}" for byte in char.encode("utf-8"))
    return "".join(out)


def _unescape(value: str, *, plus_lowercase: bool) -> str:
    data = bytearray()
    index = 0
    while index < len(value):
        char = value[index]
        if char == "%":
            pair = value[index + 1 : index + 3]
            if len(pair) != 2 or any(c not in "0123456789ABCDEF" for c in pair):
                raise LabelError(f"bad escape {value[index : index + 3]!r} in {value!r}")
            data.append(int(pair, 16))
            index += 3
        elif char == "+" and plus_lowercase:
            letter = value[index + 1 : index + 2]
            if not ("A" <= letter <= "Z" and len(letter) == 1):
                raise LabelError(f"'+' must precede a capital letter in {value!r}")
            data.extend(letter.lower().encode())
            index += 2
        else:
            data.extend(char.encode("utf-8"))
            index += 1
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise LabelError(f"escapes in {value!r} are not UTF-8") from None


def encode_payload(label: Label) -> str:
    """The machine-readable payload with its check character."""
    lane = "" if label.lane is None else f"{label.lane:02d}"
    fields = (
        PAYLOAD_PREFIX,
        str(label.tag),
        _escape_payload(label.flight_id),
        label.airport,
        _escape_payload(label.hotel_id),
        lane,
        _escape_payload(label.pilgrim_id),
    )
    body = "/".join(fields)
    return f"{body}/{check_character(body)}"


def decode_payload(payload: str) -> Label:
    """A label from its payload; a misread (bad check) or malformed payload is a LabelError."""
    payload = payload.strip()
    if not payload.startswith(PAYLOAD_PREFIX + "/"):
        raise LabelError(f"payload must start with {PAYLOAD_PREFIX}/, got {payload[:12]!r}")
    # The check character may itself be '/', so it is cut by position, not by splitting.
    body, separator, check = payload[:-2], payload[-2:-1], payload[-1:]
    if separator != "/":
        raise LabelError("payload must end with /<one check character>")
    expected = check_character(body)
    if check != expected:
        raise LabelError(f"check character is {check!r}, expected {expected!r}: misread")
    fields = body.split("/")
    if len(fields) != 7:
        raise LabelError(f"payload has {len(fields)} fields, expected 7")
    _, tag, flight, airport, hotel, lane, pilgrim = fields
    return _label(
        tag,
        _unescape(pilgrim, plus_lowercase=True),
        _unescape(flight, plus_lowercase=True),
        airport,
        _unescape(hotel, plus_lowercase=True),
        lane,
    )


def _label(tag: str, pilgrim: str, flight: str, airport: str, hotel: str, lane: str) -> Label:
    try:
        bag_tag = parse_tag(tag)
    except TagError as exc:
        raise LabelError(str(exc)) from None
    if lane and not (len(lane) == 2 and lane.isdigit() and lane.isascii()):
        raise LabelError(f"lane {lane!r} is not two digits")
    return Label(bag_tag, pilgrim, flight, airport, hotel, int(lane) if lane else None)


def _escape_text(value: str) -> str:
    out: list[str] = []
    for char in value:
        if char.isascii() and char.isprintable() and char not in " %":
            out.append(char)
        else:
            out.extend(f"%{byte:02X}" for byte in char.encode("utf-8"))
    return "".join(out)


def encode_text(label: Label) -> str:
    """The one-line printable form, e.g. `0065123456 SV5123-2026-05-18 JED L07 H42 P9 K`."""
    lane = "L--" if label.lane is None else f"L{label.lane:02d}"
    check = encode_payload(label)[-1]
    parts = (
        str(label.tag),
        _escape_text(label.flight_id),
        label.airport,
        lane,
        _escape_text(label.hotel_id),
        _escape_text(label.pilgrim_id),
        check,
    )
    return " ".join(parts)


def decode_text(text: str) -> Label:
    """A label from its text form; a wrong check character is a LabelError."""
    parts = text.split()
    if len(parts) != 7:
        raise LabelError(f"text form has {len(parts)} parts, expected 7")
    tag, flight, airport, lane, hotel, pilgrim, check = parts
    if not (lane == "L--" or (len(lane) == 3 and lane[0] == "L")):
        raise LabelError(f"lane part {lane!r} must be L<two digits> or L--")
    label = _label(
        tag,
        _unescape(pilgrim, plus_lowercase=False),
        _unescape(flight, plus_lowercase=False),
        airport,
        _unescape(hotel, plus_lowercase=False),
        "" if lane == "L--" else lane[1:],
    )
    expected = encode_payload(label)[-1]
    if check != expected:
        raise LabelError(f"check character is {check!r}, expected {expected!r}: mistyped")
    return label


def decode(text: str) -> Label:
    """A label from either its payload or its text form."""
    stripped = text.strip()
    if stripped.startswith(PAYLOAD_PREFIX + "/"):
        return decode_payload(stripped)
    return decode_text(stripped)


# Code 39 patterns (bar, space, bar, ...; w wide, n narrow); `*` is start/stop.
_CODE39: Final = dict(
    zip(
        "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-. $/+%*",
        (
            "nnnwwnwnn",
            "wnnwnnnnw",
            "nnwwnnnnw",
            "wnwwnnnnn",
            "nnnwwnnnw",
            "wnnwwnnnn",
            "nnwwwnnnn",
            "nnnwnnwnw",
            "wnnwnnwnn",
            "nnwwnnwnn",
            "wnnnnwnnw",
            "nnwnnwnnw",
            "wnwnnwnnn",
            "nnnnwwnnw",
            "wnnnwwnnn",
            "nnwnwwnnn",
            "nnnnnwwnw",
            "wnnnnwwnn",
            "nnwnnwwnn",
            "nnnnwwwnn",
            "wnnnnnnww",
            "nnwnnnnww",
            "wnwnnnnwn",
            "nnnnwnnww",
            "wnnnwnnwn",
            "nnwnwnnwn",
            "nnnnnnwww",
            "wnnnnnwwn",
            "nnwnnnwwn",
            "nnnnwnwwn",
            "wwnnnnnnw",
            "nwwnnnnnw",
            "wwwnnnnnn",
            "nwnnwnnnw",
            "wwnnwnnnn",
            "nwwnwnnnn",
            "nwnnnnwnw",
            "wwnnnnwnn",
            "nwwnnnwnn",
            "nwnwnwnnn",
            "nwnwnnnwn",
            "nwnnnwnwn",
            "nnnwnwnwn",
            "nwnnwnwnn",
        ),
        strict=True,
    )
)


def code39_bars(data: str, narrow: float = 1.0, wide: float = 2.5) -> list[tuple[float, float]]:
    """(x, width) of each bar of a Code 39 symbol for `data` (no check added: ours is in it)."""
    bars: list[tuple[float, float]] = []
    x = 0.0
    for char in f"*{data}*":
        pattern = _CODE39.get(char)
        if pattern is None:
            raise LabelError(f"character {char!r} cannot be written in Code 39")
        for index, element in enumerate(pattern):
            width = wide if element == "w" else narrow
            if index % 2 == 0:
                bars.append((x, width))
            x += width
        x += narrow  # gap between characters
    return bars


def render_svg(label: Label) -> str:
    """A 100 × 50 mm label: lane and airport big, hotel, flight, tag, ids and a Code 39 bar."""
    payload = encode_payload(label)
    bars = code39_bars(payload)
    bar_width = bars[-1][0] + bars[-1][1]
    scale = 92.0 / bar_width  # fit the symbol in 92 mm
    lane = "--" if label.lane is None else f"{label.lane:02d}"
    lines = [
        '<svg xmlns="http://www.w3.org/2000/svg" width="100mm" height="50mm" '
        'viewBox="0 0 100 50" font-family="DejaVu Sans Mono, monospace">',
        '<rect width="100" height="50" fill="#fff" stroke="#000" stroke-width="0.3"/>',
        f'<text x="4" y="12" font-size="11" font-weight="bold">{escape(label.airport)}</text>',
        f'<text x="96" y="12" font-size="11" font-weight="bold" text-anchor="end">L{lane}</text>',
        f'<text x="4" y="18" font-size="4">HOTEL {escape(label.hotel_id)}</text>',
        f'<text x="4" y="23" font-size="3.5">{escape(label.flight_id)}  '
        f"PILGRIM {escape(label.pilgrim_id)}</text>",
    ]
    if label.pilgrim_name:
        lines.append(f'<text x="4" y="27.5" font-size="3.5">{escape(label.pilgrim_name)}</text>')
    lines.append(f'<g transform="translate(4 29) scale({scale:.5f} 1)">')
    lines.extend(f'<rect x="{x:g}" y="0" width="{w:g}" height="12"/>' for x, w in bars)
    lines.append("</g>")
    lines.append(f'<text x="50" y="44" font-size="5" text-anchor="middle">{label.tag}</text>')
    lines.append(f'<text x="50" y="48" font-size="2.2" text-anchor="middle">{payload}</text>')
    lines.append("</svg>")
    return "\n".join(lines)
