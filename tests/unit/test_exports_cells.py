"""CSV cells of the exports: formulas defused, times and lists written plainly."""

from __future__ import annotations

from datetime import UTC, datetime

from dashboards.exports import cell


def test_cells_that_start_like_a_formula_are_prefixed() -> None:
    for text in ('=HYPERLINK("x")', "+1", "-2+3", "@SUM(A1)", "\tx"):
        assert cell(text) == "'" + text
    assert cell("MAK-0001") == "MAK-0001"
    assert cell(-12.5) == "-12.5"  # numbers are numbers, not formulas


def test_times_lists_and_nulls() -> None:
    assert cell(datetime(2026, 5, 18, 4, 10, tzinfo=UTC)) == "2026-05-18T04:10:00Z"
    assert cell(["0065123456", "0065123457"]) == "0065123456 0065123457"
    assert cell(None) == ""
