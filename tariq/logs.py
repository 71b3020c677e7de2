"""The one log setup of every Tariq process (worker, web, command line).

On a terminal: one human line per record. Otherwise (a file, a pipe, a log collector): one
JSON object per line, `{time, level, logger, message, request_id?, event_ids?, error?}`.
`TARIQ_LOG_FORMAT=json|text` forces either. Tokens never reach a log: `token=…` and
`Bearer …` are masked in every message, and the access log (dashboards/metrics.py) writes
the route and path without the query string.
"""

from __future__ import annotations

import contextvars
import logging
import logging.config
import os
import re
import sys
from datetime import UTC, datetime
from typing import Any, Final, TextIO

import orjson

# The request being served (set by the web server's access-log middleware).
REQUEST_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "tariq_request_id", default=None
)
_SECRETS: Final = re.compile(r"(?i)(token=|bearer\s+)[^\s&\"',;#]+")
# A bare token anywhere (a token pasted into a path, a header quoted in an error).
_BARE_TOKEN: Final = re.compile(r"\btq_[A-Za-z0-9_-]{20,}")
REDACTED: Final = "***"
TEXT_FORMAT: Final = "%(asctime)s %(levelname)s %(name)s %(message)s"


def redact(text: str) -> str:
    """`token=abc` → `token=***`, `Bearer abc` → `Bearer ***`, a bare `tq_…` token → `***`."""
    return _BARE_TOKEN.sub(REDACTED, _SECRETS.sub(lambda m: m.group(1) + REDACTED, text))


def _time(created: float) -> str:
    return datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": _time(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        request_id = getattr(record, "request_id", None) or REQUEST_ID.get()
        if request_id:
            entry["request_id"] = request_id
        event_ids = getattr(record, "event_ids", None)
        if event_ids:
            entry["event_ids"] = [str(e) for e in event_ids]
        access = getattr(record, "access", None)
        if isinstance(access, dict):
            entry.update(access)
        if record.exc_info:
            entry["error"] = redact(self.formatException(record.exc_info))
        return orjson.dumps(entry, default=str).decode()


class TextFormatter(logging.Formatter):
    """The human form, for a terminal: time, level, logger, message (and request id)."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        text = redact(super().format(record))
        request_id = getattr(record, "request_id", None) or REQUEST_ID.get()
        return f"{text} [{request_id}]" if request_id else text


def use_json(stream: TextIO | None = None) -> bool:
    forced = os.environ.get("TARIQ_LOG_FORMAT", "").strip().lower()
    if forced in ("json", "text"):
        return forced == "json"
    return not is_terminal(stream or sys.stderr)


def is_terminal(stream: TextIO | None = None) -> bool:
    """Whether `stream` (stderr by default) is a terminal: progress bars only then."""
    target = stream or sys.stderr
    try:
        return target.isatty()
    except (AttributeError, ValueError):
        return False


def formatter_class() -> str:
    return f"{__name__}.{'JsonFormatter' if use_json() else 'TextFormatter'}"


def dict_config(level: str | int = "INFO") -> dict[str, Any]:
    """A `logging.config.dictConfig` of the root logger on stderr in the chosen format."""
    name = logging.getLevelName(level) if isinstance(level, int) else level.upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"tariq": {"()": formatter_class()}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "tariq",
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"level": name, "handlers": ["stderr"]},
    }


def setup(level: str | int = "INFO") -> None:
    """Configure the process's logging (replaces any earlier handlers of the root logger)."""
    logging.config.dictConfig(dict_config(level))


class RedactTokens(logging.Filter):
    """Rewrites a record's message and traceback text with tokens redacted: aiohttp's access
    log prints the request line with its query, and its "bad request" error log prints the
    malformed request line (a websocket URL carries `?token=`)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


def install_log_redaction(*loggers: logging.Logger) -> None:
    """Redact tokens in every record of the root handlers and of aiohttp's loggers."""
    redactor = RedactTokens()
    targets = [*logging.getLogger().handlers, *loggers]
    for name in ("aiohttp.access", "aiohttp.server", "aiohttp.web", "aiohttp.websocket"):
        targets.append(logging.getLogger(name))
    for target in targets:
        if not any(isinstance(f, RedactTokens) for f in target.filters):
            target.addFilter(redactor)
