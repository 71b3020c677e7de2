"""Seasonal congestion: how much slower than free flow the roads are at a given moment.

The factor multiplies an edge's free-flow travel time. It grows with the time-of-day load
(local time, Arabia Standard Time, UTC+3, no daylight saving) and with the season's intensity,
which peaks around days 20–26 of the ~35-day arrival window (domain.md). Calibrated so that the
shipped network's Jeddah airport → Makkah trip (52 min at free flow) takes 45–65 min outside
the season and up to about 2 h at a season-peak evening, as domain.md reports.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import networkx as nx

LOCAL_TZ = timezone(timedelta(hours=3), "AST")

# Share of the day's worst traffic at each local hour (0 = 00:00); evenings are busiest.
HOURLY_LOAD: tuple[float, ...] = (
    0.60, 0.45, 0.30, 0.20, 0.20, 0.30, 0.45, 0.70, 0.80, 0.70, 0.65, 0.70,
    0.75, 0.80, 0.75, 0.70, 0.75, 0.85, 0.90, 0.95, 1.00, 1.00, 0.90, 0.75,
)  # fmt: skip

# Extra travel time at full load, outside the season and at season intensity 1, by road class.
NORMAL_AMPLITUDE: dict[str, float] = {
    "motorway": 0.22,
    "trunk": 0.30,
    "primary": 0.40,
    "secondary": 0.35,
    "residential": 0.35,
    "service": 0.20,
}
SEASON_AMPLITUDE: dict[str, float] = {
    "motorway": 1.05,
    "trunk": 1.20,
    "primary": 1.50,
    "secondary": 1.30,
    "residential": 1.30,
    "service": 0.80,
}


@dataclass(frozen=True, slots=True)
class CongestionModel:
    """Time-of-day × season congestion factors.

    `season_start` is the first day of the arrival window (1 Dhul-Qa'dah); without it the model
    is an ordinary, out-of-season city.
    """

    season_start: datetime | None = None
    hourly_load: tuple[float, ...] = HOURLY_LOAD
    normal_amplitude: dict[str, float] = field(default_factory=lambda: dict(NORMAL_AMPLITUDE))
    season_amplitude: dict[str, float] = field(default_factory=lambda: dict(SEASON_AMPLITUDE))
    peak_day: float = 23.0
    peak_width_days: float = 7.0
    season_length_days: int = 45  # the arrival window plus the Hajj days

    def season_day(self, when: datetime) -> int | None:
        """1-based day of the season at `when`, or None outside it (or without a season)."""
        if self.season_start is None:
            return None
        day = (_local(when).date() - _local(self.season_start).date()).days + 1
        return day if 1 <= day <= self.season_length_days else None

    def season_intensity(self, when: datetime) -> float:
        """0 outside the season; 0.3 at its edges rising to 1 on the peak days."""
        day = self.season_day(when)
        if day is None:
            return 0.0
        return 0.3 + 0.7 * math.exp(-(((day - self.peak_day) / self.peak_width_days) ** 2))

    def load(self, when: datetime) -> float:
        """Time-of-day load in [0, 1], interpolated between the hourly values."""
        local = _local(when)
        hours = local.hour + local.minute / 60 + local.second / 3600
        h0 = int(hours) % 24
        frac = hours - int(hours)
        return self.hourly_load[h0] * (1 - frac) + self.hourly_load[(h0 + 1) % 24] * frac

    def factor(self, when: datetime, road_class: str = "motorway") -> float:
        """Multiplier (≥ 1) on free-flow travel time for a road of `road_class` at `when`."""
        normal = self.normal_amplitude.get(road_class, 0.3)
        season = self.season_amplitude.get(road_class, 1.0)
        return 1.0 + self.load(when) * (normal + season * self.season_intensity(when))


def free_flow_model() -> CongestionModel:
    """A model without congestion (factor 1 on every road at every hour): the baseline."""
    zero = dict.fromkeys(NORMAL_AMPLITUDE, 0.0)
    return CongestionModel(None, normal_amplitude=zero, season_amplitude=dict(zero))


def _local(when: datetime) -> datetime:
    if when.tzinfo is None:
        raise ValueError("congestion needs an aware datetime (event time has an offset)")
    return when.astimezone(LOCAL_TZ)


def timed_route(
    graph: nx.DiGraph,
    nodes: Sequence[str],
    depart: datetime,
    model: CongestionModel,
    *,
    scale: float = 1.0,
) -> list[float]:
    """Seconds from `depart` at which each node of the route is reached under congestion.

    Each edge is traversed at the factor in force when the vehicle enters it; `scale`
    multiplies every factor (e.g. an observed speed correction).
    """
    times = [0.0]
    elapsed = 0.0
    for u, v in itertools.pairwise(nodes):
        edge = graph.edges[u, v]
        at = depart + timedelta(seconds=elapsed)
        elapsed += edge["travel_time_s"] * model.factor(at, edge["road_class"]) * scale
        times.append(elapsed)
    return times
