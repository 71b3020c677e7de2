"""The generator's figures next to the published ones (domain.md), computed from the plan alone
(no events), so a full season is checked in seconds."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from simulators.faults import (
    BAGS_PER_PILGRIM,
    MISHANDLED_PER_1000_PASSENGERS,
    MISPLACED_PER_100_PILGRIMS,
    MODELLED_MISHANDLED_PER_1000,
)
from simulators.season import (
    PEAK_DAY,
    SEASON_PILGRIMS,
    SEATS_MAX,
    SEATS_MIN,
    WINDOW_DAYS,
    Schedule,
    plans,
)

# Bag faults that count as "mishandled" in the IATA sense (delayed or lost).
MISHANDLED_FAULTS = ("left_behind", "late_delivery", "lost", "mislabelled")


@dataclass(frozen=True)
class Row:
    figure: str
    generated: float
    published: float | None  # None: the source gives no number to compare with
    note: str

    @property
    def deviation(self) -> float | None:
        if self.published is None or self.published == 0:
            return None
        return self.generated / self.published - 1


@dataclass(frozen=True)
class Calibration:
    rows: tuple[Row, ...]
    arrivals: dict[int, dict[str, int]]  # day -> airport -> pilgrims

    def row(self, figure: str) -> Row:
        for row in self.rows:
            if row.figure == figure:
                return row
        raise KeyError(figure)


def calibrate(schedule: Schedule) -> Calibration:
    pilgrims = 0
    bags = 0
    faults: Counter[str] = Counter()
    no_shows = 0
    arrivals: dict[int, dict[str, int]] = {}
    for plan in plans(schedule):
        slot = plan.slot
        day = arrivals.setdefault(slot.day, {"MED": 0, "JED": 0})
        day[slot.destination] += slot.pilgrims
        for group in plan.pilgrims:
            for pilgrim in group:
                pilgrims += 1
                no_shows += pilgrim.no_show
                bags += len(pilgrim.bag_faults)
                faults.update(f for f in pilgrim.bag_faults if f is not None)
    flights = len(schedule.flights)
    first, last = schedule.days
    early = [d for d in arrivals if d <= 15]
    later = [d for d in arrivals if d > 15]

    def share(days: list[int], airport: str) -> float:
        total = sum(sum(arrivals[d].values()) for d in days)
        return sum(arrivals[d][airport] for d in days) / total if total else 0.0

    peak = max(arrivals, key=lambda d: (sum(arrivals[d].values()), -d))
    per_100 = 100 / pilgrims if pilgrims else 0.0
    mishandled = sum(faults[k] for k in MISHANDLED_FAULTS)
    season = schedule.scale == "season"
    rows = [
        Row("pilgrims", pilgrims, SEASON_PILGRIMS if season else None, "2025 season"),
        Row(
            "flights",
            flights,
            round(SEASON_PILGRIMS / ((SEATS_MIN + SEATS_MAX) / 2)) if season else None,
            "derived: 314,337 / 385",
        ),
        Row(
            "pilgrims per flight",
            pilgrims / flights,
            (SEATS_MIN + SEATS_MAX) / 2,
            "360-410 (wide-bodies)",
        ),
        Row("bags per pilgrim", bags / pilgrims, BAGS_PER_PILGRIM, "1.148M bags / 680k (2023)"),
        Row(
            "arrival window (days)",
            last - first + 1,
            WINDOW_DAYS if season else None,
            "1 Dhul-Qa'dah to 4-6 Dhul-Hijjah",
        ),
        Row("MED share, days 1-15", share(early, "MED"), None, "published: 'most'"),
        Row("JED share, days 16-35", share(later, "JED"), None, "published: 'most'"),
        Row("busiest day", peak, PEAK_DAY, "published: days 20-26"),
        Row(
            "misplaced bags / 100 pilgrims",
            faults["misdelivered"] * per_100,
            MISPLACED_PER_100_PILGRIMS,
            "one country, 2024",
        ),
        Row(
            "mishandled bags / 1,000 pax",
            mishandled * per_100 * 10,
            MODELLED_MISHANDLED_PER_1000,
            f"{MISHANDLED_PER_1000_PASSENGERS} worldwide 2024, minus 18% damaged",
        ),
        Row(
            "  of which left behind / 1,000",
            faults["left_behind"] * per_100 * 10,
            MISHANDLED_PER_1000_PASSENGERS * 0.16,
            "16% 'not loaded'",
        ),
        Row(
            "  of which lost / 1,000",
            faults["lost"] * per_100 * 10,
            MISHANDLED_PER_1000_PASSENGERS * 0.08,
            "8% lost",
        ),
        Row("no-show pilgrims / 1,000", no_shows * per_100 * 10, None, "not published"),
    ]
    return Calibration(tuple(rows), dict(sorted(arrivals.items())))


def _number(value: float | None) -> str:
    if value is None:
        return "-"
    if value == int(value) and abs(value) >= 10:
        return f"{int(value):,}"
    return f"{value:,.3f}" if abs(value) < 10 else f"{value:,.1f}"


def format_table(calibration: Calibration, arrivals_by_day: bool = False) -> str:
    lines = [f"{'figure':32} {'generated':>12} {'published':>12} {'dev':>7}  source"]
    for row in calibration.rows:
        deviation = row.deviation
        dev = "" if deviation is None else f"{deviation:+.1%}"
        lines.append(
            f"{row.figure:32} {_number(row.generated):>12} {_number(row.published):>12} "
            f"{dev:>7}  {row.note}"
        )
    if arrivals_by_day:
        lines.append("")
        lines.append(f"{'day':>4} {'MED':>8} {'JED':>8}")
        for day, by_airport in calibration.arrivals.items():
            bar = "#" * round((by_airport["MED"] + by_airport["JED"]) / 500)
            lines.append(f"{day:>4} {by_airport['MED']:>8,} {by_airport['JED']:>8,}  {bar}")
    return "\n".join(lines)
