"""The season's shape: departure airports, the arrival curve, flights, groups and hotels.

Everything here is pure and cheap (no events): the generator turns it into events, and the
calibration table is computed from it without writing anything.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final, Literal

from simulators.faults import BAG_FAULTS, FaultRates
from simulators.track import HARAM, PROPHETS_MOSQUE, spiral_site
from tagging.iata import canonical_flight_id, local_departure_date

Scale = Literal["day", "week", "season"]
City = Literal["makkah", "madinah"]

SEASON_PILGRIMS: Final = 314_337  # Makkah Route, 2025
WINDOW_DAYS: Final = 35
DAY1: Final = 1_745_884_800  # 2025-04-29T00:00:00Z, about 1 Dhul-Qa'dah 1446
DAY_S: Final = 86_400
SEATS_MIN, SEATS_MAX = 360, 410
PEAK_DAY: Final = 23  # centre of the published 20-26 peak
SCALE_DAYS: Final[dict[str, tuple[int, int]]] = {
    "day": (PEAK_DAY, PEAK_DAY),
    "week": (20, 26),
    "season": (1, WINDOW_DAYS),
}
# Bags per pilgrim: 35% one, 60% two, 5% three -> 1.70 on average.
BAG_COUNTS: Final = (1, 2, 3)
BAG_COUNT_WEIGHTS: Final = (0.35, 0.60, 0.05)
GROUP_MIN, GROUP_MAX = 35, 50
MAKKAH_BUILDING_CAPACITY: Final = (450, 550)
MADINAH_HOTEL_CAPACITY: Final = (250, 350)
# Buildings filling at the same time in each city: a flight spreads over several of them.
OPEN_BUILDINGS: Final[dict[str, int]] = {"makkah": 4, "madinah": 3}


@dataclass(frozen=True)
class Origin:
    code: str
    country: str
    nationality: str
    carrier: str  # IATA designator of the national carrier
    carrier_code: str  # its 3-digit numeric code (tag overflow; illustrative)
    share: float
    flight_hours: float


# Shares: Indonesia ~114k and Pakistan ~65k of ~323k in 2024 (domain.md); the rest is assumed.
ORIGINS: Final[tuple[Origin, ...]] = (
    Origin("CGK", "Indonesia", "ID", "GA", "126", 0.16, 9.5),
    Origin("SUB", "Indonesia", "ID", "GA", "126", 0.12, 10.0),
    Origin("SOC", "Indonesia", "ID", "GA", "126", 0.07, 10.0),
    Origin("ISB", "Pakistan", "PK", "PK", "214", 0.11, 5.0),
    Origin("KHI", "Pakistan", "PK", "PK", "214", 0.09, 4.0),
    Origin("KUL", "Malaysia", "MY", "MH", "232", 0.10, 9.0),
    Origin("DAC", "Bangladesh", "BD", "BG", "997", 0.12, 6.5),
    Origin("IST", "Türkiye", "TR", "TK", "235", 0.10, 4.0),
    Origin("CMN", "Morocco", "MA", "AT", "147", 0.09, 6.5),
    Origin("ABJ", "Côte d'Ivoire", "CI", "HF", "483", 0.03, 6.5),
    Origin("MLE", "Maldives", "MV", "Q2", "314", 0.01, 6.0),
)


def arrival_weight(day: int) -> float:
    """Relative arrivals on day 1..35: a steady base with a peak centred on day 23."""
    return 0.8 + 1.6 * math.exp(-(((day - PEAK_DAY) / 4.5) ** 2))


def madinah_share(day: int) -> float:
    """Madinah takes most arrivals early, Jeddah after about day 15."""
    if day <= 12:
        return 0.85
    if day >= 17:
        return 0.12
    return 0.85 - (0.85 - 0.12) * (day - 12) / 5


@dataclass(frozen=True)
class Hotel:
    hotel_id: str
    name: str
    city: City
    lat: float
    lon: float
    capacity: int


@dataclass(frozen=True)
class Group:
    group_id: str
    hotel_id: str
    size: int


@dataclass(frozen=True)
class FlightSlot:
    index: int
    flight_id: str
    origin: Origin
    destination: Literal["JED", "MED"]
    scheduled_departure: int
    scheduled_arrival: int
    day: int
    first_pilgrim: int
    groups: tuple[Group, ...]

    @property
    def pilgrims(self) -> int:
        return sum(group.size for group in self.groups)


@dataclass(frozen=True)
class Schedule:
    scale: str
    seed: int
    days: tuple[int, int]
    flights: tuple[FlightSlot, ...]
    hotels: tuple[Hotel, ...]
    rates: FaultRates = field(default_factory=FaultRates)

    @property
    def pilgrims(self) -> int:
        return sum(slot.pilgrims for slot in self.flights)


def default_pilgrims(scale: str) -> int:
    first, last = SCALE_DAYS[scale]
    total = sum(arrival_weight(d) for d in range(1, WINDOW_DAYS + 1))
    window = sum(arrival_weight(d) for d in range(first, last + 1))
    return round(SEASON_PILGRIMS * window / total)


def _flight_sizes(pilgrims: int, flights: int, rng: random.Random) -> list[int]:
    raw = [rng.uniform(SEATS_MIN, SEATS_MAX) for _ in range(flights)]
    scale = pilgrims / sum(raw)
    sizes = [max(1, int(s * scale)) for s in raw]
    # Hand out the rounding remainder one seat at a time.
    for i in range(pilgrims - sum(sizes)):
        sizes[i % flights] += 1
    return sizes


def _arrival_instants(days: tuple[int, int], flights: int) -> list[tuple[int, int]]:
    """(day, instant) of each flight: the inverse of the arrival curve at evenly spaced
    quantiles, so the realised curve follows the weights closely at any size."""
    first, last = days
    weights = [arrival_weight(d) for d in range(first, last + 1)]
    total = sum(weights)
    result: list[tuple[int, int]] = []
    day_i, acc = 0, 0.0
    for k in range(flights):
        target = (k + 0.5) / flights * total
        while acc + weights[day_i] < target:
            acc += weights[day_i]
            day_i += 1
        within = (target - acc) / weights[day_i]
        day = first + day_i
        result.append((day, DAY1 + (day - 1) * DAY_S + int(within * DAY_S)))
    return result


def _split_groups(size: int, rng: random.Random) -> list[int]:
    groups: list[int] = []
    remaining = size
    while remaining > 0:
        g = min(remaining, rng.randint(GROUP_MIN, GROUP_MAX))
        if 0 < remaining - g < GROUP_MIN // 2:
            g = remaining
        groups.append(g)
        remaining -= g
    return groups


class _HotelFiller:
    """Fills each city's buildings a few at a time, group by group, in arrival order."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.hotels: dict[str, list[Hotel]] = {"makkah": [], "madinah": []}
        self.open: dict[str, list[list[int]]] = {"makkah": [], "madinah": []}  # [index, free]
        self.turn: dict[str, int] = {"makkah": 0, "madinah": 0}

    def _new(self, city: City) -> list[int]:
        index = len(self.hotels[city])
        low, high = MAKKAH_BUILDING_CAPACITY if city == "makkah" else MADINAH_HOTEL_CAPACITY
        capacity = self.rng.randint(low, high)
        prefix = "MAK" if city == "makkah" else "MDN"
        # Sites are laid out for the expected number of buildings; see layout().
        self.hotels[city].append(Hotel(f"{prefix}-{index + 1:04d}", "", city, 0.0, 0.0, capacity))
        return [index, capacity]

    def place(self, city: City, size: int) -> str:
        slots = self.open[city]
        while len(slots) < OPEN_BUILDINGS[city]:
            slots.append(self._new(city))
        turn = self.turn[city] % len(slots)
        self.turn[city] += 1
        slot = slots[turn]
        slot[1] -= size
        hotel = self.hotels[city][slot[0]]
        if slot[1] <= 0:
            slots[turn] = self._new(city)
        return hotel.hotel_id

    def layout(self) -> tuple[Hotel, ...]:
        placed: list[Hotel] = []
        for city, centre, radius, inner, label in (
            ("makkah", HARAM, 3_000.0, 350.0, "Makkah pilgrim building"),
            ("madinah", PROPHETS_MOSQUE, 1_500.0, 150.0, "Madinah hotel"),
        ):
            hotels = self.hotels[city]
            for i, hotel in enumerate(hotels):
                lat, lon = spiral_site(centre, i, len(hotels), radius, inner)
                placed.append(
                    Hotel(
                        hotel.hotel_id,
                        f"{label} {i + 1}",
                        hotel.city,
                        round(lat, 6),
                        round(lon, 6),
                        hotel.capacity,
                    )
                )
        return tuple(placed)


def build_schedule(
    scale: str = "season",
    seed: int = 1,
    pilgrims: int | None = None,
    flights: int | None = None,
    rates: FaultRates | None = None,
) -> Schedule:
    """Flights, groups and hotels of a scenario, deterministic by seed."""
    if scale not in SCALE_DAYS:
        raise ValueError(f"scale must be one of {', '.join(SCALE_DAYS)}")
    rng = random.Random(seed * 7_919 + 17)
    days = SCALE_DAYS[scale]
    total = pilgrims if pilgrims is not None else default_pilgrims(scale)
    if total < 1:
        raise ValueError("a scenario needs at least one pilgrim")
    count = flights if flights is not None else max(1, round(total / ((SEATS_MIN + SEATS_MAX) / 2)))
    count = min(count, total)
    sizes = _flight_sizes(total, count, rng)
    instants = _arrival_instants(days, count)
    origin_weights = [o.share for o in ORIGINS]
    filler = _HotelFiller(rng)
    slots: list[FlightSlot] = []
    first_pilgrim = 0
    for k, (size, (day, instant)) in enumerate(zip(sizes, instants, strict=True)):
        origin = rng.choices(ORIGINS, origin_weights)[0]
        destination: Literal["JED", "MED"] = "MED" if rng.random() < madinah_share(day) else "JED"
        city: City = "madinah" if destination == "MED" else "makkah"
        arrival = instant + rng.randint(-1_200, 1_200)
        departure = arrival - int(origin.flight_hours * 3_600)
        carrier = "SV" if k % 2 == 0 else origin.carrier
        groups = tuple(
            Group(f"G{k + 1:05d}-{g + 1:02d}", filler.place(city, n), n)
            for g, n in enumerate(_split_groups(size, rng))
        )
        slots.append(
            FlightSlot(
                index=k,
                flight_id=simulated_flight_id(f"{carrier}{5001 + k}", origin.code, departure),
                origin=origin,
                destination=destination,
                scheduled_departure=departure,
                scheduled_arrival=arrival,
                day=day,
                first_pilgrim=first_pilgrim,
                groups=groups,
            )
        )
        first_pilgrim += size
    return Schedule(scale, seed, days, tuple(slots), filler.layout(), rates or FaultRates())


def simulated_flight_id(designator: str, origin: str, departure: int) -> str:
    """Contract v1.1 form, from the scheduled departure (epoch seconds) at the origin's
    local date, exactly as an IATA message's `.F` element of that flight gives it."""
    instant = datetime.fromtimestamp(departure, UTC)
    return canonical_flight_id(designator, local_departure_date(origin, instant))


@dataclass(frozen=True)
class PilgrimPlan:
    no_show: bool
    bag_faults: tuple[str | None, ...]  # one entry per bag


@dataclass(frozen=True)
class FlightPlan:
    """Who flies and what goes wrong, drawn from the flight's own random stream."""

    slot: FlightSlot
    pilgrims: tuple[tuple[PilgrimPlan, ...], ...]  # per group
    breakdowns: tuple[bool, ...]  # per group's bus

    @property
    def bags(self) -> int:
        return sum(len(p.bag_faults) for group in self.pilgrims for p in group)


def flight_rng(seed: int, index: int, stream: int) -> random.Random:
    """Independent, reproducible random streams per flight (0: plan, 1: timing)."""
    return random.Random((seed * 1_000_003 + index) * 4 + stream)


def plan_flight(slot: FlightSlot, rates: FaultRates, seed: int) -> FlightPlan:
    rng = flight_rng(seed, slot.index, 0)
    thresholds: list[tuple[float, str]] = []
    acc = 0.0
    for kind in BAG_FAULTS:
        acc += getattr(rates, kind)
        thresholds.append((acc, kind))
    if acc > 1.0:
        raise ValueError("bag fault rates add up to more than 1")
    random_ = rng.random
    groups: list[tuple[PilgrimPlan, ...]] = []
    for group in slot.groups:
        members: list[PilgrimPlan] = []
        for _ in range(group.size):
            no_show = random_() < rates.no_show
            u = random_()
            n_bags = 1 if u < BAG_COUNT_WEIGHTS[0] else 2 if u < 0.95 else 3
            faults: list[str | None] = []
            for _ in range(n_bags):
                v = random_()
                fault: str | None = None
                if v < acc:
                    for limit, kind in thresholds:
                        if v < limit:
                            fault = kind
                            break
                faults.append(fault)
            members.append(PilgrimPlan(no_show, tuple(faults)))
        groups.append(tuple(members))
    breakdowns = tuple(random_() < rates.bus_breakdown for _ in slot.groups)
    return FlightPlan(slot, tuple(groups), breakdowns)


def plans(schedule: Schedule) -> Iterator[FlightPlan]:
    for slot in schedule.flights:
        yield plan_flight(slot, schedule.rates, schedule.seed)
