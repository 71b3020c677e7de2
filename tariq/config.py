"""Configuration from environment variables (documented in the README).

Unset URLs mean "embedded": `tariq up` starts its own broker, Redis and PostgreSQL
under `TARIQ_DATA_DIR` and records their URLs there, so other commands run with the
same configuration (`tariq token create`, `tariq replay`) find them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tariq.domain.addresses import IPNetwork, parse_allow

ENV_PREFIX: Final = "TARIQ_"
DEFAULT_TIMEZONE: Final = "Asia/Riyadh"
WORKER_ROLES: Final = frozenset({"ingest", "reconcile"})


def _default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "tariq"


def _env(name: str) -> str | None:
    value = os.environ.get(ENV_PREFIX + name)
    return value if value else None


def _env_float(name: str, default: float) -> float:
    value = _env(name)
    if value is None:
        return default
    try:
        return float(value)
    except ValueError:
        raise SystemExit(f"{ENV_PREFIX}{name} must be a number, not {value!r}") from None


def _env_int(name: str, default: int) -> int:
    value = _env(name)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        raise SystemExit(f"{ENV_PREFIX}{name} must be a whole number, not {value!r}") from None


@dataclass(frozen=True)
class AlertThresholds:
    """Contract section 2 defaults; an operator may change them."""

    missing_after_arrival_s: float = 2 * 3600
    delivery_overdue_after_checkin_s: float = 4 * 3600
    stall_radius_m: float = 50.0
    stall_after_s: float = 20 * 60
    # A vehicle waiting this close to an arrival airport or a registered hotel is not stalled.
    stall_airport_m: float = 1_000.0
    stall_hotel_m: float = 300.0
    # While an input partition lags, deadline rules are judged against a low watermark
    # (contract v1.1 section 2); a partition's lag not refreshed for this long (wall time:
    # its worker died and nobody took it over yet) no longer holds the clock back.
    lag_stale_s: float = 60.0
    # While input lags, the low watermark is held back this much more event time, so that
    # events up to this late within their partition are waited for (tariq/domain/watermark.py).
    lateness_s: float = 3600.0


@dataclass(frozen=True)
class Settings:
    kafka_url: str | None = None
    redis_url: str | None = None
    database_url: str | None = None
    http_host: str = "127.0.0.1"
    http_port: int = 8080
    data_dir: Path = field(default_factory=_default_data_dir)
    # Prefix of topics, Redis keys and the consumer group: two services may share a
    # broker or a Redis without seeing each other's data.
    namespace: str = "tariq"
    partitions: int = 4
    replication_factor: int = 1
    # Consumer fetch wait: Faust hard-codes 1.5 s, which puts ~1 s on every hop. A fetch
    # that finds nothing comes back after this wait and is sent again: at 10 ms, with the
    # embedded broker, that polling cost enough CPU that 2,000 POSTs/s saturated both
    # cores (event → websocket p99 6.7 s and 4.2 s, against 1.8 s and 0.36 s at 50 ms,
    # alternated runs, issue 16). A real Kafka answers a fetch as soon as records arrive.
    fetch_wait_ms: int = 50
    # Up to 5,000 events a batch: the day bench ran at ~14.5k events/s against ~12k with
    # 2,000 (fewer statements and entity upserts per event); 10,000 gained nothing more.
    batch_size: int = 5000
    # A batch that is not full starts no sooner than this after the one before (stream/
    # consumer.py `_fetch`): at 2,000 single-event POSTs a second, batches of two or three
    # events saturated both cores (event → websocket p99 12 s); a 20 ms window gave p99
    # 0.6 s, 50 ms 0.24–0.28 s, 100 ms 0.38 s (docs/benchmarks.md).
    batch_within_s: float = 0.05
    # Batches in flight per worker: one in PostgreSQL while the next is decoded and folded.
    concurrency: int = 2
    # Event-time alignment (TARIQ_ALIGN_DRIFT_S): while some input partitions lag, a worker
    # pauses its partitions that ran more than this many seconds of event time past the
    # earliest lagging one (tariq/domain/watermark.py `ahead_of_watermark`); negative: off.
    # On the season replay the partitions of two workers drifted up to 25 h of event time
    # apart without it, and the judge clock waits for the slowest: judging lag max 14–18 s
    # against 7.5 s with it (docs/benchmarks.md, issue 16, eighth session).
    align_drift_s: float = 1800.0
    # How the worker reads the input topic: "direct" (aiokafka batches, the default) or
    # "faust" (a Faust agent with take_events; ~3x slower here, kept for comparison).
    ingest: str = "direct"
    thresholds: AlertThresholds = field(default_factory=AlertThresholds)
    # Live-feed websockets open at once per token; one more is refused (contract section 4).
    ws_per_token: int = 20
    # Networks a webhook may reach although private, loopback, link-local… (section 3).
    webhook_allow: tuple[IPNetwork, ...] = ()
    # Where a worker serves its own GET /metrics (0: not served; the web server's /metrics
    # shows every worker's metrics anyway, through Redis).
    worker_metrics_port: int = 0
    # The time zone the pages show times in (an IANA name), with the offset shown.
    timezone: str = DEFAULT_TIMEZONE
    # What a `tariq worker` runs (TARIQ_WORKER_ROLES): "ingest" (it joins the input
    # consumer group) and "reconcile" (it may lead the reconciler); both by default.
    roles: frozenset[str] = WORKER_ROLES

    @property
    def events_topic(self) -> str:
        return f"{self.namespace}.events"

    @property
    def consumer_group(self) -> str:
        """The Faust app's group (and the input topic's, with TARIQ_INGEST=faust)."""
        return f"{self.namespace}-stream"

    @property
    def ingest_group(self) -> str:
        """The direct input consumer's group (a different protocol from Faust's)."""
        return f"{self.namespace}-ingest"

    @property
    def redis_prefix(self) -> str:
        return f"{self.namespace}:"

    def require_urls(self) -> tuple[str, str, str]:
        """The three service URLs, or a clear error naming what is missing."""
        missing = [
            ENV_PREFIX + name
            for name, value in (
                ("KAFKA_URL", self.kafka_url),
                ("REDIS_URL", self.redis_url),
                ("DATABASE_URL", self.database_url),
            )
            if not value
        ]
        if missing:
            raise SystemExit(
                f"{', '.join(missing)} not set and no running `tariq up` found in "
                f"{self.data_dir}: set the URLs, or start the service with `tariq up`."
            )
        assert self.kafka_url and self.redis_url and self.database_url
        return self.kafka_url, self.redis_url, self.database_url


def webhook_allow() -> tuple[IPNetwork, ...]:
    """`TARIQ_WEBHOOK_ALLOW`: comma-separated CIDRs a webhook may reach (empty: none)."""
    try:
        return parse_allow(_env("WEBHOOK_ALLOW"))
    except ValueError as exc:
        raise SystemExit(f"{ENV_PREFIX}WEBHOOK_ALLOW: {exc}") from None


def worker_roles() -> frozenset[str]:
    """`TARIQ_WORKER_ROLES`: comma-separated, of `ingest` and `reconcile` (unset: both)."""
    text = _env("WORKER_ROLES")
    if not text:
        return WORKER_ROLES
    roles = frozenset(part.strip() for part in text.split(",") if part.strip())
    if not roles or not roles <= WORKER_ROLES:
        raise SystemExit(
            f"{ENV_PREFIX}WORKER_ROLES is a comma-separated list of "
            f"{', '.join(sorted(WORKER_ROLES))}, not {text!r}"
        )
    return roles


def _env_timezone() -> str:
    """TARIQ_TIMEZONE, checked against the IANA time zone database."""
    name = _env("TIMEZONE") or DEFAULT_TIMEZONE
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise SystemExit(f"{ENV_PREFIX}TIMEZONE must be an IANA time zone, not {name!r}") from None
    return name


def load_settings() -> Settings:
    data_dir = _env("DATA_DIR")
    defaults = AlertThresholds()
    return Settings(
        kafka_url=_env("KAFKA_URL"),
        redis_url=_env("REDIS_URL"),
        database_url=_env("DATABASE_URL"),
        http_host=_env("HTTP_HOST") or "127.0.0.1",
        http_port=_env_int("HTTP_PORT", 8080),
        data_dir=Path(data_dir).expanduser() if data_dir else _default_data_dir(),
        namespace=_env("NAMESPACE") or "tariq",
        partitions=_env_int("PARTITIONS", 4),
        replication_factor=_env_int("REPLICATION_FACTOR", 1),
        fetch_wait_ms=_env_int("FETCH_WAIT_MS", 50),
        batch_size=_env_int("BATCH_SIZE", 5000),
        batch_within_s=_env_float("BATCH_WITHIN_S", 0.05),
        concurrency=_env_int("CONCURRENCY", 2),
        align_drift_s=_env_float("ALIGN_DRIFT_S", 1800.0),
        ingest=_env("INGEST") or "direct",
        ws_per_token=max(1, _env_int("WS_PER_TOKEN", 20)),
        webhook_allow=webhook_allow(),
        worker_metrics_port=_env_int("WORKER_METRICS_PORT", 0),
        timezone=_env_timezone(),
        roles=worker_roles(),
        thresholds=AlertThresholds(
            missing_after_arrival_s=_env_float(
                "MISSING_AFTER_ARRIVAL_S", defaults.missing_after_arrival_s
            ),
            delivery_overdue_after_checkin_s=_env_float(
                "DELIVERY_OVERDUE_AFTER_CHECKIN_S", defaults.delivery_overdue_after_checkin_s
            ),
            stall_radius_m=_env_float("STALL_RADIUS_M", defaults.stall_radius_m),
            stall_after_s=_env_float("STALL_AFTER_S", defaults.stall_after_s),
            stall_airport_m=_env_float("STALL_AIRPORT_M", defaults.stall_airport_m),
            stall_hotel_m=_env_float("STALL_HOTEL_M", defaults.stall_hotel_m),
            lag_stale_s=_env_float("LAG_STALE_S", defaults.lag_stale_s),
            lateness_s=_env_float("LATENESS_S", defaults.lateness_s),
        ),
    )


def pii_key_setting() -> str | None:
    """`TARIQ_PII_KEY`: the key of the passport-number hashes; unset, the service
    generates one and keeps it in PostgreSQL (docs/security.md)."""
    return _env("PII_KEY")
