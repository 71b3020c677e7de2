"""The road network: a reproducible synthetic graph of the Makkah Route, or a real osmnx export.

No map data for Jeddah, Makkah or Madinah ships in any package, so :func:`generate_network`
builds a plausible network around the anchors of domain.md from a seed: street grids around
Masjid al-Haram and the Prophet's Mosque, the Jeddah airport → Makkah expressway (~80 km), the
Madinah → Makkah highway (~440 km), Madinah airport → centre (~15 km), the holy sites
(Mina, Muzdalifah, Arafat) and small airport road networks with the Hajj terminal and the
baggage yards. The result ships as ``routing/data/network.graphml``;
``python -m routing.network --out routing/data/network.graphml`` regenerates it byte for byte.

Every graph handled here has one shape (a ``networkx.DiGraph`` with string node ids):
- node: ``lat``, ``lon`` (degrees), optional ``place`` (an anchor name) and ``city``;
- edge: ``length_m``, ``speed_kmh`` (free flow), ``road_class``, ``travel_time_s``.
"""

from __future__ import annotations

import argparse
import ast
import itertools
import math
import random
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import networkx as nx
import numpy as np
import shapely

from routing.geo import AIRPORTS, CITIES, LocalProjection, haversine_m, offset

DATA_FILE = Path(__file__).with_name("data") / "network.graphml"
DEFAULT_SEED = 1446  # the Hijri year of the 2025 season
NETWORK_VERSION = "1"

# Places from domain.md (lat, lon).
HARAM = CITIES["makkah"]
PROPHETS_MOSQUE = CITIES["madinah"]
JED = AIRPORTS["JED"]
MED = AIRPORTS["MED"]
MINA = (21.413, 39.893)
MUZDALIFAH = (21.39, 39.92)
ARAFAT = (21.355, 39.984)

# Free-flow speeds by road class (km/h); city streets near the mosques are slow.
ROAD_SPEEDS_KMH: dict[str, float] = {
    "motorway": 110.0,
    "trunk": 70.0,
    "primary": 50.0,
    "secondary": 40.0,
    "residential": 30.0,
    "service": 20.0,
}

# Well-known node ids of the anchors (the simulator and the geofences use them).
PLACE_NODES: dict[str, str] = {
    "jed_hajj_terminal": "jed:hajj_terminal",
    "jed_baggage_yard": "jed:baggage_yard",
    "med_terminal": "med:terminal",
    "med_baggage_yard": "med:baggage_yard",
    "masjid_al_haram": "mak:haram_gate",
    "prophets_mosque": "mad:mosque_gate",
    "mina": "mina:c",
    "muzdalifah": "muzdalifah:c",
    "arafat": "arafat:c",
    "checkpoint_jeddah_makkah": "hw:jed-mak:checkpoint",
    "checkpoint_madinah_makkah": "hw:mad-mak:checkpoint",
}


@dataclass(frozen=True, slots=True)
class Route:
    """A path through the network with its free-flow length and time."""

    nodes: tuple[str, ...]
    length_m: float
    travel_time_s: float


# --------------------------------------------------------------------------- building blocks


def add_road(
    graph: nx.DiGraph,
    u: str,
    v: str,
    road_class: str,
    *,
    speed_kmh: float | None = None,
    oneway: bool = False,
    detour: float = 1.0,
) -> None:
    """Add a road between two existing nodes (both directions unless `oneway`)."""
    a, b = graph.nodes[u], graph.nodes[v]
    length = round(haversine_m(a["lat"], a["lon"], b["lat"], b["lon"]) * detour, 1)
    speed = speed_kmh if speed_kmh is not None else ROAD_SPEEDS_KMH[road_class]
    attrs = {
        "length_m": length,
        "speed_kmh": speed,
        "road_class": road_class,
        "travel_time_s": round(length / (speed / 3.6), 2),
    }
    graph.add_edge(u, v, **attrs)
    if not oneway:
        graph.add_edge(v, u, **attrs)


def _add_node(graph: nx.DiGraph, node: str, lat: float, lon: float, **attrs: str) -> None:
    graph.add_node(node, lat=round(lat, 6), lon=round(lon, 6), **attrs)


def _grid(
    graph: nx.DiGraph,
    rng: random.Random,
    prefix: str,
    city: str,
    centre: tuple[float, float],
    west_m: float,
    east_m: float,
    south_m: float,
    north_m: float,
    spacing_m: float,
    mosque_radius_m: float,
    jitter_m: float,
    drop_share: float,
) -> list[str]:
    """A jittered street grid; returns the ids of its boundary nodes (the ring road)."""
    cols = round((east_m + west_m) / spacing_m) + 1
    rows = round((north_m + south_m) / spacing_m) + 1
    ids: dict[tuple[int, int], str] = {}
    for r in range(rows):
        for c in range(cols):
            x = -west_m + c * spacing_m
            y = -south_m + r * spacing_m
            boundary = r in (0, rows - 1) or c in (0, cols - 1)
            if math.hypot(x, y) < mosque_radius_m:
                continue  # the mosque and its courtyards have no streets
            jx = 0.0 if boundary else rng.uniform(-jitter_m, jitter_m)
            jy = 0.0 if boundary else rng.uniform(-jitter_m, jitter_m)
            lat, lon = offset(*centre, x + jx, y + jy)
            node = f"{prefix}:r{r:02d}c{c:02d}"
            _add_node(graph, node, lat, lon, city=city)
            ids[(r, c)] = node
    for (r, c), node in ids.items():
        for dr, dc in ((0, 1), (1, 0)):
            other = ids.get((r + dr, c + dc))
            if other is None:
                continue
            on_ring = (dr == 0 and r in (0, rows - 1)) or (dc == 0 and c in (0, cols - 1))
            major = (dr == 0 and r % 4 == 0) or (dc == 0 and c % 4 == 0)
            if on_ring:
                add_road(graph, node, other, "trunk", detour=1.05)
            elif major:
                add_road(graph, node, other, "primary", detour=1.05)
            elif rng.random() >= drop_share:
                add_road(graph, node, other, "residential", detour=1.08)
    return [n for (r, c), n in ids.items() if r in (0, rows - 1) or c in (0, cols - 1)]


def _nearest(graph: nx.DiGraph, nodes: Iterable[str], lat: float, lon: float) -> str:
    return min(
        nodes, key=lambda n: haversine_m(lat, lon, graph.nodes[n]["lat"], graph.nodes[n]["lon"])
    )


def _highway(
    graph: nx.DiGraph,
    rng: random.Random,
    prefix: str,
    start: str,
    end: str,
    waypoints: Sequence[tuple[float, float]],
    target_m: float,
    step_m: float,
    road_class: str,
    checkpoint_at: float | None = None,
) -> None:
    """A road from `start` to `end` through waypoints, bent so that its length is `target_m`.

    Each leg between waypoints gets a lateral bulge (alternating sides) whose amplitude is found
    by bisection, plus small seeded wiggles, so the road is longer than the straight line as
    real roads are, and the same seed always gives the same road.
    """
    a, b = graph.nodes[start], graph.nodes[end]
    points = [(a["lat"], a["lon"]), *waypoints, (b["lat"], b["lon"])]
    proj = LocalProjection(points[0][0], points[0][1])
    xy = [proj.to_xy(lat, lon) for lat, lon in points]
    legs: list[tuple[np.ndarray, np.ndarray, int, float]] = []
    phases = [(rng.uniform(0, 2 * math.pi), rng.uniform(0, 2 * math.pi)) for _ in xy[1:]]
    for i in range(len(xy) - 1):
        p, q = np.array(xy[i]), np.array(xy[i + 1])
        n = max(1, math.ceil(float(np.linalg.norm(q - p)) / step_m))
        legs.append((p, q, n, 1.0 if i % 2 == 0 else -1.0))

    def shape(amp: float) -> list[tuple[float, float]]:
        out: list[tuple[float, float]] = []
        for (p, q, n, side), (ph1, ph2) in zip(legs, phases, strict=True):
            d = q - p
            length = float(np.linalg.norm(d))
            normal = np.array([-d[1], d[0]]) / max(length, 1e-9)
            for k in range(n):
                s = k / n
                wiggle = 0.01 * length * (math.sin(3 * math.pi * s + ph1) * math.sin(math.pi * s))
                wiggle += 0.005 * length * math.sin(7 * math.pi * s + ph2) * math.sin(math.pi * s)
                lateral = side * amp * length * math.sin(math.pi * s) + wiggle
                pt = p + d * s + normal * lateral
                out.append((float(pt[0]), float(pt[1])))
        out.append((float(xy[-1][0]), float(xy[-1][1])))
        return out

    def length_of(pts: list[tuple[float, float]]) -> float:
        return sum(math.dist(pts[i], pts[i + 1]) for i in range(len(pts) - 1))

    lo, hi = 0.0, 1.0
    if length_of(shape(0.0)) < target_m:
        for _ in range(50):
            mid = (lo + hi) / 2
            if length_of(shape(mid)) < target_m:
                lo = mid
            else:
                hi = mid
    pts = shape(lo)
    chain = [start]
    for k, (x, y) in enumerate(pts[1:-1], start=1):
        node = f"{prefix}:{k:03d}"
        lat, lon = proj.to_latlon(x, y)
        _add_node(graph, node, lat, lon)
        chain.append(node)
    chain.append(end)
    if checkpoint_at is not None:
        # A police checkpoint on the way into the holy city: rename one chain node.
        k = max(1, min(len(chain) - 2, round(checkpoint_at * (len(chain) - 1))))
        old = chain[k]
        node = f"{prefix}:checkpoint"
        graph.add_node(node, **graph.nodes[old], place=f"checkpoint_{prefix.split(':')[1]}")
        graph.remove_node(old)
        chain[k] = node
    for u, v in itertools.pairwise(chain):
        add_road(graph, u, v, road_class)


def _holy_site(
    graph: nx.DiGraph, prefix: str, centre: tuple[float, float], size: int, spacing_m: float
) -> str:
    """A small square street grid at a holy site; returns its centre node."""
    half = (size - 1) / 2
    for r in range(size):
        for c in range(size):
            lat, lon = offset(*centre, (c - half) * spacing_m, (r - half) * spacing_m)
            _add_node(graph, f"{prefix}:{r}{c}", lat, lon, city="makkah")
    for r in range(size):
        for c in range(size):
            if c + 1 < size:
                add_road(graph, f"{prefix}:{r}{c}", f"{prefix}:{r}{c + 1}", "secondary")
            if r + 1 < size:
                add_road(graph, f"{prefix}:{r}{c}", f"{prefix}:{r + 1}{c}", "secondary")
    mid = size // 2
    centre_node = f"{prefix}:c"
    # The pilgrims' gathering point, just off the site's middle street crossing.
    _add_node(graph, centre_node, *offset(*centre, 0, -80), city="makkah", place=prefix)
    add_road(graph, centre_node, f"{prefix}:{mid}{mid}", "service")
    return centre_node


def _link(graph: nx.DiGraph, prefix: str, u: str, v: str, step_m: float, road_class: str) -> None:
    """A straight road from u to v with a node every `step_m`."""
    a, b = graph.nodes[u], graph.nodes[v]
    n = max(1, math.ceil(haversine_m(a["lat"], a["lon"], b["lat"], b["lon"]) / step_m))
    chain = [u]
    for k in range(1, n):
        s = k / n
        node = f"{prefix}:{k:02d}"
        _add_node(
            graph, node, a["lat"] + (b["lat"] - a["lat"]) * s, a["lon"] + (b["lon"] - a["lon"]) * s
        )
        chain.append(node)
    chain.append(v)
    for x, y in itertools.pairwise(chain):
        add_road(graph, x, y, road_class, detour=1.03)


def _airport(
    graph: nx.DiGraph,
    prefix: str,
    terminal: tuple[float, float],
    yard_offset_m: tuple[float, float],
    exit_offset_m: tuple[float, float],
    terminal_place: str,
) -> str:
    """Terminal kerb, baggage yard and the airport road to its exit; returns the exit node."""
    term, yard, apron, exit_ = (
        f"{prefix}:{terminal_place}",
        f"{prefix}:baggage_yard",
        f"{prefix}:apron_road",
        f"{prefix}:exit",
    )
    city = "jeddah" if prefix == "jed" else "madinah"
    _add_node(graph, term, *terminal, city=city, place=f"{prefix}_{terminal_place}")
    _add_node(
        graph, yard, *offset(*terminal, *yard_offset_m), city=city, place=f"{prefix}_baggage_yard"
    )
    mid = (yard_offset_m[0] / 2 + exit_offset_m[0] / 2, yard_offset_m[1] / 2 + exit_offset_m[1] / 2)
    _add_node(graph, apron, *offset(*terminal, *mid), city=city)
    _add_node(graph, exit_, *offset(*terminal, *exit_offset_m), city=city)
    add_road(graph, term, apron, "service")
    add_road(graph, yard, apron, "service")
    add_road(graph, apron, exit_, "secondary")
    return exit_


def generate_network(seed: int = DEFAULT_SEED) -> nx.DiGraph:
    """Build the synthetic Makkah Route road network; the same seed gives the same graph."""
    rng = random.Random(seed)
    g: nx.DiGraph = nx.DiGraph(name="tariq-synthetic", seed=seed, version=NETWORK_VERSION)

    # Makkah: streets from Jarwal/Rusaifah in the west to Aziziyah in the east.
    mak_ring = _grid(g, rng, "mak", "makkah", HARAM, 2600, 4000, 2600, 2600, 200, 230, 30, 0.08)
    gate = PLACE_NODES["masjid_al_haram"]
    _add_node(g, gate, *offset(*HARAM, 0, -240), city="makkah", place="masjid_al_haram")
    add_road(
        g,
        gate,
        _nearest(g, [n for n in g if n.startswith("mak:r")], *offset(*HARAM, 0, -240)),
        "service",
    )
    # Madinah central area around the Prophet's Mosque.
    mad_ring = _grid(
        g, rng, "mad", "madinah", PROPHETS_MOSQUE, 2000, 2000, 2400, 2000, 200, 180, 25, 0.08
    )
    gate = PLACE_NODES["prophets_mosque"]
    _add_node(g, gate, *offset(*PROPHETS_MOSQUE, 0, -200), city="madinah", place="prophets_mosque")
    add_road(
        g,
        gate,
        _nearest(g, [n for n in g if n.startswith("mad:r")], *offset(*PROPHETS_MOSQUE, 0, -200)),
        "service",
    )

    # Airports: the Hajj terminal kerb where buses load, the baggage yard where trucks load.
    jed_exit = _airport(g, "jed", JED, (800, -350), (2200, -1500), "hajj_terminal")
    med_exit = _airport(g, "med", MED, (700, -300), (-600, -1700), "terminal")

    # Jeddah airport → Makkah expressway (~80 km door to door), entering Makkah from the west.
    mak_west = _nearest(g, mak_ring, *offset(*HARAM, -2600, 0))
    _highway(
        g, rng, "hw:jed-mak", jed_exit, mak_west,
        [(21.60, 39.24), (21.47, 39.44), (21.43, 39.60)],
        target_m=76_000, step_m=2000, road_class="motorway", checkpoint_at=0.8,
    )  # fmt: skip
    # Madinah airport → central Madinah (~15 km), entering from the north-east.
    mad_ne = _nearest(g, mad_ring, *offset(*PROPHETS_MOSQUE, 2000, 2000))
    _highway(
        g, rng, "hw:med-mad", med_exit, mad_ne, [], target_m=13_500, step_m=1000, road_class="trunk"
    )
    # Madinah → Makkah (Hijrah road, ~440 km), from south-west Madinah to north Makkah.
    mad_sw = _nearest(g, mad_ring, *offset(*PROPHETS_MOSQUE, -2000, -2400))
    mak_north = _nearest(g, mak_ring, *offset(*HARAM, 0, 2600))
    _highway(
        g, rng, "hw:mad-mak", mad_sw, mak_north,
        [(24.05, 39.10), (23.20, 39.08), (22.15, 39.32), (21.92, 39.36)],
        target_m=438_000, step_m=5000, road_class="motorway", checkpoint_at=0.95,
    )  # fmt: skip
    # Madinah airport road also meets the Hijrah road's start (the northern ring).
    add_road(
        g,
        med_exit,
        _nearest(g, mad_ring, *offset(*PROPHETS_MOSQUE, 2000, -2400)),
        "trunk",
        detour=1.25,
    )

    # Holy sites east of Makkah: Mina, Muzdalifah, Arafat, linked by the pilgrims' roads.
    mina = _holy_site(g, "mina", MINA, 3, 350)
    muzdalifah = _holy_site(g, "muzdalifah", MUZDALIFAH, 3, 400)
    arafat = _holy_site(g, "arafat", ARAFAT, 4, 450)
    mak_east = _nearest(g, mak_ring, *offset(*HARAM, 4000, 0))
    _link(g, "rd:mak-mina", mak_east, mina, 600, "primary")
    _link(g, "rd:mina-muzdalifah", mina, muzdalifah, 600, "primary")
    _link(g, "rd:muzdalifah-arafat", muzdalifah, arafat, 600, "primary")

    # Dropping side streets can cut off a corner: keep the part everything can reach.
    keep = max(nx.strongly_connected_components(g), key=len)
    return g.subgraph(sorted(keep, key=list(g.nodes).index)).copy()


# --------------------------------------------------------------------------- files


def write_network(graph: nx.DiGraph, path: str | Path) -> None:
    """Write the graph as GraphML (deterministic: same graph, same bytes)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    nx.write_graphml(graph, path, named_key_ids=True)


def load_network(path: str | Path | None = None) -> nx.DiGraph:
    """Load a network in this package's shape; the shipped synthetic one by default."""
    if path is None:
        return shipped_network().copy()
    return _read_own(Path(path))


@lru_cache(maxsize=1)
def shipped_network() -> nx.DiGraph:
    """The shipped network, loaded once (treat it as read-only)."""
    return _read_own(DATA_FILE)


def _read_own(path: Path) -> nx.DiGraph:
    raw = nx.read_graphml(path, node_type=str)
    if (
        "osmid" in next(iter(raw.edges(data=True)), (None, None, {}))[2]
        or "x" in next(iter(raw.nodes(data=True)), (None, {}))[1]
    ):
        return load_osmnx_graphml(path)
    graph: nx.DiGraph = nx.DiGraph(**raw.graph)
    graph.add_nodes_from(raw.nodes(data=True))
    graph.add_edges_from(raw.edges(data=True))
    return graph


_DEFAULT_OSM_SPEEDS_KMH: dict[str, float] = {
    "motorway": 110.0,
    "motorway_link": 60.0,
    "trunk": 80.0,
    "trunk_link": 50.0,
    "primary": 60.0,
    "primary_link": 40.0,
    "secondary": 50.0,
    "secondary_link": 35.0,
    "tertiary": 40.0,
    "tertiary_link": 30.0,
    "unclassified": 30.0,
    "residential": 30.0,
    "living_street": 10.0,
    "service": 20.0,
}
_OSM_CLASS: dict[str, str] = {
    "motorway": "motorway",
    "trunk": "trunk",
    "primary": "primary",
    "secondary": "secondary",
    "tertiary": "secondary",
}


def _osm_list(value: object) -> list[str]:
    """osmnx writes merged values as a Python list literal, e.g. "['primary', 'secondary']"."""
    if value is None:
        return []
    text = str(value).strip()
    if text.startswith("["):
        try:
            parsed = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            return [text]
        return [str(v) for v in parsed]
    return [text]


def _parse_maxspeed(value: object) -> float | None:
    """An OSM maxspeed tag in km/h ("50", "50 mph", a list of them: their mean), or None."""
    speeds: list[float] = []
    for item in _osm_list(value):
        m = re.match(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*(mph|km/h|kmh|kph)?\s*$", item)
        if m:
            speed = float(m.group(1)) * (1.609344 if m.group(2) == "mph" else 1.0)
            if speed > 0:
                speeds.append(speed)
    return sum(speeds) / len(speeds) if speeds else None


def load_osmnx_graphml(path: str | Path) -> nx.DiGraph:
    """Read a real road network exported by osmnx (``ox.save_graphml``) into this package's shape.

    Nodes keep their OSM ids (as strings) with ``lat``/``lon`` from ``y``/``x`` (or from
    ``lat``/``lon`` when the export is projected). Edges take ``length`` in metres, the speed from
    ``speed_kph`` or ``maxspeed`` or else a default for the ``highway`` class, and parallel edges
    (osmnx keeps a MultiDiGraph) collapse to the quickest.
    """
    raw = nx.read_graphml(Path(path), node_type=str, force_multigraph=True)
    crs = str(raw.graph.get("crs", "epsg:4326")).lower()
    geographic = "4326" in crs or "wgs84" in crs or "wgs 84" in crs
    graph: nx.DiGraph = nx.DiGraph(name=str(raw.graph.get("name", "osmnx")), source="osmnx")
    for node, data in raw.nodes(data=True):
        if "lat" in data and "lon" in data:
            lat, lon = float(data["lat"]), float(data["lon"])
        elif geographic and "x" in data and "y" in data:
            lat, lon = float(data["y"]), float(data["x"])
        else:
            raise ValueError(f"node {node} has no geographic coordinates (crs {crs})")
        graph.add_node(str(node), lat=lat, lon=lon)
    for u, v, data in raw.edges(data=True):
        highways = _osm_list(data.get("highway")) or ["unclassified"]
        road_class = next((_OSM_CLASS[h] for h in highways if h in _OSM_CLASS), None)
        if road_class is None:
            road_class = "service" if "service" in highways else "residential"
        if "length" in data:
            length = float(data["length"])
        else:
            a, b = graph.nodes[str(u)], graph.nodes[str(v)]
            length = haversine_m(a["lat"], a["lon"], b["lat"], b["lon"])
        speed = None
        if "speed_kph" in data:
            speed = _parse_maxspeed(data["speed_kph"])
        if speed is None:
            speed = _parse_maxspeed(data.get("maxspeed"))
        if speed is None:
            known = [_DEFAULT_OSM_SPEEDS_KMH[h] for h in highways if h in _DEFAULT_OSM_SPEEDS_KMH]
            speed = sum(known) / len(known) if known else 30.0
        travel = length / (speed / 3.6)
        old = graph.get_edge_data(str(u), str(v))
        if old is not None and old["travel_time_s"] <= travel:
            continue
        graph.add_edge(
            str(u),
            str(v),
            length_m=length,
            speed_kmh=speed,
            road_class=road_class,
            travel_time_s=travel,
        )
    return graph


# --------------------------------------------------------------------------- queries


def shortest_route(graph: nx.DiGraph, source: str, target: str) -> Route:
    """The quickest route at free flow (Dijkstra on ``travel_time_s``)."""
    nodes = nx.dijkstra_path(graph, source, target, weight="travel_time_s")
    return route_of(graph, nodes)


def route_of(graph: nx.DiGraph, nodes: Sequence[str]) -> Route:
    """The Route along the given node sequence (which must follow edges of the graph)."""
    length = 0.0
    travel = 0.0
    for u, v in itertools.pairwise(nodes):
        edge = graph.edges[u, v]
        length += edge["length_m"]
        travel += edge["travel_time_s"]
    return Route(tuple(nodes), length, travel)


class PathCache:
    """Quickest (free-flow) node paths by origin/destination pair, each searched once: a
    planner or a simulator asks for the same few pairs over and over. Bounded: the oldest
    half is forgotten when full."""

    def __init__(self, graph: nx.DiGraph, maxsize: int = 65_536) -> None:
        self.graph = graph
        self.maxsize = maxsize
        self.searches = 0  # Dijkstra runs so far (cache misses)
        self._paths: dict[tuple[str, str], tuple[str, ...]] = {}
        self._seconds: dict[tuple[str, str], float] = {}

    def path(self, source: str, target: str) -> tuple[str, ...]:
        """Node ids from `source` to `target` (both included); raises nx.NetworkXNoPath."""
        key = (source, target)
        found = self._paths.get(key)
        if found is None:
            if source == target:
                found = (source,)
            else:
                self.searches += 1
                # Bidirectional: half the work of a one-sided search on long routes.
                _, nodes = nx.bidirectional_dijkstra(
                    self.graph, source, target, weight="travel_time_s"
                )
                found = tuple(nodes)
            if len(self._paths) >= self.maxsize:
                for old in list(self._paths)[: self.maxsize // 2]:
                    del self._paths[old]
                self._seconds.clear()
            self._paths[key] = found
        return found

    def seconds(self, source: str, target: str) -> float:
        """Free-flow travel time of the quickest path (a cost for ordering stops)."""
        key = (source, target)
        found = self._seconds.get(key)
        if found is None:
            found = self._seconds[key] = route_of(
                self.graph, self.path(source, target)
            ).travel_time_s
        return found


class NodeIndex:
    """Nearest-node queries over the graph's nodes (shapely STRtree, metric projection)."""

    def __init__(self, graph: nx.DiGraph, nodes: Iterable[str] | None = None) -> None:
        self.nodes = list(graph.nodes if nodes is None else nodes)
        lats = np.array([graph.nodes[n]["lat"] for n in self.nodes], dtype=float)
        lons = np.array([graph.nodes[n]["lon"] for n in self.nodes], dtype=float)
        self.projection = LocalProjection(float(lats.mean()), float(lons.mean()))
        x, y = self.projection.to_xy_arrays(lats, lons)
        self._tree = shapely.STRtree(shapely.points(x, y))

    def nearest(self, lat: float, lon: float) -> str:
        x, y = self.projection.to_xy(lat, lon)
        return self.nodes[int(self._tree.nearest(shapely.Point(x, y)))]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m routing.network", description="Generate the synthetic road network."
    )
    parser.add_argument("--out", type=Path, default=DATA_FILE, help="GraphML file to write")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    args = parser.parse_args(argv)
    graph = generate_network(args.seed)
    write_network(graph, args.out)
    size = args.out.stat().st_size
    print(
        f"wrote {args.out}: {graph.number_of_nodes()} nodes, {graph.number_of_edges()} edges, "
        f"{size / 1e6:.2f} MB"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
