"""Redis: the live mirror the web tier reads, and the channel that fans changes out.

The stream writes absolute totals per scope with the version PostgreSQL gave them; a
write with an older version is ignored, so the mirror converges to the database even
when two workers finish batches of the same partition out of order (a rebalance).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import orjson
import redis.asyncio as aioredis

from tariq.adapters.db.store import ScopeTotals
from tariq.domain.events import STAGES, rfc3339

_SET_IF_NEWER = """
local current = tonumber(redis.call('HGET', KEYS[1], 'version') or '-1')
if tonumber(ARGV[1]) <= current then return 0 end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'version', ARGV[1], unpack(ARGV, 2))
redis.call('SADD', KEYS[2], KEYS[1])
return 1
"""


def totals_payload(totals: ScopeTotals) -> dict[str, Any]:
    return {
        "scope": totals.scope,
        "version": totals.version,
        "processed": totals.processed,
        "duplicates": totals.duplicates,
        "rejected": totals.rejected,
        "clock": rfc3339(totals.clock),
        "stages": totals.stages,
    }


def aggregate_summary(scopes: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """The summary the API and feed show: the sum over all scopes."""
    bags_by_stage = dict.fromkeys(STAGES, 0)
    events = {"processed": 0, "rejected": 0, "duplicates": 0}
    clock: str | None = None
    for scope in scopes:
        for stage, n in scope["stages"].items():
            bags_by_stage[stage] = bags_by_stage.get(stage, 0) + int(n)
        for key in events:
            events[key] += int(scope[key])
        if scope["clock"] and (clock is None or scope["clock"] > clock):
            clock = scope["clock"]
    return {"bags_by_stage": bags_by_stage, "events": events, "clock": clock}


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
        bag_changes: Sequence[dict[str, Any]],
        vehicle_changes: Sequence[dict[str, Any]] = (),
    ) -> None:
        """Mirror the new totals and announce the changes, in one pipeline."""
        pipe = self.client.pipeline(transaction=False)
        for t in totals:
            payload = totals_payload(t)
            fields: list[Any] = []
            for key in ("processed", "duplicates", "rejected"):
                fields += [key, payload[key]]
            fields += ["clock", payload["clock"] or ""]
            fields += ["stages", orjson.dumps(payload["stages"])]
            await self._set_if_newer(
                keys=[self._scope_key(t.scope), self._scopes_key],
                args=[t.version, *fields],
                client=pipe,
            )
            pipe.publish(self.channel, orjson.dumps({"kind": "scope", **payload}))
        if bag_changes:
            pipe.publish(self.channel, orjson.dumps({"kind": "bags", "bags": bag_changes}))
        if vehicle_changes:
            pipe.publish(
                self.channel, orjson.dumps({"kind": "vehicles", "vehicles": vehicle_changes})
            )
        await pipe.execute()

    async def publish_alerts(
        self,
        alerts: Sequence[dict[str, Any]],
        open_by_type: dict[str, int],
        round_no: int,
        vehicle_statuses: Sequence[dict[str, Any]] = (),
    ) -> None:
        """The reconciler's changes: raised/resolved alerts, open counts, vehicle status."""
        counts = orjson.dumps({"round": round_no, "open": open_by_type})
        pipe = self.client.pipeline(transaction=False)
        pipe.set(self._alerts_key, counts)
        if alerts:
            pipe.publish(
                self.channel,
                orjson.dumps({"kind": "alerts", "alerts": alerts}, option=orjson.OPT_UTC_Z),
            )
        pipe.publish(
            self.channel,
            orjson.dumps({"kind": "alert_counts", "round": round_no, "open": open_by_type}),
        )
        if vehicle_statuses:
            pipe.publish(
                self.channel, orjson.dumps({"kind": "vehicles", "vehicles": vehicle_statuses})
            )
        await pipe.execute()

    async def publish_notices(self, notices: Sequence[dict[str, Any]]) -> None:
        pipe = self.client.pipeline(transaction=False)
        for notice in notices:
            message = {"kind": "notice", "notice": notice}
            pipe.publish(self.channel, orjson.dumps(message, option=orjson.OPT_UTC_Z))
        await pipe.execute()

    async def alert_counts(self) -> dict[str, int]:
        raw = await self.client.get(self._alerts_key)
        return dict(orjson.loads(raw)["open"]) if raw else {}

    async def scopes(self) -> list[dict[str, Any]]:
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
                {
                    "scope": key.rsplit(":", 1)[1],
                    "version": int(h["version"]),
                    "processed": int(h["processed"]),
                    "duplicates": int(h["duplicates"]),
                    "rejected": int(h["rejected"]),
                    "clock": h["clock"] or None,
                    "stages": orjson.loads(h["stages"]),
                }
            )
        return result

    async def summary(self) -> dict[str, Any]:
        return aggregate_summary(await self.scopes())

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
