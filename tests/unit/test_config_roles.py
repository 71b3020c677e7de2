"""TARIQ_WORKER_ROLES: what a worker runs, checked at start-up."""

from __future__ import annotations

import pytest

from tariq.config import load_settings


def test_a_worker_ingests_and_reconciles_unless_told_otherwise(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("TARIQ_WORKER_ROLES", raising=False)
    assert load_settings().roles == {"ingest", "reconcile"}
    monkeypatch.setenv("TARIQ_WORKER_ROLES", " reconcile ")
    assert load_settings().roles == {"reconcile"}
    monkeypatch.setenv("TARIQ_WORKER_ROLES", "ingest,reconcile,")
    assert load_settings().roles == {"ingest", "reconcile"}


@pytest.mark.parametrize("text", ["judge", "ingest,deliver", " , "])
def test_an_unknown_role_stops_with_a_clear_message(
    monkeypatch: pytest.MonkeyPatch, text: str
) -> None:
    monkeypatch.setenv("TARIQ_WORKER_ROLES", text)
    with pytest.raises(SystemExit, match="TARIQ_WORKER_ROLES is a comma-separated list"):
        load_settings()
