# The osmnx GraphML fixture below keeps osmnx's long lines verbatim.
# ruff: noqa: E501
"""The shipped road network, shortest paths, the osmnx loader, congestion and hotel placement."""

from __future__ import annotations

import itertools
import math
from datetime import datetime
from pathlib import Path

import networkx as nx
import pytest

from routing.congestion import LOCAL_TZ, CongestionModel, timed_route
from routing.geo import haversine_m
from routing.hotels import DISTRICTS, place_hotels
from routing.network import (
    DATA_FILE,
    generate_network,
    load_osmnx_graphml,
    shipped_network,
    shortest_route,
    write_network,
)

SEASON = datetime(2025, 4, 29, tzinfo=LOCAL_TZ)


def test_shipped_file_is_the_generator_output(tmp_path: Path) -> None:
    out = tmp_path / "network.graphml"
    write_network(generate_network(), out)
    assert out.read_bytes() == DATA_FILE.read_bytes()
    assert DATA_FILE.stat().st_size < 5_000_000


def test_every_place_reaches_every_other() -> None:
    graph = shipped_network()
    assert nx.is_strongly_connected(graph)
    for _, _, data in graph.edges(data=True):
        assert data["length_m"] > 0
        assert math.isclose(
            data["travel_time_s"], data["length_m"] / (data["speed_kmh"] / 3.6), rel_tol=1e-3
        )


@pytest.mark.parametrize(
    ("source", "target", "km", "minutes"),
    [
        ("jed:baggage_yard", "mak:haram_gate", (70, 95), (40, 60)),
        ("jed:hajj_terminal", "mak:haram_gate", (70, 95), (40, 60)),
        ("med:terminal", "mad:mosque_gate", (13, 25), (12, 30)),
        ("mad:mosque_gate", "mak:haram_gate", (400, 480), (200, 300)),
    ],
)
def test_shortest_paths_have_the_domain_lengths(
    source: str, target: str, km: tuple[float, float], minutes: tuple[float, float]
) -> None:
    graph = shipped_network()
    route = shortest_route(graph, source, target)
    assert route.nodes[0] == source and route.nodes[-1] == target
    assert km[0] <= route.length_m / 1000 <= km[1]
    assert minutes[0] <= route.travel_time_s / 60 <= minutes[1]
    # Dijkstra's answer is no slower than networkx's own shortest path length.
    best = nx.shortest_path_length(graph, source, target, weight="travel_time_s")
    assert route.travel_time_s == pytest.approx(best)


def test_jeddah_makkah_eta_normally_and_in_season() -> None:
    graph = shipped_network()
    route = shortest_route(graph, "jed:baggage_yard", "mak:haram_gate")
    normal_noon = timed_route(
        graph, route.nodes, datetime(2025, 2, 10, 12, tzinfo=LOCAL_TZ), CongestionModel()
    )
    peak_evening = timed_route(
        graph, route.nodes, datetime(2025, 5, 21, 20, tzinfo=LOCAL_TZ), CongestionModel(SEASON)
    )
    assert 45 <= normal_noon[-1] / 60 <= 65
    assert 90 <= peak_evening[-1] / 60 <= 130
    assert all(b >= a for a, b in itertools.pairwise(peak_evening))


def test_congestion_factor_follows_hour_and_season() -> None:
    model = CongestionModel(SEASON)
    night = model.factor(datetime(2025, 5, 21, 3, tzinfo=LOCAL_TZ))
    evening = model.factor(datetime(2025, 5, 21, 20, tzinfo=LOCAL_TZ))
    early_season = model.factor(datetime(2025, 4, 30, 20, tzinfo=LOCAL_TZ))
    off_season = model.factor(datetime(2025, 8, 1, 20, tzinfo=LOCAL_TZ))
    assert 1.0 <= night < evening
    assert off_season < early_season < evening
    with pytest.raises(ValueError):
        model.factor(datetime(2025, 5, 21, 20))


OSMNX_GRAPHML = """<?xml version='1.0' encoding='utf-8'?>
<graphml xmlns="http://graphml.graphdrawing.org/xmlns" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:schemaLocation="http://graphml.graphdrawing.org/xmlns http://graphml.graphdrawing.org/xmlns/1.0/graphml.xsd">
  <key id="d9" for="edge" attr.name="geometry" attr.type="string" />
  <key id="d8" for="edge" attr.name="length" attr.type="string" />
  <key id="d7" for="edge" attr.name="maxspeed" attr.type="string" />
  <key id="d6" for="edge" attr.name="highway" attr.type="string" />
  <key id="d5" for="edge" attr.name="oneway" attr.type="string" />
  <key id="d4" for="edge" attr.name="osmid" attr.type="string" />
  <key id="d3" for="node" attr.name="street_count" attr.type="string" />
  <key id="d2" for="node" attr.name="x" attr.type="string" />
  <key id="d1" for="node" attr.name="y" attr.type="string" />
  <key id="d0" for="graph" attr.name="crs" attr.type="string" />
  <graph edgedefault="directed">
    <data key="d0">epsg:4326</data>
    <node id="101"><data key="d1">21.4200</data><data key="d2">39.8200</data><data key="d3">3</data></node>
    <node id="102"><data key="d1">21.4210</data><data key="d2">39.8220</data><data key="d3">3</data></node>
    <node id="103"><data key="d1">21.4230</data><data key="d2">39.8230</data><data key="d3">2</data></node>
    <edge source="101" target="102" id="0"><data key="d4">9001</data><data key="d5">False</data><data key="d6">primary</data><data key="d7">50</data><data key="d8">235.4</data></edge>
    <edge source="102" target="101" id="0"><data key="d4">9001</data><data key="d5">False</data><data key="d6">primary</data><data key="d7">50</data><data key="d8">235.4</data></edge>
    <edge source="102" target="103" id="0"><data key="d4">[9002, 9003]</data><data key="d5">True</data><data key="d6">['secondary', 'tertiary']</data><data key="d7">['40', '60']</data><data key="d8">248.0</data><data key="d9">LINESTRING (39.822 21.421, 39.8226 21.422, 39.823 21.423)</data></edge>
    <edge source="102" target="103" id="1"><data key="d4">9004</data><data key="d5">True</data><data key="d6">residential</data><data key="d8">300.0</data></edge>
    <edge source="103" target="101" id="0"><data key="d4">9005</data><data key="d5">True</data><data key="d6">trunk</data><data key="d7">30 mph</data><data key="d8">420.0</data></edge>
  </graph>
</graphml>
"""


def test_load_osmnx_graphml(tmp_path: Path) -> None:
    path = tmp_path / "tiny.graphml"
    path.write_text(OSMNX_GRAPHML)
    graph = load_osmnx_graphml(path)
    assert set(graph.nodes) == {"101", "102", "103"}
    assert graph.nodes["102"]["lat"] == pytest.approx(21.421)
    assert graph.nodes["102"]["lon"] == pytest.approx(39.822)
    assert graph.edges["101", "102"]["speed_kmh"] == 50
    assert graph.edges["101", "102"]["road_class"] == "primary"
    # Parallel edges collapse to the quickest: 248 m at 50 km/h beats 300 m at 30 km/h.
    assert graph.edges["102", "103"]["length_m"] == pytest.approx(248.0)
    assert graph.edges["102", "103"]["speed_kmh"] == pytest.approx(50.0)
    assert graph.edges["103", "101"]["speed_kmh"] == pytest.approx(30 * 1.609344)
    assert not graph.has_edge("103", "102")  # one-way stays one-way
    route = shortest_route(graph, "101", "103")
    assert route.nodes == ("101", "102", "103")
    assert route.travel_time_s == pytest.approx(235.4 / (50 / 3.6) + 248.0 / (50 / 3.6))


def test_place_hotels_is_deterministic_and_spread() -> None:
    graph = shipped_network()
    hotels = place_hotels(graph, "makkah", 3500, seed=4)
    assert hotels == place_hotels(graph, "makkah", 3500, seed=4)
    assert hotels != place_hotels(graph, "makkah", 3500, seed=5)
    assert len({h.id for h in hotels}) == 3500
    names = {d.name for d in DISTRICTS["makkah"]}
    assert {h.district for h in hotels} <= names
    for h in hotels[:300]:
        assert graph.nodes[h.node]["city"] == "makkah"
        assert (
            haversine_m(h.lat, h.lon, graph.nodes[h.node]["lat"], graph.nodes[h.node]["lon"]) < 200
        )
        assert haversine_m(h.lat, h.lon, 21.4225, 39.8262) > 250  # not inside the Haram
    close = [
        (a.id, b.id)
        for i, a in enumerate(hotels[:400])
        for b in hotels[i + 1 : 400]
        if haversine_m(a.lat, a.lon, b.lat, b.lon) < 49.5
    ]
    assert close == []
    madinah = place_hotels(graph, "madinah", 450, seed=4)
    assert {graph.nodes[h.node]["city"] for h in madinah} == {"madinah"}
    with pytest.raises(ValueError):
        place_hotels(graph, "madinah", 100_000, seed=4)
