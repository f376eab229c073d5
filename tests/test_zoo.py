"""Topology Zoo and SNDlib loading: every shipped file becomes a valid substrate."""

import math
import os
import statistics
from pathlib import Path

import networkx as nx
import pytest

from placement.errors import SubstrateError
from placement.substrate import servers, switches, validate_substrate
from placement.topologies import DATA_DIR, load_gml, zoo, zoo_names

# The project's shared data sits beside the repository (../shared/data), in CI too.
SHARED_DATA = Path(os.environ.get("SFCBENCH_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
ZOO_DIR = SHARED_DATA / "topologyzoo"
SNDLIB_DIR = SHARED_DATA / "sndlib"


def _files(directory, pattern):
    files = sorted(directory.glob(pattern)) if directory.is_dir() else []
    if not files:
        return [pytest.param(None, marks=pytest.mark.skip(reason=f"no {pattern} files in {directory}"))]
    return [pytest.param(f, id=f.stem) for f in files]


def _shared(name):
    path = ZOO_DIR / f"{name}.graphml"
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    return path


def _check_delays(G):
    delays = [d for *_, d in G.edges(data="delay")]
    assert all(math.isfinite(d) and d >= 0 for d in delays)


@pytest.mark.parametrize("path", _files(ZOO_DIR, "*.graphml"))
def test_every_zoo_file_loads(path):
    G = zoo(path)
    validate_substrate(G)
    _check_delays(G)
    assert nx.is_connected(G) and nx.number_of_selfloops(G) == 0
    assert len(G) + len(G.graph["dropped_nodes"]) == len(nx.read_graphml(path))
    assert all(isinstance(n, str) for n in G)


@pytest.mark.parametrize("path", _files(SNDLIB_DIR, "*.gml"))
def test_every_sndlib_file_loads(path):
    G = load_gml(path)
    validate_substrate(G)
    _check_delays(G)
    raw = nx.read_gml(path, label="id")
    u, v, dist = next(iter(raw.edges(data="dist")))
    assert G.edges[str(u), str(v)]["delay"] == pytest.approx(dist * 0.005)


def test_parallel_edges_are_collapsed():
    path = _shared("Airtel")
    raw = nx.read_graphml(path)
    assert raw.is_multigraph() and raw.number_of_edges() > nx.Graph(raw).number_of_edges()
    G = zoo(path)
    assert not G.is_multigraph()
    assert G.number_of_edges() == nx.Graph(raw).number_of_edges()


def test_self_loops_are_dropped():
    path = _shared("Interoute")
    assert nx.number_of_selfloops(nx.read_graphml(path)) > 0
    assert nx.number_of_selfloops(zoo(path)) == 0


def test_isolated_nodes_are_dropped_and_recorded():
    path = _shared("Bandcon")
    isolated = list(nx.isolates(nx.read_graphml(path)))
    assert isolated
    G = zoo(path)
    assert G.graph["dropped_nodes"] == isolated
    assert not set(isolated) & set(G)


def test_only_largest_component_is_kept():
    path = _shared("DeutscheTelekom")
    raw = nx.read_graphml(path)
    largest = max(nx.connected_components(raw), key=len)
    G = zoo(path)
    assert set(G) == largest
    assert sorted(G.graph["dropped_nodes"]) == sorted(set(raw) - largest)


def test_links_without_coordinates_get_median_delay():
    path = _shared("Abvt")
    raw = nx.read_graphml(path)
    (blind,) = [n for n, d in raw.nodes(data=True) if "Latitude" not in d]
    G = zoo(path)
    measured = [d for u, v, d in G.edges(data="delay") if blind not in (u, v)]
    assert G.graph["default_delay"] == pytest.approx(statistics.median(measured))
    for nbr in G[blind]:
        assert G.edges[blind, nbr]["delay"] == G.graph["default_delay"]
        assert "km" not in G.edges[blind, nbr]


def test_no_coordinates_at_all_gives_one_ms():
    path = _shared("Ai3")
    assert not any("Latitude" in d for _, d in nx.read_graphml(path).nodes(data=True))
    G = zoo(path)
    assert set(nx.get_edge_attributes(G, "delay").values()) == {1.0}


def test_delay_is_great_circle_times_delay_per_km():
    G = zoo("Abilene")
    new_york, chicago = G.nodes["0"], G.nodes["1"]
    assert (new_york["label"], chicago["label"]) == ("New York", "Chicago")
    assert G.edges["0", "1"]["km"] == pytest.approx(1146, abs=5)
    assert G.edges["0", "1"]["delay"] == pytest.approx(G.edges["0", "1"]["km"] * 0.005)
    H = zoo("Abilene", delay_per_km=0.01)
    assert H.edges["0", "1"]["delay"] == pytest.approx(2 * G.edges["0", "1"]["delay"])


def test_packaged_names():
    assert {"Abilene", "Geant2012", "Bellcanada"} <= set(zoo_names())
    assert 40 <= len(zoo("Bellcanada")) <= 60
    assert nx.utils.graphs_equal(zoo("abilene"), zoo(DATA_DIR / "Abilene.graphml"))
    assert (DATA_DIR / "ATTRIBUTION.md").is_file()
    with pytest.raises(FileNotFoundError, match="packaged names"):
        zoo("NoSuchNet")


def test_server_selection():
    all_servers = zoo("Geant2012")
    assert switches(all_servers) == [] and len(servers(all_servers)) == 40
    a = zoo("Geant2012", servers=10, seed=1, cpu=4.0, mem=1024.0, bw=40.0)
    b = zoo("Geant2012", servers=10, seed=1, cpu=4.0, mem=1024.0, bw=40.0)
    assert nx.utils.graphs_equal(a, b)
    assert len(servers(a)) == 10 and len(switches(a)) == 30
    assert {a.nodes[n]["cpu"] for n in servers(a)} == {4.0}
    assert set(nx.get_edge_attributes(a, "bw").values()) == {40.0}
    assert servers(zoo("Geant2012", servers=["3", "0"])) == ["0", "3"]
    with pytest.raises(ValueError, match="not nodes"):
        zoo("Geant2012", servers=["nope"])


@pytest.mark.parametrize(
    "content, message",
    [
        ("", "not a readable GraphML file"),
        ("this is not xml", "not a readable GraphML file"),
        ("<html><body>hello</body></html>", "not a readable GraphML file"),
        (
            '<?xml version="1.0"?><graphml xmlns="http://graphml.graphdrawing.org/xmlns">'
            '<graph edgedefault="undirected"></graph></graphml>',
            "has no nodes",
        ),
    ],
)
def test_malformed_files(tmp_path, content, message):
    path = tmp_path / "bad.graphml"
    path.write_text(content)
    with pytest.raises(SubstrateError, match=message) as info:
        zoo(path)
    assert str(path) in str(info.value)


def test_malformed_gml(tmp_path):
    path = tmp_path / "bad.gml"
    path.write_text("graph [ node [ id 0 ] node [ id 1 ] edge [ source 0 target 1 ] ]")
    with pytest.raises(SubstrateError, match="no 'dist'"):
        load_gml(path)
    path.write_text("garbage [[")
    with pytest.raises(SubstrateError, match="not a readable GML file"):
        load_gml(path)
