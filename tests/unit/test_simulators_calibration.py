"""Calibration: a full-scale season's figures within ±10% of the published ones."""

from __future__ import annotations

import pytest

from simulators.calibration import calibrate, format_table
from simulators.season import build_schedule

SEASON = calibrate(build_schedule("season", seed=1))


@pytest.mark.parametrize(
    "figure",
    [
        "pilgrims",
        "flights",
        "pilgrims per flight",
        "bags per pilgrim",
        "arrival window (days)",
        "misplaced bags / 100 pilgrims",
        "mishandled bags / 1,000 pax",
    ],
)
def test_each_published_figure_within_ten_percent(figure: str) -> None:
    row = SEASON.row(figure)
    assert row.deviation is not None
    assert abs(row.deviation) <= 0.10, f"{figure}: {row.generated} vs {row.published}"


def test_arrival_curve_madinah_first_jeddah_later_peak_in_days_20_to_26() -> None:
    assert SEASON.row("MED share, days 1-15").generated > 0.5
    assert SEASON.row("JED share, days 16-35").generated > 0.5
    assert 20 <= SEASON.row("busiest day").generated <= 26
    assert sorted(SEASON.arrivals) == list(range(1, 36))


def test_other_seeds_stay_calibrated_and_the_table_prints() -> None:
    other = calibrate(build_schedule("season", seed=2))
    assert abs(other.row("misplaced bags / 100 pilgrims").deviation or 0) <= 0.10
    text = format_table(other, arrivals_by_day=True)
    assert "bags per pilgrim" in text and "\n  35 " in text
