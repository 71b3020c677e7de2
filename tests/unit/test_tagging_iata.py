"""IATA Type B baggage messages: parse, build, translate, and never crash on junk."""

from __future__ import annotations

import random
import string
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tagging.iata import (
    MONTHS,
    Container,
    Delivery,
    Element,
    FlightLeg,
    Generic,
    IataBuildError,
    IataParseError,
    Message,
    Passenger,
    Pieces,
    Processing,
    Reconciliation,
    TagRun,
    Version,
    build_message,
    coded_bsm,
    parse_message,
    parse_messages,
    split_messages,
    translate,
)
from tagging.tags import BagTag, make_tag
from tariq.domain.events import event_from_object

# The shapes of domain.md, as written there (one line) and as in real traffic (one per line).
DOMAIN_BSM = (
    "BSM .V/1LOSL .F/SK4416/05FEB/TOS/C .N/0117814872001 .S/N/05A/C/051/051//N/I "
    ".W/P/1 .P/SMITH/JOHN .E/PRIO ENDBSM"
)
DOMAIN_BPM = (
    "BPM .V/1LOSL .J/S/BGFUSION/CI621/05FEB/1059L/LB9/LB9 .F/SK4416/05FEB/TOS "
    ".N/0117814872001 .X//CLR///HBS302/HBSLEVEL1 ENDBPM"
)
CODED_BSM = """\
BSM
.V/1LCGK
.F/SV5123/18MAY/JED/Y
.N/0065123456003
.N/0065200000001
.S/Y/32C/C/112
.W/K/4/92
.P/2AHMED/ALI/FATIMA
.E/HEAVY
.G/MR/hotel-mak-0042/ID-000123
ENDBSM
"""
LOADED_BPM = """\
BPM
.V/1LCGK
.J/R/TARIQ/CGK-HS4/18MAY/0135Z/BAY12
.F/SV5123/18MAY/JED
.N/0065123456002
.U/AKE12345SV/31L/JED
.X//CLR
ENDBPM
"""
NOW = "2026-05-18T04:10:00Z"


def _valid(events: list[dict[str, object]]) -> list[dict[str, object]]:
    """Every result must be a contract event once the stream adds an event id."""
    for index, event in enumerate(events):
        parsed = event_from_object({**event, "event_id": f"e{index}"})
        assert parsed.type == event["type"]
    return events


# ---------------------------------------------------------------- real shapes


def test_domain_examples_parse_in_one_line_form() -> None:
    bsm = parse_message(DOMAIN_BSM)
    assert bsm.kind == "BSM"
    assert bsm.version == Version("1", "L", "OSL")
    assert bsm.outbound == FlightLeg("F", "SK4416", "05FEB", "TOS", "C")
    assert [str(t) for t in bsm.tags] == ["0117814872"]
    assert Reconciliation("N", "05A", "C", ("051", "051", "", "N", "I")) in bsm.elements
    assert Pieces("P", 1) in bsm.elements
    assert bsm.passenger == Passenger("SMITH", ("JOHN",))
    assert bsm.values("E") == ("PRIO",)
    bpm = parse_message(DOMAIN_BPM)
    assert bpm.processing == Processing("S", "BGFUSION", "CI621", "05FEB", "1059L", "LB9", ("LB9",))
    assert bpm.values("X") == ("", "CLR", "", "", "HBS302", "HBSLEVEL1")
    # The same messages one element per line parse the same.
    for one_line in (DOMAIN_BSM, DOMAIN_BPM):
        assert parse_messages(one_line.replace(" ", "\n")) == parse_messages(one_line)


def test_several_tags_with_a_count_and_several_messages() -> None:
    bsm, bpm = parse_messages(CODED_BSM + "\n" + LOADED_BPM)
    assert [run.count for run in bsm.tag_runs] == [3, 1]
    assert [str(t) for t in bsm.tags] == [
        "0065123456",
        "0065123457",
        "0065123458",
        "0065200000",
    ]
    assert bsm.passenger == Passenger("AHMED", ("ALI", "FATIMA"), 2)
    assert bsm.delivery == Delivery(("MR", "hotel-mak-0042", "ID-000123"))
    assert bpm.container == Container("AKE12345SV", ("31L", "JED"))
    assert len(bpm.tags) == 2


# -------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("BSM\n.V/1LJED\n.N/006512345001\nENDBSM", r"line 3, element \.N: expected a 10-digit"),
        ("BSM\n.V/1LJED\n.N/0065123456000\nENDBSM", r"line 3, element \.N: .*count"),
        ("BSM\n.V/1LJED\n.N/0065999999002\nENDBSM", r"line 3, element \.N: .*past serial"),
        ("BSM\n.V/1QJED\n.N/0065123456001\nENDBSM", r"line 2, element \.V: .*L/T/X"),
        ("BSM\n.V/1LJED\n.F/SV5123/31APR\n.N/0065123456001\nENDBSM", r"line 3, element \.F: .*day"),
        ("BSM\n.V/1LJED\n.F/SV5123\n.N/0065123456001\nENDBSM", r"line 3, element \.F: "),
        ("BSM\n.V/1LJED\n.F/S/18MAY\n.N/0065123456001\nENDBSM", r"element \.F: flight 'S'"),
        ("BSM\n.V/1LJED\n.W/K/two\n.N/0065123456001\nENDBSM", r"line 3, element \.W: .*pieces"),
        ("BSM\n.V/1LJED\n.P/smith\n.N/0065123456001\nENDBSM", r"line 3, element \.P: "),
        ("BPM\n.V/1LJED\n.J/S/A/B/18MAY/2561L\n.N/0065123456001\nENDBPM", r"\.J: scan time"),
        ("BSM\n.V/1LJED\n.G/MR\n.N/0065123456001\nENDBSM", r"line 3, element \.G: "),
        (
            "BSM\n.V/1LJED\n.N/0065123456001\n.P/ALI\n.P/ALI\nENDBSM",
            r"line 5, element \.P: .*only once",
        ),
        ("BSM\n.N/0065123456001\nENDBSM", r"line 2: BSM must start with a \.V"),
        ("BSM\n.V/1LJED\nENDBSM", r"line 3, element \.N: BSM has no \.N"),
        ("BUM\n.V/1LJED\n.N/0065123456001\nENDBUM", r"element \.F: BUM has no \.F"),
        ("BSM\n.V/1LJED\n.N/0065123456001", r"line 3: the BSM of line 1 has no ENDBSM"),
        ("BSM\n.V/1LJED\nhello\nENDBSM", r"line 3: expected an element"),
        ("BTM\n.V/1LJED\nENDBTM", r"line 1: expected a message header"),
        ("BSM\n.V/1LJED\n.P/ALİ\n.N/0065123456001\nENDBSM", r"line 3, element \.P: character"),
        ("", r"line 1: no baggage message"),
    ],
)
def test_errors_name_line_and_element(text: str, says: str) -> None:
    with pytest.raises(IataParseError, match=says):
        parse_messages(text)


def test_error_carries_line_and_element() -> None:
    with pytest.raises(IataParseError) as caught:
        parse_messages("BSM\n.V/1LJED\n.N/123\nENDBSM")
    assert (caught.value.line, caught.value.element) == (3, "N")


# ------------------------------------------------------------ build and parse

UPPER = string.ascii_uppercase
airports = st.text(UPPER, min_size=3, max_size=3)
fields = st.text(UPPER + string.digits + "-.*", max_size=8)
names = st.from_regex(r"[A-Z]([A-Z '\-]{0,10}[A-Z])?", fullmatch=True)
ddmmm = st.dates(date(2024, 1, 1), date(2028, 12, 31)).map(
    lambda d: f"{d.day:02d}{MONTHS[d.month - 1]}"
)
flights = st.builds(
    lambda airline, extra, number, suffix: f"{airline}{extra}{number}{suffix}",
    st.sampled_from(["SV", "GA", "PK", "MH", "BG", "TK", "AT", "HF", "9W", "XY"]),
    st.sampled_from(["", "A"]),
    st.integers(1, 9999),
    st.sampled_from(["", "", "D"]),
)
tags = st.builds(make_tag, st.integers(0, 999), st.integers(0, 998_000), st.integers(0, 9))


def legs(code: str) -> st.SearchStrategy[FlightLeg]:
    return st.builds(
        FlightLeg,
        st.just(code),
        flights,
        ddmmm,
        st.sampled_from(["", "JED", "MED", "CGK"]),
        st.sampled_from(["", "Y", "C"]),
        st.lists(fields, max_size=2).map(tuple),
    )


ids = st.text(string.ascii_letters + string.digits + "-_.:", min_size=1, max_size=64)
single_elements: dict[str, st.SearchStrategy[Element]] = {
    "F": legs("F"),
    "I": legs("I"),
    "S": st.builds(
        Reconciliation,
        st.sampled_from("YN"),
        st.from_regex(r"[0-9]{0,3}[A-Z]?", fullmatch=True),
        st.sampled_from(["", "C", "B", "N"]),
        st.lists(fields, max_size=4).map(tuple),
    ),
    "W": st.builds(
        Pieces,
        st.sampled_from("KLP"),
        st.integers(0, 999),
        st.none() | st.integers(0, 99_999),
        st.just(()),
    ),
    "P": st.builds(
        Passenger, names, st.lists(names, max_size=3).map(tuple), st.none() | st.integers(0, 999)
    ),
    "L": st.builds(Generic, st.just("L"), st.tuples(fields)),
    "J": st.builds(
        Processing,
        st.sampled_from("SRIX"),
        fields,
        fields,
        st.sampled_from(["", "18MAY", "01JAN"]),
        st.sampled_from(["", "1059L", "0000Z", "2359"]),
        fields,
        st.lists(fields, max_size=2).map(tuple),
    ),
    "U": st.builds(
        Container,
        st.from_regex(r"[A-Z]{3}[0-9]{5}[A-Z]{2}", fullmatch=True),
        st.lists(fields, max_size=2).map(tuple),
    ),
    "X": st.builds(Generic, st.just("X"), st.lists(fields, max_size=6).map(tuple)),
    "D": st.builds(Generic, st.just("D"), st.lists(fields, max_size=4).map(tuple)),
    "E": st.builds(
        Generic,
        st.just("E"),
        st.lists(st.sampled_from(["PRIO", "RUSH", "HEAVY"]), min_size=1, max_size=3).map(tuple),
    ),
    "G": st.builds(lambda h, p: Delivery(("MR", h, p)), ids, ids)
    | st.builds(
        Delivery, st.lists(fields.filter(lambda f: f != "MR"), min_size=1, max_size=3).map(tuple)
    ),
}
repeated_elements: st.SearchStrategy[Element] = st.one_of(
    legs("O"),
    st.builds(Generic, st.just("B"), st.lists(fields, min_size=1, max_size=3).map(tuple)),
    st.builds(Generic, st.sampled_from("RTYQ"), st.lists(fields, max_size=3).map(tuple)),
)


@st.composite
def messages(draw: st.DrawFn) -> Message:
    kind = draw(st.sampled_from(["BSM", "BPM", "BUM", "BNS"]))
    chosen = [code for code in single_elements if draw(st.booleans())]
    if kind in ("BUM", "BNS") and "F" not in chosen:
        chosen.append("F")
    body: list[Element] = [draw(single_elements[code]) for code in chosen]
    runs = draw(st.lists(st.builds(TagRun, tags, st.integers(1, 999)), min_size=1, max_size=3))
    body += runs + draw(st.lists(repeated_elements, max_size=3))
    body = draw(st.permutations(body))
    version = draw(
        st.builds(Version, st.sampled_from("1234"), st.sampled_from("LTX"), airports, st.just(()))
    )
    action = draw(st.sampled_from(["", "", "CHG", "DEL"]))
    return Message(kind, (version, *body), action)


@given(messages())
@settings(max_examples=300)
def test_build_then_parse_gives_the_same_message(message: Message) -> None:
    text = build_message(message)
    assert parse_messages(text) == [message]
    assert parse_messages(text + "\n" + text) == [message, message]


def test_build_refuses_what_type_b_cannot_carry() -> None:
    with pytest.raises(IataBuildError, match="cannot carry"):
        build_message(
            Message(
                "BSM",
                (Version("1", "L", "JED"), TagRun(make_tag("065", 1)), Generic("R", ("A/B",))),
            )
        )
    with pytest.raises(IataBuildError, match=r"element \.N"):
        build_message(Message("BSM", (Version("1", "L", "JED"), TagRun(make_tag("065", 1), 0))))


# ------------------------------------------------------------ junk never crashes

JUNK = [chr(c) for c in range(0, 128)] + ["é", "ı", "İ", "٣", "²", "\u2028", "\x85", "\ufeff"]


def _mutate(text: str, rng: random.Random) -> str:
    chars = list(text)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(7)
        at = rng.randrange(len(chars) + 1)
        if op == 0 and chars:
            del chars[min(at, len(chars) - 1)]
        elif op == 1:
            chars.insert(at, rng.choice(JUNK))
        elif op == 2 and chars:
            chars[min(at, len(chars) - 1)] = rng.choice(JUNK)
        elif op == 3:
            chars = chars[:at]
        elif op == 4:
            lines = "".join(chars).split("\n")
            rng.shuffle(lines)
            chars = list("\n".join(lines))
        elif op == 5:
            lines = "".join(chars).split("\n")
            pick = rng.randrange(len(lines))
            lines.insert(rng.randrange(len(lines) + 1), lines[pick])
            chars = list("\n".join(lines))
        else:
            chars.insert(at, rng.choice(["/", "\n", ".N/", "ENDBSM", "BPM\n", "000", " .V/"]))
    return "".join(chars)


def test_hundred_thousand_mutated_texts_raise_only_parse_errors() -> None:
    rng = random.Random(1745)
    seeds = [DOMAIN_BSM, DOMAIN_BPM, CODED_BSM, LOADED_BPM, CODED_BSM + LOADED_BPM]
    parsed = 0
    for round_ in range(100_000):
        if round_ % 10 == 0:
            text = "".join(rng.choice(JUNK) for _ in range(rng.randrange(60)))
        else:
            text = _mutate(rng.choice(seeds), rng)
        try:
            translate(text, occurred_at=NOW)
            parsed += 1
        except IataParseError:
            pass
    # Some mutations stay valid (a digit for a digit), most do not: both paths ran.
    assert 0 < parsed < 100_000


@given(st.text(max_size=200))
@settings(max_examples=500)
def test_arbitrary_text_raises_only_parse_errors(text: str) -> None:
    try:
        parse_messages(text)
    except IataParseError as exc:
        assert exc.line >= 1


# ------------------------------------------------------------------ translation


def test_coded_bsm_gives_coded_and_accepted_per_tag() -> None:
    events = _valid(translate(CODED_BSM, occurred_at=NOW))
    coded = [e for e in events if e["type"] == "bag.coded"]
    accepted = [e for e in events if e["type"] == "bag.scanned"]
    assert [e["tag"] for e in coded] == ["0065123456", "0065123457", "0065123458", "0065200000"]
    assert coded[0] == {
        "type": "bag.coded",
        "occurred_at": NOW,
        "source": "iata:BSM",
        "tag": "0065123456",
        "pilgrim_id": "ID-000123",
        "flight_id": "SV5123-2026-05-18",
        "hotel_id": "hotel-mak-0042",
    }
    assert {(e["checkpoint"], e["location"]) for e in accepted} == {("accepted", "CGK")}
    assert len(accepted) == 4


def test_bsm_without_coding_says_only_accepted() -> None:
    events = _valid(translate(DOMAIN_BSM, occurred_at=NOW))
    assert events == [
        {
            "type": "bag.scanned",
            "occurred_at": NOW,
            "source": "iata:BSM",
            "tag": "0117814872",
            "checkpoint": "accepted",
            "location": "OSL",
        }
    ]


def test_terminating_bsm_codes_but_does_not_accept_and_del_says_nothing() -> None:
    terminating = CODED_BSM.replace(".V/1LCGK", ".V/1XJED")
    events = _valid(translate(terminating, occurred_at=NOW))
    assert {e["type"] for e in events} == {"bag.coded"}
    assert translate(CODED_BSM.replace("BSM\n.V", "BSM\nDEL\n.V"), occurred_at=NOW) == []


def test_loaded_bpm_uses_uld_and_its_utc_scan_time() -> None:
    events = _valid(translate(LOADED_BPM, occurred_at=NOW))
    assert [(e["tag"], e["checkpoint"], e["uld"], e["location"]) for e in events] == [
        ("0065123456", "loaded", "AKE12345SV", "CGK"),
        ("0065123457", "loaded", "AKE12345SV", "CGK"),
    ]
    assert events[0]["occurred_at"] == "2026-05-18T01:35:00Z"
    assert events[0]["source"] == "iata:BPM/CGK-HS4"


def test_arrival_bpms_offloaded_and_sorted_with_local_time() -> None:
    offload = "BPM\n.V/1XJED\n.J/R/T/GATE/18MAY/1210L\n.N/0065123456001\n.U/AKE1SV\nENDBPM"
    (event,) = _valid(translate(offload, occurred_at=NOW))
    assert (event["checkpoint"], event["uld"], event["occurred_at"]) == (
        "offloaded",
        "AKE1SV",
        "2026-05-18T12:10:00+03:00",
    )
    sort = "BPM\n.V/1XJED\n.J/S/T/L07/18MAY/1300\n.N/0065123456001\n.G/MR/hotel-7\nENDBPM"
    (event,) = _valid(translate(sort, occurred_at=NOW))
    assert (event["checkpoint"], event["hotel_id"], event["location"]) == (
        "sorted",
        "hotel-7",
        "JED",
    )


def test_origin_bpms() -> None:
    (event,) = _valid(translate(DOMAIN_BPM, occurred_at=NOW))
    # OSL is no Makkah Route airport: its local time cannot be placed, so the given time.
    assert (event["checkpoint"], event["occurred_at"]) == ("accepted", NOW)
    offloaded = LOADED_BPM.replace(".X//CLR", ".B/OFF")
    assert translate(offloaded, occurred_at=NOW) == []


def test_bum_and_bns_report_no_scan() -> None:
    for kind in ("BUM", "BNS"):
        text = f"{kind}\n.V/1LCGK\n.F/SV5123/18MAY/JED\n.N/0065123456001\nEND{kind}"
        assert translate(text, occurred_at=NOW) == []


def test_dates_without_year_take_the_nearest_year() -> None:
    text = CODED_BSM.replace("18MAY", "31DEC")
    (coded, *_) = translate(text, occurred_at="2027-01-01T01:00:00+03:00")
    assert coded["flight_id"] == "SV5123-2026-12-31"
    padded = CODED_BSM.replace("SV5123", "SV0512")
    assert translate(padded, occurred_at=NOW)[0]["flight_id"] == "SV512-2026-05-18"


def test_translate_refuses_a_bad_occurred_at() -> None:
    with pytest.raises(ValueError, match="offset"):
        translate(CODED_BSM, occurred_at="2026-05-18T04:10:00")


def test_builders_make_translatable_messages() -> None:
    bsm = coded_bsm(
        BagTag(0, "065", 1),
        station="ISB",
        flight="SV5001",
        flight_date=date(2026, 5, 20),
        destination="MED",
        hotel_id="H1",
        pilgrim_id="P1",
        count=2,
        surname="KHAN",
    )
    events = _valid(translate(build_message(bsm), occurred_at=NOW))
    assert [e["type"] for e in events] == ["bag.coded", "bag.scanned"] * 2
    assert events[0]["flight_id"] == "SV5001-2026-05-20"


def test_split_messages_keeps_line_numbers() -> None:
    text = CODED_BSM + "BPM\n.V/1LCGK\n.N/12\nENDBPM\n" + LOADED_BPM
    chunks = list(split_messages(text))
    assert [start for start, _ in chunks] == [1, 12, 16]
    with pytest.raises(IataParseError, match=r"line 14, element \.N"):
        parse_messages(chunks[1][1], first_line=chunks[1][0])
