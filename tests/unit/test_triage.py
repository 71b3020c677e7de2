"""Alert severity by type and age (tariq/domain/triage.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tariq.domain.alerts import ALERT_TYPES
from tariq.domain.triage import BASE, SEVERITIES, severity

T0 = datetime(2026, 5, 18, 6, 0, tzinfo=UTC)


def test_every_alert_type_has_a_base_severity() -> None:
    assert set(BASE) == set(ALERT_TYPES)
    assert set(BASE.values()) <= set(SEVERITIES)


def test_an_alert_open_an_hour_or_more_is_one_level_more_urgent() -> None:
    assert severity("unknown_tag", T0, T0) == "low"
    assert severity("misdelivered", T0, T0 + timedelta(minutes=59)) == "medium"
    assert severity("misdelivered", T0, T0 + timedelta(hours=1)) == "high"
    assert severity("vehicle_stalled", T0, T0 + timedelta(hours=3)) == "critical"
    assert severity("left_behind", T0, None) == "high"  # no clock yet: no age
