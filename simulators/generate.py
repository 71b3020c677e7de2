"""Turns a schedule into a replay file (contract events, JSON Lines) and its ground truth.

Each flight is simulated on its own random stream (plan, then timing), so a scenario is
reproducible by seed. Events are buffered by hour and written in event-time order once no
later flight can produce anything earlier (a flight's first event is its pilgrims'
registration, 30 h before departure); only the injected late (out-of-order) lines and
duplicates are written after their time. Every valid event is decoded with the contract's
decoder and folded into the oracle as it is produced, so memory holds a day or so of events
plus the oracle's per-bag aggregates, never the whole season.
"""

from __future__ import annotations

import gc
import random
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import orjson

from simulators.faults import REDELIVERED_SHARE
from simulators.oracle import Oracle, OracleResult, Thresholds
from simulators.plates import LicensePlates
from simulators.roads import ORIGINS, Drive, Roads, TripTruth, VehicleKind
from simulators.season import FlightPlan, Hotel, Schedule, flight_rng, plan_flight
from simulators.track import Fix, parked
from tariq.domain.events import decode_event

Event = dict[str, Any]
HOUR: Final = 3_600
REGISTRATION_LEAD_S: Final = 30 * HOUR  # pilgrims are registered 30-32 h before departure
END_AFTER_FINAL_BREAKDOWN_S: Final = 30 * 60
TRUCK_MAX_BAGS: Final = 300
TRUCK_MAX_STOPS: Final = 3
CLAIM_SHARE: Final = 0.6
MALFORMED_KINDS: Final = ("not_json", "unknown_type", "missing_field", "bad_tag", "bad_time")
TRACK_SEEDS: Final = 1 << 30  # each drive's own random stream, drawn from the flight's


_DATES: dict[int, str] = {}


def iso(t: int | float) -> str:
    """RFC 3339 in UTC; the date part is cached because millions of events share few days."""
    day, second = divmod(int(t), 86_400)
    date = _DATES.get(day)
    if date is None:
        date = _DATES[day] = time.strftime("%Y-%m-%d", time.gmtime(day * 86_400))
    hour, second = divmod(second, 3_600)
    minute, second = divmod(second, 60)
    return f"{date}T{hour:02d}:{minute:02d}:{second:02d}Z"


def fast_randint(rng: random.Random) -> Callable[[int, int], int]:
    """`randint` without its argument checks (a third of the generation time otherwise)."""
    draw = rng.random

    def randint(low: int, high: int) -> int:
        return low + int(draw() * (high - low + 1))

    return randint


class Ids:
    """Tag numbers and vehicle ids, handed out in generation order."""

    def __init__(self) -> None:
        self.plates = LicensePlates()
        self.buses = 0
        self.trucks = 0

    def tag(self, overflow_airline_code: str) -> str:
        return self.plates.next_tag(overflow_airline_code)

    def bus(self) -> str:
        self.buses += 1
        return f"BUS-{self.buses:06d}"

    def truck(self) -> str:
        self.trucks += 1
        return f"TRK-{self.trucks:06d}"


@dataclass
class FlightOutput:
    events: list[tuple[int, Event]]
    arrival: int
    final_breakdown: int | None = None
    breakdowns: list[str] = field(default_factory=list)
    faults: Counter[str] = field(default_factory=Counter)
    # Faulty bags only: coded tag -> (fault, tag its scans carry), so tests can follow them.
    faulty_bags: dict[str, tuple[str, str]] = field(default_factory=dict)
    trips: list[TripTruth] | None = None  # kept only when asked for (the ETA report)


def _scan(tag: str, checkpoint: str, location: str, **extra: str) -> Event:
    return {
        "type": "bag.scanned",
        "tag": tag,
        "checkpoint": checkpoint,
        "location": location,
        **extra,
    }


def flight_events(
    plan: FlightPlan,
    hotels: Mapping[str, Hotel],
    city_hotels: Mapping[str, Sequence[str]],
    ids: Ids,
    rng: random.Random,
    gps_interval_s: int,
    roads: Roads,
    final: bool = False,
    keep_trips: bool = False,
) -> FlightOutput:
    """Every event of one flight, from registration to the last claim (unsorted). Buses and
    trucks drive the road graph (simulators/roads.py); their arrivals at the hotels are
    where the check-ins and deliveries begin."""
    slot = plan.slot
    events: list[tuple[int, Event]] = []
    add = events.append
    randint = fast_randint(rng)
    fid, origin, dest = slot.flight_id, slot.origin, slot.destination
    city = "makkah" if dest == "JED" else "madinah"
    dep = slot.scheduled_departure + randint(0, 40 * 60)
    arr = dep + (slot.scheduled_arrival - slot.scheduled_departure) + randint(-15 * 60, 15 * 60)
    out = FlightOutput(events, arr, trips=[] if keep_trips else None)
    add((dep, {"type": "flight.departed", "flight_id": fid}))
    add((arr, {"type": "flight.arrived", "flight_id": fid}))

    def track(vehicle: str, kind: str, fixes: list[Fix]) -> None:
        for f in fixes:
            add(
                (
                    f.t,
                    {
                        "type": "vehicle.position",
                        "vehicle_id": vehicle,
                        "kind": kind,
                        "lat": f.lat,
                        "lon": f.lon,
                        "speed_kmh": f.speed_kmh,
                        "heading": f.heading,
                    },
                )
            )

    def record(vehicle: str, kind: VehicleKind, stops: Sequence[str], drive: Drive) -> None:
        if out.trips is not None:
            arrivals = tuple(zip(stops, drive.arrivals, strict=True))
            out.trips.append(TripTruth(vehicle, kind, dest, arrivals, tuple(drive.fixes)))

    registered = slot.scheduled_departure - REGISTRATION_LEAD_S
    coding = slot.scheduled_departure - 10 * HOUR
    carrier = fid[:2]
    sorted_bags: list[tuple[str, str, str | None, str, int]] = []  # tag, hotel, fault, pilgrim, t
    checkins: dict[str, int] = {}
    pilgrim_no = slot.first_pilgrim
    bag_no = 0
    for g, (group, members) in enumerate(zip(slot.groups, plan.pilgrims, strict=True)):
        riders: list[str] = []
        for member in members:
            pid = f"P{pilgrim_no:07d}"
            pilgrim_no += 1
            add(
                (
                    registered + randint(0, 2 * HOUR),
                    {
                        "type": "pilgrim.registered",
                        "pilgrim_id": pid,
                        "group_id": group.group_id,
                        "flight_id": fid,
                        "hotel_id": group.hotel_id,
                        "nationality": origin.nationality,
                    },
                )
            )
            coded_at = coding + randint(0, 4 * HOUR)
            if member.no_show:
                out.faults["no_show"] += 1
            else:
                add(
                    (
                        dep - randint(20 * 60, 80 * 60),
                        {"type": "pilgrim.boarded", "pilgrim_id": pid, "flight_id": fid},
                    )
                )
                riders.append(pid)
            for fault in member.bag_faults:
                if fault is not None:
                    out.faults[fault] += 1
                tag = ids.tag(origin.carrier_code)
                add(
                    (
                        coded_at,
                        {
                            "type": "bag.coded",
                            "tag": tag,
                            "pilgrim_id": pid,
                            "flight_id": fid,
                            "hotel_id": group.hotel_id,
                        },
                    )
                )
                coded_tag = tag
                if fault == "mislabelled":
                    # The label carries another number: every scan names an uncoded tag.
                    tag = ids.tag(origin.carrier_code)
                if fault is not None:
                    out.faulty_bags[coded_tag] = (fault, tag)
                add((coded_at + randint(60, 600), _scan(tag, "accepted", origin.code)))
                if fault == "left_behind":
                    continue
                uld = f"AKE{(slot.index * 20 + bag_no // 45) % 100_000:05d}{carrier}"
                bag_no += 1
                add((dep - randint(15 * 60, 90 * 60), _scan(tag, "loaded", origin.code, uld=uld)))
                if fault == "lost":
                    continue
                t = arr + randint(10 * 60, 40 * 60)
                add((t, _scan(tag, "offloaded", dest, uld=uld)))
                t += randint(5 * 60, 45 * 60)
                add((t, _scan(tag, "sorted", dest, hotel_id=group.hotel_id)))
                sorted_bags.append((tag, group.hotel_id, fault, pid, t))
        if not riders:
            continue
        # Landing to bus: 20-60 minutes with the route.
        boarded: list[int] = []
        bus = ids.bus()
        for pid in riders:
            t = arr + randint(15 * 60, 35 * 60)
            add((t, {"type": "pilgrim.arrived", "pilgrim_id": pid, "airport": dest}))
            t += randint(5 * 60, 25 * 60)
            add((t, {"type": "pilgrim.bus_boarded", "pilgrim_id": pid, "vehicle_id": bus}))
            boarded.append(t)
        depart = max(boarded) + randint(3 * 60, 10 * 60)
        hotel = hotels[group.hotel_id]
        hotel_at = (hotel.lat, hotel.lon)
        route = roads.route(ORIGINS[(dest, "bus")], [group.hotel_id])
        forced = final and out.final_breakdown is None
        if plan.breakdowns[g] or forced:
            out.faults["bus_breakdown"] += 1
            out.breakdowns.append(bus)
            share = 0.5 if forced else rng.uniform(0.2, 0.8)
            # It breaks down at a road node on the open road, `share` into the drive.
            k = roads.breakdown_index(route, share)
            before = roads.drive(route.nodes[: k + 1], (), depart, rng.randrange(TRACK_SEEDS))
            broke = before.end
            # Forced: the scenario ends while this bus is still stuck (see `end_of_scenario`).
            stall = 6 * HOUR if forced else randint(25 * 60, 75 * 60)
            spot = roads.position(route.nodes[k])
            track(bus, "bus", before.fixes)
            track(
                bus, "bus", parked(spot, broke + gps_interval_s, broke + stall, gps_interval_s, rng)
            )
            if forced:
                out.final_breakdown = broke
            # Over 20 minutes: a replacement bus takes the pilgrims on.
            spare = ids.bus()
            reboard = broke + stall + randint(60, 300)
            for pid in riders:
                add(
                    (
                        reboard,
                        {"type": "pilgrim.bus_boarded", "pilgrim_id": pid, "vehicle_id": spare},
                    )
                )
            leave = reboard + 60
            rest = [(group.hotel_id, route.stops[0][1] - k)]
            after = roads.drive(route.nodes[k:], rest, leave, rng.randrange(TRACK_SEEDS))
            at_hotel = after.arrivals[0]
            track(spare, "bus", after.fixes)
            last_bus = spare
        else:
            drive = roads.drive(route.nodes, route.stops, depart, rng.randrange(TRACK_SEEDS))
            at_hotel = drive.arrivals[0]
            track(bus, "bus", drive.fixes)
            record(bus, "bus", [group.hotel_id], drive)
            last_bus = bus
        last = at_hotel
        for pid in riders:
            t = at_hotel + randint(2 * 60, 12 * 60)
            add(
                (
                    t,
                    {
                        "type": "pilgrim.hotel_arrived",
                        "pilgrim_id": pid,
                        "hotel_id": group.hotel_id,
                    },
                )
            )
            checkins[pid] = t
            last = max(last, t)
        track(
            last_bus, "bus", parked(hotel_at, at_hotel + gps_interval_s, last, gps_interval_s, rng)
        )

    def truck_trip(
        lanes: list[tuple[str, list[tuple[str, str, str | None, str, int]]]], not_before: int
    ) -> None:
        truck = ids.truck()
        ready = max(b[4] for _, bags in lanes for b in bags) + randint(10 * 60, 25 * 60)
        depart = max(ready, not_before)
        for _, bags in lanes:
            for tag, _, _, _, sorted_at in bags:
                t = max(sorted_at + 60, depart - randint(60, 600))
                add((t, _scan(tag, "truck_loaded", dest, vehicle_id=truck)))
        yard = ORIGINS[(dest, "truck")]
        # The driver takes the stops in the truck planner's order (routing/trucks.py).
        by_hotel = dict(lanes)
        stops = roads.order(yard, list(by_hotel))
        # Each stop's deliveries are drawn first: the truck waits at the door for the last.
        offsets = [[randint(2 * 60, 10 * 60) for _ in by_hotel[h]] for h in stops]
        dwell = [max(o) + 60 for o in offsets]
        route = roads.route(yard, stops)
        drive = roads.drive(
            route.nodes, route.stops, depart, rng.randrange(TRACK_SEEDS), dwell[:-1]
        )
        track(truck, "truck", drive.fixes)
        record(truck, "truck", stops, drive)
        at_stop = {h: (a, d) for h, a, d in zip(stops, drive.arrivals, dwell, strict=True)}
        for i, hotel_id in enumerate(stops):
            t = drive.arrivals[i]
            for (tag, _, fault, pid, _), offset in zip(by_hotel[hotel_id], offsets[i], strict=True):
                delivered = t + offset
                where = hotel_id
                if fault == "misdelivered":
                    others = [s for s in stops if s != hotel_id]
                    if not others:
                        others = [h for h in city_hotels[city] if h != hotel_id]
                    where = rng.choice(others) if others else hotel_id
                    if where in at_stop:  # dropped at another stop, while the truck is there
                        arrived, waited = at_stop[where]
                        delivered = arrived + min(offset, waited - 60)
                add((delivered, _scan(tag, "delivered", where)))
                if where != hotel_id:
                    if rng.random() >= REDELIVERED_SHARE:
                        continue
                    delivered += randint(2 * HOUR, 10 * HOUR)
                    add((delivered, _scan(tag, "delivered", hotel_id)))
                checked_in = checkins.get(pid)
                if checked_in is not None and rng.random() < CLAIM_SHARE:
                    claimed = max(delivered, checked_in) + randint(10 * 60, 3 * HOUR)
                    add((claimed, _scan(tag, "claimed", hotel_id)))
        # Parked at the last door until its deliveries are done (the others: in the drive).
        last_hotel = hotels[stops[-1]]
        t = drive.arrivals[-1]
        end = t + dwell[-1]
        here = (last_hotel.lat, last_hotel.lon)
        track(truck, "truck", parked(here, t + gps_interval_s, end, gps_interval_s, rng))

    # Bags are sorted into one lane per hotel; a truck takes up to 3 lanes and 300 bags.
    lanes: dict[str, list[tuple[str, str, str | None, str, int]]] = {}
    late: dict[str, list[tuple[str, str, str | None, str, int]]] = {}
    for bag in sorted_bags:
        (late if bag[2] == "late_delivery" else lanes).setdefault(bag[1], []).append(bag)
    load: list[tuple[str, list[tuple[str, str, str | None, str, int]]]] = []
    for hotel_id, bags in lanes.items():
        if load and (
            len(load) == TRUCK_MAX_STOPS
            or sum(len(b) for _, b in load) + len(bags) > TRUCK_MAX_BAGS
        ):
            truck_trip(load, 0)
            load = []
        load.append((hotel_id, bags))
    if load:
        truck_trip(load, 0)
    if late:
        # Late porters: the late bags wait at the airport 5-12 h before a truck takes them.
        truck_trip(list(late.items()), arr + randint(5 * HOUR, 12 * HOUR))
    return out


@dataclass
class Counts:
    by_type: Counter[str] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)
    malformed: Counter[str] = field(default_factory=Counter)
    valid: int = 0
    duplicates: int = 0
    out_of_order: int = 0
    lines: int = 0
    after_end: int = 0

    @property
    def malformed_total(self) -> int:
        return sum(self.malformed.values())


@dataclass
class Scenario:
    schedule: Schedule
    result: OracleResult
    counts: Counts
    start: int
    end: int
    thresholds: Thresholds
    faulty_bags: dict[str, tuple[str, str]] = field(default_factory=dict)
    breakdowns: list[str] = field(default_factory=list)  # the buses that broke down


def end_of_scenario(
    schedule: Schedule,
    hotels: Mapping[str, Hotel],
    city_hotels: Mapping[str, Sequence[str]],
    gps_interval_s: int,
    roads: Roads | None = None,
) -> int:
    """The scenario ends 30 min after the first bus of the last-arriving flight breaks down
    halfway to its hotel (that breakdown is forced): the final clock then has that bus stalled,
    the last flight's bags between offloading and delivery, and earlier flights' time-based
    alerts some open (still undelivered) and some resolved (delivered late, redelivered)."""
    final = max(schedule.flights, key=lambda s: (s.scheduled_arrival, s.index))
    plan = plan_flight(final, schedule.rates, schedule.seed)
    dry = flight_events(
        plan,
        hotels,
        city_hotels,
        Ids(),
        flight_rng(schedule.seed, final.index, 1),
        gps_interval_s,
        roads or Roads(hotels, gps_interval_s),
        final=True,
    )
    if dry.final_breakdown is None:  # nobody rode a bus: end 2.5 h after the landing
        return dry.arrival + 9_000
    return dry.final_breakdown + END_AFTER_FINAL_BREAKDOWN_S


def _malformed_line(kind: str, event: Event, eid: str, occurred: str) -> bytes:
    if kind == "not_json":
        text = orjson.dumps(event)
        return text[: len(text) // 2]
    if kind == "unknown_type":
        return orjson.dumps({**event, "event_id": eid, "type": "bag.teleported"})
    if kind == "missing_field":
        payload = [k for k in event if k not in ("event_id", "type", "occurred_at", "source")]
        broken = {**event, "event_id": eid}
        del broken[payload[0] if payload else "occurred_at"]
        return orjson.dumps(broken)
    if kind == "bad_tag":
        return orjson.dumps(
            {
                "event_id": eid,
                "type": "bag.scanned",
                "occurred_at": occurred,
                "tag": "065123456",
                "checkpoint": "sorted",
                "location": "JED",
                "hotel_id": "MAK-0001",
            }
        )
    # bad_time
    return orjson.dumps(
        {**event, "event_id": eid, "occurred_at": occurred.replace("T", " at ").replace("-", "/")}
    )


BAD_IATA_TEXTS: Final = (
    # No end line.
    "BSM\n.V/1LJED\n.F/SV5123/18MAY/JED/Y\n.N/0065123456001\n",
    # Not a baggage message type.
    "BXM\n.V/1LJED\n.N/0065123456001\nENDBXM",
    # A tag element that is not a number.
    "BSM\n.V/1LJED\n.F/SV5123/18MAY/JED/Y\n.N/00651234XY001\nENDBSM",
    # End line of another message type.
    "BPM\n.V/1LMED\n.J/S/BGFUSION/18MAY/1059L\n.N/0065123456001\nENDBSM",
)


def generate(
    schedule: Schedule,
    write: Callable[[bytes], object],
    gps_interval_s: int = 60,
    thresholds: Thresholds | None = None,
    on_flight: Callable[[], None] | None = None,
    on_trip: Callable[[TripTruth], None] | None = None,
) -> Scenario:
    """Writes the scenario's lines (each ending with a newline) and returns its truth;
    `on_trip` is given every bus and truck trip that ends before the scenario does."""
    # Millions of long-lived small objects: the cyclic collector would rescan them over and
    # over for nothing (nothing here makes cycles that matter).
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _generate(schedule, write, gps_interval_s, thresholds, on_flight, on_trip)
    finally:
        if collecting:
            gc.enable()


def _generate(
    schedule: Schedule,
    write: Callable[[bytes], object],
    gps_interval_s: int,
    thresholds: Thresholds | None,
    on_flight: Callable[[], None] | None,
    on_trip: Callable[[TripTruth], None] | None,
) -> Scenario:
    seed = schedule.seed
    thresholds = thresholds or Thresholds()
    hotels = {h.hotel_id: h for h in schedule.hotels}
    city_hotels: dict[str, list[str]] = {"makkah": [], "madinah": []}
    for h in schedule.hotels:
        city_hotels[h.city].append(h.hotel_id)
    roads = Roads(hotels, gps_interval_s)
    end = end_of_scenario(schedule, hotels, city_hotels, gps_interval_s, roads)
    rates = schedule.rates
    dup_p = rates.duplicate
    late_p = dup_p + rates.out_of_order
    bad_p = late_p + rates.malformed
    bad_iata_p = bad_p + rates.malformed_iata
    fault_rng = random.Random(seed * 31 + 5)
    oracle = Oracle(thresholds)
    counts = Counts()
    # Lines waiting to be written, bucketed by the hour of their file position; a bucket is
    # sorted and written once no flight still to come can add to it.
    buckets: dict[int, list[tuple[int, int, bytes]]] = {}
    seq = 0
    dumps = orjson.dumps
    by_type = counts.by_type

    def put(key: int, order: int, line: bytes) -> None:
        bucket = buckets.get(key // HOUR)
        if bucket is None:
            bucket = buckets[key // HOUR] = []
        bucket.append((key, order, line))

    def push(key: int, line: bytes) -> None:
        nonlocal seq
        seq += 1
        put(key, seq, line)

    def emit(t: int, event: Event) -> None:
        nonlocal seq
        if t > end:
            counts.after_end += 1
            return
        seq += 1
        occurred = iso(t)
        full = {"event_id": f"s{seed}-{seq:08x}", "occurred_at": occurred, **event}
        encoded = dumps(full)
        oracle.add(decode_event(encoded))  # raises if the generator ever writes an invalid event
        # orjson's bytes keep a 4 KiB buffer behind them; a join copies to the exact size,
        # which matters for the hundreds of thousands of lines waiting in the buckets.
        line = b"".join((encoded, b"\n"))
        counts.valid += 1
        by_type[event["type"]] += 1
        u = fault_rng.random()
        if u >= bad_iata_p:
            put(t, seq, line)
        elif u < dup_p:
            put(t, seq, line)
            push(t + fault_rng.randint(0, 600), line)
            counts.duplicates += 1
        elif u < late_p:
            # Sent late: written where events of up to an hour later are.
            push(t + fault_rng.randint(60, HOUR), line)
            counts.out_of_order += 1
        else:
            put(t, seq, line)
            bad_id = f"s{seed}-x{seq:08x}"
            if u < bad_p:
                kind = MALFORMED_KINDS[fault_rng.randrange(len(MALFORMED_KINDS))]
                push(t, b"".join((_malformed_line(kind, full, bad_id, occurred), b"\n")))
            else:
                kind = "iata_unparseable"
                bad = dumps(
                    {
                        "event_id": bad_id,
                        "type": "iata.message",
                        "occurred_at": occurred,
                        "text": fault_rng.choice(BAD_IATA_TEXTS),
                    }
                )
                push(t, b"".join((bad, b"\n")))
            counts.malformed[kind] += 1

    def flush(before: int | None) -> None:
        limit = None if before is None else before // HOUR  # buckets wholly before `before`
        for hour in sorted(buckets):
            if limit is not None and hour >= limit:
                break
            bucket = buckets.pop(hour)
            bucket.sort()
            counts.lines += len(bucket)
            write(b"".join([item[2] for item in bucket]))

    order = sorted(schedule.flights, key=lambda s: (s.scheduled_departure, s.index))
    start = order[0].scheduled_departure - REGISTRATION_LEAD_S - HOUR
    for h in schedule.hotels:
        emit(
            start,
            {
                "type": "hotel.registered",
                "hotel_id": h.hotel_id,
                "name": h.name,
                "city": h.city,
                "lat": h.lat,
                "lon": h.lon,
            },
        )
    for slot in schedule.flights:
        emit(
            start,
            {
                "type": "flight.scheduled",
                "flight_id": slot.flight_id,
                "origin": slot.origin.code,
                "destination": slot.destination,
                "scheduled_departure": iso(slot.scheduled_departure),
                "scheduled_arrival": iso(slot.scheduled_arrival),
            },
        )
    final = max(schedule.flights, key=lambda s: (s.scheduled_arrival, s.index))
    ids = Ids()
    faulty_bags: dict[str, tuple[str, str]] = {}
    breakdowns: list[str] = []
    for slot in order:
        flush(slot.scheduled_departure - REGISTRATION_LEAD_S)
        plan = plan_flight(slot, rates, seed)
        out = flight_events(
            plan,
            hotels,
            city_hotels,
            ids,
            flight_rng(seed, slot.index, 1),
            gps_interval_s,
            roads,
            final=slot is final,
            keep_trips=on_trip is not None,
        )
        if on_trip is not None:
            for trip in out.trips or ():
                if trip.stops[-1][1] <= end:
                    on_trip(trip)
        counts.faults.update(out.faults)
        faulty_bags.update(out.faulty_bags)
        breakdowns.extend(out.breakdowns)
        for t, event in out.events:
            emit(t, event)
        if on_flight is not None:
            on_flight()
    flush(None)
    return Scenario(
        schedule, oracle.result(), counts, start, end, thresholds, faulty_bags, breakdowns
    )


TRUTH_FORMAT: Final = "tariq-simulator-truth/1"


def truth_document(scenario: Scenario) -> dict[str, Any]:
    """The ground truth as written to truth.json (docs/simulator.md describes each field)."""
    result = scenario.result
    counts = scenario.counts
    schedule = scenario.schedule
    bags = sorted(result.bags.values(), key=lambda b: b.tag)
    stages = Counter(b.stage for b in bags)
    alerts = Counter(a.type for a in result.alerts)
    th = scenario.thresholds
    return {
        "format": TRUTH_FORMAT,
        "scenario": {
            "scale": schedule.scale,
            "seed": schedule.seed,
            "pilgrims": schedule.pilgrims,
            "flights": len(schedule.flights),
            "hotels": len(schedule.hotels),
            "bags": len(bags),
            "start": iso(scenario.start),
            "end": iso(scenario.end),
            "fault_rates": schedule.rates.as_dict(),
        },
        "clock": None if result.clock is None else iso(result.clock),
        "thresholds": {
            "missing_after_arrival_s": th.missing_after_arrival_s,
            "delivery_overdue_after_checkin_s": th.delivery_overdue_after_checkin_s,
            "stall_radius_m": th.stall_radius_m,
            "stall_after_s": th.stall_after_s,
            "stall_airport_m": th.stall_airport_m,
            "stall_hotel_m": th.stall_hotel_m,
        },
        "counts": {
            "lines": counts.lines,
            "events_valid": counts.valid,
            "duplicates": counts.duplicates,
            "out_of_order": counts.out_of_order,
            "malformed": counts.malformed_total,
            "malformed_by_kind": dict(sorted(counts.malformed.items())),
            "events_by_type": dict(sorted(counts.by_type.items())),
        },
        "faults_injected": dict(sorted(counts.faults.items())),
        "bags_by_stage": dict(sorted(stages.items())),
        "alerts_open_by_type": dict(sorted(alerts.items())),
        "alerts": [
            {
                "alert_id": a.alert_id,
                "type": a.type,
                "tag": a.tag,
                "pilgrim_id": a.pilgrim_id,
                "flight_id": a.flight_id,
                "hotel_id": a.hotel_id,
                "vehicle_id": a.vehicle_id,
            }
            for a in result.alerts
        ],
        "bags": [
            {
                "tag": b.tag,
                "pilgrim_id": b.pilgrim_id,
                "flight_id": b.flight_id,
                "hotel_id": b.hotel_id,
                "stage": b.stage,
                "location": b.location,
            }
            for b in bags
        ],
    }
