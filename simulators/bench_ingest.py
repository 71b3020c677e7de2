"""`tariq bench ingest FILE`: the worker's batch processing alone, in this process.

The first N lines of a scenario file go through `stream.ingest.BatchProcessor` in batches, on
a scratch database of a real PostgreSQL (dropped afterwards) and a Redis namespace, with no
broker: what one event costs the worker's Python and PostgreSQL, without the reconciler, the
consumer or the other processes. PostgreSQL's CPU is read from its backend (one connection,
on this machine: /proc), so the server must run here. `--profile F` writes a cProfile of
the batches (and prints the top of it); with pg_stat_statements preloaded on the server, the
statements' times are printed too.
"""

from __future__ import annotations

import asyncio
import cProfile
import os
import pstats
import time
import uuid
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from stream.ingest import BatchProcessor
from tariq.adapters.db import create_pool, migrate
from tariq.adapters.live import LiveMirror
from tariq.domain.events import InvalidEvent, decode_event, partition_key
from tariq.domain.records import InputRecord

PARTITIONS = 4


@dataclass(frozen=True, slots=True)
class IngestResult:
    events: int
    wall_s: float
    worker_cpu_s: float
    postgres_cpu_s: float
    statements: list[dict[str, Any]]

    def lines(self) -> list[str]:
        n = self.events
        out = [
            f"{n:,} events in {self.wall_s:.2f} s ({n / self.wall_s:,.0f} events/s, one batch "
            f"at a time); worker CPU {self.worker_cpu_s:.2f} s = "
            f"{1e6 * self.worker_cpu_s / n:.1f} µs/event; PostgreSQL CPU "
            f"{self.postgres_cpu_s:.2f} s = {1e6 * self.postgres_cpu_s / n:.1f} µs/event"
        ]
        for s in self.statements:
            out.append(
                f"  {1e3 * s['total_exec_time'] / n:6.1f} µs/event  {s['calls']:6,} calls "
                f"{s['rows']:9,} rows  {s['query']}"
            )
        return out


def records_of(lines: Sequence[bytes]) -> list[InputRecord]:
    """The lines as input records, on the partitions `tariq replay` would key them to."""
    offsets = [0] * PARTITIONS
    records = []
    for line in lines:
        try:
            key = partition_key(decode_event(line)).encode()
        except InvalidEvent:
            key = b""
        partition = zlib.crc32(key) % PARTITIONS
        records.append(InputRecord(line, "events", partition, offsets[partition]))
        offsets[partition] += 1
    return records


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


async def _statements(conn: asyncpg.Connection) -> list[dict[str, Any]]:
    try:
        rows = await conn.fetch(
            "SELECT calls, total_exec_time, rows,"
            " left(regexp_replace(query, '\\s+', ' ', 'g'), 100) AS query"
            " FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database"
            " WHERE datname = current_database()) ORDER BY total_exec_time DESC LIMIT 15"
        )
    except asyncpg.PostgresError:
        return []
    return [dict(r) for r in rows]


async def run_ingest_bench(
    lines: Sequence[bytes],
    database_url: str,
    redis_url: str,
    batch: int = 2000,
    profile: Path | None = None,
) -> IngestResult:
    records = records_of(lines)
    name = f"tariq_bench_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(database_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    pool = await create_pool(_database(database_url, name), min_size=1, max_size=1)
    live = LiveMirror.from_url(redis_url, f"{name}:")
    try:
        await migrate(pool)
        async with pool.acquire() as conn:
            backend = int(await conn.fetchval("SELECT pg_backend_pid()"))
            with_statements = bool(
                await conn.fetchval(
                    "SELECT count(*) FROM pg_available_extensions WHERE name = 'pg_stat_statements'"
                )
            )
            if with_statements:
                try:
                    await conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
                    await conn.execute("SELECT pg_stat_statements_reset()")
                except asyncpg.PostgresError:  # not preloaded: no statement times
                    with_statements = False

        async def republish(_: object) -> None:
            return None

        processor = BatchProcessor(pool, live, republish)
        profiler = cProfile.Profile() if profile else None
        wall, cpu, pg = time.perf_counter(), time.process_time(), _cpu_s(backend)
        for start in range(0, len(records), batch):
            if profiler:
                profiler.enable()
            await processor.process(records[start : start + batch])
            if profiler:
                profiler.disable()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        pg = _cpu_s(backend) - pg
        statements: list[dict[str, Any]] = []
        if with_statements:
            async with pool.acquire() as conn:
                statements = await _statements(conn)
        if profiler and profile:
            profiler.dump_stats(profile)
            pstats.Stats(str(profile)).sort_stats("cumulative").print_stats(30)
        return IngestResult(len(records), wall, cpu, pg, statements)
    finally:
        await live.close()
        await pool.close()
        admin = await asyncpg.connect(database_url)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def run(path: Path, events: int, batch: int, profile: Path | None) -> IngestResult:
    database_url = os.environ.get("TARIQ_DATABASE_URL")
    redis_url = os.environ.get("TARIQ_REDIS_URL")
    if not database_url or not redis_url:
        raise SystemExit(
            "tariq bench ingest needs TARIQ_DATABASE_URL (a server on this machine, whose "
            "user may create databases) and TARIQ_REDIS_URL"
        )
    lines: list[bytes] = []
    with path.open("rb") as f:
        for line in f:
            if len(lines) >= events:
                break
            if line.strip():
                lines.append(line.rstrip(b"\n"))
    return asyncio.run(run_ingest_bench(lines, database_url, redis_url, batch, profile))
