"""Send a replay file (JSON Lines of contract events) into the service's input topic.

Every line goes onto the topic as it is, bad ones included: the worker applies the
contract's rules (tariq/domain/events.py) and dead-letters what breaks them, as for any
producer. The one exception is a line the broker could not carry (over
`MAX_MESSAGE_BYTES`, far beyond the 64 KiB an event may be): it is reported on stderr
with its line number and length, counted as not sent, and the command exits non-zero.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from tariq.adapters.kafka import EventProducer, ensure_topics
from tariq.config import Settings
from tariq.domain.events import InvalidEvent, decode_event, partition_key
from tariq.logs import is_terminal

CHUNK = 5_000
# The broker's default message limit is 1 MiB; a line this long is far over any event's.
MAX_MESSAGE_BYTES = 900 * 1024
log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ReplayLine:
    key: bytes | None
    value: bytes
    occurred_at: float | None  # epoch seconds, when the line says


def read_lines(path: Path, oversize: list[int] | None = None) -> Iterator[ReplayLine]:
    """Every non-blank line, malformed ones included (the service dead-letters them),
    except those over MAX_MESSAGE_BYTES, whose line numbers go to `oversize`."""
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            line = raw.rstrip(b"\r\n")
            if not line.strip():
                continue
            if len(line) > MAX_MESSAGE_BYTES:
                if oversize is not None:
                    oversize.append(number)
                    log.error("line %d: %d bytes, too large to send; skipped", number, len(line))
                continue
            yield _describe(line)


def _describe(line: bytes) -> ReplayLine:
    # The same decoder and key as the service: a valid event goes to its bag's partition
    # and is paced by its event time; an invalid one is still sent, to be dead-lettered.
    try:
        event = decode_event(line)
    except InvalidEvent:
        return ReplayLine(None, line, None)
    return ReplayLine(partition_key(event).encode(), line, event.occurred_at.timestamp())


def event_time_span(path: Path) -> float:
    times = [line.occurred_at for line in read_lines(path) if line.occurred_at is not None]
    return (max(times) - min(times)) if times else 0.0


async def replay(
    settings: Settings, path: Path, *, speed: float | None = None, progress: bool = True
) -> int:
    """Send every line; with `speed`, pace by event time (`speed` event seconds per second).

    Returns the number of lines sent; raises OversizeLines (after sending the others)
    when some lines were too large to send.
    """
    if speed is not None and speed <= 0:
        raise ValueError("--speed must be positive")
    total = sum(1 for _ in read_lines(path))
    oversize: list[int] = []
    await ensure_topics(settings)
    producer = EventProducer(settings, linger_ms=5)
    await producer.start()
    sent = 0
    try:
        # A progress bar only on a terminal: in a log file it is hundreds of \r updates.
        shown = progress and is_terminal()
        with tqdm(total=total, unit="ev", disable=not shown, desc=path.name) as bar:
            chunk: list[tuple[bytes | None, bytes]] = []
            start_wall = time.monotonic()
            first_at: float | None = None
            horizon = 0.0  # event-time seconds since the first event, never going back
            for line in read_lines(path, oversize):
                if speed is not None and line.occurred_at is not None:
                    if first_at is None:
                        first_at = line.occurred_at
                    horizon = max(horizon, line.occurred_at - first_at)
                    wait = start_wall + horizon / speed - time.monotonic()
                    if wait > 0:
                        if chunk:
                            await producer.send_many(chunk)
                            bar.update(len(chunk))
                            sent += len(chunk)
                            chunk = []
                        await asyncio.sleep(wait)
                chunk.append((line.key, line.value))
                if len(chunk) >= CHUNK:
                    await producer.send_many(chunk)
                    bar.update(len(chunk))
                    sent += len(chunk)
                    chunk = []
            if chunk:
                await producer.send_many(chunk)
                bar.update(len(chunk))
                sent += len(chunk)
    finally:
        await producer.stop()
    if oversize:
        raise OversizeLines(sent, oversize)
    return sent


class OversizeLines(Exception):
    """Lines too large to send (their numbers); the others were sent."""

    def __init__(self, sent: int, lines: list[int]) -> None:
        super().__init__(f"{len(lines)} line(s) too large to send: {lines[:20]}")
        self.sent = sent
        self.lines = lines
