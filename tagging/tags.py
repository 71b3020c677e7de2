"""Bag tag numbers (license plates): parse, validate, format, allocate serial ranges.

A bag tag number is 10 digits: a leading digit (0 normal, 1 fallback, 2 rush, 3–9 airline
use), the carrier's 3-digit IATA numeric code (Saudia 065) and a 6-digit serial.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Final

TAG_LENGTH: Final = 10
SERIAL_LIMIT: Final = 1_000_000  # serials are 000000..999999
KIND_BY_DIGIT: Final[dict[int, str]] = {0: "normal", 1: "fallback", 2: "rush"}
DIGIT_BY_KIND: Final[dict[str, int]] = {kind: digit for digit, kind in KIND_BY_DIGIT.items()}
_DIGITS: Final = frozenset("0123456789")


class TagError(ValueError):
    """A bag tag number (or a serial allocation) that is not valid; the message says why."""


@dataclass(frozen=True, slots=True, order=True)
class BagTag:
    """One bag tag number; `str(tag)` gives its 10 digits."""

    leading_digit: int
    airline_code: str
    serial: int

    def __post_init__(self) -> None:
        if not (isinstance(self.leading_digit, int) and 0 <= self.leading_digit <= 9):
            raise TagError(f"leading digit must be 0–9, got {self.leading_digit!r}")
        code = self.airline_code
        if not (isinstance(code, str) and len(code) == 3 and set(code) <= _DIGITS):
            raise TagError(f"airline numeric code must be 3 digits, got {code!r}")
        if not (isinstance(self.serial, int) and 0 <= self.serial < SERIAL_LIMIT):
            raise TagError(f"serial must be 0–999999, got {self.serial!r}")

    @property
    def kind(self) -> str:
        """`normal`, `fallback`, `rush`, or `airline` (leading digits 3–9)."""
        return KIND_BY_DIGIT.get(self.leading_digit, "airline")

    def __str__(self) -> str:
        return f"{self.leading_digit}{self.airline_code}{self.serial:06d}"

    def next(self, step: int = 1) -> BagTag:
        """The tag `step` serials later (as in a `.N` run of consecutive tags)."""
        serial = self.serial + step
        if not 0 <= serial < SERIAL_LIMIT:
            raise TagError(f"tag {self} + {step} runs past the end of the serial range")
        return BagTag(self.leading_digit, self.airline_code, serial)


def parse_tag(text: str) -> BagTag:
    """Parse a 10-digit bag tag number (surrounding blanks are ignored)."""
    if not isinstance(text, str):
        raise TagError(f"a bag tag number is text, got {type(text).__name__}")
    digits = text.strip()
    if not digits:
        raise TagError("bag tag number is empty")
    for position, char in enumerate(digits, start=1):
        if char not in _DIGITS:
            raise TagError(
                f"bag tag number {digits!r} has a non-digit {char!r} at position {position}"
            )
    if len(digits) != TAG_LENGTH:
        raise TagError(
            f"bag tag number must have 10 digits (leading digit, 3-digit airline code, "
            f"6-digit serial), got {len(digits)}: {digits!r}"
        )
    return BagTag(int(digits[0]), digits[1:4], int(digits[4:]))


def _leading_digit(kind: str | int) -> int:
    if isinstance(kind, int):
        return kind
    if kind in DIGIT_BY_KIND:
        return DIGIT_BY_KIND[kind]
    raise TagError(f"tag kind must be one of {sorted(DIGIT_BY_KIND)} or a digit 3–9, got {kind!r}")


def make_tag(airline_code: str | int, serial: int, kind: str | int = "normal") -> BagTag:
    """A tag from its parts; `airline_code` may be given as a number (65 → `065`)."""
    if isinstance(airline_code, int):
        if not 0 <= airline_code <= 999:
            raise TagError(f"airline numeric code must be 0–999, got {airline_code}")
        airline_code = f"{airline_code:03d}"
    return BagTag(_leading_digit(kind), airline_code, serial)


def format_tag(airline_code: str | int, serial: int, kind: str | int = "normal") -> str:
    """The 10 digits of a tag from its parts, e.g. `format_tag("065", 123456)` → `0065123456`."""
    return str(make_tag(airline_code, serial, kind))


@dataclass(frozen=True, slots=True)
class SerialRange:
    """Serials `start` (included) to `stop` (excluded) of one carrier, held by `holder`."""

    airline_code: str
    start: int
    stop: int
    holder: str = ""

    def __len__(self) -> int:
        return self.stop - self.start

    def __contains__(self, tag: object) -> bool:
        if isinstance(tag, str):
            try:
                tag = parse_tag(tag)
            except TagError:
                return False
        return (
            isinstance(tag, BagTag)
            and tag.airline_code == self.airline_code
            and self.start <= tag.serial < self.stop
        )

    def tags(self, kind: str | int = "normal") -> Iterator[BagTag]:
        digit = _leading_digit(kind)
        for serial in range(self.start, self.stop):
            yield BagTag(digit, self.airline_code, serial)


@dataclass
class SerialAllocator:
    """Hands out serial ranges per carrier so that no two holders (printers, halls) collide.

    First fit over the free gaps, so released or never-used space is reused before the
    carrier's space runs out; exhaustion is an error, never a wrap-around (a wrap would
    reissue live tags).
    """

    _taken: dict[str, list[tuple[int, int, str]]] = field(default_factory=dict)

    def _spans(self, airline_code: str) -> list[tuple[int, int, str]]:
        make_tag(airline_code, 0)  # validates the code
        return self._taken.setdefault(airline_code, [])

    def reserve(self, airline_code: str, start: int, stop: int, holder: str = "") -> SerialRange:
        """Mark a range as taken (e.g. ranges already issued); overlapping is an error."""
        spans = self._spans(airline_code)
        if not 0 <= start < stop <= SERIAL_LIMIT:
            raise TagError(f"serial range {start}–{stop} is not within 0–{SERIAL_LIMIT}")
        index = bisect.bisect_left(spans, (start, -1, ""))
        for other in spans[max(index - 1, 0) : index + 1]:
            if other[0] < stop and start < other[1]:
                raise TagError(
                    f"serials {start}–{stop - 1} of carrier {airline_code} overlap "
                    f"{other[0]}–{other[1] - 1} held by {other[2] or 'another holder'}"
                )
        spans.insert(index, (start, stop, holder))
        return SerialRange(airline_code, start, stop, holder)

    def allocate(self, airline_code: str, count: int, holder: str = "") -> SerialRange:
        """The first free run of `count` serials of the carrier."""
        if count < 1:
            raise TagError(f"a serial range needs at least one serial, got {count}")
        spans = self._spans(airline_code)
        cursor = 0
        for start, stop, _ in spans:
            if start - cursor >= count:
                break
            cursor = max(cursor, stop)
        if cursor + count > SERIAL_LIMIT:
            raise TagError(
                f"carrier {airline_code} has no free run of {count} serials left "
                f"({self.free(airline_code)} serials free in all)"
            )
        return self.reserve(airline_code, cursor, cursor + count, holder)

    def release(self, serial_range: SerialRange) -> None:
        spans = self._taken.get(serial_range.airline_code, [])
        key = (serial_range.start, serial_range.stop, serial_range.holder)
        if key not in spans:
            raise TagError(f"serial range {serial_range} was not allocated here")
        spans.remove(key)

    def free(self, airline_code: str) -> int:
        return SERIAL_LIMIT - sum(stop - start for start, stop, _ in self._spans(airline_code))

    def ranges(self, airline_code: str) -> list[SerialRange]:
        return [SerialRange(airline_code, a, b, h) for a, b, h in self._spans(airline_code)]
