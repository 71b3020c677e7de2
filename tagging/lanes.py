"""The sorting plan: which of the arrival airport's sort lanes each hotel's bags go to.

Rules, in order of priority:
1. hotels of one delivery area share a lane (one truck run serves the area), unless the
   area alone carries more than a lane's fair share and a lane would otherwise stay idle:
   then it is split into geographically compact parts (by the axis it spreads along most);
2. lane loads (expected bags over the day) are balanced: units are placed heaviest first,
   each on the least-loaded lane (ties: lower lane number);
3. everything ties on ids, so the same input always gives the same plan.
Every hotel's placement comes with a sentence that says why (`LanePlan.explain`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Final

JEDDAH_LANES: Final = 24  # loading lanes of the Hajj terminal's group-baggage yard


@dataclass(frozen=True, slots=True)
class Hotel:
    hotel_id: str
    lat: float
    lon: float
    area: str  # delivery area / district


@dataclass(frozen=True, slots=True)
class Lane:
    lane: int
    hotel_ids: tuple[str, ...]
    units: tuple[str, ...]  # the areas (or parts of areas) on this lane
    expected_bags: int


@dataclass(frozen=True)
class LanePlan:
    lanes: tuple[Lane, ...]
    lane_of_hotel: Mapping[str, int]
    reasons: Mapping[str, str] = field(repr=False)

    def lane_for(self, hotel_id: str) -> int:
        try:
            return self.lane_of_hotel[hotel_id]
        except KeyError:
            raise KeyError(f"hotel {hotel_id!r} is not in the sorting plan") from None

    def explain(self, hotel_id: str) -> str:
        self.lane_for(hotel_id)
        return self.reasons[hotel_id]

    def is_missort(self, coded_hotel_id: str, sorted_hotel_id: str) -> bool:
        """True when a bag coded for one hotel went to a lane that does not serve it."""
        return self.lane_for(coded_hotel_id) != self.lane_for(sorted_hotel_id)

    def hotels_on_lane(self, lane: int) -> tuple[str, ...]:
        return self.lanes[lane - 1].hotel_ids

    @property
    def imbalance(self) -> float:
        """Heaviest lane over the mean lane load (1.0 is perfect balance)."""
        loads = [lane.expected_bags for lane in self.lanes]
        mean = sum(loads) / len(loads)
        return max(loads) / mean if mean else 1.0


@dataclass
class _Unit:
    name: str
    hotels: list[Hotel]
    load: int
    split_note: str = ""


def _split(unit: _Unit, bags: Mapping[str, int]) -> tuple[_Unit, _Unit]:
    # Cut along the axis the area spreads most, at half its load: each part stays compact.
    lat_spread = max(h.lat for h in unit.hotels) - min(h.lat for h in unit.hotels)
    lon_spread = max(h.lon for h in unit.hotels) - min(h.lon for h in unit.hotels)
    if lat_spread >= lon_spread:
        ordered = sorted(unit.hotels, key=lambda h: (h.lat, h.lon, h.hotel_id))
    else:
        ordered = sorted(unit.hotels, key=lambda h: (h.lon, h.lat, h.hotel_id))
    running = 0
    cut = 1
    for index, hotel in enumerate(ordered[:-1], start=1):
        running += bags.get(hotel.hotel_id, 0)
        cut = index
        if running * 2 >= unit.load:
            break
    first, second = ordered[:cut], ordered[cut:]
    note = f"split from {unit.name} (load {unit.load} over a lane's fair share)"
    return (
        _Unit(f"{unit.name}#a", first, sum(bags.get(h.hotel_id, 0) for h in first), note),
        _Unit(f"{unit.name}#b", second, sum(bags.get(h.hotel_id, 0) for h in second), note),
    )


def plan_lanes(
    hotels: Iterable[Hotel],
    expected_bags_by_hotel: Mapping[str, int],
    lanes: int = JEDDAH_LANES,
) -> LanePlan:
    """Assign every hotel to one of `lanes` sort lanes (numbered from 1)."""
    if lanes < 1:
        raise ValueError(f"a sorting plan needs at least one lane, got {lanes}")
    by_id: dict[str, Hotel] = {}
    for hotel in hotels:
        if hotel.hotel_id in by_id:
            raise ValueError(f"hotel {hotel.hotel_id!r} is listed twice")
        by_id[hotel.hotel_id] = hotel
    unknown = sorted(set(expected_bags_by_hotel) - set(by_id))
    if unknown:
        raise ValueError(f"expected bags for hotels not in the list: {unknown[:5]}")
    bags = {hotel_id: max(0, int(expected_bags_by_hotel.get(hotel_id, 0))) for hotel_id in by_id}

    areas: dict[str, list[Hotel]] = {}
    for hotel in sorted(by_id.values(), key=lambda h: h.hotel_id):
        areas.setdefault(hotel.area, []).append(hotel)
    units = [
        _Unit(area, members, sum(bags[h.hotel_id] for h in members))
        for area, members in sorted(areas.items())
    ]
    total = sum(unit.load for unit in units)
    fair_share = total / lanes

    while len(units) < lanes:
        heaviest = max(units, key=lambda u: (u.load, u.name), default=None)
        if heaviest is None or len(heaviest.hotels) < 2 or heaviest.load <= fair_share:
            break
        units.remove(heaviest)
        units.extend(_split(heaviest, bags))

    loads = [0] * lanes
    members: list[list[_Unit]] = [[] for _ in range(lanes)]
    for unit in sorted(units, key=lambda u: (-u.load, u.name)):
        lane_index = min(range(lanes), key=lambda i: (loads[i], i))
        loads[lane_index] += unit.load
        members[lane_index].append(unit)

    lane_of_hotel: dict[str, int] = {}
    reasons: dict[str, str] = {}
    plan_lanes_out: list[Lane] = []
    for index, lane_units in enumerate(members):
        number = index + 1
        hotel_ids = tuple(sorted(h.hotel_id for unit in lane_units for h in unit.hotels))
        plan_lanes_out.append(
            Lane(number, hotel_ids, tuple(u.name for u in lane_units), loads[index])
        )
        for unit in lane_units:
            for hotel in unit.hotels:
                lane_of_hotel[hotel.hotel_id] = number
                why = (
                    f"hotel {hotel.hotel_id} is in area {hotel.area}"
                    + (f" ({unit.split_note}, part {unit.name})" if unit.split_note else "")
                    + f"; its group's {unit.load} expected bags went to lane {number}, the "
                    f"least-loaded lane when placed heaviest-first; lane {number} carries "
                    f"{loads[index]} bags (fair share {fair_share:.0f})"
                )
                reasons[hotel.hotel_id] = why
    return LanePlan(tuple(plan_lanes_out), lane_of_hotel, reasons)
