"""Subcommands of `tariq` that belong to the tagging package: `iata` and `label`."""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

from tagging import iata, labels
from tagging.tags import TagError, parse_tag


def add_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `tariq iata …` and `tariq label …`."""
    iata_parser = subparsers.add_parser("iata", help="IATA Type B baggage messages")
    iata_commands = iata_parser.add_subparsers(dest="iata_command", metavar="COMMAND")
    iata_commands.required = True
    parse = iata_commands.add_parser(
        "parse", help="print the contract events that the messages in FILE mean (JSON Lines)"
    )
    parse.add_argument(
        "file", metavar="FILE", help="text with BSM/BPM/BUM/BNS messages; - for stdin"
    )
    parse.add_argument(
        "--occurred-at",
        help="event time for messages without a complete .J scan time (default: now, UTC)",
    )
    parse.set_defaults(func=_iata_parse)

    label_parser = subparsers.add_parser("label", help="Makkah Route bag labels")
    label_commands = label_parser.add_subparsers(dest="label_command", metavar="COMMAND")
    label_commands.required = True
    encode = label_commands.add_parser("encode", help="print a label's text form and payload")
    _label_fields(encode)
    encode.set_defaults(func=_label_encode)
    decode = label_commands.add_parser("decode", help="decode a payload or text form to JSON")
    decode.add_argument("code", metavar="CODE", help="payload (MR1/...) or text form")
    decode.set_defaults(func=_label_decode)
    render = label_commands.add_parser(
        "render",
        help="render a label as SVG (100 x 50 mm, 203 dpi): ITF barcode of the tag, QR code "
        "of the payload",
    )
    _label_fields(render)
    render.add_argument("--name", help="pilgrim name to print (never put in the codes)")
    render.add_argument(
        "--lang", choices=tuple(labels.CAPTIONS), default="en", help="captions' language"
    )
    render.add_argument("--out", help="SVG file to write (default: stdout)")
    render.set_defaults(func=_label_render)


def _label_fields(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tag", required=True, help="10-digit bag tag number")
    parser.add_argument("--pilgrim", required=True, help="pilgrim id")
    parser.add_argument("--flight", required=True, help="flight id, e.g. SV5123-2026-05-18")
    parser.add_argument("--airport", required=True, help="arrival airport (JED or MED)")
    parser.add_argument("--hotel", required=True, help="hotel id")
    parser.add_argument("--lane", type=int, help="sort lane at the arrival airport")


def _event_id(text: str, index: int) -> str:
    # Stable across runs, so parsing the same file twice gives the same (deduplicable) events.
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:24]
    return f"iata-{digest}-{index}"


def _iata_parse(args: argparse.Namespace) -> int:
    text = sys.stdin.read() if args.file == "-" else Path(args.file).read_text(encoding="utf-8")
    occurred_at = args.occurred_at or datetime.now(UTC).isoformat(timespec="seconds")
    try:
        iata.parse_instant(occurred_at)
    except ValueError as exc:
        print(f"tariq iata parse: {exc}", file=sys.stderr)
        return 2
    failures = 0
    for first_line, chunk in iata.split_messages(text):
        try:
            messages = iata.parse_messages(chunk, first_line=first_line)
        except iata.IataParseError as exc:
            failures += 1
            print(f"{args.file}: {exc}", file=sys.stderr)
            continue
        for message in messages:
            events = iata.translate_message(message, occurred_at=occurred_at)
            if not events:
                # Understood, but no contract event: say so, so that nothing looks lost.
                reason = iata.no_event_reason(message)
                print(f"{args.file}: line {first_line}: {message.kind}: {reason}", file=sys.stderr)
            for index, event in enumerate(events):
                line = {"event_id": _event_id(chunk, index), **event}
                sys.stdout.write(json.dumps(line, ensure_ascii=False) + "\n")
    return 1 if failures else 0


def _label_from(args: argparse.Namespace) -> labels.Label:
    return labels.Label(
        parse_tag(args.tag),
        args.pilgrim,
        args.flight,
        args.airport,
        args.hotel,
        args.lane,
        getattr(args, "name", None),
    )


def _label_encode(args: argparse.Namespace) -> int:
    try:
        label = _label_from(args)
    except (TagError, labels.LabelError) as exc:
        print(f"tariq label: {exc}", file=sys.stderr)
        return 2
    print(labels.encode_text(label))
    print(labels.encode_payload(label))
    return 0


def _label_decode(args: argparse.Namespace) -> int:
    try:
        label = labels.decode(args.code)
    except labels.LabelError as exc:
        print(f"tariq label: {exc}", file=sys.stderr)
        return 1
    print(
        json.dumps(
            {
                "tag": str(label.tag),
                "pilgrim_id": label.pilgrim_id,
                "flight_id": label.flight_id,
                "airport": label.airport,
                "hotel_id": label.hotel_id,
                "lane": label.lane,
            },
            ensure_ascii=False,
        )
    )
    return 0


def _label_render(args: argparse.Namespace) -> int:
    try:
        label = _label_from(args)
    except (TagError, labels.LabelError) as exc:
        print(f"tariq label: {exc}", file=sys.stderr)
        return 2
    svg = labels.render_svg(label, args.lang)
    if args.out:
        Path(args.out).write_text(svg + "\n", encoding="utf-8")
    else:
        print(svg)
    return 0
