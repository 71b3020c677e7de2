"""The Makkah Route bag label: printed text form, barcode/QR payload, SVG rendering.

The label ties a tag to pilgrim, flight, arrival airport, hotel and sort lane. Both codes
carry ids only, never the pilgrim's name or passport number: anyone near a bag can read its
label. The name, when given, is printed on the label for the porters and nowhere else.

Payload (for the label's QR code, in alphanumeric mode; 41-character alphabet
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


# Captions of the label's lines, per language (ids and codes are printed as they are).
CAPTIONS: Final[dict[str, dict[str, str]]] = {
    "en": {"hotel": "HOTEL", "flight": "FLIGHT", "pilgrim": "PILGRIM"},
    "ar": {"hotel": "الفندق", "flight": "الرحلة", "pilgrim": "الحاج"},
}
_RTL_RANGES: Final = ((0x0590, 0x08FF), (0xFB1D, 0xFDFF), (0xFE70, 0xFEFF), (0x0780, 0x07BF))


def _right_to_left(text: str) -> bool:
    """Whether the first strong character of `text` belongs to a right-to-left script."""
    for char in text:
        code = ord(char)
        if any(low <= code <= high for low, high in _RTL_RANGES):
            return True
        if char.isalpha():
            return False
    return False


def _clean(text: str) -> str:
    """Printable text for SVG: XML-escaped, without control characters (invalid in XML)."""
    return escape("".join(c for c in text if c.isprintable()))


def _line(x_ltr: float, y: float, size: float, text: str, rtl: bool) -> str:
    """A line of text; a right-to-left one runs from the right margin, shaped by the renderer
    (`direction`, `unicode-bidi` and `xml:lang` tell it the script's direction)."""
    if rtl:
        return (
            f'<text x="96" y="{y}" font-size="{size}" direction="rtl" unicode-bidi="embed"'
            f' text-anchor="start" xml:lang="ar">{text}</text>'
        )
    return f'<text x="{x_ltr}" y="{y}" font-size="{size}">{text}</text>'


def _ids(caption: str, value: str, rtl: bool) -> str:
    # An id inside right-to-left text is isolated, so it reads left to right as printed.
    shown = _clean(value)
    if rtl:
        return f'{caption} <tspan direction="ltr" unicode-bidi="isolate">{shown}</tspan>'
    return f"{caption} {shown}"


def render_svg(label: Label, lang: str = "en") -> str:
    """A 100 × 50 mm label for a 203-dpi thermal printer: arrival airport and sort lane big;
    hotel, flight, pilgrim and the name (when given; Arabic is set right to left); an
    Interleaved 2 of 5 barcode of the tag and a QR code of the payload (tagging/symbols.py).
    `lang` picks the captions: `en` or `ar` (Arabic captions, lines set right to left)."""
    from tagging.symbols import DOT_MM, QR_MODULE_DOTS, itf_bars, qr_path, qr_symbol

    captions = CAPTIONS.get(lang)
    if captions is None:
        raise LabelError(f"label language must be one of {', '.join(CAPTIONS)}, not {lang!r}")
    rtl = lang == "ar"
    payload = encode_payload(label)
    lane = "--" if label.lane is None else f"{label.lane:02d}"
    flight = _ids(captions["flight"], label.flight_id, rtl)
    pilgrim = _ids(captions["pilgrim"], label.pilgrim_id, rtl)
    lines = [
        '<svg xmlns="http://www.w3.org/2000/svg" width="100mm" height="50mm" '
        f'viewBox="0 0 100 50" font-family="DejaVu Sans, Noto Sans, Noto Naskh Arabic, sans-serif"'
        f' xml:lang="{lang}">',
        '<rect width="100" height="50" fill="#fff"/>',
        f'<text x="4" y="10" font-size="9" font-weight="bold">{escape(label.airport)}</text>',
        f'<text x="96" y="10" font-size="9" font-weight="bold" text-anchor="end">L{lane}</text>',
        _line(4, 15.5, 3.8, _ids(captions["hotel"], label.hotel_id, rtl), rtl),
        _line(4, 20, 3.2, f"{flight}  {pilgrim}", rtl),
    ]
    if label.pilgrim_name:
        name = _clean(label.pilgrim_name)
        lines.append(_line(4, 24.5, 3.5, name, _right_to_left(label.pilgrim_name)))
    # The symbols start on whole printer dots, as their bars and modules are whole dots.
    itf = itf_bars(str(label.tag))
    itf_x = 16 * DOT_MM
    lines.append(
        f'<g transform="translate({itf_x:.4f} 28)" data-symbol="itf" data-dots="{itf.width_dots}">'
    )
    lines.extend(
        f'<rect x="{x * DOT_MM:.4f}" y="0" width="{w * DOT_MM:.4f}" height="13"/>'
        for x, w in itf.bars
    )
    lines.append("</g>")
    centre = itf_x + itf.width_dots * DOT_MM / 2
    lines.append(
        f'<text x="{centre:.2f}" y="46" font-size="4.2" text-anchor="middle"'
        f' font-family="DejaVu Sans Mono, monospace">{label.tag}</text>'
    )
    lines.append(
        f'<text x="{itf_x:.2f}" y="49.3" font-size="2" font-family="DejaVu Sans Mono, monospace"'
        f' direction="ltr">{_clean(encode_text(label))}</text>'
    )
    qr = qr_symbol(payload)
    module = QR_MODULE_DOTS * DOT_MM
    x0 = (round(98 / DOT_MM) - qr.size * QR_MODULE_DOTS) * DOT_MM
    lines.append(
        f'<path transform="translate({x0:.4f} 27)" data-symbol="qr" data-version="{qr.version}"'
        f' d="{qr_path(qr, module)}"/>'
    )
    lines.append("</svg>")
    return "\n".join(lines)
