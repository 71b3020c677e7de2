"""When a hotel's last expected bag will arrive: the per-hotel forecast (pure).

The model (docs/contract-extensions.md, "Per-hotel forecast"), bag by bag, with the service
clock `now` (event time) as the earliest any step can still happen:

- delivered or claimed at the hotel: done, no forecast needed;
- on a truck (`truck_loaded`): the truck's own ETA for this hotel, as the stream planned it
  (its trip plan, else its next-stop ETA, else what the hotel was last told); if none is
  known, the drive from the arrival airport starting when it was loaded; never before `now`;
- not on a truck yet: planning allowances from the latest known step, then the drive:
  the flight's arrival (actual, else scheduled) + OFFLOAD → offloaded, + SORT → sorted,
  + LOAD (waiting for a truck and loading) → departure, + the road drive time from the
  arrival airport to the hotel at that departure time (routing.eta, with congestion). The
  first step still to come is never before `now`;
- misrouted (its latest sorted/delivered/claimed scan names another hotel) or with no
  arrival time or no route: no forecast; counted apart, and the forecast says it is not
  complete.

The last expected bag is the latest of these times. The allowances follow the handling
times seen at the arrival airports (offloaded 10-40 min after landing, sorted 5-45 min later,
trucks leave 10-25 min after the last bag of their load is sorted), each at its upper end:
a forecast for "the last bag" should rather be late than early.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tariq.domain.events import STAGE_RANK, rfc3339

OFFLOAD = timedelta(minutes=40)  # landing -> offloaded
SORT = timedelta(minutes=45)  # offloaded -> sorted to the hotel's lane
LOAD = timedelta(minutes=25)  # sorted -> on a truck that leaves the airport

# (arrival airport, departure time) -> the drive to this hotel, or None when it has no route.
DriveTime = Callable[[str, datetime], timedelta | None]

_PRE_ARRIVAL = STAGE_RANK["offloaded"]


@dataclass(frozen=True, slots=True)
class BagGroup:
    """Bags of one hotel that the forecast treats alike (same stage, flight and truck).

    `stage_at` is the latest scan time of the group: its last bag is the one that counts.
    """

    stage: str
    count: int
    airport: str | None = None  # the flight's destination
    arrival: datetime | None = None  # the flight's arrival: actual, else scheduled
    stage_at: datetime | None = None
    vehicle_id: str | None = None
    delivered_here: bool = False
    held_elsewhere: bool = False


@dataclass(frozen=True, slots=True)
class Forecast:
    hotel_id: str
    as_of: datetime | None
    expected: int
    delivered: int
    on_truck: int
    waiting: int  # not on a truck yet, with a forecast
    without_forecast: int  # misrouted, or no arrival time or route known
    misrouted: int
    last_expected_at: datetime | None
    basis: str | None  # what the last bag's time comes from: "truck" or "estimate"

    @property
    def remaining(self) -> int:
        return self.expected - self.delivered

    @property
    def complete(self) -> bool:
        """Every bag still to come has a forecast."""
        return self.without_forecast == 0

    def as_json(self) -> dict[str, Any]:
        return {
            "hotel_id": self.hotel_id,
            "as_of": rfc3339(self.as_of),
            "expected": self.expected,
            "delivered": self.delivered,
            "remaining": self.remaining,
            "on_truck": self.on_truck,
            "waiting": self.waiting,
            "without_forecast": self.without_forecast,
            "misrouted": self.misrouted,
            "complete": self.complete,
            "last_expected_at": rfc3339(self.last_expected_at),
            "basis": self.basis,
            "model": {
                "offload_min": OFFLOAD.total_seconds() / 60,
                "sort_min": SORT.total_seconds() / 60,
                "load_min": LOAD.total_seconds() / 60,
            },
        }


def _not_before(t: datetime, now: datetime | None) -> datetime:
    return t if now is None or t >= now else now


def departure(group: BagGroup, now: datetime | None) -> datetime | None:
    """When a bag not yet on a truck should leave its arrival airport, or None if unknown."""
    rank = STAGE_RANK.get(group.stage)
    if rank is None:
        return None
    if rank < _PRE_ARRIVAL:
        if group.arrival is None:
            return None
        return _not_before(group.arrival + OFFLOAD, now) + SORT + LOAD
    if group.stage_at is None:
        return None
    if group.stage == "offloaded":
        return _not_before(group.stage_at + SORT, now) + LOAD
    return _not_before(group.stage_at + LOAD, now)  # sorted


def bag_eta(
    group: BagGroup,
    now: datetime | None,
    truck_etas: dict[str, datetime],
    drive: DriveTime,
) -> tuple[datetime, str] | None:
    """When the group's last bag should reach the hotel, and on what basis; None if unknown.
    Only for bags still to come (not delivered here, not misrouted)."""
    if group.stage == "truck_loaded":
        eta = truck_etas.get(group.vehicle_id or "")
        if eta is not None:
            return _not_before(eta, now), "truck"
        if group.stage_at is None or group.airport is None:
            return None
        leg = drive(group.airport, _not_before(group.stage_at, now))
        return None if leg is None else (_not_before(group.stage_at, now) + leg, "estimate")
    leaves = departure(group, now)
    if leaves is None or group.airport is None:
        return None
    leg = drive(group.airport, leaves)
    return None if leg is None else (leaves + leg, "estimate")


def hotel_forecast(
    hotel_id: str,
    groups: Iterable[BagGroup],
    now: datetime | None,
    truck_etas: dict[str, datetime],
    drive: DriveTime,
) -> Forecast:
    """The hotel's forecast from its bags (in groups), the trucks' ETAs for this hotel
    (vehicle_id -> ETA) and the road drive time from each arrival airport."""
    expected = delivered = on_truck = waiting = without = misrouted = 0
    last: tuple[datetime, str] | None = None
    for g in groups:
        expected += g.count
        if g.delivered_here:
            delivered += g.count
            continue
        if g.held_elsewhere or STAGE_RANK.get(g.stage, 0) >= STAGE_RANK["delivered"]:
            misrouted += g.count
            without += g.count
            continue
        eta = bag_eta(g, now, truck_etas, drive)
        if eta is None:
            without += g.count
            continue
        if g.stage == "truck_loaded":
            on_truck += g.count
        else:
            waiting += g.count
        if last is None or eta[0] > last[0]:
            last = eta
    return Forecast(
        hotel_id=hotel_id,
        as_of=now,
        expected=expected,
        delivered=delivered,
        on_truck=on_truck,
        waiting=waiting,
        without_forecast=without,
        misrouted=misrouted,
        last_expected_at=last[0] if last else None,
        basis=last[1] if last else None,
    )
