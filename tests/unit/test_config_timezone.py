"""TARIQ_TIMEZONE: the pages' time zone, an IANA name checked at start-up."""

from __future__ import annotations

import pytest

from tariq.config import load_settings


def test_the_default_is_riyadh_and_another_zone_can_be_chosen(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("TARIQ_TIMEZONE", raising=False)
    assert load_settings().timezone == "Asia/Riyadh"
    monkeypatch.setenv("TARIQ_TIMEZONE", "Asia/Jakarta")
    assert load_settings().timezone == "Asia/Jakarta"


def test_an_unknown_zone_stops_with_a_clear_message(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TARIQ_TIMEZONE", "Mars/Olympus")
    with pytest.raises(SystemExit, match="TARIQ_TIMEZONE must be an IANA time zone"):
        load_settings()
