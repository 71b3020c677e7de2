"""IATA Type B baggage messages (RP 1745): BSM, BPM, BUM and BNS.

`parse_messages` reads one or more messages, `build_message` writes one, and `translate`
turns them into contract events (docs/tagging.md has the translation table). Every problem
in a text is an `IataParseError` naming the line and the element, so the stream can put an
unparseable message in the dead letters with a reason an operator can act on.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from typing import ClassVar, Final

from tagging.tags import SERIAL_LIMIT, BagTag

MESSAGE_KINDS: Final = ("BSM", "BPM", "BUM", "BNS")
ACTIONS: Final = ("CHG", "DEL")
MONTHS: Final = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_MONTH_NUMBER: Final = {name: number for number, name in enumerate(MONTHS, start=1)}
_MONTH_DAYS: Final = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
_MAX_ID: Final = 64  # contract ids are 1–64 characters

# Standard UTC offsets of the Makkah Route airports (none observes summer time in the
# season), so a `.J` local time there can become an instant; elsewhere it cannot.
LOCAL_OFFSETS: Final[dict[str, timedelta]] = {
    **dict.fromkeys(("JED", "MED", "RUH", "DMM", "TIF", "TAI", "IST", "SAW"), timedelta(hours=3)),
    **dict.fromkeys(("CGK", "SUB", "SOC", "UPG", "KNO", "BTH"), timedelta(hours=7)),
    **dict.fromkeys(("ISB", "KHI", "LHE", "MLE"), timedelta(hours=5)),
    "KUL": timedelta(hours=8),
    "DAC": timedelta(hours=6),
    "CMN": timedelta(hours=1),
    "ABJ": timedelta(0),
}


class IataParseError(ValueError):
    """A text that is not a valid Type B baggage message; says which line and element."""

    def __init__(self, reason: str, line: int, element: str | None = None) -> None:
        self.reason = reason
        self.line = line
        self.element = element
        where = f"line {line}" + (f", element .{element}" if element else "")
        super().__init__(f"{where}: {reason}")


class IataBuildError(ValueError):
    """A `Message` that cannot be written as a valid Type B text."""


class _FieldError(Exception):
    """Raised by element parsers; the caller adds the line and element."""


# ---------------------------------------------------------------------------- elements


@dataclass(frozen=True, slots=True)
class Version:
    """`.V/1LJED`: data dictionary version, source (L local, T transfer, X terminating), airport."""

    code: ClassVar[str] = "V"
    version: str
    source: str
    airport: str
    extra: tuple[str, ...] = ()

    def fields(self) -> tuple[str, ...]:
        return (f"{self.version}{self.source}{self.airport}", *self.extra)


@dataclass(frozen=True, slots=True)
class FlightLeg:
    """`.F` outbound, `.I` inbound or `.O` onward flight: `SV5123/18MAY/JED/Y`."""

    code: str  # F, I or O
    flight: str
    date: str  # DDMMM
    airport: str = ""
    travel_class: str = ""
    extra: tuple[str, ...] = ()

    def fields(self) -> tuple[str, ...]:
        return _trim((self.flight, self.date, self.airport, self.travel_class), self.extra, 2)

    @property
    def airline(self) -> str:
        return _split_flight(self.flight)[0]

    @property
    def number(self) -> str:
        """Flight number without leading zeros, with its operational suffix if any."""
        _, number, suffix = _split_flight(self.flight)
        return f"{int(number)}{suffix}"


@dataclass(frozen=True, slots=True)
class TagRun:
    """`.N/0065123456002`: a first tag and the count of consecutive tags."""

    code: ClassVar[str] = "N"
    first: BagTag
    count: int = 1

    def fields(self) -> tuple[str, ...]:
        return (f"{self.first}{self.count:03d}",)

    def tags(self) -> tuple[BagTag, ...]:
        first = self.first
        return tuple(
            BagTag(first.leading_digit, first.airline_code, first.serial + step)
            for step in range(self.count)
        )


@dataclass(frozen=True, slots=True)
class Reconciliation:
    """`.S/N/05A/C/...`: authority to load (Y/N), seat, passenger status, further fields."""

    code: ClassVar[str] = "S"
    authority_to_load: str
    seat: str = ""
    passenger_status: str = ""
    extra: tuple[str, ...] = ()

    def fields(self) -> tuple[str, ...]:
        return _trim((self.authority_to_load, self.seat, self.passenger_status), self.extra, 1)


@dataclass(frozen=True, slots=True)
class Pieces:
    """`.W/K/2/46`: unit (K kg, L lb, P pieces only), number of pieces, total weight."""

    code: ClassVar[str] = "W"
    unit: str
    pieces: int
    weight: int | None = None
    extra: tuple[str, ...] = ()

    def fields(self) -> tuple[str, ...]:
        weight = "" if self.weight is None else str(self.weight)
        return _trim((self.unit, str(self.pieces), weight), self.extra, 2)


@dataclass(frozen=True, slots=True)
class Passenger:
    """`.P/2AHMED/ALI`: optional count of passengers with that surname, surname, given names."""

    code: ClassVar[str] = "P"
    surname: str
    given_names: tuple[str, ...] = ()
    count: int | None = None

    def fields(self) -> tuple[str, ...]:
        prefix = "" if self.count is None else str(self.count)
        return (f"{prefix}{self.surname}", *self.given_names)


@dataclass(frozen=True, slots=True)
class Processing:
    """`.J/S/BGFUSION/CI621/05FEB/1059L/LB9`: kind, agent, reader, date, time (L/Z), location."""

    code: ClassVar[str] = "J"
    kind: str
    agent: str = ""
    reader: str = ""
    date: str = ""
    time: str = ""  # HHMM plus L (local) or Z (UTC); no suffix means local
    location: str = ""
    extra: tuple[str, ...] = ()

    def fields(self) -> tuple[str, ...]:
        positional = (self.kind, self.agent, self.reader, self.date, self.time, self.location)
        return _trim(positional, self.extra, 1)


@dataclass(frozen=True, slots=True)
class Container:
    """`.U/AKE12345SV/...`: the container (ULD) the bag is in, then further fields."""

    code: ClassVar[str] = "U"
    uld: str
    extra: tuple[str, ...] = ()

    def fields(self) -> tuple[str, ...]:
        return (self.uld, *self.extra)


@dataclass(frozen=True, slots=True)
class Delivery:
    """`.G`: delivery address. `.G/MR/<hotel_id>[/<pilgrim_id>]` is the Makkah Route coding."""

    code: ClassVar[str] = "G"
    values: tuple[str, ...]

    def fields(self) -> tuple[str, ...]:
        return self.values

    @property
    def makkah_route(self) -> tuple[str, str | None] | None:
        """(hotel_id, pilgrim_id or None) when this is a Makkah Route coding."""
        if len(self.values) >= 2 and self.values[0] == "MR":
            pilgrim = self.values[2] if len(self.values) > 2 and self.values[2] else None
            return self.values[1], pilgrim
        return None


@dataclass(frozen=True, slots=True)
class Generic:
    """Any other element (`.L`, `.B`, `.E`, `.X`, `.D`, or one this code does not know)."""

    code: str
    values: tuple[str, ...] = ()

    def fields(self) -> tuple[str, ...]:
        return self.values


Element = (
    Version
    | FlightLeg
    | TagRun
    | Reconciliation
    | Pieces
    | Passenger
    | Processing
    | Container
    | Delivery
    | Generic
)


def _trim(positional: tuple[str, ...], extra: tuple[str, ...], keep: int) -> tuple[str, ...]:
    # Trailing empty optional fields are not written, so one message has one text.
    if extra:
        return (*positional, *extra)
    end = len(positional)
    while end > keep and not positional[end - 1]:
        end -= 1
    return positional[:end]


@dataclass(frozen=True, slots=True)
class Message:
    """One Type B baggage message: its kind, CHG/DEL action if any, and its elements in order."""

    kind: str
    elements: tuple[Element, ...]
    action: str = ""

    def _first(self, code: str) -> Element | None:
        for element in self.elements:
            if element.code == code:
                return element
        return None

    @property
    def version(self) -> Version:
        element = self._first("V")
        assert isinstance(element, Version), "a parsed message always has .V"
        return element

    @property
    def outbound(self) -> FlightLeg | None:
        element = self._first("F")
        return element if isinstance(element, FlightLeg) else None

    @property
    def inbound(self) -> FlightLeg | None:
        element = self._first("I")
        return element if isinstance(element, FlightLeg) else None

    @property
    def tag_runs(self) -> tuple[TagRun, ...]:
        return tuple(e for e in self.elements if isinstance(e, TagRun))

    @property
    def tags(self) -> tuple[BagTag, ...]:
        return tuple(tag for run in self.tag_runs for tag in run.tags())

    @property
    def passenger(self) -> Passenger | None:
        element = self._first("P")
        return element if isinstance(element, Passenger) else None

    @property
    def processing(self) -> Processing | None:
        element = self._first("J")
        return element if isinstance(element, Processing) else None

    @property
    def container(self) -> Container | None:
        element = self._first("U")
        return element if isinstance(element, Container) else None

    @property
    def delivery(self) -> Delivery | None:
        element = self._first("G")
        return element if isinstance(element, Delivery) else None

    def values(self, code: str) -> tuple[str, ...]:
        """The fields of the first element with this code (empty when there is none)."""
        element = self._first(code)
        return element.fields() if element is not None else ()


# ------------------------------------------------------------------- element parsers

_FLIGHT = re.compile(r"([A-Z][A-Z0-9]|[0-9][A-Z])([A-Z]?)([0-9]{1,4})([A-Z]?)")
_DATE = re.compile(r"(0[1-9]|[12][0-9]|3[01])([A-Z]{3})")
_AIRPORT = re.compile(r"[A-Z]{3}")
_TIME = re.compile(r"([01][0-9]|2[0-3])([0-5][0-9])([LZ]?)")
_NAME = re.compile(r"([0-9]{1,3})?([A-Z](?:[A-Z '\-]*[A-Z])?)")
_GIVEN = re.compile(r"[A-Z](?:[A-Z '\-]*[A-Z])?")
_SEAT = re.compile(r"[0-9]{0,3}[A-Z]?")


def _split_flight(flight: str) -> tuple[str, str, str]:
    match = _FLIGHT.fullmatch(flight)
    if match is None:
        raise _FieldError(
            f"flight {flight!r} is not an airline designator and a 1–4 digit number (SV5123)"
        )
    return match[1] + match[2], match[3], match[4]


def _check_date(text: str, what: str) -> None:
    match = _DATE.fullmatch(text)
    if match is None or match[2] not in _MONTH_NUMBER:
        raise _FieldError(f"{what} {text!r} is not a date like 18MAY")
    if int(match[1]) > _MONTH_DAYS[_MONTH_NUMBER[match[2]] - 1]:
        raise _FieldError(f"{what} {text!r} is not a day of that month")


def _parse_version(fields: list[str]) -> Element:
    head = fields[0]
    if len(head) != 5 or head[0] not in "0123456789" or head[1] not in "LTX":
        raise _FieldError(f"expected version digit, source L/T/X and airport (1LJED), got {head!r}")
    if _AIRPORT.fullmatch(head[2:]) is None:
        raise _FieldError(f"airport {head[2:]!r} is not a 3-letter IATA code")
    return Version(head[0], head[1], head[2:], tuple(fields[1:]))


def _leg_parser(code: str) -> Callable[[list[str]], Element]:
    def parse(fields: list[str]) -> Element:
        if len(fields) < 2:
            raise _FieldError("expected flight and date (SV5123/18MAY)")
        _split_flight(fields[0])
        _check_date(fields[1], "flight date")
        airport = fields[2] if len(fields) > 2 else ""
        if airport and _AIRPORT.fullmatch(airport) is None:
            raise _FieldError(f"airport {airport!r} is not a 3-letter IATA code")
        travel_class = fields[3] if len(fields) > 3 else ""
        if len(travel_class) > 1 or (travel_class and not travel_class.isalpha()):
            raise _FieldError(f"class {travel_class!r} is not one letter")
        return FlightLeg(code, fields[0], fields[1], airport, travel_class, tuple(fields[4:]))

    return parse


def _parse_tag_run(fields: list[str]) -> Element:
    if len(fields) != 1:
        raise _FieldError("expected one 13-digit field: tag number and count (0065123456002)")
    text = fields[0]
    if len(text) != 13 or not text.isdigit() or not text.isascii():
        raise _FieldError(
            f"expected a 10-digit tag number and a 3-digit count (0065123456002), got {text!r}"
        )
    count = int(text[10:])
    serial = int(text[4:10])
    if count == 0:
        raise _FieldError(f"tag count of {text[:10]} is 000; it must be 001–999")
    if serial + count > SERIAL_LIMIT:
        raise _FieldError(f"{count} consecutive tags from {text[:10]} run past serial 999999")
    return TagRun(BagTag(int(text[0]), text[1:4], serial), count)


def _parse_reconciliation(fields: list[str]) -> Element:
    if fields[0] not in ("Y", "N"):
        raise _FieldError(f"authority to load must be Y or N, got {fields[0]!r}")
    seat = fields[1] if len(fields) > 1 else ""
    if _SEAT.fullmatch(seat) is None:
        raise _FieldError(f"seat {seat!r} is not a seat number like 05A")
    status = fields[2] if len(fields) > 2 else ""
    if len(status) > 1 or (status and not ("A" <= status <= "Z")):
        raise _FieldError(f"passenger status {status!r} is not one letter")
    return Reconciliation(fields[0], seat, status, tuple(fields[3:]))


def _number(text: str, what: str, digits: int) -> int:
    if not (0 < len(text) <= digits and text.isdigit() and text.isascii()):
        raise _FieldError(f"{what} {text!r} is not a number of 1–{digits} digits")
    return int(text)


def _parse_pieces(fields: list[str]) -> Element:
    if len(fields) < 2 or fields[0] not in ("K", "L", "P"):
        raise _FieldError("expected unit K, L or P and a number of pieces (K/2/46)")
    pieces = _number(fields[1], "number of pieces", 3)
    weight = _number(fields[2], "weight", 5) if len(fields) > 2 and fields[2] else None
    return Pieces(fields[0], pieces, weight, tuple(fields[3:]))


def _parse_passenger(fields: list[str]) -> Element:
    match = _NAME.fullmatch(fields[0])
    if match is None:
        raise _FieldError(f"surname {fields[0]!r} is not a name in capitals (2AHMED)")
    for given in fields[1:]:
        if _GIVEN.fullmatch(given) is None:
            raise _FieldError(f"given name {given!r} is not a name in capitals")
    count = int(match[1]) if match[1] else None
    return Passenger(match[2], tuple(fields[1:]), count)


def _parse_processing(fields: list[str]) -> Element:
    padded = [*fields, "", "", "", "", ""][:6]
    kind, agent, reader, day, time, location = padded
    if len(kind) != 1 or not ("A" <= kind <= "Z"):
        raise _FieldError(f"processing kind {kind!r} is not one letter")
    if day:
        _check_date(day, "scan date")
    if time and _TIME.fullmatch(time) is None:
        raise _FieldError(f"scan time {time!r} is not HHMM with L or Z (1059L)")
    return Processing(kind, agent, reader, day, time, location, tuple(fields[6:]))


def _parse_container(fields: list[str]) -> Element:
    if not fields[0]:
        raise _FieldError("container (ULD) id is empty")
    return Container(fields[0], tuple(fields[1:]))


def _parse_delivery(fields: list[str]) -> Element:
    if fields[0] == "MR":
        if len(fields) < 2:
            raise _FieldError("Makkah Route coding needs MR/<hotel_id>[/<pilgrim_id>]")
        checks = [(fields[1], "hotel id")]
        if len(fields) > 2 and fields[2]:
            checks.append((fields[2], "pilgrim id"))
        for value, what in checks:
            if not 0 < len(value) <= _MAX_ID or value != value.strip():
                raise _FieldError(f"{what} {value!r} must be 1–64 characters, no edge blanks")
    return Delivery(tuple(fields))


_PARSERS: Final[dict[str, Callable[[list[str]], Element]]] = {
    "V": _parse_version,
    "F": _leg_parser("F"),
    "I": _leg_parser("I"),
    "O": _leg_parser("O"),
    "N": _parse_tag_run,
    "S": _parse_reconciliation,
    "W": _parse_pieces,
    "P": _parse_passenger,
    "J": _parse_processing,
    "U": _parse_container,
    "G": _parse_delivery,
}
_ONCE: Final = frozenset("VFISWPLJUXDGE")
_REQUIRED: Final[dict[str, tuple[str, ...]]] = {
    "BSM": ("N",),
    "BPM": ("N",),
    "BUM": ("F", "N"),
    "BNS": ("F", "N"),
}


# --------------------------------------------------------------------------- parsing


def _logical_lines(text: str, first_line: int) -> Iterator[tuple[int, str]]:
    """(line number, line) pairs; a one-line message (`BSM .V/... ENDBSM`) is split up."""
    for number, raw in enumerate(text.splitlines(), start=first_line):
        line = raw.rstrip(" \t")
        if len(line) > 4 and line[:3] in MESSAGE_KINDS and line[3] in " \t":
            for part in _ONE_LINE_SPLIT.split(line):
                yield number, part
        else:
            yield number, line


_ONE_LINE_SPLIT: Final = re.compile(r"[ \t]+(?=\.[A-Z]/|END[A-Z]{3}$|CHG |DEL )")


def _parse_element(line: str, number: int) -> Element:
    if len(line) < 2 or line[0] != "." or not ("A" <= line[1] <= "Z"):
        raise IataParseError(f"expected an element like .N/..., got {line[:20]!r}", number)
    code = line[1]
    if len(line) == 2:
        fields: list[str] = []
    elif line[2] == "/":
        fields = line[3:].split("/")
    else:
        raise IataParseError(f"expected '/' after .{code}", number, code)
    if not (line.isascii() and line.isprintable()):
        bad = next(c for c in line if not (c.isascii() and c.isprintable()))
        raise IataParseError(f"character {bad!r} is not allowed in a Type B message", number, code)
    parser = _PARSERS.get(code)
    if parser is None:
        return Generic(code, tuple(fields))
    if not fields:
        raise IataParseError("element has no fields", number, code)
    try:
        return parser(fields)
    except _FieldError as exc:
        raise IataParseError(str(exc), number, code) from None


def _finish(
    kind: str, action: str, elements: list[Element], lines: list[int], end_line: int
) -> Message:
    if not elements or elements[0].code != "V":
        raise IataParseError(
            f"{kind} must start with a .V element", lines[0] if lines else end_line
        )
    seen: set[str] = set()
    for element, number in zip(elements, lines, strict=True):
        if element.code in _ONCE and element.code in seen:
            raise IataParseError(f"element may appear only once in a {kind}", number, element.code)
        seen.add(element.code)
    for code in _REQUIRED[kind]:
        if code not in seen:
            raise IataParseError(f"{kind} has no .{code} element", end_line, code)
    return Message(kind, tuple(elements), action)


def parse_messages(text: str, *, first_line: int = 1) -> list[Message]:
    """All messages of a text, in order; any fault raises `IataParseError`."""
    if not isinstance(text, str):
        raise IataParseError(f"expected text, got {type(text).__name__}", first_line)
    messages: list[Message] = []
    kind = ""
    action = ""
    start = first_line
    elements: list[Element] = []
    lines: list[int] = []
    number = first_line
    for number, line in _logical_lines(text, first_line):
        if not kind:
            if not line.strip():
                continue
            if line in MESSAGE_KINDS:
                kind, action, start, elements, lines = line, "", number, [], []
                continue
            raise IataParseError(
                f"expected a message header ({', '.join(MESSAGE_KINDS)}), got {line[:20]!r}",
                number,
            )
        if line and line[0] == ".":
            elements.append(_parse_element(line, number))
            lines.append(number)
        elif line == "END" + kind:
            messages.append(_finish(kind, action, elements, lines, number))
            kind = ""
        elif line in ACTIONS and not elements and not action:
            action = line
        elif not line.strip():
            continue
        elif line in MESSAGE_KINDS or line.startswith("END"):
            raise IataParseError(f"{line!r} before END{kind} of the {kind} of line {start}", number)
        else:
            raise IataParseError(f"expected an element like .N/..., got {line[:20]!r}", number)
    if kind:
        raise IataParseError(f"the {kind} of line {start} has no END{kind}", number)
    if not messages:
        raise IataParseError("no baggage message in the text", first_line)
    return messages


def parse_message(text: str) -> Message:
    """Exactly one message."""
    messages = parse_messages(text)
    if len(messages) != 1:
        raise IataParseError(f"expected one message, found {len(messages)}", 1)
    return messages[0]


def split_messages(text: str) -> Iterator[tuple[int, str]]:
    """(first line number, text) of each message-like chunk, without judging its content.

    Lets a caller report a bad message and go on with the next one.
    """
    chunk: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not chunk:
            if not line:
                continue
            start = number
        chunk.append(raw)
        if line.startswith("END") or (line[:3] in MESSAGE_KINDS and " END" in line):
            yield start, "\n".join(chunk)
            chunk = []
    if chunk:
        yield start, "\n".join(chunk)


# -------------------------------------------------------------------------- building


def build_message(message: Message) -> str:
    """The Type B text of a message, one element per line, checked by parsing it back."""
    if message.kind not in MESSAGE_KINDS:
        raise IataBuildError(f"unknown message kind {message.kind!r}")
    if message.action not in ("", *ACTIONS):
        raise IataBuildError(f"action must be CHG, DEL or empty, got {message.action!r}")
    lines = [message.kind]
    if message.action:
        lines.append(message.action)
    for element in message.elements:
        fields = element.fields()
        lines.append(f".{element.code}/" + "/".join(fields) if fields else f".{element.code}")
    lines.append("END" + message.kind)
    text = "\n".join(lines)
    try:
        parsed = parse_messages(text)
    except IataParseError as exc:
        raise IataBuildError(f"cannot build the {message.kind}: {exc}") from None
    if parsed != [message]:
        raise IataBuildError(
            f"the {message.kind} has a value that Type B cannot carry (a '/', a line break, "
            "edge blanks or a field that reads back differently)"
        )
    return text


# ----------------------------------------------------------------------- translation


def _nearest_date(day: int, month: int, near: datetime) -> date | None:
    """The date with this day and month closest to `near` (messages carry no year)."""
    best: date | None = None
    for year in (near.year - 1, near.year, near.year + 1):
        try:
            candidate = date(year, month, day)
        except ValueError:
            continue
        if best is None or abs(candidate - near.date()) < abs(best - near.date()):
            best = candidate
    return best


def _ddmmm(text: str, near: datetime) -> date | None:
    return _nearest_date(int(text[:2]), _MONTH_NUMBER[text[2:]], near)


def canonical_flight_id(designator: str, departure: date) -> str:
    """Contract v1.1 `flight_id`: designator and number, a hyphen, the scheduled departure
    date at the origin (local date): `canonical_flight_id("SV5123", date(2026, 5, 18))` is
    `SV5123-2026-05-18`. The one place the form is written; the simulator uses it too."""
    return f"{designator}-{departure.isoformat()}"


def local_departure_date(origin: str, departure: datetime) -> date:
    """The date at the origin airport of a departure instant (UTC when the origin's offset
    is unknown): what the `.F` element of that flight's messages carries."""
    offset = LOCAL_OFFSETS.get(origin, timedelta(0))
    return departure.astimezone(timezone(offset)).date()


def flight_id(leg: FlightLeg, near: datetime) -> str:
    """The contract `flight_id` of a flight leg: `SV5123-2026-05-18`.

    `.F` dates carry no year: the year is the one (of `near`'s year, the year before and
    the year after) that puts the DDMMM date nearest to `near`, the message's event time.
    So a message of 31 Dec 2026 about `02JAN` means 2027-01-02, and one of 1 Jan 2027 about
    `30DEC` means 2026-12-30.
    """
    day = _ddmmm(leg.date, near)
    if day is None:  # only 29FEB far from a leap year; keep a stable id anyway
        return f"{leg.airline}{leg.number}-{near.year:04d}-02-29"
    return canonical_flight_id(f"{leg.airline}{leg.number}", day)


def scan_time(message: Message, near: datetime) -> datetime | None:
    """The instant of the `.J` scan, when its date and time are complete and placeable."""
    processing = message.processing
    if processing is None or not processing.date or not processing.time:
        return None
    if processing.time.endswith("Z"):
        zone: timezone | None = UTC
    else:
        offset = LOCAL_OFFSETS.get(message.version.airport)
        zone = None if offset is None else timezone(offset)
    if zone is None:
        return None
    local_near = near.astimezone(zone)
    day = _ddmmm(processing.date, local_near)
    if day is None:
        return None
    hour, minute = int(processing.time[:2]), int(processing.time[2:4])
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone)


def _rfc3339(instant: datetime) -> str:
    text = instant.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def parse_instant(text: str) -> datetime:
    """An RFC 3339 time with an offset (a naive time is ambiguous in event time)."""
    try:
        instant = datetime.fromisoformat(text)
    except (TypeError, ValueError):
        raise ValueError(f"occurred_at {text!r} is not an RFC 3339 time") from None
    if instant.tzinfo is None:
        raise ValueError(f"occurred_at {text!r} has no UTC offset")
    return instant


def translate_message(message: Message, *, occurred_at: str) -> list[dict[str, object]]:
    """The contract events (without `event_id`) that one parsed message means."""
    near = parse_instant(occurred_at)
    scanned = scan_time(message, near)
    when = _rfc3339(scanned) if scanned is not None else occurred_at
    version = message.version
    airport = version.airport
    source = f"iata:{message.kind}"
    processing = message.processing
    if processing is not None and processing.reader:
        source += f"/{processing.reader}"
    delivery = message.delivery
    coding = delivery.makkah_route if delivery is not None else None
    events: list[dict[str, object]] = []

    def scan(tag: BagTag, checkpoint: str, **extra: str) -> None:
        event: dict[str, object] = {
            "type": "bag.scanned",
            "occurred_at": when,
            "source": source,
            "tag": str(tag),
            "checkpoint": checkpoint,
            "location": airport,
        }
        event.update(extra)
        events.append(event)

    if message.kind == "BSM":
        if message.action == "DEL":
            return []  # a withdrawn BSM: the contract has no event that undoes a coding
        leg = message.outbound
        flight = flight_id(leg, near) if leg is not None else None
        for tag in message.tags:
            if coding is not None and coding[1] is not None and flight is not None:
                hotel_id, pilgrim_id = coding
                events.append(
                    {
                        "type": "bag.coded",
                        "occurred_at": when,
                        "source": source,
                        "tag": str(tag),
                        "pilgrim_id": pilgrim_id,
                        "flight_id": flight,
                        "hotel_id": hotel_id,
                    }
                )
            if version.source == "L":
                scan(tag, "accepted")
    elif message.kind == "BPM":
        container = message.container
        uld = {"uld": container.uld} if container is not None else {}
        offload = message.values("B")[:1] == ("OFF",)
        for tag in message.tags:
            if version.source == "X":
                if coding is not None:
                    scan(tag, "sorted", hotel_id=coding[0])
                else:
                    scan(tag, "offloaded", **uld)
            elif offload:
                continue  # taken off at origin: no contract checkpoint says that
            elif container is not None:
                scan(tag, "loaded", **uld)
            else:
                scan(tag, "accepted")
    # BUM (unload instruction) and BNS (bag not seen) report no scan: no event.
    return events


def no_event_reason(message: Message) -> str:
    """Why a parsed message means no contract event (for `tariq iata parse`'s notes): the
    cases in which `translate_message` returns nothing, in its order."""
    version = message.version
    if not message.tags:
        return "it names no bag tag (.N)"
    if message.kind in ("BUM", "BNS"):
        what = "an unload instruction" if message.kind == "BUM" else "a bag-not-seen report"
        return f"a {message.kind} is {what}: it reports no scan, so no contract event"
    if message.kind == "BSM":
        if message.action == "DEL":
            return "a withdrawn BSM (DEL): no contract event undoes a coding"
        sources = {"T": "a transfer BSM (.V/1T)", "X": "a terminating BSM (.V/1X)"}
        what = sources.get(version.source, f"a BSM from source {version.source!r}")
        coding = message.delivery.makkah_route if message.delivery is not None else None
        if coding is None or coding[1] is None:
            return (
                f"{what} without Makkah Route coding (.G/MR/hotel/pilgrim): "
                "only local check-in (.V/1L) means a scan, only coding means bag.coded"
            )
        return f"{what} with coding but no outbound flight (.F): no flight_id to code to"
    if message.kind == "BPM" and message.values("B")[:1] == ("OFF",):
        return "an offload at origin (.B/OFF): no contract checkpoint says that"
    return f"a {message.kind} that means no contract event"


def translate(text: str, *, occurred_at: str) -> list[dict[str, object]]:
    """Contract events (no `event_id`) for every message in `text`.

    Raises `IataParseError` for an unparseable text and `ValueError` for a bad `occurred_at`.
    """
    parse_instant(occurred_at)
    events: list[dict[str, object]] = []
    for message in parse_messages(text):
        events.extend(translate_message(message, occurred_at=occurred_at))
    return events


# ------------------------------------------------------------------ message builders


def coded_bsm(
    tag: BagTag,
    *,
    station: str,
    flight: str,
    flight_date: date,
    destination: str,
    hotel_id: str,
    pilgrim_id: str,
    count: int = 1,
    surname: str | None = None,
    pieces: int | None = None,
    weight_kg: int | None = None,
) -> Message:
    """A BSM as the Makkah Route origin hall sends it (for the simulator and tests)."""
    elements: list[Element] = [
        Version("1", "L", station),
        FlightLeg("F", flight, _format_date(flight_date), destination),
        TagRun(tag, count),
    ]
    if pieces is not None:
        elements.append(Pieces("K", pieces, weight_kg))
    if surname is not None:
        elements.append(Passenger(surname))
    elements.append(Delivery(("MR", hotel_id, pilgrim_id)))
    return Message("BSM", tuple(elements))


def _format_date(day: date) -> str:
    return f"{day.day:02d}{MONTHS[day.month - 1]}"
