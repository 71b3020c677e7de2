"""Alert triage, pure: how urgent an alert is, from its type and its age in event time.

Base severity by type (what it costs a pilgrim, and how soon it can be put right):
a bag that flew without its pilgrim (`loaded_without_pilgrim`) or a pilgrim whose bag did not
fly (`left_behind`), a bag missing after arrival and a stalled vehicle are `high`; a
misdelivered or overdue bag `medium`; a scan of an unknown tag `low`. An alert open for
ESCALATE_AFTER or more (service clock minus `raised_at`) is one level more urgent, up to
`critical`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final

SEVERITIES: Final = ("low", "medium", "high", "critical")
BASE: Final[dict[str, str]] = {
    "loaded_without_pilgrim": "high",
    "left_behind": "high",
    "missing_at_arrival": "high",
    "vehicle_stalled": "high",
    "misdelivered": "medium",
    "delivery_overdue": "medium",
    "unknown_tag": "low",
}
ESCALATE_AFTER: Final = timedelta(hours=1)
NOTE_MAX: Final = 1_000
ASSIGNEE_MAX: Final = 100


def severity(alert_type: str, raised_at: datetime | None, clock: datetime | None) -> str:
    level = SEVERITIES.index(BASE.get(alert_type, "medium"))
    if raised_at is not None and clock is not None and clock - raised_at >= ESCALATE_AFTER:
        level = min(level + 1, len(SEVERITIES) - 1)
    return SEVERITIES[level]
