"""Simulated GPS tracks along a route (for the simulator and the ETA quality check).

A vehicle waits at the route's first node (the airport kerb or baggage yard), drives each edge
at its free-flow time × the congestion factor when it enters the edge × a per-trip factor × a
per-edge random factor, pulls up at each stop's door (a short driveway from the road node),
dwells, and goes on (stops that share a road node are visited one after the other; after the
route's last stop the vehicle stays at that door). Fixes are sampled every `fix_interval_s`
with GPS noise; some are dropped (gaps); an optional stall holds the vehicle still in the
middle of a road.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import networkx as nx

from routing.congestion import CongestionModel
from routing.geo import bearing_deg, haversine_m, offset


@dataclass(frozen=True, slots=True)
class TrackFix:
    t: datetime
    lat: float
    lon: float
    speed_kmh: float
    heading: float = 0.0  # degrees from north of the way it moves (0 when still)


@dataclass(frozen=True, slots=True)
class StopSpec:
    """A stop at route node index `at_index`: the door at lat/lon, parked for `dwell_s`."""

    at_index: int
    lat: float
    lon: float
    dwell_s: float = 600.0


@dataclass(frozen=True, slots=True)
class Stall:
    """The vehicle stands still for `duration_s` once it has driven `after_s` seconds."""

    after_s: float
    duration_s: float


@dataclass(frozen=True, slots=True)
class TrackOptions:
    fix_interval_s: float = 10.0
    noise_m: float = 8.0
    drop_share: float = 0.05  # single fixes lost
    gap_chance: float = 0.01  # chance per fix that a longer outage starts
    gap_s: tuple[float, float] = (60.0, 300.0)
    trip_factor_sigma: float = 0.12  # lognormal spread of the whole trip's pace
    edge_sigma: float = 0.25  # lognormal spread per edge
    wait_before_s: float = 300.0  # parked at the first node before leaving
    driveway_kmh: float = 10.0
    max_speed_kmh: float = 130.0  # buses and trucks are limited, however fast the draw


@dataclass(frozen=True, slots=True)
class Track:
    fixes: list[TrackFix]
    departed_at: datetime  # left the first node
    stop_arrivals: list[datetime]  # at each stop's door, in order
    end: datetime
    trip_factor: float
    stall_at: tuple[float, float] | None = None  # where it stood still
    truth: list[tuple[datetime, float, float, float]] = field(default_factory=list)


def simulate_track(
    graph: nx.DiGraph,
    route: Sequence[str],
    start: datetime,
    model: CongestionModel | None = None,
    *,
    seed: int = 0,
    stops: Sequence[StopSpec] = (),
    stall: Stall | None = None,
    options: TrackOptions | None = None,
) -> Track:
    """Drive `route` from `start` and return the GPS fixes with the true timings."""
    opts = options or TrackOptions()
    rng = random.Random(seed)
    model = model or CongestionModel()
    trip_factor = math.exp(rng.gauss(0.0, opts.trip_factor_sigma))
    by_index: dict[int, list[StopSpec]] = {}
    for spec in stops:
        by_index.setdefault(spec.at_index, []).append(spec)
    last_index = len(route) - 1

    # Movement as (t0, t1, lat0, lon0, lat1, lon1) pieces, in seconds from `start`.
    pieces: list[tuple[float, float, float, float, float, float]] = []
    t = 0.0

    def node_pos(node: str) -> tuple[float, float]:
        d = graph.nodes[node]
        return float(d["lat"]), float(d["lon"])

    def move(a: tuple[float, float], b: tuple[float, float], seconds: float) -> None:
        nonlocal t
        pieces.append((t, t + seconds, a[0], a[1], b[0], b[1]))
        t += seconds

    first = node_pos(route[0])
    move(first, first, opts.wait_before_s)
    departed = t
    driven = 0.0
    stalled_at: tuple[float, float] | None = None
    arrivals: list[float] = []

    def visit(index: int) -> None:
        specs: Sequence[StopSpec] = by_index.get(index, ())
        here = node_pos(route[index])
        for n, spec in enumerate(specs):
            door = (spec.lat, spec.lon)
            seconds = haversine_m(*here, *door) / (opts.driveway_kmh / 3.6)
            move(here, door, seconds)
            arrivals.append(t)
            move(door, door, spec.dwell_s)
            if index < last_index or n < len(specs) - 1:  # the trip ends at the last door
                move(door, here, seconds)

    visit(0)
    for i, (u, v) in enumerate(itertools.pairwise(route)):
        edge = graph.edges[u, v]
        at = start + timedelta(seconds=t)
        seconds = (
            edge["travel_time_s"]
            * model.factor(at, edge["road_class"])
            * trip_factor
            * math.exp(rng.gauss(0.0, opts.edge_sigma))
        )
        seconds = max(seconds, edge["length_m"] / (opts.max_speed_kmh / 3.6))
        a, b = node_pos(u), node_pos(v)
        if stall is not None and stalled_at is None and driven + seconds >= stall.after_s:
            frac = max(0.0, min(1.0, (stall.after_s - driven) / seconds))
            mid = (a[0] + (b[0] - a[0]) * frac, a[1] + (b[1] - a[1]) * frac)
            move(a, mid, seconds * frac)
            move(mid, mid, stall.duration_s)
            move(mid, b, seconds * (1 - frac))
            stalled_at = mid
        else:
            move(a, b, seconds)
        driven += seconds
        visit(i + 1)

    fixes: list[TrackFix] = []
    truth: list[tuple[datetime, float, float, float]] = []
    # Locals: a simulator samples hundreds of thousands of fixes through this loop.
    draw, gauss, uniform = rng.random, rng.gauss, rng.uniform
    gap_chance, drop_share, noise_m, gap_s = (
        opts.gap_chance,
        opts.drop_share,
        opts.noise_m,
        opts.gap_s,
    )
    last_piece = len(pieces) - 1
    k = 0
    outage_until = -1.0
    s = 0.0
    t0, t1, la0, lo0, la1, lo1 = pieces[0]
    speed, heading, span, current = 0.0, 0.0, 0.0, -1
    while s <= t:
        while k < last_piece and pieces[k][1] < s:
            k += 1
        if k != current:  # speed and heading are the piece's
            current = k
            t0, t1, la0, lo0, la1, lo1 = pieces[k]
            span = t1 - t0
            speed = 0.0 if span <= 0 else haversine_m(la0, lo0, la1, lo1) / span * 3.6
            heading = round(bearing_deg(la0, lo0, la1, lo1), 1) % 360.0 if speed > 0 else 0.0
        frac = 0.0 if span <= 0 else min(1.0, max(0.0, (s - t0) / span))
        lat, lon = la0 + (la1 - la0) * frac, lo0 + (lo1 - lo0) * frac
        when = start + timedelta(seconds=s)
        truth.append((when, lat, lon, speed))
        if draw() < gap_chance:
            outage_until = s + uniform(*gap_s)
        if s >= outage_until and draw() >= drop_share:
            nlat, nlon = offset(lat, lon, gauss(0, noise_m), gauss(0, noise_m))
            noisy_speed = max(0.0, speed + gauss(0, 2.0)) if speed > 0 else 0.0
            fixes.append(TrackFix(when, nlat, nlon, round(noisy_speed, 1), heading))
        s += opts.fix_interval_s
    return Track(
        fixes=fixes,
        departed_at=start + timedelta(seconds=departed),
        stop_arrivals=[start + timedelta(seconds=a) for a in arrivals],
        end=start + timedelta(seconds=t),
        trip_factor=trip_factor,
        stall_at=stalled_at,
        truth=truth,
    )
