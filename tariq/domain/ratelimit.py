"""A per-key token bucket (pure: the caller passes the time), for the public pages."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class RateLimiter:
    """At most `per_minute` requests a minute per key, with bursts up to `per_minute`.

    Keys idle long enough to have refilled are forgotten, so memory stays bounded by the
    keys active in the last minute (and by `max_keys`, beyond which the oldest are dropped).
    """

    per_minute: int = 60
    max_keys: int = 100_000
    _buckets: dict[str, tuple[float, float]] = field(default_factory=dict)

    def allow(self, key: str, now: float) -> bool:
        capacity = float(self.per_minute)
        rate = capacity / 60.0
        tokens, seen = self._buckets.pop(key, (capacity, now))
        tokens = min(capacity, tokens + (now - seen) * rate)
        allowed = tokens >= 1.0
        if allowed:
            tokens -= 1.0
        self._buckets[key] = (tokens, now)  # re-inserted: the dict stays in last-use order
        if len(self._buckets) > self.max_keys:
            self._forget(now)
        return allowed

    def _forget(self, now: float) -> None:
        full_after = 60.0
        for key, (_, seen) in list(self._buckets.items()):
            if now - seen < full_after and len(self._buckets) <= self.max_keys:
                break
            del self._buckets[key]
