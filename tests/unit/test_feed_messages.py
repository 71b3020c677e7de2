"""The live-feed messages: docs/feeds.md matches tariq/domain/feed.py, and they round-trip."""

from __future__ import annotations

import inspect
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
import orjson
import pytest

from stream.ingest import _bag_change, vehicle_view
from stream.reconciler import alert_view
from tariq.domain import feed
from tariq.domain.bags import BagState
from tariq.domain.entities import VehicleState
from tariq.domain.events import STAGE_RANK
from tariq.domain.notices import bags_delivered, notice_as_dict

DOC = Path(__file__).parents[2] / "docs" / "feeds.md"
AT = datetime(2026, 5, 18, 5, 30, tzinfo=UTC)


def documented_shapes(text: str) -> dict[str, tuple[str | None, list[str]]]:
    """`Name = {"kind": "tag", "field": …, "field", …}` of the doc: name → (tag, fields)."""
    text = "\n".join(line.split("#", 1)[0] for line in text.splitlines())
    shapes: dict[str, tuple[str | None, list[str]]] = {}
    for match in re.finditer(r"^\s*([A-Z]\w*) = \{", text, re.MULTILINE):
        name, start = match.group(1), match.end()
        depth, end = 1, start
        while depth:
            depth += {"{": 1, "[": 1, "}": -1, "]": -1}.get(text[end], 0)
            end += 1
        body = text[start : end - 1]
        elements, depth, current = [], 0, ""
        for char in body:
            depth += {"{": 1, "[": 1, "}": -1, "]": -1}.get(char, 0)
            if char == "," and depth == 0:
                elements.append(current)
                current = ""
            else:
                current += char
        elements.append(current)
        tag, fields = None, []
        for element in (e.strip() for e in elements if e.strip()):
            key = re.match(r'"(\w+)"\s*(?::\s*(.*))?$', element, re.DOTALL)
            assert key, f"{name}: cannot read {element!r}"
            if key.group(1) == "kind" and name in MESSAGES:
                tag = orjson.loads(key.group(2))
            else:
                fields.append(key.group(1))
        assert name not in shapes, f"{name} is documented twice"
        shapes[name] = (tag, fields)
    return shapes


STRUCTS = {
    name: cls
    for name, cls in vars(feed).items()
    if inspect.isclass(cls)
    and issubclass(cls, msgspec.Struct)
    and cls.__module__ == feed.__name__
    and cls is not feed.Message
}
MESSAGES = {name for name, cls in STRUCTS.items() if cls.__struct_config__.tag is not None}


def test_every_message_kind_and_part_is_documented_with_its_fields_and_none_extra() -> None:
    shapes = documented_shapes(DOC.read_text(encoding="utf-8"))
    assert sorted(shapes) == sorted(STRUCTS)
    for name, cls in STRUCTS.items():
        tag, fields = shapes[name]
        assert tag == cls.__struct_config__.tag, name
        assert fields == [f.encode_name for f in msgspec.structs.fields(cls)], name


def test_every_kind_has_one_shape_per_audience() -> None:
    channel = [cls.__struct_config__.tag for cls in feed.CHANGES]
    assert len(set(channel)) == len(channel)
    assert sorted(channel) == sorted(
        [
            "scope",
            "bags",
            "vehicles",
            "vehicle_status",
            "alerts",
            "alert_counts",
            "notice",
            "alert_triage",
        ]
    )
    to_clients = {cls.__struct_config__.tag for cls in feed.TO_CLIENTS}
    assert to_clients == {"summary", "snapshot", "vehicle", "passengers"}


def bag() -> feed.Bag:
    return feed.Bag("0065100001", "accepted", "CGK", "MAK-1", "SV1", "P1", "G1", AT)


def position() -> feed.Position:
    return feed.Position("T-1", "truck", 21.5, 39.2, 40.0, 90.0, AT)


def status() -> feed.Status:
    return feed.Status("T-1", "on_trip", "MAK-1", AT)


def alert() -> feed.Alert:
    return feed.Alert("al-1", "left_behind", "open", AT, None, "0065100001", "P1", "SV1",
                      "MAK-1", None)  # fmt: skip


def notice() -> feed.Notice:
    return feed.Notice("ntc_1", "MAK-1", "bags_en_route", "T-1", ["0065100001"], AT, AT)


def passenger() -> feed.Passenger:
    return feed.Passenger("P1", "MAK-1", [feed.PassengerBag("0065100001", "accepted", None)])


CHANGE_SAMPLES: list[feed.Change] = [
    feed.Scope("0", 3, 10, 1, 2, "2026-05-18T05:30:00Z", {"coded": 4}),
    feed.Bags([bag()]),
    feed.Vehicles([position()]),
    feed.VehicleStatuses([status(), feed.Status("B-1", "idle", None, None)]),
    feed.Alerts([alert()]),
    feed.AlertCounts(round=7, open={"left_behind": 1}),
    feed.NoticeMessage(notice()),
]
ETA = "2026-05-18T06:00:00Z"
notice_fields = msgspec.structs.asdict(notice())
FIGURES = feed.Figures({"coded": 4}, feed.Events(10, 1, 2), {"left_behind": 1}, None)
CLIENT_SAMPLES: list[msgspec.Struct] = [
    feed.Summary(FIGURES.bags_by_stage, FIGURES.events, FIGURES.alerts_open_by_type, None),
    feed.LiveSnapshot(FIGURES, [feed.Vehicle("T-1", "truck", 21.5, 39.2)], [alert()]),
    feed.HotelSnapshot(
        "MAK-1",
        [
            feed.HotelBag("0065100001", "P1", "G1", "SV1", "sorted", "JED", "T-1", AT),
            feed.HotelBag("0065100002", "P1", "G1", "SV1", "loaded", "JED", "T-1", AT, ETA),
        ],
        [
            feed.NoticeRecord(
                **notice_fields,
                status="pending",
                attempts=0,
                created_at=AT,
                delivered_at=None,
                last_error=None,
            )
        ],
        [alert()],
    ),
    feed.BusSnapshot(feed.Vehicle("B-1"), [passenger()]),
    feed.VehicleUpdate(feed.Vehicle("B-1", "bus", 21.5, 39.2, status="on_trip")),
    feed.Passengers([passenger()]),
]


@pytest.mark.parametrize("message", CHANGE_SAMPLES, ids=lambda m: type(m).__name__)
def test_changes_round_trip_through_the_one_decoder(message: feed.Change) -> None:
    data = feed.encode(message)
    assert orjson.loads(data)["kind"] == message.__struct_config__.tag
    assert feed.decode_change(data) == message


@pytest.mark.parametrize("message", CLIENT_SAMPLES, ids=lambda m: type(m).__name__)
def test_client_messages_round_trip(message: msgspec.Struct) -> None:
    data = feed.encode(message)
    assert orjson.loads(data)["kind"] == message.__struct_config__.tag
    assert msgspec.json.decode(data, type=type(message)) == message


def test_times_are_rfc3339_with_z_and_an_absent_eta_is_left_out() -> None:
    assert orjson.loads(feed.encode(feed.Bags([bag()])))["bags"][0]["updated_at"] == (
        "2026-05-18T05:30:00Z"
    )
    hotel_bag = feed.HotelBag("0065100001", None, None, None, "coded", None, None, None)
    assert "eta" not in orjson.loads(msgspec.json.encode(hotel_bag))


def test_the_decoder_refuses_an_unknown_kind_or_a_wrong_shape() -> None:
    with pytest.raises(msgspec.ValidationError):
        feed.decode_change(b'{"kind": "summary", "clock": null}')
    with pytest.raises(msgspec.ValidationError):
        feed.decode_change(b'{"kind": "bags", "bags": [{"tag": 1}]}')


def test_the_producers_shapes_convert() -> None:
    """The worker's views, and the dicts the reconciler hands the mirror, are the shapes."""
    rank = STAGE_RANK["accepted"]
    state = BagState(tag="0065100001", stage_rank=rank, location="CGK", updated_at=AT)
    assert _bag_change(state, "G1") == feed.Bag(
        "0065100001", "accepted", "CGK", None, None, None, "G1", AT
    )
    vehicle = VehicleState("T-1", "truck", 21.5, 39.2, 40.0, 90.0, AT)
    assert vehicle_view(vehicle) == position()
    row: dict[str, Any] = {f.name: None for f in msgspec.structs.fields(feed.Alert)}
    row |= {"alert_id": "al-1", "type": "left_behind", "status": "open", "raised_at": AT}
    assert msgspec.convert(alert_view(row), feed.Alert).raised_at == AT
    reconciled = {"vehicle_id": "T-1", "status": "on_trip", "next_stop": "MAK-1", "eta": AT}
    assert msgspec.convert(reconciled, feed.Status) == status()
    delivered = bags_delivered(hotel_id="MAK-1", tags=["1"], event_ids=["e"], occurred_at=AT)
    assert msgspec.convert(notice_as_dict(delivered), feed.Notice).tags == ["1"]


def test_a_vehicle_merges_positions_and_statuses_without_losing_either() -> None:
    vehicle = feed.merge_status(feed.Vehicle("T-1"), status())
    vehicle = feed.merge_position(vehicle, position())
    assert (vehicle.status, vehicle.next_stop, vehicle.lat) == ("on_trip", "MAK-1", 21.5)
    vehicle = feed.merge_status(vehicle, feed.Status("T-1", "stalled", None, None))
    assert (vehicle.status, vehicle.lat, vehicle.at) == ("stalled", 21.5, AT)
