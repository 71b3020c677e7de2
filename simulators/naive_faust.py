"""The baseline of `tariq bench stream`: the naive Faust service, one agent counting events
per key in a Table (in-memory store, changelog on the broker), nothing else.

Run as its own process: `python -m simulators.naive_faust BROKER TOPIC GROUP PROGRESS_FILE`.
It writes the number of events it has counted to PROGRESS_FILE every 0.1 s, which is how the
bench sees it finish.
"""

from __future__ import annotations

import os
import sys
import tempfile
from typing import Any

import faust


def create_app(broker: str, topic_name: str, group: str, progress: str) -> faust.App:
    app = faust.App(
        group,
        broker=broker,
        store="memory://",
        datadir=tempfile.mkdtemp(prefix="naive-faust-"),
        web_enabled=False,
        topic_partitions=4,
        broker_session_timeout=10,
        consumer_auto_offset_reset="earliest",
    )
    topic = app.topic(
        topic_name, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw"
    )
    counts = app.Table("counts", default=int, partitions=4)
    seen = [0]

    @app.agent(topic)
    async def count(stream: Any) -> None:
        async for key, _value in stream.items():
            counts[key or b"-"] += 1
            seen[0] += 1

    @app.timer(0.1)
    async def report() -> None:
        scratch = progress + ".tmp"
        with open(scratch, "w") as f:
            f.write(str(seen[0]))
        os.replace(scratch, progress)

    return app


def main(argv: list[str]) -> int:
    from faust.worker import Worker

    broker, topic, group, progress = argv
    app = create_app(broker, topic, group, progress)
    Worker(app, loglevel="warning", quiet=True).execute_from_commandline()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
