"""Barcodes on the coding-hall label, laid out in whole printer dots (pure).

- The tag: Interleaved 2 of 5 (ITF, ISO/IEC 16390) of its 10 digits — the symbology IATA
  RP 1740c uses for the licence plate on bag tags, so the airports' existing handheld and
  sortation scanners read it. Narrow element 3 dots and wide 8 dots at 203 dpi (0.375 mm and
  1.0 mm: X ≥ 0.25 mm, wide:narrow 2.67 within ITF's 2.25–3), quiet zones of 10 X each side.
- The payload: a QR code (ISO/IEC 18004, error correction level M) made by `segno`, 4 dots
  (0.5 mm) a module with the standard 4-module quiet zone.

Every width is a whole number of 203-dpi dots (Zebra-class thermal printers print 8 dots/mm),
so the printer never rounds one bar differently from the next.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import segno

DPI: Final = 203
DOT_MM: Final = 25.4 / DPI
ITF_NARROW_DOTS: Final = 3
ITF_WIDE_DOTS: Final = 8
ITF_QUIET_MODULES: Final = 10
QR_MODULE_DOTS: Final = 4
QR_QUIET_MODULES: Final = 4

# ITF digit patterns: five elements each, `w` wide, `n` narrow.
_ITF: Final = ("nnwwn", "wnnnw", "nwnnw", "wwnnn", "nnwnw", "wnwnn", "nwwnn", "nnnww", "wnnwn",
               "nwnwn")  # fmt: skip


class SymbolError(ValueError):
    """Data that the symbology cannot carry."""


@dataclass(frozen=True, slots=True)
class Bars:
    """A linear symbol: (start, width) of each bar, in dots from the start of the quiet zone."""

    bars: tuple[tuple[int, int], ...]
    width_dots: int  # with both quiet zones

    def mm(self, dots: int) -> float:
        return dots * DOT_MM


def itf_bars(digits: str) -> Bars:
    """Interleaved 2 of 5 of an even number of digits (no check digit: a tag has its own)."""
    if not digits or len(digits) % 2 or not (digits.isascii() and digits.isdigit()):
        raise SymbolError(f"ITF needs an even number of digits, got {digits!r}")
    narrow, wide = ITF_NARROW_DOTS, ITF_WIDE_DOTS
    quiet = ITF_QUIET_MODULES * narrow
    elements: list[int] = [narrow] * 4  # start: bar, space, bar, space
    for first, second in zip(digits[::2], digits[1::2], strict=True):
        for bar, space in zip(_ITF[int(first)], _ITF[int(second)], strict=True):
            elements += [wide if bar == "w" else narrow, wide if space == "w" else narrow]
    elements += [wide, narrow, narrow]  # stop: wide bar, space, bar
    bars: list[tuple[int, int]] = []
    x = quiet
    for index, width in enumerate(elements):
        if index % 2 == 0:
            bars.append((x, width))
        x += width
    return Bars(tuple(bars), x + quiet)


@dataclass(frozen=True, slots=True)
class QrSymbol:
    """A QR code as rows of dark modules, quiet zone included."""

    rows: tuple[tuple[bool, ...], ...]
    version: str
    error: str

    @property
    def size(self) -> int:
        return len(self.rows)


def qr_symbol(data: str) -> QrSymbol:
    """The QR code of `data` (level M; segno picks the smallest version and the mode)."""
    code = segno.make_qr(data, error="m", boost_error=False)
    rows = tuple(
        tuple(bool(v) for v in row) for row in code.matrix_iter(scale=1, border=QR_QUIET_MODULES)
    )
    return QrSymbol(rows, str(code.version), str(code.error))


def qr_path(symbol: QrSymbol, module: float) -> str:
    """An SVG path drawing the dark modules (one rectangle per horizontal run)."""
    parts: list[str] = []
    for y, row in enumerate(symbol.rows):
        x = 0
        while x < len(row):
            if not row[x]:
                x += 1
                continue
            start = x
            while x < len(row) and row[x]:
                x += 1
            parts.append(
                f"M{start * module:.4f} {y * module:.4f}h{(x - start) * module:.4f}"
                f"v{module:.4f}h{-(x - start) * module:.4f}z"
            )
    return "".join(parts)
