"""Routing micro-benchmarks: ``python -m routing.bench``.

Prints the shipped network's size, the time of a shortest-path query (Jeddah baggage yard →
Masjid al-Haram and Madinah → Makkah), a batch geofence locate of 20,000 vehicle positions,
and batch map-matching of the same positions.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable

from routing.geofence import FenceIndex, default_fences
from routing.hotels import place_hotels
from routing.network import DATA_FILE, shipped_network, shortest_route
from routing.trips import RoadMatcher


def _best_of(fn: Callable[[], object], repeat: int = 5) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def main() -> int:
    t = time.perf_counter()
    graph = shipped_network()
    load_s = time.perf_counter() - t
    print(
        f"network: {graph.number_of_nodes()} nodes, {graph.number_of_edges()} edges, "
        f"{DATA_FILE.stat().st_size / 1e6:.2f} MB, loaded in {load_s * 1000:.0f} ms"
    )
    for a, b in (("jed:baggage_yard", "mak:haram_gate"), ("mad:mosque_gate", "mak:haram_gate")):
        s = _best_of(lambda a=a, b=b: shortest_route(graph, a, b), 20)  # type: ignore[misc]
        print(f"shortest path {a} → {b}: {s * 1000:.2f} ms")
    hotels = place_hotels(graph, "makkah", 3500, 1) + place_hotels(graph, "madinah", 450, 1)
    fences = default_fences(graph, hotels)
    t = time.perf_counter()
    index = FenceIndex(fences)
    print(
        f"fence index over {len(fences)} fences built in {(time.perf_counter() - t) * 1000:.1f} ms"
    )
    rng = random.Random(1)
    # Vehicles mostly in the cities (where the hotel fences are), some on the highways.
    picks = [rng.choice(hotels) for _ in range(16_000)]
    lats = [h.lat + rng.gauss(0, 0.001) for h in picks]
    lons = [h.lon + rng.gauss(0, 0.001) for h in picks]
    nodes = list(graph.nodes)
    for _ in range(4_000):
        d = graph.nodes[rng.choice(nodes)]
        lats.append(d["lat"])
        lons.append(d["lon"])
    s = _best_of(lambda: index.locate(lats, lons))
    hits = sum(
        1 for ids in index.locate(lats, lons) if any(not i.startswith("district") for i in ids)
    )
    print(
        f"geofence locate of {len(lats)} points: {s * 1000:.1f} ms ({hits} in a non-district fence)"
    )
    matcher = RoadMatcher(graph)
    s = _best_of(lambda: matcher.match_many(lats, lons), 3)
    print(f"map-matching of {len(lats)} points: {s * 1000:.1f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
