"""`tariq simulate check`: compares what the running service reports with the ground truth.

`compare` is pure (dicts in, report out); `fetch_service_state` is the only part that talks to
the service (aiohttp, contract section 3).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

BAG_FIELDS = ("stage", "location", "pilgrim_id", "flight_id", "hotel_id")
# Ids compared on a matched alert. hotel_id is not: for `misdelivered` a service may name the
# wrong hotel rather than the coded one, and the contract allows either reading.
ALERT_ID_FIELDS = ("pilgrim_id", "flight_id")


@dataclass(frozen=True)
class Mismatch:
    kind: str
    subject: str
    expected: Any = None
    actual: Any = None

    def __str__(self) -> str:
        return f"{self.kind} {self.subject}: expected {self.expected!r}, got {self.actual!r}"


@dataclass
class CheckReport:
    bags_total: int = 0
    bags_exact: int = 0
    alerts_expected: int = 0
    alerts_reported: int = 0
    alerts_matched: int = 0
    mismatches: list[Mismatch] = field(default_factory=list)

    @property
    def precision(self) -> float:
        if self.alerts_reported == 0:
            return 1.0 if self.alerts_expected == 0 else 0.0
        return self.alerts_matched / self.alerts_reported

    @property
    def recall(self) -> float:
        if self.alerts_expected == 0:
            return 1.0
        return self.alerts_matched / self.alerts_expected

    @property
    def ok(self) -> bool:
        return not self.mismatches

    def lines(self) -> list[str]:
        out = [
            f"bags: {self.bags_exact:,} of {self.bags_total:,} exact",
            f"open alerts: {self.alerts_matched:,} matched, {self.alerts_expected:,} expected, "
            f"{self.alerts_reported:,} reported; precision {self.precision:.4f}, "
            f"recall {self.recall:.4f}",
            f"mismatches: {len(self.mismatches):,}",
        ]
        out.extend(f"  {m}" for m in self.mismatches)
        return out


def alert_key(alert: Mapping[str, Any]) -> tuple[str, str]:
    """An open alert is identified by its type and the bag or vehicle it is about."""
    subject = alert.get("tag") or alert.get("vehicle_id") or ""
    return (str(alert.get("type")), str(subject))


def compare(
    truth: Mapping[str, Any],
    api_bags: Mapping[str, Mapping[str, Any] | None],
    api_alerts: Iterable[Mapping[str, Any]],
    api_summary: Mapping[str, Any] | None = None,
) -> CheckReport:
    """Exact matches of bags, precision and recall of open alerts, and every mismatch."""
    report = CheckReport()
    for bag in truth["bags"]:
        tag = bag["tag"]
        report.bags_total += 1
        got = api_bags.get(tag)
        if got is None:
            report.mismatches.append(Mismatch("bag_missing", tag, bag["stage"], None))
            continue
        exact = True
        for name in BAG_FIELDS:
            if got.get(name) != bag[name]:
                exact = False
                report.mismatches.append(Mismatch(f"bag_{name}", tag, bag[name], got.get(name)))
        report.bags_exact += exact

    expected = {alert_key(a): a for a in truth["alerts"]}
    reported: dict[tuple[str, str], Mapping[str, Any]] = {}
    report.alerts_expected = len(expected)
    for alert in api_alerts:
        if alert.get("status", "open") != "open":
            continue
        key = alert_key(alert)
        if key in reported:
            report.mismatches.append(Mismatch("alert_duplicate", ":".join(key), 1, 2))
            continue
        reported[key] = alert
    report.alerts_reported = len(reported)
    for key, alert in sorted(reported.items()):
        want = expected.get(key)
        if want is None:
            report.mismatches.append(Mismatch("alert_unexpected", ":".join(key), None, "open"))
            continue
        report.alerts_matched += 1
        for name in ALERT_ID_FIELDS:
            if want.get(name) is not None and alert.get(name) != want[name]:
                report.mismatches.append(
                    Mismatch(f"alert_{name}", ":".join(key), want[name], alert.get(name))
                )
    for key in sorted(expected.keys() - reported.keys()):
        report.mismatches.append(Mismatch("alert_missing", ":".join(key), "open", None))

    if api_summary is not None:
        by_type = api_summary.get("alerts_open_by_type") or {}
        want_by_type = truth["alerts_open_by_type"]
        for kind in sorted(set(by_type) | set(want_by_type)):
            if int(by_type.get(kind, 0)) != int(want_by_type.get(kind, 0)):
                report.mismatches.append(
                    Mismatch(
                        "summary_alerts_open", kind, want_by_type.get(kind, 0), by_type.get(kind, 0)
                    )
                )
        rejected = (api_summary.get("events") or {}).get("rejected")
        if rejected is not None and int(rejected) != int(truth["counts"]["malformed"]):
            report.mismatches.append(
                Mismatch("summary_rejected", "events", truth["counts"]["malformed"], rejected)
            )
    return report


@dataclass
class ServiceState:
    bags: dict[str, dict[str, Any] | None]
    alerts: list[dict[str, Any]]
    summary: dict[str, Any] | None


async def fetch_service_state(
    base_url: str,
    token: str,
    tags: Sequence[str],
    concurrency: int = 32,
    page_size: int = 10_000,
) -> ServiceState:
    """GET every bag of the truth, every open alert (paged) and the summary."""
    import aiohttp

    headers = {"Authorization": f"Bearer {token}"}
    base = base_url.rstrip("/")
    bags: dict[str, dict[str, Any] | None] = {}
    limit = asyncio.Semaphore(concurrency)
    async with aiohttp.ClientSession(headers=headers) as session:

        async def get(path: str, params: Mapping[str, str | int] | None = None) -> Any:
            async with session.get(base + path, params=params) as response:
                if response.status == 404:
                    return None
                response.raise_for_status()
                return await response.json()

        async def one(tag: str) -> None:
            async with limit:
                bags[tag] = await get(f"/api/bags/{tag}")

        # The paged listing fetches a season's bags in a few requests; a tag missing from it
        # is asked for alone (it answers 404 if the service does not know it).
        wanted = set(tags)
        offset = 0
        while True:
            body = await get("/api/bags", {"limit": page_size * 10, "offset": offset})
            items = (body or {}).get("bags") or []
            for bag in items:
                if bag["tag"] in wanted:
                    bags[bag["tag"]] = bag
            offset += len(items)
            if not items or offset >= int((body or {}).get("total", 0)):
                break
        await asyncio.gather(*(one(tag) for tag in tags if tag not in bags))
        alerts: list[dict[str, Any]] = []
        offset = 0
        while True:
            body = await get(
                "/api/alerts", {"status": "open", "limit": page_size, "offset": offset}
            )
            items = (body or {}).get("alerts") or []
            alerts.extend(items)
            offset += len(items)
            total = (body or {}).get("total")
            if not items or (total is not None and offset >= int(total)):
                break
        summary = await get("/api/summary")
    return ServiceState(bags, alerts, summary)


def stage_counts(bags: Iterable[Mapping[str, Any]]) -> Counter[str]:
    return Counter(str(b["stage"]) for b in bags)


# ---- alert churn: alerts raised during a run and resolved again before its end -------------


@dataclass(frozen=True)
class AlertChurn:
    """Alerts of a run by status (and type), against the true open count at the end.

    Every alert the service raised is still open or was resolved; a resolved one was raised
    and resolved within the run (the service starts empty). Some of those are true (a late
    delivery closing a `delivery_overdue`); the rest are false alarms of the catch-up.
    """

    open_by_type: dict[str, int]
    resolved_by_type: dict[str, int]
    true_open: int | None = None
    peak_open: int | None = None
    # Alerts that open and resolve in event time itself (`event_time_transients`).
    transients: int | None = None

    @property
    def open(self) -> int:
        return sum(self.open_by_type.values())

    @property
    def resolved(self) -> int:
        return sum(self.resolved_by_type.values())

    @property
    def raised(self) -> int:
        return self.open + self.resolved

    @property
    def resolved_share(self) -> float:
        return self.resolved / self.raised if self.raised else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "raised": self.raised,
            "raised_and_resolved": self.resolved,
            "raised_and_resolved_share": round(self.resolved_share, 5),
            "open_at_end": self.open,
            "true_open_at_end": self.true_open,
            "peak_open_during_run": self.peak_open,
            "event_time_transients": self.transients,
            "raised_and_resolved_beyond_event_time": (
                None if self.transients is None else max(self.resolved - self.transients, 0)
            ),
            "resolved_by_type": dict(sorted(self.resolved_by_type.items())),
            "open_by_type": dict(sorted(self.open_by_type.items())),
        }


def churn_line(churn: Mapping[str, Any]) -> str:
    """One line of a report from `AlertChurn.as_dict()`."""
    return (
        f"alerts: {churn['raised']:,} raised, {churn['raised_and_resolved']:,} of them resolved "
        f"within the run ({churn['raised_and_resolved_share']:.2%}), {churn['open_at_end']:,} "
        f"open at the end (truth: {churn['true_open_at_end']}); peak open during the run "
        f"{churn['peak_open_during_run']}; resolved by type: {churn['resolved_by_type']}; "
        f"open-and-resolved in event time itself (oracle, 10 min steps): "
        f"{churn.get('event_time_transients')}"
    )


async def fetch_alert_churn(
    base_url: str,
    token: str,
    true_open: int | None = None,
    peak_open: int | None = None,
    transients: int | None = None,
) -> AlertChurn:
    """Counts of open and resolved alerts by type (`GET /api/alerts?status=&type=&limit=1`,
    reading `total`)."""
    import aiohttp

    from tariq.domain.alerts import ALERT_TYPES

    counts: dict[str, dict[str, int]] = {"open": {}, "resolved": {}}
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as session:
        for status, by_type in counts.items():
            for kind in ALERT_TYPES:
                params = {"status": status, "type": kind, "limit": 1}
                async with session.get(base_url.rstrip("/") + "/api/alerts", params=params) as r:
                    r.raise_for_status()
                    total = int((await r.json()).get("total", 0))
                if total:
                    by_type[kind] = total
    return AlertChurn(counts["open"], counts["resolved"], true_open, peak_open, transients)


def open_alerts_in(summary: Mapping[str, Any]) -> int:
    """The open alerts a `/api/summary` body counts."""
    return sum(int(n) for n in (summary.get("alerts_open_by_type") or {}).values())


def event_time_transients(events: Iterable[Any], every_s: float = 600.0) -> Counter[str]:
    """Alerts that open and resolve again in event time itself, not through processing order:
    the oracle (simulators/oracle.py) fed the valid events in `occurred_at` order and judged
    every `every_s` of event time; an alert open at some instant and not at the end is one.
    A lower bound (one that opens and resolves between two instants is missed): what a
    service that never runs ahead of its input still raises and resolves."""
    from simulators.oracle import Oracle

    ordered = sorted(events, key=lambda e: (e.occurred_at, e.event_id))
    oracle = Oracle()
    seen: set[tuple[str, str]] = set()
    next_judge: float | None = None
    for event in ordered:
        t = event.occurred_at.timestamp()
        if next_judge is None:
            next_judge = t + every_s
        while t > next_judge:
            oracle.clock = next_judge  # the clock at that instant (no event since)
            seen.update(a.key for a in oracle.result().alerts)
            next_judge += every_s
        oracle.add(event)
    final = {a.key for a in oracle.result().alerts}
    return Counter(kind for kind, subject in seen - final)
