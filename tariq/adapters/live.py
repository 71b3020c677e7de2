"""Redis: the live mirror the web tier reads, and the channel that fans changes out.

The stream writes absolute totals per scope with the version PostgreSQL gave them; a
write with an older version is ignored, so the mirror converges to the database even
when two workers finish batches of the same partition out of order (a rebalance).

Every message on the channel is one of `tariq.domain.feed.Change`, encoded with msgspec.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import msgspec
import orjson
import redis.asyncio as aioredis

from tariq.adapters.db.store import ScopeTotals
from tariq.domain import feed
from tariq.domain.alerts import ALERT_TYPES
from tariq.domain.events import STAGES, rfc3339

_SET_IF_NEWER = """
local current = tonumber(redis.call('HGET', KEYS[1], 'version') or '-1')
if tonumber(ARGV[1]) <= current then return 0 end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'version', ARGV[1], unpack(ARGV, 2))
redis.call('SADD', KEYS[2], KEYS[1])
return 1
"""


def totals_payload(totals: ScopeTotals) -> feed.Scope:
    return feed.Scope(
        scope=totals.scope,
        version=totals.version,
        processed=totals.processed,
        duplicates=totals.duplicates,
        rejected=totals.rejected,
        clock=rfc3339(totals.clock),
        stages=dict(totals.stages),
    )


def aggregate_summary(
    scopes: Iterable[feed.Scope], alerts_open_by_type: dict[str, int]
) -> feed.Figures:
    """The summary the API and feed show: the sum over all scopes."""
    bags_by_stage = dict.fromkeys(STAGES, 0)
    events = feed.Events(processed=0, duplicates=0, rejected=0)
    clock: str | None = None
    for scope in scopes:
        for stage, n in scope.stages.items():
            bags_by_stage[stage] = bags_by_stage.get(stage, 0) + int(n)
        events.processed += scope.processed
        events.duplicates += scope.duplicates
        events.rejected += scope.rejected
        if scope.clock and (clock is None or scope.clock > clock):
            clock = scope.clock
    open_by_type = dict.fromkeys(ALERT_TYPES, 0) | alerts_open_by_type
    return feed.Figures(bags_by_stage, events, open_by_type, clock)


class LiveMirror:
    def __init__(self, client: aioredis.Redis, prefix: str) -> None:
        self.client = client
        self.prefix = prefix
        self.channel = f"{prefix}changes"
        self._scopes_key = f"{prefix}summary-scopes"
        self._alerts_key = f"{prefix}alerts-open"
        self._set_if_newer = client.register_script(_SET_IF_NEWER)

    @classmethod
    def from_url(cls, url: str, prefix: str) -> LiveMirror:
        return cls(aioredis.from_url(url), prefix)

    async def close(self) -> None:
        await self.client.aclose()

    def _scope_key(self, scope: str) -> str:
        return f"{self.prefix}summary:{scope}"

    async def publish_batch(
        self,
        totals: Sequence[ScopeTotals],
        bag_changes: Sequence[feed.Bag],
        vehicle_changes: Sequence[feed.Position] = (),
    ) -> None:
        """Mirror the new totals and announce the changes, in one pipeline."""
        pipe = self.client.pipeline(transaction=False)
        for t in totals:
            scope = totals_payload(t)
            fields: list[Any] = [
                "processed",
                scope.processed,
                "duplicates",
                scope.duplicates,
                "rejected",
                scope.rejected,
                "clock",
                scope.clock or "",
                "stages",
                orjson.dumps(scope.stages),
            ]
            await self._set_if_newer(
                keys=[self._scope_key(t.scope), self._scopes_key],
                args=[t.version, *fields],
                client=pipe,
            )
            pipe.publish(self.channel, feed.encode(scope))
        if bag_changes:
            pipe.publish(self.channel, feed.encode(feed.Bags(list(bag_changes))))
        if vehicle_changes:
            pipe.publish(self.channel, feed.encode(feed.Vehicles(list(vehicle_changes))))
        await pipe.execute()

    async def publish_alerts(
        self,
        alerts: Sequence[dict[str, Any]],
        open_by_type: dict[str, int],
        round_no: int,
        vehicle_statuses: Sequence[dict[str, Any]] = (),
    ) -> None:
        """The reconciler's changes: raised/resolved alerts (`Alert`'s fields), open counts,
        and vehicles' statuses (`Status`'s fields)."""
        counts = orjson.dumps({"round": round_no, "open": open_by_type})
        pipe = self.client.pipeline(transaction=False)
        pipe.set(self._alerts_key, counts)
        if alerts:
            message = feed.Alerts(msgspec.convert(alerts, list[feed.Alert]))
            pipe.publish(self.channel, feed.encode(message))
        pipe.publish(
            self.channel, feed.encode(feed.AlertCounts(round=round_no, open=dict(open_by_type)))
        )
        if vehicle_statuses:
            statuses = feed.VehicleStatuses(msgspec.convert(vehicle_statuses, list[feed.Status]))
            pipe.publish(self.channel, feed.encode(statuses))
        await pipe.execute()

    async def publish_notices(self, notices: Sequence[dict[str, Any]]) -> None:
        """New notices to hotels (`Notice`'s fields)."""
        pipe = self.client.pipeline(transaction=False)
        for notice in notices:
            message = feed.NoticeMessage(msgspec.convert(notice, feed.Notice))
            pipe.publish(self.channel, feed.encode(message))
        await pipe.execute()

    async def publish_triage(self, triage: dict[str, Any]) -> None:
        """An alert's triage changed (`Triage`'s fields): to every web process's operators."""
        message = feed.AlertTriage(msgspec.convert(triage, feed.Triage))
        await self.client.publish(self.channel, feed.encode(message))

    async def alert_counts(self) -> dict[str, int]:
        raw = await self.client.get(self._alerts_key)
        return dict(orjson.loads(raw)["open"]) if raw else {}

    async def scopes(self) -> list[feed.Scope]:
        members = await self.client.smembers(self._scopes_key)
        keys = sorted(k.decode() if isinstance(k, bytes) else str(k) for k in members)
        if not keys:
            return []
        pipe = self.client.pipeline(transaction=False)
        for key in keys:
            pipe.hgetall(key)
        result = []
        for key, raw in zip(keys, await pipe.execute(), strict=True):
            if not raw:
                continue
            h = {k.decode(): v.decode() for k, v in raw.items()}
            result.append(
                feed.Scope(
                    scope=key.rsplit(":", 1)[1],
                    version=int(h["version"]),
                    processed=int(h["processed"]),
                    duplicates=int(h["duplicates"]),
                    rejected=int(h["rejected"]),
                    clock=h["clock"] or None,
                    stages=orjson.loads(h["stages"]),
                )
            )
        return result

    async def summary(self) -> feed.Figures:
        return aggregate_summary(await self.scopes(), await self.alert_counts())

    # ---- worker metrics, for the web server's aggregated /metrics -----------------------

    def _metrics_key(self, worker: str) -> str:
        return f"{self.prefix}metrics:{worker}"

    async def put_worker_metrics(self, worker: str, text: bytes, ttl_s: int) -> None:
        """A worker's Prometheus exposition; it expires when the worker stops refreshing it."""
        await self.client.set(self._metrics_key(worker), text, ex=ttl_s)

    async def worker_metrics(self) -> dict[str, bytes]:
        """Every live worker's last exposition, by worker id."""
        keys = [k async for k in self.client.scan_iter(match=self._metrics_key("*"), count=100)]
        if not keys:
            return {}
        values = await self.client.mget(keys)
        result = {}
        for key, value in zip(keys, values, strict=True):
            name = key.decode() if isinstance(key, bytes) else str(key)
            if value:
                result[name.rsplit(":", 1)[1]] = (
                    value if isinstance(value, bytes) else value.encode()
                )
        return result

    # ---- worker heartbeats and mirror re-sync (readiness, outages) ----------------------

    def _worker_key(self, worker_id: str) -> str:
        return f"{self.prefix}worker:{worker_id}"

    async def publish_heartbeat(
        self, worker_id: str, heartbeat: dict[str, Any], ttl_s: float
    ) -> None:
        """A worker's heartbeat (its partitions, lag, time); gone after `ttl_s` unless
        renewed, so a dead worker drops out of /health on its own."""
        pipe = self.client.pipeline(transaction=False)
        pipe.set(self._worker_key(worker_id), orjson.dumps(heartbeat), px=int(ttl_s * 1000))
        pipe.sadd(f"{self.prefix}workers", worker_id)
        await pipe.execute()

    async def remove_heartbeat(self, worker_id: str) -> None:
        pipe = self.client.pipeline(transaction=False)
        pipe.delete(self._worker_key(worker_id))
        pipe.srem(f"{self.prefix}workers", worker_id)
        await pipe.execute()

    async def heartbeats(self) -> list[dict[str, Any]]:
        """The live workers' heartbeats (expired ones are dropped from the set)."""
        members = sorted(
            m.decode() if isinstance(m, bytes) else str(m)
            for m in await self.client.smembers(f"{self.prefix}workers")
        )
        if not members:
            return []
        values = await self.client.mget([self._worker_key(m) for m in members])
        gone = [m for m, v in zip(members, values, strict=True) if v is None]
        if gone:
            await self.client.srem(f"{self.prefix}workers", *gone)
        return [orjson.loads(v) for v in values if v is not None]

    async def mirror_synced(self) -> bool:
        """False when Redis lost the mirror (a restart of a memory-only Redis), or it was
        never filled: the worker then re-syncs it from PostgreSQL."""
        return bool(await self.client.exists(f"{self.prefix}mirror-synced"))

    async def resync(self, totals: Sequence[ScopeTotals]) -> None:
        """Mirror every scope's totals as PostgreSQL has them, then mark the mirror synced.
        Versions keep any newer write from a batch that finished meanwhile."""
        await self.publish_batch(totals, [])
        await self.client.set(f"{self.prefix}mirror-synced", b"1")
