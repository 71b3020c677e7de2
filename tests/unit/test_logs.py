"""Structured logs: one JSON object per line with the fields operators query by; no token."""

from __future__ import annotations

import io
import logging

import orjson
import pytest

from tariq import logs


def emit(formatter: logging.Formatter, *records: logging.LogRecord) -> list[str]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    for record in records:
        handler.emit(record)
    return stream.getvalue().splitlines()


def record(message: str, *args: object, **extra: object) -> logging.LogRecord:
    rec = logging.LogRecord("tariq.test", logging.INFO, __file__, 1, message, args, None)
    for key, value in extra.items():
        setattr(rec, key, value)
    return rec


def test_json_lines_parse_and_carry_request_and_event_ids() -> None:
    reset = logs.REQUEST_ID.set("req-1")
    try:
        lines = emit(
            logs.JsonFormatter(),
            record("batch of %d", 3, event_ids=["e1", "e2"]),
            record("multi\nline ünïcode"),
        )
    finally:
        logs.REQUEST_ID.reset(reset)
    assert len(lines) == 2
    first, second = (orjson.loads(line) for line in lines)
    assert first["message"] == "batch of 3"
    assert first["level"] == "info" and first["logger"] == "tariq.test"
    assert first["request_id"] == "req-1" and first["event_ids"] == ["e1", "e2"]
    assert first["time"].endswith("Z")
    assert second["message"] == "multi\nline ünïcode"


def test_tokens_never_reach_a_log_line() -> None:
    line = emit(logs.JsonFormatter(), record("GET /ws/live?token=s3cr3t&x=1 Bearer abc.def"))[0]
    assert "s3cr3t" not in line and "abc.def" not in line
    assert "token=***" in orjson.loads(line)["message"]


def test_format_follows_terminal_unless_forced(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TARIQ_LOG_FORMAT", raising=False)
    assert logs.use_json(io.StringIO())  # not a terminal
    monkeypatch.setenv("TARIQ_LOG_FORMAT", "text")
    assert not logs.use_json(io.StringIO())
    monkeypatch.setenv("TARIQ_LOG_FORMAT", "json")
    assert logs.formatter_class().endswith("JsonFormatter")
    assert not logs.is_terminal(io.StringIO())
